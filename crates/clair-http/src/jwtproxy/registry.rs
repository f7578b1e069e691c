//! The key server side of jwtproxy's protocol: reading public keys by (issuer, `kid`) with a
//! bounded, rate-limited cache ([`KeyRegistryReader`]), and publishing and revoking the
//! signer's keys ([`KeyRegistry`]). The HTTP request for a key is [`get`], the one place to
//! point at another client.

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clair_jose::{PublicKey, SigningKey};

use super::Signer;

/// Largest JWK body read from a key server.
const MAX_JWK: u64 = clair_jose::MAX_JWK as u64;
/// How long a key server's "no" is remembered: every kind (404, 403, 409, other statuses,
/// unreadable keys, no answer), so a flood of unknown `kid`s asks the key server once each.
const NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// Answers kept in the cache at most; the least recently used goes first.
const MAX_CACHED: usize = 10_000;
/// Key server requests per second at most; past it a token naming a key the cache does not
/// know is refused without asking (cached keys keep working).
const MAX_FETCHES_PER_SEC: u32 = 50;

/// What a key server said about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// 404 (or 409: not approved yet).
    NotFound,
    /// 403.
    Expired,
    /// Anything else.
    Other(String),
}

/// A key server's answer and until when it holds.
type CachedKey = (Result<PublicKey, KeyError>, Instant);

/// Public keys by (issuer, key id) from a jwtproxy `keyregistry`
/// (`GET {registry}/services/{iss}/keys/{kid}`), cached for the reply's `Cache-Control:
/// max-age` or the configured duration; refusals of every kind are remembered for ten
/// seconds. The cache is an LRU of bounded size, and requests to the key server are
/// rate-limited, so random key ids neither grow memory nor turn every request into a fetch.
#[derive(Debug)]
pub struct KeyRegistryReader {
    base: String,
    default_ttl: Duration,
    client: clair_net::Client,
    cache: Mutex<hashlink::LruCache<(String, String), CachedKey>>,
    fetches: std::sync::atomic::AtomicU64,
    max_fetches_per_sec: u32,
    /// Start of the current one-second window and the fetches in it.
    window: Mutex<(Instant, u32)>,
}

/// `url.QueryEscape`-style escaping of one path segment.
fn escape_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `{registry}/services/{service}/keys/{kid}`.
pub fn key_url(registry: &str, service: &str, kid: &str) -> String {
    format!(
        "{}/services/{}/keys/{}",
        registry.trim_end_matches('/'),
        escape_segment(service),
        escape_segment(kid)
    )
}

fn max_age(r: &clair_net::Response) -> Option<Duration> {
    let cc = r.header("cache-control")?;
    cc.split(',').find_map(|d| {
        let d = d.trim();
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        d.strip_prefix("max-age=")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(24 * 3600)))
    })
}

/// A key server's answer to a GET.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// How long a 200 may be cached (`Cache-Control`; zero for `no-store`/`no-cache`).
    pub max_age: Option<Duration>,
    /// The body of a 200, at most 64 KiB (empty otherwise), or why it could not be read.
    pub body: Result<Vec<u8>, String>,
}

/// GET `url` from a key server: the one HTTP request of the key reader and of a key's status.
/// Errors name the URL (its credentials hidden).
pub fn get(client: &clair_net::Client, url: &str) -> Result<Reply, String> {
    let r = client.get(url, &[]).map_err(|e| e.to_string())?;
    let status = r.status();
    let max_age = max_age(&r);
    let body = if status == 200 {
        r.read_to_vec(MAX_JWK).map_err(|e| e.to_string())
    } else {
        Ok(Vec::new())
    };
    Ok(Reply {
        status,
        max_age,
        body,
    })
}

