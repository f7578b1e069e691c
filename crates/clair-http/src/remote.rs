//! Clients of the other Clair v4 services, for the distributed modes: a matcher reads index
//! reports from `matcher.indexer_addr`; a notifier polls `notifier.matcher_addr` for update
//! operations and diffs and asks `notifier.indexer_addr` which manifests they affect
//! ([`RemoteSource`], the notifier's [`NotificationSource`]).
//!
//! Requests carry the intra-service token upstream signs when authentication is configured: an
//! HS256 JWT with `iss` `clair-intraservice` under the pre-shared key (or Clair v4.0's
//! `auth.keyserver.intraservice` key). Answers are bounded in size, calls time out, and every
//! error names the URL asked. The JSON is claircore's, so either side may be Clair v4 itself.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clair_service::affected::AffectedManifests;
use clair_store::{UpdateDiff, UpdateOperation};
use clair_types::{Digest, IndexReport, Vulnerability};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::claircore::{Affected, AffectedRequest, Diff, Operation, Vuln};
use crate::notify::source::NotificationSource;
use clair_service::Error;

pub use clair_jose::INTRASERVICE_ISSUER;

/// Largest index report or operation list read.
const MAX_DOCUMENT: u64 = 64 << 20;
/// Largest update diff read (a whole feed's change).
const MAX_DIFF: u64 = 1 << 30;
/// Records sent per affected-manifests question (upstream's chunk size).
pub const AFFECTED_CHUNK: usize = 1000;

