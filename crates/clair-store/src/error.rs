//! Errors of the store.

/// Everything that can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed.
    #[error("sqlite {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL failed.
    #[error("postgresql {target}: {}", with_causes(source))]
    Postgres {
        /// Host and database (no password).
        target: String,
        /// Cause.
        #[source]
        source: postgres::Error,
    },
    /// No PostgreSQL connection could be had.
    #[error("postgresql {target}: {message}")]
    Connect {
        /// Host and database (no password).
        target: String,
        /// Why.
        message: String,
    },
    /// The connection string is invalid.
    #[error("invalid database source {source_display:?}: {message}")]
    BadSource {
        /// The source with any password hidden.
        source_display: String,
        /// What is wrong.
        message: String,
    },
    /// A file next to the database (lock files, the data directory) could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Stored data could not be decoded (written by a newer version, or damaged).
    #[error("stored {what} could not be decoded: {message}")]
    Decode {
        /// What was being read.
        what: String,
        /// Why.
        message: String,
    },
    /// The feed being stored failed; nothing was stored.
    #[error("update of {updater} aborted, previous data kept: {message}")]
    Aborted {
        /// The updater.
        updater: String,
        /// The feed's error.
        message: String,
    },
    /// A referenced object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A lock was lost while held (its database connection died): the work under it stopped.
    #[error("lock {name} lost: its database connection closed, another instance may hold it now")]
    LockLost {
        /// The lock.
        name: String,
    },
    /// The database schema is newer than this program.
    #[error(
        "database schema version {found} is newer than this program's {supported}; upgrade clair"
    )]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest version this program knows.
        supported: i64,
    },
}

/// An error and each cause that adds something: tokio-postgres says only "db error" or "error
/// performing TLS handshake" and keeps the server's message or the certificate problem in its
/// source.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

impl Error {
    /// Whether the database could not be reached or is not accepting connections yet (refused,
    /// reset, timed out, starting up, shutting down): trying again later may succeed. A bad
    /// source, a TLS or authentication failure, or a schema newer than this program is not.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Postgres { source, .. } => crate::postgres::unreachable(source),
            Error::Connect { .. } => true,
            _ => false,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
