//! HTTP for updaters: conditional GET, retries with backoff, timeouts, size limits.
//!
//! Downloads go to files (never to memory), are hashed while written, and are bounded in size.
//! `file://` URLs (and plain paths) are read from disk, for mirrors on a shared filesystem and
//! for tests.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use clair_types::Sha256Writer;
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
        }
    }

    /// The settings.
    pub fn options(&self) -> &HttpOptions {
        &self.opts
    }

    /// GET `url` into `dest`, conditionally on `prior` (If-None-Match / If-Modified-Since).
    pub fn download(
        &self,
        url: &str,
        dest: &Path,
        prior: Option<&Validators>,
    ) -> Result<Download, FetchError> {
        if let Some(path) = url.strip_prefix("file://") {
            return self.copy_file(url, Path::new(path), dest, prior);
        }
        let mut delay = self.opts.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.opts.attempts.max(1);
            let mut req = self.agent.get(url);
            if let Some(p) = prior {
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
                    if last {
                        return Err(FetchError::Transport {
                            url: url.to_string(),
                            message: e.to_string(),
                        });
                    }
                    tracing::warn!(url, attempt, error = %e, "fetch failed, retrying");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(60));
                    continue;
                }
            };
            let status = resp.status().as_u16();
            if status == 304 {
                return Ok(Download::NotModified);
            }
            if status == 429 || status >= 500 {
                if last {
                    return Err(FetchError::Status {
                        url: url.to_string(),
                        status,
                    });
                }
                let wait = retry_after(&resp)
                    .unwrap_or(delay)
                    .min(Duration::from_secs(300));
                tracing::warn!(
                    url,
                    status,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "server busy or failing, retrying"
                );
                std::thread::sleep(wait);
                delay = (delay * 2).min(Duration::from_secs(60));
                continue;
            }
            if status != 200 {
                return Err(FetchError::Status {
                    url: url.to_string(),
                    status,
                });
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
            let reader = body.with_config().limit(self.opts.max_body).reader();
            match write_hashed(reader, dest, self.opts.max_body) {
                Ok((sha256, bytes)) => {
                    let validators = Validators {
                        etag,
                        last_modified,
                        sha256,
                    };
                    // Servers without validators: identical content is "not modified" too.
                    if prior.is_some_and(|p| !p.sha256.is_empty() && p.sha256 == validators.sha256)
                    {
                        return Ok(Download::NotModified);
                    }
                    return Ok(Download::Fetched { validators, bytes });
                }
                Err(WriteError::TooLarge) => {
                    return Err(FetchError::TooLarge {
                        url: url.to_string(),
                        limit: self.opts.max_body,
                    });
                }
                Err(WriteError::Dest(e)) => {
                    return Err(FetchError::Io {
                        path: dest.display().to_string(),
                        source: e,
                    });
                }
                Err(WriteError::Body(e)) => {
                    if last {
                        return Err(FetchError::Transport {
                            url: url.to_string(),
                            message: format!("reading the response: {e}"),
                        });
                    }
                    tracing::warn!(url, attempt, error = %e, "download broke off, retrying");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(60));
                }
            }
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
