//! HTTP for updaters: conditional GET with validators, on clair-net's client (retries with
//! backoff, timeouts, size limits, cancellation).
//!
//! Downloads go to files (never to memory), are hashed while written, and are bounded in size.
//! `file://` URLs (and plain paths) are read from disk, for mirrors on a shared filesystem and
//! for tests.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clair_net::{Abandon, Client, Conditional, CopyError, Retry};
use clair_types::Sha256Writer;

use crate::cancel::Cancel;
use serde::{Deserialize, Serialize};

/// Errors fetching a URL: the client's own (messages name the URL without its query).
pub use clair_net::Error as FetchError;

/// Validators of a previous download, sent back for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// `ETag` response header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified` response header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// sha256 of the body.
    #[serde(default)]
    pub sha256: String,
}

/// The outcome of a conditional GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// 304 Not Modified (or identical content): nothing written.
    NotModified,
    /// The body was written to the destination file.
    Fetched {
        /// Validators of this response.
        validators: Validators,
        /// Bytes written.
        bytes: u64,
    },
}

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Longest pause between two reads of a response.
    pub read_timeout: Duration,
    /// Longest whole request (large feeds take a while).
    pub request_timeout: Duration,
    /// Attempts for connection errors, 429 and 5xx.
    pub attempts: u32,
    /// First backoff delay (doubled each attempt, capped at 60 s; `Retry-After` wins).
    pub backoff: Duration,
    /// Largest body accepted.
    pub max_body: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30 * 60),
            attempts: 4,
            backoff: Duration::from_secs(2),
            max_body: 4 << 30,
        }
    }
}

/// An HTTP client for updaters.
#[derive(Debug, Clone)]
pub struct Http {
    client: Client,
    opts: HttpOptions,
    cancel: Cancel,
}

impl Default for Http {
    fn default() -> Self {
        Self::new(HttpOptions::default())
    }
}

impl clair_net::Interrupt for Cancel {
    fn reason(&self) -> Option<String> {
        Cancel::reason(self)
    }
}

impl Http {
    /// A client with these settings.
    pub fn new(opts: HttpOptions) -> Http {
        let client = Client::builder()
            .connect_timeout(opts.connect_timeout)
            .response_timeout(opts.read_timeout)
            .total_timeout(opts.request_timeout)
            .retry(Retry {
                attempts: opts.attempts,
                backoff: opts.backoff,
                max_backoff: Duration::from_secs(60),
                max_wait: Duration::from_secs(300),
            })
            .build();
        Http {
            client,
            opts,
            cancel: Cancel::new(),
        }
    }

    /// This client, its requests given up when `cancel` is set.
    pub fn with_cancel(&self, cancel: Cancel) -> Http {
        Http {
            cancel,
            ..self.clone()
        }
    }

    /// The settings.
    pub fn options(&self) -> &HttpOptions {
        &self.opts
    }

    /// GET `url` into `dest`, conditionally on `prior` (If-None-Match / If-Modified-Since).
    ///
    /// Each attempt runs on a helper thread while this one waits, so a [`Cancel`] set meanwhile
    /// (shutdown, a lost lock) returns [`FetchError::Cancelled`] within 50 ms even from a
    /// server that never answers; the abandoned request stops at its next read (or its
    /// timeouts) and writes nothing more.
    pub fn download(
        &self,
        url: &str,
        dest: &Path,
        prior: Option<&Validators>,
    ) -> Result<Download, FetchError> {
        if let Some(path) = url.strip_prefix("file://") {
            return self.copy_file(url, Path::new(path), dest, prior);
        }
        self.client.retry(url, &self.cancel, || {
            let job = Attempt {
                client: self.client.clone(),
                url: url.to_string(),
                dest: dest.to_path_buf(),
                prior: prior.cloned(),
                max_body: self.opts.max_body,
            };
            clair_net::interruptible(url, &self.cancel, move |abandon| job.run(&abandon))
        })
    }

    fn copy_file(
        &self,
        url: &str,
        src: &Path,
        dest: &Path,
        prior: Option<&Validators>,
    ) -> Result<Download, FetchError> {
        let f = File::open(src).map_err(|e| match e.kind() {
            // A mirror on disk answers a missing file as a server would: 404, which updaters
            // treat as "not there" where upstream may legitimately lack a file.
            std::io::ErrorKind::NotFound => FetchError::Status {
                url: url.to_string(),
                status: 404,
                retry_after: None,
            },
            _ => FetchError::Transport {
                url: url.to_string(),
                message: e.to_string(),
            },
        })?;
        let mut h = Sha256Writer::new();
        let bytes =
            clair_net::copy_bounded(f, dest, self.opts.max_body, |b| h.update(b)).map_err(|e| {
                match e {
                    CopyError::TooLarge => FetchError::TooLarge {
                        url: url.to_string(),
                        limit: self.opts.max_body,
                    },
                    CopyError::Write(e) => FetchError::Io {
                        path: dest.display().to_string(),
                        source: e,
                    },
                    CopyError::Read(e) => FetchError::Transport {
                        url: url.to_string(),
                        message: e.to_string(),
                    },
                }
            })?;
        let sha256 = h.finish().hex().to_string();
        if prior.is_some_and(|p| p.sha256 == sha256) {
            return Ok(Download::NotModified);
        }
        Ok(Download::Fetched {
            validators: Validators {
                etag: None,
                last_modified: None,
                sha256,
            },
            bytes,
        })
    }
}

/// One GET, owned by the thread that runs it.
struct Attempt {
    client: Client,
    url: String,
    dest: PathBuf,
    prior: Option<Validators>,
    max_body: u64,
}

impl Attempt {
    fn run(self, abandon: &Abandon) -> Result<Download, clair_net::Error> {
        let headers = self
            .prior
            .as_ref()
            .map(|p| {
                Conditional {
                    etag: p.etag.clone(),
                    last_modified: p.last_modified.clone(),
                }
                .headers()
            })
            .unwrap_or_default();
        let resp = self.client.get(&self.url, &headers)?;
        match resp.status() {
            304 => return Ok(Download::NotModified),
            200 => {}
            _ => return Err(resp.status_error()),
        }
        let Conditional {
            etag,
            last_modified,
        } = resp.conditional();
        let mut h = Sha256Writer::new();
        let bytes = resp.save(&self.dest, self.max_body, Some(abandon), |b| h.update(b))?;
        let validators = Validators {
            etag,
            last_modified,
            sha256: h.finish().hex().to_string(),
        };
        // Servers without validators: identical content is "not modified" too.
        if self
            .prior
            .as_ref()
            .is_some_and(|p| !p.sha256.is_empty() && p.sha256 == validators.sha256)
        {
            Ok(Download::NotModified)
        } else {
            Ok(Download::Fetched { validators, bytes })
        }
    }
}
