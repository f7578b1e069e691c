//! Clair v4 report documents (`IndexReport`), with Clair's exact JSON names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Digest;

/// Where an index request is (Clair v4 `state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexState {
    /// Checking whether the manifest is already known.
    CheckManifest,
    /// Fetching layers.
    FetchLayers,
    /// Running scanners over layers.
    ScanLayers,
    /// Merging per-layer results.
    Coalesce,
    /// Writing the report.
    IndexManifest,
    /// Indexing failed; `err` says why.
    IndexError,
    /// Indexing succeeded.
    IndexFinished,
    /// Terminal state.
    Terminal,
}

/// A package entry of an [`IndexReport`] (claircore `Package`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportPackage {
    /// Document-local id.
    pub id: String,
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// `binary` or `source`.
    pub kind: String,
    /// The source package, for binaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Box<ReportPackage>>,
    /// Normalised version (filled by matchers later; empty here).
    #[serde(default)]
    pub normalized_version: String,
    /// RPM module.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub module: String,
    /// Architecture.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// CPE.
    #[serde(default)]
    pub cpe: String,
}

/// A distribution entry of an [`IndexReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDistribution {
    /// Document-local id.
    pub id: String,
    /// os-release ID.
    pub did: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Code name.
    pub version_code_name: String,
    /// Version id.
    pub version_id: String,
    /// Architecture.
    pub arch: String,
    /// CPE.
    pub cpe: String,
    /// Pretty name.
    pub pretty_name: String,
}

/// A package repository (claircore `Repository`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Document-local id.
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// URI.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// CPE.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cpe: String,
}

/// Where a package was found (claircore `Environment`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Package database path inside the image.
    pub package_db: String,
    /// Digest of the layer that introduced the package.
    pub introduced_in: Digest,
    /// Id of the distribution in the same report (empty when none was found).
    pub distribution_id: String,
    /// Ids of repositories in the same report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repository_ids: Vec<String>,
}

/// The result of indexing one manifest (Clair v4 `IndexReport`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexReport {
    /// The manifest digest.
    pub manifest_hash: Digest,
    /// Final state.
    pub state: IndexState,
    /// Packages by id.
    pub packages: BTreeMap<String, ReportPackage>,
    /// Distributions by id.
    pub distributions: BTreeMap<String, ReportDistribution>,
    /// Repositories by id.
    pub repository: BTreeMap<String, Repository>,
    /// Where each package (by id) was found.
    pub environments: BTreeMap<String, Vec<Environment>>,
    /// Whether indexing succeeded.
    pub success: bool,
    /// Error text when it did not.
    pub err: String,
}
