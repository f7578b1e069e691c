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
mod scanner;
pub mod suse;
pub mod ubuntu;

#[cfg(test)]
mod test_corpus;

use std::sync::Arc;

pub use namespaces::EcosystemNamespaces;
pub use registry::{DEFAULT_SETS, Settings, UPDATERS, unused_settings, updaters};
pub use scanner::DbScanner;

use clair_indexer::{DistributionScanner, PackageScanner};

/// Every package scanner, in a fixed order. Adding a scanner changes the indexer state, so
/// clients re-index.
pub fn package_scanners() -> Vec<Arc<dyn PackageScanner>> {
    vec![
        Arc::new(dpkg::SCANNER),
        Arc::new(apk::SCANNER),
        Arc::new(rpm::SCANNER),
        Arc::new(python::SCANNER),
        Arc::new(npm::SCANNER),
        Arc::new(java::SCANNER),
        Arc::new(gobin::SCANNER),
        Arc::new(rustbin::SCANNER),
        Arc::new(ruby::SCANNER),
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
