//! Fetching layers by URL, as Quay and ProGet ask Clair to: the client names each layer blob by
//! URL (with the headers to send) and its digest.
//!
//! Redirects are followed by hand (at most 10) so every hop is checked: only `http`/`https`,
//! never a link-local or cloud-metadata address unless allowed (Clair v4's SSRF advisory), and
//! `Authorization` is dropped when a redirect leaves the original host (as Go and browsers do).
//!
//! The address check sits in the HTTP client's resolver ([`FilteringResolver`]): the addresses
//! checked are the addresses connected to, so a DNS answer that changes between a check and
//! the connection (rebinding) cannot slip through. A name with any forbidden address is
//! refused whole. Through an HTTP proxy the proxy resolves the target; the target is then
//! checked by a lookup of our own before the request, which a rebinding answer can still pass
//! (the proxy is the operator's to filter).
//! Bodies go to a temporary file while being hashed; the digest must match, the size is capped,
//! 5xx and broken connections are retried with backoff.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clair_types::Digest;
use sha2::{Digest as _, Sha256, Sha512};

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

/// Name resolution for layer fetches: every address returned is checked before any is
/// connected to.
pub trait Lookup: std::fmt::Debug + Send + Sync + 'static {
    /// The addresses of `host` (a name or an address literal) at `port`; an empty list is
    /// "not found".
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
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
    agent: ureq::Agent,
    opts: FetchOptions,
}

/// A URL without its credentials (`user:pass@`), query and fragment, for messages.
pub fn display_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    }
    url.to_string()
}

/// Whether an address is link-local or a well-known cloud metadata endpoint, in any of its
/// IPv6 spellings: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002:AABB:CCDD::/48`) and Teredo (`2001::/32`,
/// server and obfuscated client address) all reach the IPv4 address they embed.
pub fn is_link_local_or_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            let embedded = [
                v6.to_ipv4_mapped(),
                // IPv4-compatible (deprecated, still routed by some stacks).
                (s[..6] == [0; 6]).then(|| v4(s[6], s[7])),
                // NAT64, well-known and local-use prefixes.
                (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| v4(s[6], s[7])),
                (s[..3] == [0x64, 0xff9b, 1]).then(|| v4(s[6], s[7])),
                // 6to4.
                (s[0] == 0x2002).then(|| v4(s[1], s[2])),
                // Teredo: the server, and the client XORed with all ones.
                (s[..2] == [0x2001, 0]).then(|| v4(s[2], s[3])),
                (s[..2] == [0x2001, 0]).then(|| v4(!s[6], !s[7])),
            ];
            if embedded.into_iter().flatten().any(forbidden_v4) {
                return true;
            }
            (s[0] & 0xffc0) == 0xfe80
                // AWS IMDS over IPv6.
                || s == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
        }
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local()
        // Alibaba Cloud's metadata service.
        || v4.octets() == [100, 100, 100, 200]
}

/// A name whose resolution includes a forbidden address (the error a [`FilteringResolver`]
/// hands back through the HTTP client).
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves to {ip}, a link-local or cloud metadata address; \
     set clair_rs.allow_link_local_layers to allow it"
)]
pub struct ForbiddenAddress {
    /// The name looked up.
    pub host: String,
    /// The forbidden address among its answers.
    pub ip: IpAddr,
}

/// The HTTP client's resolver for layer fetches: resolves through a [`Lookup`] (or the
/// system) and refuses a name when any of its addresses is link-local or a metadata endpoint.
/// The client connects only to addresses this returned.
#[derive(Debug)]
pub struct FilteringResolver {
    lookup: Option<Arc<dyn Lookup>>,
    allow_link_local: bool,
}

impl FilteringResolver {
    /// A resolver over `lookup` (`None`: the system's).
    pub fn new(lookup: Option<Arc<dyn Lookup>>, allow_link_local: bool) -> FilteringResolver {
        FilteringResolver {
            lookup,
            allow_link_local,
        }
    }

