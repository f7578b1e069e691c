//! The client: a builder of settings, GETs with redirects followed (and checked) hop by hop,
//! POSTs, responses with size-capped streaming bodies, and the retry loop.

use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ureq::http::Method;
use ureq::tls::{Certificate, PrivateKey};

use crate::Error;
use crate::address::{AddressPolicy, ForbiddenAddress, ResolveError, Resolver};
use crate::target::{display_url, host_and_port, origin, resolve_target};

/// Retries: how many tries, and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all (1: no retry). Only failures worth another try are retried: no answer, a
    /// body that broke off, 429 and 5xx.
    pub attempts: u32,
    /// First wait (doubled after each try).
    pub backoff: Duration,
    /// The doubling stops here.
    pub max_backoff: Duration,
    /// The longest wait, the server's `Retry-After` included.
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 1,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Redirects followed per request (as Go's `net/http` and browsers).
const MAX_REDIRECTS: u32 = 10;

/// How often waits look at an [`Interrupt`].
const POLL: Duration = Duration::from_millis(50);

/// Settings of a [`Client`].
#[derive(Debug, Default)]
pub struct ClientBuilder {
    connect_timeout: Option<Duration>,
    response_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    retry: Retry,
    policy: Option<AddressPolicy>,
    connect_to: Option<(String, String)>,
    roots: Option<Vec<Certificate<'static>>>,
    client_cert: Option<ureq::tls::ClientCert>,
    insecure_tls: bool,
    proxy: Option<ureq::Proxy>,
    user_agent: Option<String>,
}

impl ClientBuilder {
    /// Longest wait for a connection.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(d);
        self
    }

    /// Longest wait for the response headers.
    pub fn response_timeout(mut self, d: Duration) -> Self {
        self.response_timeout = Some(d);
        self
    }

    /// Longest whole request, body included (a stalled body ends here).
    pub fn total_timeout(mut self, d: Duration) -> Self {
        self.total_timeout = Some(d);
        self
    }

    /// Retries of [`Client::retry`].
    pub fn retry(mut self, r: Retry) -> Self {
        self.retry = r;
        self
    }

    /// Connect only to addresses this policy allows (the SSRF filter); without one, the
    /// system's resolver and any address.
    pub fn address_policy(mut self, p: AddressPolicy) -> Self {
        self.policy = Some(p);
        self
    }

    /// Connect to `real` (`host:port`) for URLs whose host is `name`, while TLS checks (and
    /// sends as SNI) `name`.
    pub fn connect_to(mut self, name: &str, real: &str) -> Self {
        self.connect_to = Some((name.to_string(), real.to_string()));
        self
    }

    /// Trust exactly the certificates in this PEM bundle for HTTPS (instead of the usual
    /// roots); an unreadable bundle, or one without a certificate, is an error.
    pub fn ca_pem(self, pem: &[u8]) -> Result<Self, Error> {
        Ok(self.ca_certificates(crate::tls::ca_certificates(pem).map_err(Error::Tls)?))
    }

    /// Trust exactly these certificates for HTTPS (instead of the usual roots).
    pub fn ca_certificates(mut self, roots: Vec<Certificate<'static>>) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Present this certificate chain and key to servers that ask
    /// ([`pem_certificates`](crate::pem_certificates),
    /// [`pem_private_key`](crate::pem_private_key)).
    pub fn client_cert(
        mut self,
        chain: Vec<Certificate<'static>>,
        key: PrivateKey<'static>,
    ) -> Self {
        self.client_cert = Some(ureq::tls::ClientCert::new_with_certs(&chain, key));
        self
    }

    /// Do not verify HTTPS certificates at all (Clair v2's `-insecure-tls`).
    pub fn insecure_tls(mut self, yes: bool) -> Self {
        self.insecure_tls = yes;
        self
    }

    /// Send every request through this HTTP proxy (otherwise: the usual proxy environment
    /// variables).
    pub fn proxy(mut self, url: &str) -> Result<Self, Error> {
        self.proxy = Some(ureq::Proxy::new(url).map_err(|e| Error::Refused {
            url: display_url(url),
            message: e.to_string(),
        })?);
        Ok(self)
    }

    /// The `User-Agent` header (default: `clair-rs/VERSION`).
    pub fn user_agent(mut self, ua: &str) -> Self {
        self.user_agent = Some(ua.to_string());
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(self.connect_timeout)
            .timeout_recv_response(self.response_timeout)
            .timeout_recv_body(self.total_timeout)
            .timeout_global(self.total_timeout)
            .user_agent(
                self.user_agent
                    .unwrap_or_else(|| format!("clair-rs/{}", env!("CARGO_PKG_VERSION"))),
            );
        if let Some(p) = self.proxy {
            config = config.proxy(Some(p));
        }
        if self.insecure_tls || self.roots.is_some() || self.client_cert.is_some() {
            let mut tls = ureq::tls::TlsConfig::builder().disable_verification(self.insecure_tls);
            if let Some(roots) = &self.roots {
                tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(roots));
            }
            if let Some(c) = self.client_cert {
                tls = tls.client_cert(Some(c));
            }
            config = config.tls_config(tls.build());
        }
        let resolver = Resolver {
            policy: self.policy.clone(),
            connect_to: self.connect_to,
        };
        Client {
            agent: ureq::Agent::with_parts(
                config.build(),
                ureq::unversioned::transport::DefaultConnector::new(),
                resolver,
            ),
            policy: self.policy,
            retry: self.retry,
        }
    }
}

