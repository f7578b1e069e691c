//! Reading container images: sources, layer decompression, tar streams and layer stacking.
#![forbid(unsafe_code)]

pub mod contents;
pub mod path;
pub mod stack;

pub use contents::{FileRef, FileSelector, FileView, LayerContents};
pub use stack::Stack;