    /// Every address of `host:port`, or why not.
    fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = match &self.lookup {
            Some(l) => l.lookup(host, port),
            None => (host, port).to_socket_addrs().map(Iterator::collect),
        }
        .map_err(|e| ResolveError::Lookup(format!("resolving {host}: {e}")))?;
        if addrs.is_empty() {
            return Err(ResolveError::Lookup(format!(
                "resolving {host}: no address"
            )));
        }
        if !self.allow_link_local
            && let Some(a) = addrs.iter().find(|a| is_link_local_or_metadata(a.ip()))
        {
            return Err(ResolveError::Forbidden(ForbiddenAddress {
                host: host.to_string(),
                ip: a.ip(),
            }));
        }
        Ok(addrs)
    }
}

enum ResolveError {
    Lookup(String),
    Forbidden(ForbiddenAddress),
}

impl ureq::unversioned::resolver::Resolver for FilteringResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let https = uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs = self.addresses(host, port).map_err(|e| match e {
            ResolveError::Lookup(m) => ureq::Error::Io(std::io::Error::other(m)),
            ResolveError::Forbidden(f) => ureq::Error::Other(Box::new(f)),
        })?;
        let mut out = self.empty();
        for a in addrs {
            if out.try_push(a).is_err() {
                break;
            }
        }
        Ok(out)
    }
}

fn host_and_port(url: &str) -> Option<(String, u16, bool)> {
    let (scheme, rest) = url.split_once("://")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, rest) = h.split_once(']')?;
        let port = rest.strip_prefix(':').map(str::parse).transpose().ok()?;
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some((host, port.unwrap_or(if https { 443 } else { 80 }), https))
}

/// URL handling of untrusted input, for fuzz targets (no network).
pub fn check_url_for_fuzz(url: &str) -> Option<String> {
    let _ = host_and_port(url)?;
    let (base, loc) = url.split_once(' ').unwrap_or((url, "/x"));
    Some(resolve_target(base, loc) + &display_url(url))
}

/// A redirect's `Location` resolved against the URL that answered (RFC 3986, by the `url`
/// crate: `?query`-only, `//host`, `../` and absolute forms); a base that is no URL leaves the
/// location as it is (the fetch then refuses it).
fn resolve_target(base: &str, location: &str) -> String {
    match url::Url::parse(base).and_then(|b| b.join(location)) {
        Ok(u) => u.to_string(),
        Err(_) => location.to_string(),
    }
}

enum Try {
    Done(u64),
    Retry(FetchError, Option<Duration>),
    Fail(FetchError),
}

/// A TLS configuration trusting exactly the certificates in `pem`.
pub fn tls_trusting(pem: &[u8]) -> Result<ureq::tls::TlsConfig, String> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item.map_err(|e| format!("reading certificates: {e}"))? {
            ureq::tls::PemItem::Certificate(c) => certs.push(c),
            _ => continue,
        }
    }
    if certs.is_empty() {
        return Err("no certificate in the CA file".into());
    }
    Ok(ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build())
}

