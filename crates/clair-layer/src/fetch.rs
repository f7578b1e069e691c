//! Fetching layers by URL, as Quay and ProGet ask Clair to: the client names each layer blob by
//! URL (with the headers to send) and its digest.
//!
//! The HTTP side is clair-net's client: redirects followed by hand (at most 10) so every hop
//! is checked, only `http`/`https`, never a link-local or cloud-metadata address unless
//! allowed (Clair v4's SSRF advisory; the check sits in the client's resolver, so the
//! addresses checked are the addresses connected to), `Authorization` dropped when a redirect
//! leaves the original host. What is the layer's own is here: bodies go to a temporary file
//! while being hashed, the digest must match, the size is capped, 5xx and broken connections
//! are retried with backoff.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clair_net::{AddressPolicy, Client, Retry, Uninterrupted};
use clair_types::Digest;
use sha2::{Digest as _, Sha256, Sha512};

pub use clair_net::{
    ForbiddenAddress, Lookup, check_url_for_fuzz, display_url, is_link_local_or_metadata,
    tls_trusting,
};

/// Fetch settings.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Tries per layer (5xx, 429, broken connections).
    pub attempts: u32,
    /// First wait between tries (doubled each time).
    pub backoff: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Longest wait for the response headers.
    pub response_timeout: Duration,
    /// Whole-download timeout per try (a stalled body ends here).
    pub timeout: Duration,
    /// Largest layer accepted, in bytes.
    pub max_size: u64,
    /// Allow link-local and metadata addresses (169.254.0.0/16, fe80::/10, …).
    pub allow_link_local: bool,
    /// Only 200 counts (Clair v4); otherwise any 2xx (Clair v2).
    pub require_200: bool,
    /// Trust only these PEM certificates for HTTPS (a private registry's CA); `None`: the
    /// usual roots.
    pub ca_pem: Option<std::sync::Arc<Vec<u8>>>,
    /// Do not verify HTTPS certificates at all (Clair v2's `-insecure-tls`).
    pub insecure_tls: bool,
    /// How names become addresses; `None`: the system's resolver. Tests inject their own to
    /// play DNS answers an attacker controls.
    pub lookup: Option<Arc<dyn Lookup>>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            attempts: 3,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            timeout: Duration::from_secs(30 * 60),
            max_size: 16 << 30,
            allow_link_local: false,
            require_200: true,
            ca_pem: None,
            insecure_tls: false,
            lookup: None,
        }
    }
}

/// Why a layer could not be fetched. Messages name the URL (without its query, which may hold
/// credentials) and the layer.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not one we fetch.
    #[error("layer {layer}: {url}: {message}")]
    Refused {
        /// Layer digest or name.
        layer: String,
        /// The URL, query removed.
        url: String,
        /// Why.
        message: String,
    },
    /// The server answered with an error status.
    #[error("layer {layer}: {url}: HTTP {status}")]
    Status {
        /// Layer digest or name.
        layer: String,
        /// The URL, query removed.
        url: String,
        /// Status code.
        status: u16,
    },
    /// No answer, or the body broke off.
    #[error("layer {layer}: {url}: {message}")]
    Transport {
        /// Layer digest or name.
        layer: String,
        /// The URL, query removed.
        url: String,
        /// Cause.
        message: String,
    },
    /// The bytes do not hash to the digest the client gave.
    #[error("layer {layer}: downloaded content has digest {got}")]
    Digest {
        /// The expected digest.
        layer: String,
        /// What the bytes hash to.
        got: String,
    },
    /// Bigger than allowed.
    #[error("layer {layer}: larger than the {limit}-byte limit")]
    TooLarge {
        /// Layer digest or name.
        layer: String,
        /// The limit.
        limit: u64,
    },
    /// The temporary file.
    #[error("layer {layer}: writing {path}: {source}")]
    Io {
        /// Layer digest or name.
        layer: String,
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// Whether the client's request was at fault (bad URL, refused address, not found, digest)
    /// rather than the server or the network.
    pub fn is_client_error(&self) -> bool {
        match self {
            FetchError::Refused { .. }
            | FetchError::Digest { .. }
            | FetchError::TooLarge { .. } => true,
            FetchError::Status { status, .. } => *status < 500,
            FetchError::Transport { .. } | FetchError::Io { .. } => false,
        }
    }
}