/// The outbound HTTP client (cheap to clone; clones share connections).
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    policy: Option<AddressPolicy>,
    retry: Retry,
}

impl Default for Client {
    fn default() -> Self {
        Client::builder().build()
    }
}

/// Something that can ask for work to stop (shutdown, a lost lock).
pub trait Interrupt {
    /// Why to stop, or `None` to carry on.
    fn reason(&self) -> Option<String>;
}

/// The [`Interrupt`] that never fires.
#[derive(Debug, Clone, Copy, Default)]
pub struct Uninterrupted;

impl Interrupt for Uninterrupted {
    fn reason(&self) -> Option<String> {
        None
    }
}

/// Set when the caller of [`interruptible`] stopped waiting: a body being read by
/// [`Response::save`] stops at its next read.
#[derive(Debug, Clone, Default)]
pub struct Abandon(Arc<AtomicBool>);

impl Abandon {
    /// Whether the caller has gone.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Run `job` on a thread of its own while this one waits, so an `interrupt` that fires
/// meanwhile returns [`Error::Cancelled`] within 50 ms even when the job waits on a server that
/// never answers; the job is told through its [`Abandon`] and writes nothing more.
pub fn interruptible<T: Send + 'static>(
    url: &str,
    interrupt: &dyn Interrupt,
    job: impl FnOnce(Abandon) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let abandon = Abandon::default();
    let flag = abandon.clone();
    std::thread::Builder::new()
        .name("http request".into())
        .spawn(move || {
            let _ = tx.send(job(flag));
        })
        .map_err(|e| Error::Transport {
            url: display_url(url),
            message: format!("starting the request thread: {e}"),
        })?;
    loop {
        if let Some(reason) = interrupt.reason() {
            abandon.0.store(true, Ordering::SeqCst);
            return Err(Error::Cancelled {
                url: display_url(url),
                reason,
            });
        }
        match rx.recv_timeout(POLL) {
            Ok(r) => return r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Transport {
                    url: display_url(url),
                    message: "the request thread died".into(),
                });
            }
        }
    }
}

/// Sleep for `d` unless interrupted first; whether the whole time passed.
fn sleep(interrupt: &dyn Interrupt, d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if interrupt.reason().is_some() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep(POLL.min(end - now));
    }
}

impl Client {
    /// Settings, from the defaults: no timeouts, no retries, any address, the usual roots.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The retry settings.
    pub fn retry_settings(&self) -> Retry {
        self.retry
    }

    /// Check a URL before connecting to it: the scheme always; the host's addresses only when
    /// a proxy will resolve it (otherwise the client's resolver checks what it connects to;
    /// through a proxy, a rebinding answer can still pass: the proxy is the operator's to
    /// filter).
    fn check(&self, url: &str) -> Result<(), Error> {
        let refused = |message: String| Error::Refused {
            url: display_url(url),
            message,
        };
        let (host, port, _) = host_and_port(url)
            .ok_or_else(|| refused("only http and https URLs are fetched".into()))?;
        let Some(policy) = self.policy.as_ref().filter(|p| !p.allow_link_local) else {
            return Ok(());
        };
        let proxied = self.agent.config().proxy().is_some_and(|p| {
            url.parse::<ureq::http::Uri>()
                .map_or(true, |u| !p.is_no_proxy(&u))
        });
        if !proxied {
            return Ok(());
        }
        policy
            .addresses(&host, port)
            .map(drop)
            .map_err(|e| match e {
                ResolveError::Lookup(message) => Error::Transport {
                    url: display_url(url),
                    message,
                },
                ResolveError::Forbidden(f) => refused(f.to_string()),
            })
    }

