//! Reports served from encoded bytes.
//!
//! A vulnerability report is a pure function of the manifest's index report and of the
//! vulnerability and enrichment data loaded; an index report of what the store holds. So
//! both are cached as the bytes sent (serialized, and compressed as clients ask), keyed by
//! what names them (the manifest, a v2 layer) and checked against a *validator* naming the
//! data that produced them: the stored index report's version ([`Store::index_report_version`],
//! which changes on every write), and for vulnerability reports the matcher's data generation
//! (the latest vulnerability and enrichment update operations, as of the last refresh). A
//! cached body whose validator differs is never served: a request computes the report again
//! and replaces it. Every validator is read from the store or the live index at request
//! time, so a report re-indexed or re-matched by another instance is noticed too.
//!
//! The cache is an LRU bounded by bytes; each encoding of a report (identity, gzip, zstd) is
//! its own entry, made when a client asks for it (derived from another encoding when one is
//! cached), so a cache of gzip bodies holds ten times as many reports as one of JSON.
//!
//! The strong `ETag` is a digest of the key and validator (with `-gzip`/`-zstd` appended for
//! those encodings, as Apache does); `If-None-Match` with any of them answers 304 without
//! touching the body.
//!
//! [`Store::index_report_version`]: clair_store::Store::index_report_version

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Default bound of the cache: about 1500 gzip-encoded reports of a full Debian image matched
/// against a full Debian feed (about 129 KB each), or 170 of their JSON (about 1.1 MB each).
/// An LRU thrashes when clients cycle over more than it holds (each miss evicts the next
/// report of the cycle): at 128 MiB, 1000 such reports plus one JSON body made every request
/// of a round robin over them a likely miss (docs/benchmarks.md, "Serving").
pub const DEFAULT_BYTES: usize = 192 << 20;

/// Largest body decoded back from a cached compressed body.
const MAX_DECODED: u64 = 256 << 20;

/// A content coding of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoding {
    /// As is.
    Identity,
    /// `gzip`.
    Gzip,
    /// `zstd`.
    Zstd,
}

impl Encoding {
    /// The `Content-Encoding` token; `None` for identity.
    pub fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Zstd => Some("zstd"),
        }
    }

    /// What a client's `Accept-Encoding` prefers: the coding with the highest q-value among
    /// gzip, zstd and identity (ties: gzip, then zstd, then identity; `*` stands for any
    /// coding not named). Identity unless the client asks.
    pub fn negotiate(headers: &HeaderMap) -> Encoding {
        let mut q = [(Encoding::Gzip, None), (Encoding::Zstd, None)];
        let mut identity: Option<f32> = None;
        let mut star: Option<f32> = None;
        for v in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(v) = v.to_str() else { continue };
            for item in v.split(',') {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let weight = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|w| w.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                match coding.as_str() {
                    "gzip" | "x-gzip" => q[0].1 = Some(weight),
                    "zstd" => q[1].1 = Some(weight),
                    "identity" => identity = Some(weight),
                    "*" => star = Some(weight),
                    _ => {}
                }
            }
        }
        let mut best = (Encoding::Identity, identity.unwrap_or(0.001).min(1.0));
        for (enc, w) in q {
            let w = w.or(star).unwrap_or(0.0);
            if w > 0.0 && w > best.1 {
                best = (enc, w);
            }
        }
        best.0
    }

    /// Encode `data`, taking it as the identity body without a copy.
    ///
    /// A body is compressed once and then sent from the cache on every hit, so the levels
    /// favour size over speed: gzip's default level (6) made a 1.1 MB report 123 KB where the
    /// fast level made 194 KB, at about twice the CPU of the one compression; zstd level 3
    /// (its default) 111 KB. Fewer bytes a hit is what bounds a cached report's rate (the
    /// kernel's copy into the socket was the top entry of the profile) and how many reports
    /// the cache holds (docs/benchmarks.md, "Serving").
    pub fn encode(self, data: Vec<u8>) -> std::io::Result<Bytes> {
        match self {
            Encoding::Identity => Ok(Bytes::from(data)),
            Encoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 8),
                    flate2::Compression::default(),
                );
                e.write_all(&data)?;
                Ok(Bytes::from(e.finish()?))
            }
            Encoding::Zstd => Ok(Bytes::from(zstd::bulk::compress(&data, 3)?)),
        }
    }

    /// Decode `data` (our own encoding of a body), refusing more than `MAX_DECODED` bytes.
    fn decode(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            Encoding::Identity => out.extend_from_slice(data),
            Encoding::Gzip => {
                flate2::read::GzDecoder::new(data)
                    .take(MAX_DECODED)
                    .read_to_end(&mut out)?;
            }
            Encoding::Zstd => {
                zstd::stream::read::Decoder::new(data)?
                    .take(MAX_DECODED)
                    .read_to_end(&mut out)?;
            }
        }
        Ok(out)
    }
}