/// Downloads layers.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client,
    opts: FetchOptions,
}

impl Fetcher {
    /// A fetcher with these settings (an unreadable `ca_pem` leaves the usual roots; callers
    /// check it with [`tls_trusting`] first).
    pub fn new(opts: FetchOptions) -> Fetcher {
        let mut builder = Client::builder()
            .connect_timeout(opts.connect_timeout)
            .response_timeout(opts.response_timeout)
            .total_timeout(opts.timeout)
            .insecure_tls(opts.insecure_tls)
            .retry(Retry {
                attempts: opts.attempts,
                backoff: opts.backoff,
                max_backoff: Duration::from_secs(30),
                max_wait: Duration::from_secs(60),
            })
            .address_policy(AddressPolicy {
                allow_link_local: opts.allow_link_local,
                lookup: opts.lookup.clone(),
            });
        if !opts.insecure_tls
            && let Some(pem) = &opts.ca_pem
            && let Ok(roots) = clair_net::pem_certificates(pem)
        {
            builder = builder.ca_certificates(roots);
        }
        Fetcher {
            client: builder.build(),
            opts,
        }
    }

    /// Download `url` into `dest`, checking the bytes against `digest` (when given). Returns
    /// the number of bytes.
    pub fn fetch(
        &self,
        layer: &str,
        url: &str,
        headers: &[(String, String)],
        digest: Option<&Digest>,
        dest: &Path,
    ) -> Result<u64, FetchError> {
        let (total, got) = self
            .client
            .retry(url, &Uninterrupted, || {
                self.try_once(url, headers, digest, dest)
            })
            .map_err(|e| FetchError::from_net(layer, e))?;
        if let Some(want) = digest
            && want.as_str() != got
        {
            return Err(FetchError::Digest {
                layer: want.to_string(),
                got,
            });
        }
        Ok(total)
    }

    /// One try: the bytes written and what they hash to.
    fn try_once(
        &self,
        url: &str,
        headers: &[(String, String)],
        digest: Option<&Digest>,
        dest: &Path,
    ) -> Result<(u64, String), clair_net::Error> {
        let resp = self.client.get(url, headers)?;
        let status = resp.status();
        let ok = if self.opts.require_200 {
            status == 200
        } else {
            (200..300).contains(&status)
        };
        if !ok {
            return Err(resp.status_error());
        }
        let mut hasher = Hasher::new(digest.map_or("sha256", Digest::algorithm));
        let total = resp.save(dest, self.opts.max_size, None, |b| hasher.update(b))?;
        Ok((total, hasher.finish()))
    }
}

impl FetchError {
    /// The layer's error for what the client reported.
    fn from_net(layer: &str, e: clair_net::Error) -> FetchError {
        let layer = layer.to_string();
        match e {
            clair_net::Error::Refused { url, message } => FetchError::Refused {
                layer,
                url,
                message,
            },
            clair_net::Error::Status { url, status, .. } => {
                FetchError::Status { layer, url, status }
            }
            clair_net::Error::TooLarge { limit, .. } => FetchError::TooLarge { layer, limit },
            clair_net::Error::Io { path, source } => FetchError::Io {
                layer,
                path,
                source,
            },
            clair_net::Error::Transport { url, message }
            | clair_net::Error::Decode { url, message }
            | clair_net::Error::Cancelled {
                url,
                reason: message,
            } => FetchError::Transport {
                layer,
                url,
                message,
            },
            clair_net::Error::Tls(message) => FetchError::Refused {
                layer,
                url: String::new(),
                message,
            },
        }
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: &str) -> Hasher {
        match algorithm {
            "sha512" => Hasher::Sha512(Sha512::new()),
            _ => Hasher::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// `algorithm:hex`.
    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            Hasher::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        }
    }
}