    /// Why a request to `url` got no response.
    fn call_error(url: &str, e: ureq::Error) -> Error {
        match e {
            ureq::Error::Other(e) if e.is::<ForbiddenAddress>() => Error::Refused {
                url: display_url(url),
                message: e.to_string(),
            },
            e => Error::Transport {
                url: display_url(url),
                message: e.to_string(),
            },
        }
    }

    /// GET `url` with these headers, following up to 10 redirects, each hop checked as the
    /// first (scheme, addresses) and resolved against the URL that answered;
    /// `Authorization` is dropped once a redirect leaves the original host and port (as Go
    /// and browsers do). Any status is a response; a redirect without `Location` too.
    pub fn get(&self, url: &str, headers: &[(String, String)]) -> Result<Response, Error> {
        let first = origin(url);
        let mut current = url.to_string();
        let mut hops = 0;
        loop {
            self.check(&current)?;
            let same_host = origin(&current) == first;
            let mut req = self.agent.get(&current);
            for (k, v) in headers {
                if !same_host && k.eq_ignore_ascii_case("authorization") {
                    continue;
                }
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req.call().map_err(|e| Client::call_error(&current, e))?;
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .filter(|_| matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308));
            let Some(location) = location else {
                return Ok(Response {
                    url: current,
                    inner: resp,
                });
            };
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(Error::Refused {
                    url: display_url(url),
                    message: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            current = resolve_target(&current, location);
        }
    }

    /// POST `body` to `url` with these headers, once; redirects are not followed (the
    /// response is the redirect).
    pub fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Response, Error> {
        self.send_once(Method::POST, url, headers, body)
    }

    /// One request of any method (PUT, DELETE, …) with these headers and body, checked and
    /// sent once; redirects are not followed.
    pub fn send_once(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Response, Error> {
        self.check(url)?;
        // Only methods that need a body get one (an empty GET or DELETE sends no
        // `Content-Length: 0`).
        let with_body = !body.is_empty()
            || method == Method::POST
            || method == Method::PUT
            || method == Method::PATCH;
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let built = |e: ureq::http::Error| Error::Transport {
            url: display_url(url),
            message: e.to_string(),
        };
        let resp = if with_body {
            self.agent.run(req.body(body).map_err(built)?)
        } else {
            self.agent.run(req.body(()).map_err(built)?)
        }
        .map_err(|e| Client::call_error(url, e))?;
        Ok(Response {
            url: url.to_string(),
            inner: resp,
        })
    }

    /// Run `once` until it succeeds, fails in a way not worth another try
    /// ([`Error::is_retryable`]), or the tries run out; between tries, wait (the server's
    /// `Retry-After` when it gave one), unless `interrupt` fires first ([`Error::Cancelled`]).
    pub fn retry<T>(
        &self,
        url: &str,
        interrupt: &dyn Interrupt,
        mut once: impl FnMut() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let r = self.retry;
        let mut delay = r.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let e = match once() {
                Ok(v) => return Ok(v),
                Err(e) if !e.is_retryable() || attempt >= r.attempts.max(1) => return Err(e),
                Err(e) => e,
            };
            let wait = e.retry_after().unwrap_or(delay).min(r.max_wait);
            tracing::warn!(
                url = %display_url(url),
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %e,
                "fetch failed, retrying"
            );
            if !sleep(interrupt, wait) {
                return Err(Error::Cancelled {
                    url: display_url(url),
                    reason: interrupt.reason().unwrap_or_default(),
                });
            }
            delay = (delay * 2).min(r.max_backoff);
        }
    }
}

/// Validators of a response, sent back for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditional {
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

impl Conditional {
    /// The request headers that ask for the body only if it changed
    /// (`If-None-Match`, `If-Modified-Since`).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(e) = &self.etag {
            out.push(("If-None-Match".to_string(), e.clone()));
        }
        if let Some(m) = &self.last_modified {
            out.push(("If-Modified-Since".to_string(), m.clone()));
        }
        out
    }
}

/// A response: status and headers read, the body not yet.
#[derive(Debug)]
pub struct Response {
    /// The URL that answered (after redirects).
    url: String,
    inner: ureq::http::Response<ureq::Body>,
}

/// Why [`copy_bounded`] stopped.
#[derive(Debug)]
pub enum CopyError {
    /// More than the limit.
    TooLarge,
    /// Reading failed.
    Read(io::Error),
    /// Writing failed.
    Write(io::Error),
}

