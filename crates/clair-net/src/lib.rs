//! The one outbound HTTP client of clair-rs, for layer blobs, vulnerability feeds, webhooks
//! and key servers: everything that decides how clair-rs talks to a server it does not
//! control lives here, so a fix to timeouts, redirects or the address filter reaches every
//! caller at once.
//!
//! - Timeouts for the connection, the response headers and the whole request.
//! - Retries with exponential backoff (`Retry-After` honoured) for failures worth another try
//!   only: no answer, a body that broke off, 429 and 5xx ([`Client::retry`]).
//! - Redirects followed by hand, every hop checked as the first and resolved with
//!   [`url::Url::join`]; `Authorization` dropped when a redirect leaves the original host.
//! - The SSRF policy ([`AddressPolicy`]): the client's resolver refuses a name when any of its
//!   addresses is link-local or a cloud metadata endpoint, and connects only to the addresses
//!   it checked, so a rebinding DNS answer cannot slip between check and connection.
//! - A CA bundle instead of the usual roots, a client certificate, a fixed address for a TLS
//!   server name, a proxy.
//! - Bodies streamed to files or read into memory under a size cap, hashed on the way
//!   ([`Response::save`]), and cancellation of a request that waits on a silent server
//!   ([`interruptible`]).
//!
//! Callers keep what is theirs: registry authentication and digests (clair-layer), validators
//! and file naming (clair-matcher), what a webhook posts (the notifier).
//!
//! ```no_run
//! use std::time::Duration;
//! use clair_net::{Client, Retry, Uninterrupted};
//!
//! let client = Client::builder()
//!     .connect_timeout(Duration::from_secs(10))
//!     .total_timeout(Duration::from_secs(60))
//!     .retry(Retry { attempts: 3, ..Retry::default() })
//!     .build();
//! let url = "https://security-tracker.debian.org/tracker/data/json";
//! let body = client.retry(url, &Uninterrupted, || {
//!     let resp = client.get(url, &[])?;
//!     if resp.status() != 200 {
//!         return Err(resp.status_error());
//!     }
//!     resp.read_to_vec(64 << 20)
//! })?;
//! # Ok::<(), clair_net::Error>(())
//! ```
#![forbid(unsafe_code)]

mod address;
mod client;
mod target;
mod tls;

use std::time::Duration;

pub use address::{AddressPolicy, ForbiddenAddress, Lookup, is_link_local_or_metadata};
pub use client::{
    Abandon, Client, ClientBuilder, Conditional, CopyError, Interrupt, Response, Retry,
    Uninterrupted, copy_bounded, interruptible,
};
pub use target::{check_url_for_fuzz, display_url};
pub use tls::{pem_certificates, pem_private_key, tls_trusting};
pub use ureq::http::Method;
pub use ureq::tls::{Certificate, PrivateKey};

/// Why a request failed. Messages name the URL without its credentials and query (which may
/// hold a signature), or the file being written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not one the client fetches: not `http`/`https`, a forbidden address, too
    /// many redirects, an unusable proxy.
    #[error("{url}: {message}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The server answered with a status the caller does not accept.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL that answered.
        url: String,
        /// The status code.
        status: u16,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// No answer (connection, DNS, TLS, timeout), or the body broke off.
    #[error("{url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// The body is larger than allowed.
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The body is not what was expected (JSON).
    #[error("{url}: {message}")]
    Decode {
        /// The URL.
        url: String,
        /// The parser's complaint.
        message: String,
    },
    /// The request was given up ([`Interrupt`]).
    #[error("{url}: {reason}")]
    Cancelled {
        /// The URL.
        url: String,
        /// Why ("cancelled", "lock updater/debian lost").
        reason: String,
    },
    /// Writing the body to a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate, key or CA bundle is unusable (the caller names the file).
    #[error("{0}")]
    Tls(String),
}

impl Error {
    /// Whether another try may succeed: no answer, a body that broke off, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The server's `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