impl KeyRegistryReader {
    /// A reader of `registry` (its base URL).
    pub fn new(
        registry: &str,
        default_ttl: Duration,
        client: clair_net::Client,
    ) -> KeyRegistryReader {
        KeyRegistryReader {
            base: registry.to_string(),
            default_ttl,
            client,
            cache: Mutex::new(hashlink::LruCache::new(MAX_CACHED)),
            fetches: std::sync::atomic::AtomicU64::new(0),
            max_fetches_per_sec: MAX_FETCHES_PER_SEC,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Other bounds than the defaults (10,000 cached answers, 50 key server requests per
    /// second): for tests and small deployments.
    pub fn with_limits(mut self, capacity: usize, fetches_per_sec: u32) -> KeyRegistryReader {
        self.cache = Mutex::new(hashlink::LruCache::new(capacity.max(1)));
        self.max_fetches_per_sec = fetches_per_sec;
        self
    }

    /// Whether one more key server request fits in this second.
    fn take_fetch_slot(&self) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        let now = Instant::now();
        if now.duration_since(w.0) >= Duration::from_secs(1) {
            *w = (now, 0);
        }
        if w.1 >= self.max_fetches_per_sec {
            return false;
        }
        w.1 += 1;
        true
    }

    /// How many times the key server was asked (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key `kid` of `issuer`, from the cache or the key server.
    pub fn get(&self, issuer: &str, kid: &str) -> Result<PublicKey, KeyError> {
        let id = (issuer.to_string(), kid.to_string());
        let now = Instant::now();
        if let Ok(mut cache) = self.cache.lock()
            && let Some((v, until)) = cache.get(&id)
            && *until > now
        {
            return v.clone();
        }
        if !self.take_fetch_slot() {
            tracing::warn!(
                issuer,
                kid,
                "key server request rate exceeded; token refused"
            );
            return Err(KeyError::Other("key server request rate exceeded".into()));
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let url = key_url(&self.base, issuer, kid);
        let shown = crate::fetch::display_url(&url);
        let (result, ttl) = match get(&self.client, &url) {
            Ok(reply) => match reply.status {
                200 => {
                    let key = reply.body.and_then(|b| {
                        PublicKey::from_jwk_bytes(&b).map_err(|e| format!("{shown}: {e}"))
                    });
                    match key {
                        Ok(k) => (Ok(k), reply.max_age.unwrap_or(self.default_ttl)),
                        Err(e) => (Err(KeyError::Other(e)), NEGATIVE_TTL),
                    }
                }
                404 | 409 => (Err(KeyError::NotFound), NEGATIVE_TTL),
                403 => (Err(KeyError::Expired), NEGATIVE_TTL),
                code => (
                    Err(KeyError::Other(format!("{shown}: HTTP {code}"))),
                    NEGATIVE_TTL,
                ),
            },
            Err(e) => (Err(KeyError::Other(e)), NEGATIVE_TTL),
        };
        if let Err(KeyError::Other(e)) = &result {
            tracing::warn!(issuer, kid, error = %e, "key server");
        }
        if !ttl.is_zero()
            && let Ok(mut cache) = self.cache.lock()
        {
            cache.insert(id, (result.clone(), now + ttl));
        }
        result
    }
}

/// What a key registry said to a published key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// 200: the key is active.
    Active,
    /// 202: waiting for approval.
    Pending,
}

/// The key registry protocol's writing side (jwtproxy's `keyregistry` client).
#[derive(Debug, Clone)]
pub struct KeyRegistry {
    base: String,
    client: clair_net::Client,
}

impl KeyRegistry {
    /// A client of the registry at `base`.
    pub fn new(base: &str, client: clair_net::Client) -> KeyRegistry {
        KeyRegistry {
            base: base.to_string(),
            client,
        }
    }

    /// The status the registry answers for `kid` of `service` (200 active, 409 pending, 403
    /// expired, 404 unknown).
    pub fn status(&self, service: &str, kid: &str) -> Result<u16, String> {
        let url = key_url(&self.base, service, kid);
        get(&self.client, &url).map(|r| r.status)
    }

    /// PUT `key`'s JWK, the request signed by `by` (the key itself for a new key, the active
    /// key for a rotation).
    pub fn publish(
        &self,
        signer: &Signer,
        key: &SigningKey,
        by: &SigningKey,
        rotate_every: Duration,
    ) -> Result<Published, String> {
        let now = jiff::Timestamp::now().as_second();
        let rot = i64::try_from(rotate_every.as_secs()).unwrap_or(i64::MAX / 4);
        let url = format!(
            "{}?expiration={}&rotation={rot}",
            key_url(&self.base, &signer.issuer, &key.kid),
            now.saturating_add(rot.saturating_mul(2))
        );
        let token = signer.token_with(by, &url, now)?;
        let headers = [
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "User-Agent".to_string(),
                "KeyRegistryClient/0.1.0".to_string(),
            ),
            ("Authorization".to_string(), format!("Bearer {token}")),
        ];
        let r = self
            .client
            .send_once(
                clair_net::Method::PUT,
                &url,
                &headers,
                key.jwk.to_string().as_bytes(),
            )
            .map_err(|e| e.to_string())?;
        match r.status() {
            200 => Ok(Published::Active),
            202 => Ok(Published::Pending),
            code => Err(format!("{url}: HTTP {code}")),
        }
    }

    /// DELETE `key`, the request signed by the key itself; 204 expected.
    pub fn revoke(&self, signer: &Signer, key: &SigningKey) -> Result<(), String> {
        let url = key_url(&self.base, &signer.issuer, &key.kid);
        let now = jiff::Timestamp::now().as_second();
        let token = signer.token_with(key, &url, now)?;
        let headers = [
            (
                "User-Agent".to_string(),
                "KeyRegistryClient/0.1.0".to_string(),
            ),
            ("Authorization".to_string(), format!("Bearer {token}")),
        ];
        let r = self
            .client
            .send_once(clair_net::Method::DELETE, &url, &headers, &[])
            .map_err(|e| e.to_string())?;
        match r.status() {
            204 | 200 => Ok(()),
            code => Err(format!("{url}: HTTP {code}")),
        }
    }
}
