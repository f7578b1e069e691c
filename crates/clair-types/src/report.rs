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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// A package repository (claircore `Repository`: every field but `cpe` omitted when empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Document-local id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
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
    #[serde(default)]
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

/// The package a vulnerability names (claircore `Vulnerability.package`): name and kind only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnerablePackage {
    /// Always `"0"`: not an entry of the report's `packages`.
    pub id: String,
    /// Package name as the feed writes it.
    pub name: String,
    /// Always empty (the feed names no installed version).
    pub version: String,
    /// `binary` or `source`.
    pub kind: String,
    /// Always empty; present as in claircore's JSON.
    #[serde(default)]
    pub normalized_version: String,
    /// Always empty; present as in claircore's JSON.
    #[serde(default)]
    pub cpe: String,
}

/// What claircore writes for a vulnerability without an issue date (Go's zero `time.Time`).
pub const UNKNOWN_ISSUED: &str = "0001-01-01T00:00:00Z";

/// `issued` as claircore writes it: always present, Go's zero time when unknown.
mod issued {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if v.is_empty() {
            super::UNKNOWN_ISSUED
        } else {
            v
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let v = Option::<String>::deserialize(d)?.unwrap_or_default();
        Ok(if v == super::UNKNOWN_ISSUED {
            String::new()
        } else {
            v
        })
    }
}

/// An optional object claircore always writes (`distribution`, `repository` of a
/// vulnerability: an object with empty fields when there is none, never `null`); read back, an
/// empty object is `None`.
mod always_object {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T, S>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize + Default,
        S: Serializer,
    {
        match v {
            Some(v) => v.serialize(s),
            None => T::default().serialize(s),
        }
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: Deserialize<'de> + Default + PartialEq,
        D: Deserializer<'de>,
    {
        Ok(Option::<T>::deserialize(d)?.filter(|v| *v != T::default()))
    }
}

/// A vulnerability entry of a [`VulnerabilityReport`] (Clair v4 `Vulnerability`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportVulnerability {
    /// Document-local id (stable across instances: derived from the record's content).
    pub id: String,
    /// The updater that produced it.
    pub updater: String,
    /// Advisory name (`CVE-2023-1234`, `RHSA-2023:1234`, `GHSA-…`).
    pub name: String,
    /// Description.
    pub description: String,
    /// Issue date, RFC 3339; empty when unknown (written as [`UNKNOWN_ISSUED`], as claircore
    /// does).
    #[serde(default, with = "issued")]
    pub issued: String,
    /// Space-separated links.
    pub links: String,
    /// Severity as the vendor writes it.
    pub severity: String,
    /// Normalised severity.
    pub normalized_severity: crate::Severity,
    /// The affected package as the feed names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<VulnerablePackage>,
    /// The distribution it applies to, when it is a distribution's advisory (written as an
    /// object with empty fields otherwise, as claircore does: Quay's schema wants an object).
    #[serde(default, with = "always_object")]
    pub distribution: Option<ReportDistribution>,
    /// The repository or ecosystem it applies to (written as `{"cpe": ""}` when none, as
    /// claircore does).
    #[serde(default, with = "always_object")]
    pub repository: Option<Repository>,
    /// First fixed version; empty when there is no fix.
    pub fixed_in_version: String,
}

/// The result of matching an index report against the vulnerability database (Clair v4
/// `VulnerabilityReport`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnerabilityReport {
    /// The manifest digest.
    pub manifest_hash: Digest,
    /// Packages by id (as in the index report).
    pub packages: BTreeMap<String, ReportPackage>,
    /// Distributions by id.
    pub distributions: BTreeMap<String, ReportDistribution>,
    /// Repositories by id.
    #[serde(default)]
    pub repository: BTreeMap<String, Repository>,
    /// Where each package was found.
    pub environments: BTreeMap<String, Vec<Environment>>,
    /// Vulnerabilities by id.
    pub vulnerabilities: BTreeMap<String, ReportVulnerability>,
    /// Vulnerability ids affecting each package id.
    pub package_vulnerabilities: BTreeMap<String, Vec<String>>,
    /// Enrichments by kind (CVSS: a list with one map of vulnerability id to CVSS objects).
    #[serde(default)]
    pub enrichments: BTreeMap<String, Vec<serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vulnerability() -> ReportVulnerability {
        ReportVulnerability {
            id: "1".into(),
            updater: "osv".into(),
            name: "GHSA-xxxx".into(),
            description: String::new(),
            issued: String::new(),
            links: String::new(),
            severity: String::new(),
            normalized_severity: crate::Severity::Unknown,
            package: None,
            distribution: None,
            repository: None,
            fixed_in_version: String::new(),
        }
    }

    /// A language package's vulnerability has no distribution: claircore writes an object
    /// with empty fields (Quay's schema rejects `null`), the zero time for an unknown issue
    /// date, and a repository with its `cpe`; read back, they are "none" again.
    #[test]
    fn vulnerability_fields_as_claircore_writes_them() {
        let v = vulnerability();
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            json["distribution"],
            serde_json::json!({"id": "", "did": "", "name": "", "version": "",
                "version_code_name": "", "version_id": "", "arch": "", "cpe": "", "pretty_name": ""})
        );
        assert_eq!(json["repository"], serde_json::json!({"cpe": ""}));
        assert_eq!(json["issued"], UNKNOWN_ISSUED);
        let back: ReportVulnerability = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
        let with = ReportVulnerability {
            issued: "2024-01-02T03:04:05Z".into(),
            repository: Some(Repository {
                id: "7".into(),
                name: "pypi".into(),
                uri: "https://pypi.org/simple".into(),
                ..Repository::default()
            }),
            ..v
        };
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(json["issued"], "2024-01-02T03:04:05Z");
        assert_eq!(
            json["repository"],
            serde_json::json!({"id": "7", "name": "pypi", "uri": "https://pypi.org/simple", "cpe": ""})
        );
        let back: ReportVulnerability = serde_json::from_value(json).unwrap();
        assert_eq!(back, with);
    }
}
