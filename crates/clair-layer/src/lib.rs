//! Reading container images: sources, layer decompression, tar streams and layer stacking.
//!
//! - [`source`]: what the user names (`oci:PATH[:REF]`, `docker-archive:PATH`, `dir:PATH`, a
//!   plain path) becomes an [`Image`]: a manifest digest and layer blobs.
//! - [`read::read_layer`]: one pass over a layer blob: decompression detected from magic bytes,
//!   the tar walked with bounded metadata, the selected files kept, the digest verified.
//! - [`Stack`]: layers applied in order with whiteouts, opaque directories and symlinks resolved
//!   inside the image root.
#![forbid(unsafe_code)]

pub mod blob;
pub mod compression;
pub mod contents;
mod error;
pub mod extract;
pub mod fetch;
pub mod path;
pub mod read;
pub mod source;
pub mod spool;
pub mod stack;
pub mod tar;

pub use blob::FileRange;
pub use compression::Compression;
pub use contents::{FileRef, FileSelector, FileView, LayerContents, PathPattern};
pub use error::{Error, Result};
pub use extract::ExtractLimits;
pub use read::{LayerRead, Verify, read_layer};
pub use source::{Image, ImageFormat, ImageLayer, Platform};
pub use spool::LargeFile;
pub use stack::Stack;
