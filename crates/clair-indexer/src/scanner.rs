//! Scanner extension points.
//!
//! A scanner names the files it reads (a [`FileSelector`]) and turns them into facts. Scanners
//! are pure: they see bytes already read from a layer, never the network or the disk, so each one
//! is testable from files. Their names and versions are persisted with cached per-layer results:
//! bump [`PackageScanner::version`] whenever the output for the same input changes.

use std::fmt::Debug;

use clair_layer::{FileSelector, FileView};
use clair_types::{Distribution, Package, PackageDbKind};

/// The packages of one package database found in one layer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DbScan {
    /// Canonical path of the database file inside the image (the [`clair_layer::FileRef::path`]
    /// the scanner read). For databases spread over several files, the main file.
    pub path: String,
    /// Installed packages, each with `package_db` equal to `path`.
    pub packages: Vec<Package>,
    /// Entries skipped and why ("dpkg: var/lib/dpkg/status: stanza at line 14: no Package field").
    pub warnings: Vec<String>,
}

/// Finds installed packages.
///
/// Contract: [`scan`](Self::scan) is called once per layer with a view of that layer's selected
/// files only (symlinks resolved inside the layer). It reports every package database present in
/// that view, whole — the indexer decides which databases survive in the final filesystem and
/// which layer introduced each package. It must not panic on any input: malformed entries become
/// warnings, an unreadable database an empty [`DbScan`] with a warning.
pub trait PackageScanner: Send + Sync + Debug {
    /// Stable name, persisted with cached results (e.g. `dpkg`).
    fn name(&self) -> &'static str;
    /// Version of the scanner's output format; bump it when results change.
    fn version(&self) -> &'static str;
    /// The database format.
    fn kind(&self) -> PackageDbKind;
    /// Add the files this scanner reads.
    fn select(&self, selector: &mut FileSelector);
    /// Packages in the databases visible in `files`.
    fn scan(&self, files: &dyn FileView) -> Vec<DbScan>;
}

/// Identifies the distribution.
///
/// Contract: [`detect`](Self::detect) is called with the image's final filesystem (all layers
/// stacked) and returns `None` when the files it knows are absent or say nothing useful.
pub trait DistributionScanner: Send + Sync + Debug {
    /// Stable name (e.g. `os-release`).
    fn name(&self) -> &'static str;
    /// Output format version.
    fn version(&self) -> &'static str;
    /// Add the files this scanner reads.
    fn select(&self, selector: &mut FileSelector);
    /// The distribution described by `files`, if any.
    fn detect(&self, files: &dyn FileView) -> Option<Distribution>;
}
