//! Ecosystem knowledge, one module per package format or distribution family.
//!
//! Package database formats shared by several distributions (`dpkg`, `rpm`, `apk`) live apart
//! from distribution detection (`osrelease`). [`defaults`] is the one explicit list of scanners.
#![forbid(unsafe_code)]

pub mod alpine;
pub mod apk;
pub mod aws;
mod cvss;
pub mod debian;
pub mod dpkg;
mod elf;
pub mod epss;
mod feed;
pub mod gobin;
pub mod java;
pub mod kev;
pub mod namespaces;
pub mod npm;
pub mod nvd;
pub mod oracle;
pub mod osrelease;
pub mod osv;
pub mod oval;
pub mod photon;
pub mod python;
mod registry;
pub mod rhel;
pub mod rpm;
pub mod ruby;
pub mod rustbin;
pub mod suse;
pub mod ubuntu;

#[cfg(test)]
mod test_corpus;

use std::sync::Arc;

pub use namespaces::EcosystemNamespaces;
pub use registry::{DEFAULT_SETS, Settings, UPDATERS, unused_settings, updaters};

use clair_indexer::{DistributionScanner, PackageScanner};

/// The scan of a metadata file describing one package (a Python distribution, an npm
/// manifest, a gemspec): the package, or a warning naming the file when it could not be read.
pub(crate) fn one_package_scan(
    scanner: &str,
    path: &str,
    kind: clair_types::PackageDbKind,
    parsed: Result<(String, String), String>,
) -> clair_indexer::DbScan {
    match parsed {
        Ok((name, version)) => clair_indexer::DbScan {
            path: path.to_string(),
            packages: vec![clair_types::Package {
                name,
                version,
                arch: String::new(),
                source: None,
                db_kind: kind,
                package_db: path.to_string(),
                module: None,
            }],
            warnings: Vec::new(),
        },
        Err(e) => clair_indexer::DbScan {
            path: path.to_string(),
            packages: Vec::new(),
            warnings: vec![format!("{scanner}: {path}: {e}")],
        },
    }
}

/// Every package scanner, in a fixed order. Adding a scanner changes the indexer state, so
/// clients re-index.
pub fn package_scanners() -> Vec<Arc<dyn PackageScanner>> {
    vec![
        Arc::new(dpkg::DpkgScanner),
        Arc::new(apk::ApkScanner),
        Arc::new(rpm::RpmScanner),
        Arc::new(python::PythonScanner),
        Arc::new(npm::NpmScanner),
        Arc::new(java::JavaScanner),
        Arc::new(gobin::GoBinaryScanner),
        Arc::new(rustbin::RustBinaryScanner),
        Arc::new(ruby::GemScanner),
    ]
}

/// Every distribution scanner, most specific first.
pub fn distribution_scanners() -> Vec<Arc<dyn DistributionScanner>> {
    vec![Arc::new(osrelease::OsReleaseScanner)]
}

/// An indexer with every scanner.
pub fn default_indexer() -> clair_indexer::Indexer {
    clair_indexer::Indexer::new(package_scanners(), distribution_scanners())
}
