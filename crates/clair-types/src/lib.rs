//! The clair-rs domain model: what every other crate talks about.
//!
//! This crate holds data types only: no I/O, no parsing of package databases. Types that cross the
//! edge of the program (digests, report JSON) are validated when they are built, so the rest of the
//! code can trust them.
//!
//! ```
//! use clair_types::Digest;
//! let d: Digest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".parse().unwrap();
//! assert_eq!(d.algorithm(), "sha256");
//! assert_eq!(d, Digest::sha256_of(b"hello"));
//! ```
#![forbid(unsafe_code)]

mod digest;
mod distribution;
mod package;
pub mod report;
pub mod update;
mod vulnerability;

pub use digest::{Digest, DigestError, Sha256Writer};
pub use distribution::Distribution;
pub use package::{Package, PackageDbKind, SourcePackage, package_name_key, package_names};
pub use report::{
    Environment, IndexReport, IndexState, ReportDistribution, ReportPackage, ReportVulnerability,
    Repository, VulnerabilityReport, VulnerablePackage,
};
pub use update::{EnrichmentRecord, FeedError, OpKind, UpdateDiff, UpdateOperation, UpdaterStatus};
pub use vulnerability::{
    PackageKind, RangeEvent, Severity, SeverityError, VersionRange, Vulnerability,
};