impl Fetcher {
    /// A fetcher with these settings (an unreadable `ca_pem` leaves the usual roots; callers
    /// check it with [`tls_trusting`] first).
    pub fn new(opts: FetchOptions) -> Fetcher {
        let mut builder = ureq::Agent::config_builder();
        if opts.insecure_tls {
            builder = builder.tls_config(
                ureq::tls::TlsConfig::builder()
                    .disable_verification(true)
                    .build(),
            );
        } else if let Some(pem) = &opts.ca_pem
            && let Ok(tls) = tls_trusting(pem)
        {
            builder = builder.tls_config(tls);
        }
        let config = builder
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_recv_response(Some(opts.response_timeout))
            .timeout_recv_body(Some(opts.timeout))
            .timeout_global(Some(opts.timeout))
            .build();
        let resolver = FilteringResolver::new(opts.lookup.clone(), opts.allow_link_local);
        Fetcher {
            agent: ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                resolver,
            ),
            opts,
        }
    }

    /// Check a URL before connecting to it: the scheme always; the host's addresses only when
    /// a proxy will resolve it (otherwise the client's resolver checks what it connects to).
    fn check(&self, layer: &str, url: &str) -> Result<(), FetchError> {
        let refused = |message: String| FetchError::Refused {
            layer: layer.to_string(),
            url: display_url(url),
            message,
        };
        let (host, port, _) = host_and_port(url)
            .ok_or_else(|| refused("only http and https URLs are fetched".into()))?;
        let proxied = self.agent.config().proxy().is_some_and(|p| {
            url.parse::<ureq::http::Uri>()
                .map_or(true, |u| !p.is_no_proxy(&u))
        });
        if self.opts.allow_link_local || !proxied {
            return Ok(());
        }
        FilteringResolver::new(self.opts.lookup.clone(), false)
            .addresses(&host, port)
            .map(drop)
            .map_err(|e| match e {
                ResolveError::Lookup(message) => FetchError::Transport {
                    layer: layer.to_string(),
                    url: display_url(url),
                    message,
                },
                ResolveError::Forbidden(f) => refused(f.to_string()),
            })
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
        let mut delay = self.opts.backoff;
        let attempts = self.opts.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_once(layer, url, headers, digest, dest) {
                Try::Done(n) => return Ok(n),
                Try::Fail(e) => return Err(e),
                Try::Retry(e, wait) => {
                    if attempt >= attempts {
                        return Err(e);
                    }
                    let wait = wait.unwrap_or(delay).min(Duration::from_secs(60));
                    tracing::warn!(layer, url = %display_url(url), attempt, error = %e, "layer fetch failed, retrying");
                    std::thread::sleep(wait);
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn try_once(
        &self,
        layer: &str,
        url: &str,
        headers: &[(String, String)],
        digest: Option<&Digest>,
        dest: &Path,
    ) -> Try {
        let origin = host_and_port(url).map(|(h, p, _)| (h.to_ascii_lowercase(), p));
        let mut current = url.to_string();
        let mut hops = 0;
        let resp = loop {
            if let Err(e) = self.check(layer, &current) {
                return Try::Fail(e);
            }
            let same_host =
                host_and_port(&current).map(|(h, p, _)| (h.to_ascii_lowercase(), p)) == origin;
            let mut req = self.agent.get(&current);
            for (k, v) in headers {
                if !same_host && k.eq_ignore_ascii_case("authorization") {
                    continue;
                }
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = match req.call() {
                Ok(r) => r,
                Err(ureq::Error::Other(e)) if e.is::<ForbiddenAddress>() => {
                    return Try::Fail(FetchError::Refused {
                        layer: layer.to_string(),
                        url: display_url(&current),
                        message: e.to_string(),
                    });
                }
                Err(e) => {
                    return Try::Retry(
                        FetchError::Transport {
                            layer: layer.to_string(),
                            url: display_url(&current),
                            message: e.to_string(),
                        },
                        None,
                    );
                }
            };
            let status = resp.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                hops += 1;
                let Some(loc) = resp.headers().get("location").and_then(|v| v.to_str().ok()) else {
                    return Try::Fail(FetchError::Status {
                        layer: layer.to_string(),
                        url: display_url(&current),
                        status,
                    });
                };
                if hops > 10 {
                    return Try::Fail(FetchError::Refused {
                        layer: layer.to_string(),
                        url: display_url(url),
                        message: "more than 10 redirects".into(),
                    });
                }
                current = resolve_target(&current, loc);
                continue;
            }
            break resp;
        };
        let status = resp.status().as_u16();
        let status_err = || FetchError::Status {
            layer: layer.to_string(),
            url: display_url(&current),
            status,
        };
        if status == 429 || status >= 500 {
            let wait = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Try::Retry(status_err(), wait);
        }
        let ok = if self.opts.require_200 {
            status == 200
        } else {
            (200..300).contains(&status)
        };
        if !ok {
            return Try::Fail(status_err());
        }
        let max = self.opts.max_size;
        if let Some(len) = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && len > max
        {
            return Try::Fail(FetchError::TooLarge {
                layer: layer.to_string(),
                limit: max,
            });
        }
        let mut body = resp.into_body();
        let mut reader = body.with_config().limit(max.saturating_add(1)).reader();
        let io_err = |source| FetchError::Io {
            layer: layer.to_string(),
            path: dest.display().to_string(),
            source,
        };
        let mut file = match std::fs::File::create(dest) {
            Ok(f) => f,
            Err(e) => return Try::Fail(io_err(e)),
        };
        let mut hasher = Hasher::new(digest.map_or("sha256", Digest::algorithm));
        let mut buf = vec![0u8; 256 << 10];
        let mut total: u64 = 0;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Try::Retry(
                        FetchError::Transport {
                            layer: layer.to_string(),
                            url: display_url(&current),
                            message: format!("reading the body: {e}"),
                        },
                        None,
                    );
                }
            };
            total += n as u64;
            if total > max {
                return Try::Fail(FetchError::TooLarge {
                    layer: layer.to_string(),
                    limit: max,
                });
            }
            hasher.update(&buf[..n]);
            if let Err(e) = file.write_all(&buf[..n]) {
                return Try::Fail(io_err(e));
            }
        }
        if let Err(e) = file.flush() {
            return Try::Fail(io_err(e));
        }
        let got = hasher.finish();
        if let Some(want) = digest
            && want.as_str() != got
        {
            return Try::Fail(FetchError::Digest {
                layer: want.to_string(),
                got,
            });
        }
        Try::Done(total)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for (ip, bad) in [
            ("169.254.169.254", true),
            ("169.254.1.1", true),
            ("100.100.100.200", true),
            ("fe80::1", true),
            ("fd00:ec2::254", true),
            ("::ffff:169.254.169.254", true),
            ("::169.254.169.254", true),
            ("64:ff9b::169.254.169.254", true),
            ("64:ff9b:1::a9fe:a9fe", true),
            ("2002:a9fe:a9fe::", true),
            ("2001:0:a9fe:a9fe::1", true),
            ("2001:0:4136:e378:8000:63bf:5601:5601", true),
            ("::ffff:100.100.100.200", true),
            ("2002:7f00:1::", false),
            ("64:ff9b::8.8.8.8", false),
            ("127.0.0.1", false),
            ("10.0.0.1", false),
            ("::1", false),
        ] {
            let ip: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip}"));
            assert_eq!(is_link_local_or_metadata(ip), bad, "{ip}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            host_and_port("https://user:pw@Reg.example:5000/v2/x"),
            Some(("Reg.example".into(), 5000, true))
        );
        assert_eq!(
            host_and_port("http://[::1]/x"),
            Some(("::1".into(), 80, false))
        );
        assert_eq!(host_and_port("file:///etc/passwd"), None);
        assert_eq!(host_and_port("http:///x"), None);
        assert_eq!(
            resolve_target("http://a:1/v2/blobs/x?y", "/elsewhere"),
            "http://a:1/elsewhere"
        );
        assert_eq!(
            resolve_target("http://a:1/v2/blobs/x", "y"),
            "http://a:1/v2/blobs/y"
        );
        assert_eq!(resolve_target("https://a/x", "//b/c"), "https://b/c");
        // A query-only reference keeps the path (it used to become a sibling "/?q").
        assert_eq!(
            resolve_target("http://a:1/v2/blobs/x?y", "?sig=2"),
            "http://a:1/v2/blobs/x?sig=2"
        );
        assert_eq!(
            resolve_target("http://a/v2/blobs/x", "../../c"),
            "http://a/c"
        );
        assert_eq!(display_url("http://a/b?sig=secret"), "http://a/b");
        assert_eq!(display_url("https://u:pw@h:1/p@x?q"), "https://h:1/p@x");
    }
}
