//! Indexing: from an image's layers to a Clair v4 IndexReport.
//!
//! ```text
//!  Image (clair-layer)          per layer, in parallel, once per digest        whole image
//!  ┌──────────────┐   read    ┌──────────────────────────────┐   stack   ┌──────────────────┐
//!  │ layer blobs  │ ────────► │ LayerContents + DbScans       │ ────────► │ final filesystem │
//!  └──────────────┘ (verify)  │ cached by digest (LayerCache) │ coalesce  │ → IndexReport    │
//!                             └──────────────────────────────┘           └──────────────────┘
//! ```
//!
//! Scanners ([`PackageScanner`], [`DistributionScanner`]) are registered explicitly. Package
//! scanners run per layer; the coalescer keeps the databases that survive in the final
//! filesystem (whiteouts, opaque directories, replacements) and attributes each package to the
//! lowest layer from which it has been continuously present. Distribution scanners run on the
//! final filesystem, so symlinks that cross layers resolve as a container would see them.
#![forbid(unsafe_code)]

pub mod cache;
mod indexer;
pub mod scanner;

pub use cache::{LayerCache, LayerResult, MemoryCache};
pub use indexer::{Error, IndexStats, Indexed, Indexer, NoProgress, Progress, build_report};
pub use scanner::{DbScan, DistributionScanner, PackageScanner};