/// Copy `r` into a new file at `dest`, showing each chunk to `each` (a hasher); at most
/// `limit` bytes. Returns the number of bytes.
pub fn copy_bounded(
    mut r: impl Read,
    dest: &Path,
    limit: u64,
    mut each: impl FnMut(&[u8]),
) -> Result<u64, CopyError> {
    let f = std::fs::File::create(dest).map_err(CopyError::Write)?;
    let mut w = BufWriter::new(f);
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if over_limit(&e) => return Err(CopyError::TooLarge),
            Err(e) => return Err(CopyError::Read(e)),
        };
        total += n as u64;
        if total > limit {
            return Err(CopyError::TooLarge);
        }
        each(&buf[..n]);
        w.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
    w.flush().map_err(CopyError::Write)?;
    Ok(total)
}

/// Whether a body read failed on the client's size limit.
fn over_limit(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<ureq::Error>())
        .is_some_and(|u| matches!(u, ureq::Error::BodyExceedsLimit(_)))
}

/// A body reader that stops once its caller has gone.
struct Abandonable<'a, R> {
    inner: R,
    abandon: Option<&'a Abandon>,
}

impl<R: Read> Read for Abandonable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.abandon.is_some_and(Abandon::is_set) {
            return Err(io::Error::other("download abandoned"));
        }
        self.inner.read(buf)
    }
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.inner.status().as_u16()
    }

    /// The URL that answered (after redirects; with its query).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A header's value, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` in seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.header("retry-after")?;
        v.trim().parse::<u64>().ok().map(Duration::from_secs)
    }

    /// The validators to send back next time.
    pub fn conditional(&self) -> Conditional {
        Conditional {
            etag: self.header("etag").map(str::to_string),
            last_modified: self.header("last-modified").map(str::to_string),
        }
    }

    /// This response's status as an error (retryable for 429 and 5xx).
    pub fn status_error(&self) -> Error {
        Error::Status {
            url: display_url(&self.url),
            status: self.status(),
            retry_after: self.retry_after(),
        }
    }

    fn too_large(&self, limit: u64) -> Error {
        Error::TooLarge {
            url: display_url(&self.url),
            limit,
        }
    }

    /// A declared `Content-Length` above `limit` is refused before any byte is read.
    fn check_length(&self, limit: u64) -> Result<(), Error> {
        match self
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(len) if len > limit => Err(self.too_large(limit)),
            _ => Ok(()),
        }
    }

    /// Stream the body into a new file at `dest` (at most `limit` bytes), showing each chunk
    /// to `each` (a hasher); stops when `abandon` is set. Returns the number of bytes.
    pub fn save(
        mut self,
        dest: &Path,
        limit: u64,
        abandon: Option<&Abandon>,
        each: impl FnMut(&[u8]),
    ) -> Result<u64, Error> {
        self.check_length(limit)?;
        let url = display_url(&self.url);
        let reader = Abandonable {
            inner: self
                .inner
                .body_mut()
                .with_config()
                .limit(limit.saturating_add(1))
                .reader(),
            abandon,
        };
        copy_bounded(reader, dest, limit, each).map_err(|e| match e {
            CopyError::TooLarge => Error::TooLarge { url, limit },
            CopyError::Read(e) => Error::Transport {
                url,
                message: format!("reading the body: {e}"),
            },
            CopyError::Write(source) => Error::Io {
                path: dest.display().to_string(),
                source,
            },
        })
    }

    /// The whole body, at most `limit` bytes.
    pub fn read_to_vec(mut self, limit: u64) -> Result<Vec<u8>, Error> {
        self.check_length(limit)?;
        let url = display_url(&self.url);
        let mut out = Vec::new();
        let r = self
            .inner
            .body_mut()
            .with_config()
            .limit(limit.saturating_add(1))
            .reader()
            .read_to_end(&mut out);
        match r {
            Ok(n) if n as u64 > limit => Err(Error::TooLarge { url, limit }),
            Err(e) if over_limit(&e) => Err(Error::TooLarge { url, limit }),
            Ok(_) => Ok(out),
            Err(e) => Err(Error::Transport {
                url,
                message: format!("reading the body: {e}"),
            }),
        }
    }

    /// The body as JSON, at most `limit` bytes.
    pub fn json<T: serde::de::DeserializeOwned>(self, limit: u64) -> Result<T, Error> {
        let url = display_url(&self.url);
        let body = self.read_to_vec(limit)?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            url,
            message: e.to_string(),
        })
    }
}
