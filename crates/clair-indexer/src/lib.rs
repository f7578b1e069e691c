//! Indexing: from an image's layers to an IndexReport.
//!
//! Scanners ([`PackageScanner`], [`DistributionScanner`]) are registered explicitly; per-layer
//! results are content addressed by layer digest and scanner name and version.
#![forbid(unsafe_code)]

pub mod scanner;

pub use scanner::{DbScan, DistributionScanner, PackageScanner};
