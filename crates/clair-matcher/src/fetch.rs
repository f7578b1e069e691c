//! HTTP for updaters: conditional GET, retries with backoff, timeouts, size limits.
//!
//! Downloads go to files (never to memory), are hashed while written, and are bounded in size.
//! `file://` URLs (and plain paths) are read from disk, for mirrors on a shared filesystem and
//! for tests.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clair_types::Sha256Writer;

use crate::cancel::Cancel;
use serde::{Deserialize, Serialize};

/// Errors fetching a URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status (after retries for 429 and 5xx).
    #[error("GET {url}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// No answer: connection refused, DNS, TLS, timeout (after retries).
    #[error("GET {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// The body is larger than allowed.
    #[error("GET {url}: response larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The request was given up: the process is shutting down, or the updater's lock was lost.
    #[error("GET {url}: {reason}")]
    Cancelled {
        /// The URL.
        url: String,
        /// Why ("cancelled", "lock updater/debian lost").
        reason: String,
    },
    /// Writing the download failed.
    #[error("{path}: {source}")]
    Io {
        /// The file being written.
        path: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

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
    agent: ureq::Agent,
    opts: HttpOptions,
    cancel: Cancel,
}

impl Default for Http {
    fn default() -> Self {
        Self::new(HttpOptions::default())
    }
}

impl Http {
    /// A client with these settings.
    pub fn new(opts: HttpOptions) -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_recv_response(Some(opts.read_timeout))
            .timeout_recv_body(Some(opts.request_timeout))
            .timeout_global(Some(opts.request_timeout))
            .user_agent(format!("clair-rs/{}", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent: ureq::Agent::new_with_config(config),
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
        let cancelled = |reason: String| FetchError::Cancelled {
            url: url.to_string(),
            reason,
        };
        let mut delay = self.opts.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.opts.attempts.max(1);
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let abandoned = Arc::new(AtomicBool::new(false));
            let job = Attempt {
                agent: self.agent.clone(),
                url: url.to_string(),
                dest: dest.to_path_buf(),
                prior: prior.cloned(),
                max_body: self.opts.max_body,
                abandoned: abandoned.clone(),
            };
            std::thread::Builder::new()
                .name("updater fetch".into())
                .spawn(move || {
                    let _ = tx.send(job.run());
                })
                .map_err(|e| FetchError::Transport {
                    url: url.to_string(),
                    message: format!("starting the request thread: {e}"),
                })?;
            let step = match self.cancel.recv(&rx) {
                Ok(Some(step)) => step,
                Ok(None) => Step::Done(Err(FetchError::Transport {
                    url: url.to_string(),
                    message: "the request thread died".into(),
                })),
                Err(reason) => {
                    abandoned.store(true, Ordering::SeqCst);
                    return Err(cancelled(reason));
                }
            };
            let (error, retry_after) = match step {
                Step::Done(r) => return r,
                Step::Retry { error, retry_after } => (error, retry_after),
            };
            if last {
                return Err(error);
            }
            let wait = retry_after.unwrap_or(delay).min(Duration::from_secs(300));
            tracing::warn!(
                url,
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %error,
                "fetch failed, retrying"
            );
            if !self.cancel.sleep(wait) {
                return Err(cancelled(self.cancel.reason().unwrap_or_default()));
            }
            delay = (delay * 2).min(Duration::from_secs(60));
        }
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
            },
            _ => FetchError::Transport {
                url: url.to_string(),
                message: e.to_string(),
            },
        })?;
        let (sha256, bytes) = write_hashed(f, dest, self.opts.max_body).map_err(|e| match e {
            WriteError::TooLarge => FetchError::TooLarge {
                url: url.to_string(),
                limit: self.opts.max_body,
            },
            WriteError::Dest(e) => FetchError::Io {
                path: dest.display().to_string(),
                source: e,
            },
            WriteError::Body(e) => FetchError::Transport {
                url: url.to_string(),
                message: e.to_string(),
            },
        })?;
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