/// One cached body.
#[derive(Debug, Clone)]
struct Item {
    validator: String,
    body: Bytes,
    tick: u64,
}

#[derive(Debug, Default)]
struct Lru {
    items: HashMap<(String, Encoding), Item>,
    order: BTreeMap<u64, (String, Encoding)>,
    bytes: usize,
    tick: u64,
}

impl Lru {
    fn remove(&mut self, key: &(String, Encoding)) {
        if let Some(old) = self.items.remove(key) {
            self.order.remove(&old.tick);
            self.bytes -= old.body.len();
        }
    }

    fn touch(&mut self, key: &(String, Encoding)) -> Option<&Item> {
        self.tick += 1;
        let tick = self.tick;
        let item = self.items.get_mut(key)?;
        self.order.remove(&item.tick);
        item.tick = tick;
        self.order.insert(tick, key.clone());
        Some(item)
    }
}

/// The report cache (see the module documentation).
#[derive(Debug)]
pub struct ReportCache {
    budget: usize,
    lru: Mutex<Lru>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What a cached response is: where it comes from and what produced it.
#[derive(Debug, Clone)]
pub struct CacheKey {
    /// What the report is of (`vulnerability_report/sha256:…`).
    pub key: String,
    /// What produced it; a cached body with another validator is stale.
    pub validator: String,
}

impl CacheKey {
    /// The strong entity tag of the identity body; encoded bodies append `-gzip`/`-zstd`.
    pub fn etag(&self) -> String {
        let d =
            clair_types::Digest::sha256_of(format!("{}\n{}", self.key, self.validator).as_bytes());
        let hex = d.hex();
        format!("\"{}\"", &hex[..hex.len().min(32)])
    }

    fn etag_for(&self, enc: Encoding) -> String {
        let base = self.etag();
        match enc.token() {
            None => base,
            Some(t) => format!("{}-{t}\"", base.trim_end_matches('"')),
        }
    }

    /// Whether `If-None-Match` names this report (in any encoding) or is `*`.
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        let base = self.etag();
        let base = base.trim_matches('"');
        if_none_match(headers).any(|t| {
            t == "*"
                || t.strip_suffix("-gzip")
                    .or_else(|| t.strip_suffix("-zstd"))
                    .unwrap_or(t)
                    == base
        })
    }
}

/// The entity tags an `If-None-Match` header lists, without quotes and weak markers.
pub fn if_none_match(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
}

impl Default for ReportCache {
    fn default() -> Self {
        ReportCache::new(DEFAULT_BYTES)
    }
}

