//! What can go wrong in the use cases.

/// Errors of the use cases (the Clair v2 API's answers carry a status instead,
/// [`crate::v1::V1Error`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] clair_store::Error),
    /// Indexing an image failed (the layer or file at fault named).
    #[error(transparent)]
    Index(#[from] clair_indexer::Error),
    /// A file or directory the work needs could not be made or read.
    #[error("{what}: {source}")]
    Io {
        /// What was being made or read.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A setting is invalid.
    #[error("{0}")]
    Config(String),
    /// A certificate, key or CA file is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// Notifications could not be computed (the layer or operation at fault named).
    #[error("notifications: {0}")]
    Notification(String),
    /// A request to another server got no usable answer (the URL named).
    #[error(transparent)]
    Net(#[from] clair_net::Error),
    /// Another Clair service (a remote indexer or matcher) failed or answered something
    /// unusable.
    #[error("{url}: {message}")]
    Remote {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
}