/// What one attempt came to.
enum Step {
    /// Final: the download, or an error not worth retrying.
    Done(Result<Download, FetchError>),
    /// Worth another attempt (connection failure, 429, 5xx, a body that broke off).
    Retry {
        error: FetchError,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
}

/// One GET, owned by the thread that runs it.
struct Attempt {
    agent: ureq::Agent,
    url: String,
    dest: PathBuf,
    prior: Option<Validators>,
    max_body: u64,
    /// Set when the caller stopped waiting: the body is not read further.
    abandoned: Arc<AtomicBool>,
}

impl Attempt {
    fn run(self) -> Step {
        let url = self.url.as_str();
        let mut req = self.agent.get(url);
        if let Some(p) = &self.prior {
            if let Some(e) = &p.etag {
                req = req.header("If-None-Match", e);
            }
            if let Some(m) = &p.last_modified {
                req = req.header("If-Modified-Since", m);
            }
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(e) => {
                return Step::Retry {
                    error: FetchError::Transport {
                        url: url.to_string(),
                        message: e.to_string(),
                    },
                    retry_after: None,
                };
            }
        };
        let status = resp.status().as_u16();
        if status == 304 {
            return Step::Done(Ok(Download::NotModified));
        }
        if status == 429 || status >= 500 {
            return Step::Retry {
                error: FetchError::Status {
                    url: url.to_string(),
                    status,
                },
                retry_after: retry_after(&resp),
            };
        }
        if status != 200 {
            return Step::Done(Err(FetchError::Status {
                url: url.to_string(),
                status,
            }));
        }
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header("etag");
        let last_modified = header("last-modified");
        let mut body = resp.into_body();
        let reader = Abandonable {
            inner: body.with_config().limit(self.max_body).reader(),
            abandoned: &self.abandoned,
        };
        Step::Done(match write_hashed(reader, &self.dest, self.max_body) {
            Ok((sha256, bytes)) => {
                let validators = Validators {
                    etag,
                    last_modified,
                    sha256,
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
            Err(WriteError::TooLarge) => Err(FetchError::TooLarge {
                url: url.to_string(),
                limit: self.max_body,
            }),
            Err(WriteError::Dest(e)) => Err(FetchError::Io {
                path: self.dest.display().to_string(),
                source: e,
            }),
            Err(WriteError::Body(e)) => {
                return Step::Retry {
                    error: FetchError::Transport {
                        url: url.to_string(),
                        message: format!("reading the response: {e}"),
                    },
                    retry_after: None,
                };
            }
        })
    }
}

/// A body reader that stops once its caller has gone.
struct Abandonable<'a, R> {
    inner: R,
    abandoned: &'a AtomicBool,
}

impl<R: Read> Read for Abandonable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.abandoned.load(Ordering::SeqCst) {
            return Err(io::Error::other("download abandoned"));
        }
        self.inner.read(buf)
    }
}

fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

enum WriteError {
    TooLarge,
    Body(io::Error),
    Dest(io::Error),
}

/// Copy `r` into a new file at `dest`, hashing; bounded by `limit`.
fn write_hashed(mut r: impl Read, dest: &Path, limit: u64) -> Result<(String, u64), WriteError> {
    let f = File::create(dest).map_err(WriteError::Dest)?;
    let mut w = BufWriter::new(f);
    let mut h = Sha256Writer::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if e.to_string().contains("limit") {
                    return Err(WriteError::TooLarge);
                }
                return Err(WriteError::Body(e));
            }
        };
        total += n as u64;
        if total > limit {
            return Err(WriteError::TooLarge);
        }
        h.update(&buf[..n]);
        w.write_all(&buf[..n]).map_err(WriteError::Dest)?;
    }
    w.flush().map_err(WriteError::Dest)?;
    Ok((h.finish().hex().to_string(), total))
}