impl ReportCache {
    /// A cache holding at most `budget` bytes of bodies (0: caches nothing).
    pub fn new(budget: usize) -> ReportCache {
        ReportCache {
            budget,
            lru: Mutex::new(Lru::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Bytes of bodies held.
    pub fn bytes(&self) -> usize {
        self.lru.lock().map_or(0, |l| l.bytes)
    }

    /// Requests answered from the cache, and those that were not.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// The body of `key` in `enc`, if cached with this validator: as cached, or derived from
    /// another cached encoding (and then cached too).
    pub fn get(&self, key: &CacheKey, enc: Encoding) -> Option<Bytes> {
        let mut source = None;
        if let Ok(mut lru) = self.lru.lock() {
            for e in [enc, Encoding::Identity, Encoding::Gzip, Encoding::Zstd] {
                let k = (key.key.clone(), e);
                match lru.touch(&k) {
                    Some(item) if item.validator == key.validator => {
                        if e == enc {
                            self.hits.fetch_add(1, Ordering::Relaxed);
                            return Some(item.body.clone());
                        }
                        source = Some((e, item.body.clone()));
                        break;
                    }
                    Some(_) => lru.remove(&k),
                    None => {}
                }
            }
        }
        let Some((from, body)) = source else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let identity = from.decode(&body).ok()?;
        let out = enc.encode(identity).ok()?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        self.put(key, enc, out.clone());
        Some(out)
    }

    /// Cache `body` (already in `enc`) for `key`, evicting the least recently used bodies
    /// beyond the budget.
    pub fn put(&self, key: &CacheKey, enc: Encoding, body: Bytes) {
        if body.len() > self.budget {
            return;
        }
        let Ok(mut lru) = self.lru.lock() else { return };
        let k = (key.key.clone(), enc);
        lru.remove(&k);
        lru.tick += 1;
        let tick = lru.tick;
        lru.bytes += body.len();
        lru.order.insert(tick, k.clone());
        lru.items.insert(
            k,
            Item {
                validator: key.validator.clone(),
                body,
                tick,
            },
        );
        while lru.bytes > self.budget {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some(old) = lru.items.remove(&oldest) {
                lru.bytes -= old.body.len();
            }
        }
    }
}

/// How a cached report is answered: status, media type, extra headers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status of a full answer (200).
    pub status: StatusCode,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// More headers (`Cache-Control`, `Server`, a v4 `ETag` of its own).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    /// Add the cache's `ETag` (Clair v4 index reports keep upstream's indexer-state ETag).
    pub etag: bool,
}

impl Reply {
    /// 304 for a matching `If-None-Match`, with the ETag a full answer in `enc` would have.
    pub fn not_modified(&self, key: &CacheKey, enc: Encoding) -> Response {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        self.add_headers(&mut resp, key, enc, false);
        resp
    }

    /// The full answer with `body` in `enc`.
    pub fn body(&self, key: &CacheKey, enc: Encoding, body: Bytes) -> Response {
        let mut resp = (self.status, body).into_response();
        self.add_headers(&mut resp, key, enc, true);
        resp
    }

    fn add_headers(&self, resp: &mut Response, key: &CacheKey, enc: Encoding, full: bool) {
        let h = resp.headers_mut();
        for (k, v) in &self.headers {
            h.insert(k.clone(), v.clone());
        }
        if self.etag
            && let Ok(v) = HeaderValue::from_str(&key.etag_for(enc))
        {
            h.insert(header::ETAG, v);
        }
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        if full {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
            if let Some(t) = enc.token() {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(t));
            }
        }
    }
}

/// Answer from the cache or by computing: 304 when `If-None-Match` names `key`; the cached
/// body in the client's encoding; else `compute` runs on a blocking thread and its body is
/// encoded, cached and sent. `compute` errors are answered as they are.
pub async fn serve<E, F>(
    cache: &std::sync::Arc<ReportCache>,
    headers: &HeaderMap,
    key: CacheKey,
    reply: Reply,
    compute: F,
) -> Result<Response, E>
where
    F: FnOnce() -> Result<Vec<u8>, E> + Send + 'static,
    E: From<tokio::task::JoinError> + From<std::io::Error> + Send + 'static,
{
    let enc = Encoding::negotiate(headers);
    if key.not_modified(headers) {
        return Ok(reply.not_modified(&key, enc));
    }
    if let Some(body) = cache.get(&key, enc) {
        return Ok(reply.body(&key, enc, body));
    }
    let c = cache.clone();
    let k = key.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Bytes, E> {
        let identity = compute()?;
        let body = enc.encode(identity)?;
        c.put(&k, enc, body.clone());
        Ok(body)
    })
    .await??;
    Ok(reply.body(&key, enc, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn negotiation() {
        use Encoding::*;
        for (accept, want) in [
            ("", Identity),
            ("gzip", Gzip),
            ("gzip, deflate, br", Gzip),
            ("zstd", Zstd),
            ("gzip, zstd", Gzip),
            ("gzip;q=0.5, zstd", Zstd),
            ("gzip;q=0", Identity),
            ("*", Gzip),
            ("br", Identity),
            ("identity;q=1, gzip;q=0.5", Identity),
            ("x-gzip", Gzip),
        ] {
            let hm = if accept.is_empty() {
                HeaderMap::new()
            } else {
                h(&[("accept-encoding", accept)])
            };
            assert_eq!(Encoding::negotiate(&hm), want, "{accept:?}");
        }
    }

    #[test]
    fn round_trips() {
        let data = br#"{"a":"some json, some json, some json"}"#.repeat(100);
        for e in [Encoding::Identity, Encoding::Gzip, Encoding::Zstd] {
            let enc = e.encode(data.clone()).unwrap();
            assert_eq!(e.decode(&enc).unwrap(), data, "{e:?}");
        }
    }

    fn key(k: &str, v: &str) -> CacheKey {
        CacheKey {
            key: k.into(),
            validator: v.into(),
        }
    }

    #[test]
    fn validators_and_derived_encodings() {
        let c = ReportCache::new(1 << 20);
        let k1 = key("r/1", "gen-1");
        let json = b"{\"x\":1}".to_vec();
        c.put(&k1, Encoding::Identity, Bytes::from(json.clone()));
        assert_eq!(c.get(&k1, Encoding::Identity).as_deref(), Some(&json[..]));
        // Another encoding is derived and cached.
        let gz = c.get(&k1, Encoding::Gzip).unwrap();
        assert_eq!(Encoding::Gzip.decode(&gz).unwrap(), json);
        // A new validator: nothing is served, and the stale bodies are dropped.
        let k2 = key("r/1", "gen-2");
        assert!(c.get(&k2, Encoding::Gzip).is_none());
        assert!(c.get(&k1, Encoding::Identity).is_none());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn least_recently_used_goes_first() {
        let c = ReportCache::new(250);
        let body = || Bytes::from(vec![b'x'; 100]);
        c.put(&key("a", "v"), Encoding::Identity, body());
        c.put(&key("b", "v"), Encoding::Identity, body());
        assert!(c.get(&key("a", "v"), Encoding::Identity).is_some());
        c.put(&key("c", "v"), Encoding::Identity, body());
        assert!(
            c.get(&key("b", "v"), Encoding::Identity).is_none(),
            "b was oldest"
        );
        assert!(c.get(&key("a", "v"), Encoding::Identity).is_some());
        assert!(c.get(&key("c", "v"), Encoding::Identity).is_some());
        assert_eq!(c.bytes(), 200);
        // Bigger than the whole budget: not cached.
        c.put(
            &key("d", "v"),
            Encoding::Identity,
            Bytes::from(vec![0; 300]),
        );
        assert_eq!(c.bytes(), 200);
    }

    #[test]
    fn etags_per_encoding_and_if_none_match() {
        let k = key("r/1", "gen-1");
        let base = k.etag();
        assert_eq!(base.len(), 34);
        assert_eq!(
            k.etag_for(Encoding::Gzip),
            format!("{}-gzip\"", &base[..33])
        );
        let hm = |v: String| {
            let mut m = HeaderMap::new();
            m.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&v).unwrap());
            m
        };
        assert!(k.not_modified(&hm(base.clone())));
        assert!(k.not_modified(&hm(k.etag_for(Encoding::Zstd))));
        assert!(k.not_modified(&hm(format!("\"other\", W/{base}"))));
        assert!(!k.not_modified(&hm("\"other\"".into())));
        assert!(!key("r/1", "gen-2").not_modified(&hm(base)));
        assert!(!k.not_modified(&HeaderMap::new()));
    }
}