/// How to reach the other services.
#[derive(Clone, Default)]
pub struct ClientOptions {
    /// The HMAC key intra-service tokens are signed with (decoded `auth.psk.key`, or
    /// `auth.keyserver.intraservice`); `None`: requests are not signed.
    pub key: Option<Arc<Vec<u8>>>,
    /// Extra CA bundle (PEM) trusted for HTTPS.
    pub ca_pem: Option<Arc<Vec<u8>>>,
    /// Longest call (the diff of a large feed takes a while).
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("ca_pem", &self.ca_pem.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One service: its base URL (`http://host:port`), the client, the signing key.
#[derive(Debug, Clone)]
struct Service {
    base: String,
    client: clair_net::Client,
    opts: ClientOptions,
}

type Result<T> = std::result::Result<T, Error>;

impl Service {
    fn new(base: &str, opts: ClientOptions) -> std::result::Result<Service, String> {
        let mut client = clair_net::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .total_timeout(opts.timeout.unwrap_or(Duration::from_secs(600)))
            .user_agent(concat!("clair-rs/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &opts.ca_pem {
            client = client.ca_pem(pem).map_err(|e| e.to_string())?;
        }
        Ok(Service {
            base: base.trim_end_matches('/').to_string(),
            client: client.build(),
            opts,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn err(url: &str, message: impl Into<String>) -> Error {
        Error::Remote {
            url: url.to_string(),
            message: message.into(),
        }
    }

    fn bearer(&self) -> Option<String> {
        self.opts.key.as_ref().map(|k| {
            let jwt =
                clair_jose::sign_hs256(k, INTRASERVICE_ISSUER, jiff::Timestamp::now().as_second());
            format!("Bearer {jwt}")
        })
    }

    /// The headers of every request: JSON, and the intra-service token when there is a key.
    fn headers(&self) -> Vec<(String, String)> {
        let mut h = vec![("Accept".to_string(), "application/json".to_string())];
        if let Some(b) = self.bearer() {
            h.push(("Authorization".to_string(), b));
        }
        h
    }

    /// GET `path`: the status, the `ETag` and the body (bounded by `limit`). Sent once and never
    /// redirected: a redirect would carry the intra-service token elsewhere, and Clair's routes
    /// have none.
    fn get(
        &self,
        path: &str,
        if_none_match: Option<&str>,
        limit: u64,
    ) -> Result<(u16, Option<String>, Vec<u8>)> {
        let url = self.url(path);
        let mut headers = self.headers();
        if let Some(t) = if_none_match {
            headers.push(("If-None-Match".to_string(), t.to_string()));
        }
        let resp = self
            .client
            .send_once(clair_net::Method::GET, &url, &headers, &[])?;
        read(resp, limit)
    }

    /// POST a JSON body to `path`: the status and the body.
    fn post(&self, path: &str, body: &str, limit: u64) -> Result<(u16, Vec<u8>)> {
        let url = self.url(path);
        let mut headers = self.headers();
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
        let resp = self.client.post(&url, &headers, body.as_bytes())?;
        let (status, _, body) = read(resp, limit)?;
        Ok((status, body))
    }
}

/// An answer's status, `ETag` and body (at most `limit` bytes, else an error naming the URL).
fn read(resp: clair_net::Response, limit: u64) -> Result<(u16, Option<String>, Vec<u8>)> {
    let status = resp.status();
    let etag = resp.header("etag").map(str::to_string);
    Ok((status, etag, resp.read_to_vec(limit)?))
}

fn decode<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Service::err(url, format!("unusable answer: {e}")))
}

fn status_err(url: &str, status: u16, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]).to_string();
    Service::err(url, format!("HTTP {status}: {}", text.trim()))
}

/// The indexer service (`matcher.indexer_addr`, `notifier.indexer_addr`).
#[derive(Debug, Clone)]
pub struct RemoteIndexer {
    svc: Service,
}

impl RemoteIndexer {
    /// A client of the indexer at `base` (`http://host:port`).
    pub fn new(base: &str, opts: ClientOptions) -> std::result::Result<RemoteIndexer, String> {
        Ok(RemoteIndexer {
            svc: Service::new(base, opts)?,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.svc.base
    }

    /// A manifest's index report (`GET /indexer/api/v1/index_report/{digest}`); `None` on 404.
    pub fn index_report(&self, manifest: &Digest) -> Result<Option<IndexReport>> {
        let path = format!("/indexer/api/v1/index_report/{manifest}");
        let (status, _, body) = self.svc.get(&path, None, MAX_DOCUMENT)?;
        let url = self.svc.url(&path);
        match status {
            200 => decode(&url, &body).map(Some),
            404 => Ok(None),
            s => Err(status_err(&url, s, &body)),
        }
    }

    /// Which manifests the records affect (`POST /indexer/api/v1/internal/affected_manifest/`).
    pub fn affected_manifests(
        &self,
        records: &[(String, Vulnerability)],
    ) -> Result<AffectedManifests> {
        let path = "/indexer/api/v1/internal/affected_manifest/";
        let url = self.svc.url(path);
        let req = AffectedRequest {
            vulnerabilities: records
                .iter()
                .map(|(id, v)| Vuln::from_record(id, v))
                .collect(),
        };
        let body = serde_json::to_string(&req).map_err(|e| Service::err(&url, e.to_string()))?;
        let (status, answer) = self.svc.post(path, &body, MAX_DOCUMENT)?;
        if status != 200 {
            return Err(status_err(&url, status, &answer));
        }
        decode::<Affected>(&url, &answer)?
            .to_matcher()
            .map_err(|e| Service::err(&url, e))
    }
}

/// The matcher service (`notifier.matcher_addr`).
#[derive(Debug)]
pub struct RemoteMatcher {
    svc: Service,
    /// The last `?latest=true` answer and its `ETag`.
    latest: Mutex<Option<(String, BTreeMap<String, UpdateOperation>)>>,
}

fn operations(url: &str, body: &[u8]) -> Result<BTreeMap<String, Vec<UpdateOperation>>> {
    let raw: BTreeMap<String, Vec<Operation>> = decode(url, body)?;
    let mut out = BTreeMap::new();
    for (updater, ops) in raw {
        let mut list = Vec::with_capacity(ops.len());
        for op in ops {
            if let Some(op) = op.to_store().map_err(|e| Service::err(url, e))? {
                list.push(op);
            }
        }
        list.sort_by_key(|op| std::cmp::Reverse(op.date));
        out.insert(updater, list);
    }
    Ok(out)
}

impl RemoteMatcher {
    /// A client of the matcher at `base`.
    pub fn new(base: &str, opts: ClientOptions) -> std::result::Result<RemoteMatcher, String> {
        Ok(RemoteMatcher {
            svc: Service::new(base, opts)?,
            latest: Mutex::new(None),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.svc.base
    }

    /// Vulnerability update operations by updater, newest first.
    pub fn update_operations(&self) -> Result<BTreeMap<String, Vec<UpdateOperation>>> {
        let path = "/matcher/api/v1/internal/update_operation?kind=vulnerability";
        let url = self.svc.url(path);
        let (status, _, body) = self.svc.get(path, None, MAX_DOCUMENT)?;
        if status != 200 {
            return Err(status_err(&url, status, &body));
        }
        operations(&url, &body)
    }

    /// The newest vulnerability operation per updater; a 304 answers from the last copy.
    pub fn latest_update_operations(&self) -> Result<BTreeMap<String, UpdateOperation>> {
        let path = "/matcher/api/v1/internal/update_operation?kind=vulnerability&latest=true";
        let url = self.svc.url(path);
        let cached_tag = self
            .latest
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|(t, _)| t.clone()));
        let (status, etag, body) = self.svc.get(path, cached_tag.as_deref(), MAX_DOCUMENT)?;
        match status {
            304 => {
                if let Ok(c) = self.latest.lock()
                    && let Some((_, m)) = c.as_ref()
                {
                    return Ok(m.clone());
                }
                Err(Service::err(&url, "HTTP 304 without a cached answer"))
            }
            200 => {
                let m: BTreeMap<String, UpdateOperation> = operations(&url, &body)?
                    .into_iter()
                    .filter_map(|(u, ops)| ops.into_iter().next().map(|op| (u, op)))
                    .collect();
                // Only strong validators are kept (as upstream's client).
                if let Some(t) = etag.filter(|t| !t.starts_with("W/"))
                    && let Ok(mut c) = self.latest.lock()
                {
                    *c = Some((t, m.clone()));
                }
                Ok(m)
            }
            s => Err(status_err(&url, s, &body)),
        }
    }

    /// What changed between two operations (`GET /matcher/api/v1/internal/update_diff`).
    pub fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff> {
        let path = match prev {
            Some(p) => format!("/matcher/api/v1/internal/update_diff?prev={p}&cur={cur}"),
            None => format!("/matcher/api/v1/internal/update_diff?cur={cur}"),
        };
        let url = self.svc.url(&path);
        let (status, _, body) = self.svc.get(&path, None, MAX_DIFF)?;
        if status != 200 {
            return Err(status_err(&url, status, &body));
        }
        decode::<Diff>(&url, &body)?
            .to_store(&clair_ecosystems::EcosystemNamespaces)
            .map_err(|e| Service::err(&url, e))
    }
}

/// A notifier's view of the indexer and matcher services.
#[derive(Debug)]
pub struct RemoteSource {
    /// The indexer.
    pub indexer: RemoteIndexer,
    /// The matcher.
    pub matcher: RemoteMatcher,
}

impl NotificationSource for RemoteSource {
    fn update_operations(&self) -> Result<BTreeMap<String, Vec<UpdateOperation>>> {
        self.matcher.update_operations()
    }

    fn latest_update_operations(&self) -> Result<BTreeMap<String, UpdateOperation>> {
        self.matcher.latest_update_operations()
    }

    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff> {
        self.matcher.update_diff(prev, cur)
    }

    fn affected_manifests(&self, records: &[(String, Vulnerability)]) -> Result<AffectedManifests> {
        let mut out = AffectedManifests::default();
        for chunk in records.chunks(AFFECTED_CHUNK) {
            let a = self.indexer.affected_manifests(chunk)?;
            out.vulnerabilities.extend(a.vulnerabilities);
            for (m, ids) in a.vulnerable_manifests {
                out.vulnerable_manifests.entry(m).or_default().extend(ids);
            }
        }
        Ok(out)
    }
}
