//! Errors of this crate.

use std::io;

use clair_types::Digest;

use crate::tar::TarError;

/// Everything that can go wrong reading an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file (or archive member) at fault.
        path: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// A layer's tar stream is broken (truncated, corrupt compression, bad header).
    #[error("{layer}: {source}")]
    Tar {
        /// The layer at fault.
        layer: String,
        /// Cause.
        #[source]
        source: TarError,
    },
    /// A blob's bytes do not hash to the digest that names it.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The blob at fault.
        what: String,
        /// Digest the image claims.
        expected: Digest,
        /// Digest of the bytes read.
        actual: Digest,
    },
    /// A JSON document of the image (index, manifest, config) is invalid.
    #[error("{what}: {source}")]
    Json {
        /// The document at fault.
        what: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// The image is not what it claims, or not what was asked for.
    #[error("{0}")]
    Image(String),
    /// The reference names something that is not supported.
    #[error("{0}")]
    Unsupported(String),
    /// A registry refused or failed a request.
    #[error("registry {reference}: {message}")]
    Registry {
        /// The image reference.
        reference: String,
        /// What happened.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl std::fmt::Display, source: io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
