//! Clair's HTTP APIs over the clair-rs libraries.
//!
//! - [`v4`]: the Clair v4 indexer and matcher API (`/indexer/api/v1/…`,
//!   `/matcher/api/v1/…`), as Quay and clairctl call it;
//! - [`health`]: Clair v2's `GET /health` (its own port) and v4's introspection server
//!   (`/healthz`, `/readyz`, Prometheus `/metrics`);
//! - [`fetch`]: layers fetched by URL with digest verification and SSRF guards;
//! - [`notify`] (`clair_service::notify`, re-exported): notifications computed from update
//!   operations, queued in the store and delivered by webhook, AMQP (and SNS, in `clair-sqs`).
//!
//! Handlers are thin: the use cases are `clair-service`'s ([`AppState`] wraps its
//! [`Service`]), blocking code run on tokio's blocking threads.
#![forbid(unsafe_code)]

pub mod auth;
pub mod claircore;
pub use clair_layer::fetch;
pub mod health;
pub mod jwtproxy;
pub mod metrics;
pub mod remote;
pub mod report_cache;
pub mod server;
pub mod tls;
pub mod v1;
pub mod v1_notifications;
mod v1_vulns;
pub mod v4;
mod v4_internal;

use clair_service::{limit, notify, pagination};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use clair_service::Service;
use clair_store::Store;

pub use fetch::{FetchOptions, Fetcher};
pub use metrics::Metrics;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listener could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The store failed while starting.
    #[error(transparent)]
    Store(#[from] clair_store::Error),
    /// A setting is invalid.
    #[error("{0}")]
    Config(String),
    /// A certificate, key or CA file is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// A use case failed (notifications, a remote Clair service, a sender's settings).
    #[error(transparent)]
    Service(#[from] clair_service::Error),
    /// Serving failed.
    #[error("serving {addr}: {source}")]
    Serve {
        /// The address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// What every handler shares: the use cases' [`Service`] (its fields read through `Deref`)
/// and what only the HTTP server needs.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases' state: store, indexer, live matcher index, fetchers, indexing limit,
    /// page tokens.
    pub service: Service,
    /// Request and domain metrics.
    pub metrics: Arc<Metrics>,
    /// Deadline per request.
    pub timeout: Duration,
    /// How long clients may cache a vulnerability report (`Cache-Control: max-age`;
    /// `matcher.cache_age`).
    pub cache_age: Duration,
    /// `/readyz`: set when the instance can answer (see [`AppState::required_updaters`]).
    pub ready: Arc<AtomicBool>,
    /// Pre-shared-key authentication of the API (`auth.psk`); `None`: none.
    pub auth: Option<auth::Psk>,
    /// Clair v4.0's `auth.keyserver` mode.
    pub keyserver: Option<Arc<auth::KeyServerAuth>>,
    /// jwtproxy verification (a verifier proxy's listener): 403 without a registry-signed JWT.
    pub jwt: Option<Arc<jwtproxy::Verifier>>,
    /// Serve only GET and HEAD on the API.
    pub read_only: bool,
    /// Request body limits (size, time) of the API.
    pub limits: server::Limits,
    /// Updaters this instance runs: `/readyz` waits until each has data (a successful run or
    /// imported operations). Empty (no updater runs here): ready once listening, as upstream.
    pub required_updaters: Vec<String>,
    /// Which part of Clair this server runs (the routes it serves).
    pub mode: clair_config::Mode,
    /// Matcher mode: the indexer service index reports are read from (`matcher.indexer_addr`);
    /// `None`: the local store.
    pub remote_indexer: Option<Arc<remote::RemoteIndexer>>,
    /// Serialized and compressed reports ([`report_cache`]).
    pub report_cache: Arc<report_cache::ReportCache>,
}

impl std::ops::Deref for AppState {
    type Target = Service;

    fn deref(&self) -> &Service {
        &self.service
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Service {
        &mut self.service
    }
}

impl From<AppState> for Service {
    fn from(state: AppState) -> Service {
        state.service
    }
}

impl clair_service::Counters for Metrics {
    fn layer_fetched(&self) {
        self.layers_fetched.fetch_add(1, Ordering::Relaxed);
    }

    fn layer_cached(&self) {
        self.layers_cached.fetch_add(1, Ordering::Relaxed);
    }

    fn vulnerability_report(&self) {
        self.vulnerability_reports.fetch_add(1, Ordering::Relaxed);
    }
}

impl AppState {
    /// State over `store`, with every scanner and the default fetch settings (combo mode).
    pub fn new(store: Arc<dyn Store>, fetch: FetchOptions) -> Result<AppState, Error> {
        AppState::for_mode(store, fetch, clair_config::Mode::Combo)
    }

    /// State of a server in `mode`: the vulnerability data is loaded into memory only where
    /// the matcher runs; an indexer or notifier is ready once it listens.
    pub fn for_mode(
        store: Arc<dyn Store>,
        fetch: FetchOptions,
        mode: clair_config::Mode,
    ) -> Result<AppState, Error> {
        let indexer = clair_ecosystems::default_indexer()
            .with_cache(Arc::new(clair_store::StoreCache::new(store.clone())));
        let page_key = pagination::PageKey::from_config(None).map_err(Error::Config)?;
        let mut service = Service::new(store, indexer, fetch, page_key, mode.matcher())?;
        let metrics = Arc::new(Metrics::default());
        service.counters = metrics.clone();
        Ok(AppState {
            service,
            metrics,
            timeout: Duration::from_secs(900),
            cache_age: Duration::from_secs(6 * 3600),
            // No updater required yet: ready as soon as a listener serves it.
            ready: Arc::new(AtomicBool::new(true)),
            required_updaters: Vec::new(),
            auth: None,
            keyserver: None,
            jwt: None,
            read_only: false,
            mode,
            remote_indexer: None,
            report_cache: Arc::new(report_cache::ReportCache::default()),
            limits: server::Limits::default(),
        })
    }

    /// A manifest's index report: from the indexer service in matcher mode, else the store.
    pub fn index_report(
        &self,
        manifest: &clair_types::Digest,
    ) -> Result<Option<clair_types::IndexReport>, v4::ApiError> {
        match &self.remote_indexer {
            Some(r) => r
                .index_report(manifest)
                .map_err(|e| v4::ApiError::internal(e.to_string())),
            None => Ok(self.store.get_index_report(manifest)?.map(|s| s.report)),
        }
    }

    /// Cache up to `bytes` of encoded reports (0: none).
    pub fn with_report_cache_bytes(mut self, bytes: usize) -> AppState {
        self.report_cache = Arc::new(report_cache::ReportCache::new(bytes));
        self
    }

    /// Use this page-token key (`api.paginationkey`; `None`: random for this process).
    pub fn with_pagination_key(mut self, key: Option<&str>) -> Result<AppState, Error> {
        self.page_key = pagination::PageKey::from_config(key).map_err(Error::Config)?;
        Ok(self)
    }

    /// Limit concurrent indexing jobs to `n` with as many more waiting, as Clair's
    /// `indexer.index_report_request_concurrency`: 0 is upstream's default (four per core),
    /// a value too large for a semaphore (a negative setting) means unlimited.
    pub fn with_index_concurrency(mut self, n: usize) -> AppState {
        let n = if n == 0 {
            limit::default_concurrency()
        } else {
            n
        };
        self.index_limit = Arc::new(if n >= tokio::sync::Semaphore::MAX_PERMITS {
            limit::IndexLimit::unlimited()
        } else {
            limit::IndexLimit::new(n, n)
        });
        self
    }

    /// Rebuild the matcher index if the store's vulnerability data changed; update readiness.
    /// Returns whether it was rebuilt.
    pub fn refresh(&self) -> clair_store::Result<bool> {
        if !self.mode.matcher() {
            return Ok(false);
        }
        let changed = self.service.refresh()?;
        let ready = self.compute_ready()?;
        self.ready.store(ready, Ordering::SeqCst);
        Ok(changed)
    }

    fn compute_ready(&self) -> clair_store::Result<bool> {
        if self.required_updaters.is_empty() {
            return Ok(true);
        }
        let statuses = self.store.updater_status()?;
        let mut with_ops = std::collections::BTreeSet::new();
        for kind in [
            clair_store::OpKind::Vulnerability,
            clair_store::OpKind::Enrichment,
        ] {
            for op in self.store.update_operations(kind, None)? {
                with_ops.insert(op.updater);
            }
        }
        Ok(self.required_updaters.iter().all(|u| {
            with_ops.contains(u)
                || statuses
                    .iter()
                    .any(|s| &s.updater == u && s.last_success.is_some())
        }))
    }
}

/// The main API router (Clair v4 routes and the Clair v2 API under `/v1`), with request
/// metrics and the request deadline.
/// Tell the client of a refused request to come back in [`limit::RETRY_AFTER_SECS`].
pub(crate) fn add_retry_after(resp: &mut axum::response::Response) {
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(limit::RETRY_AFTER_SECS),
    );
}

pub fn api_router(state: AppState) -> Router {
    let timeout = state.timeout;
    let limits = state.limits;
    let mut router = v4::router(state.clone());
    // The Clair v2 API is the whole of Clair: only a combo server has it.
    if state.mode == clair_config::Mode::Combo {
        router = router.nest("/v1", v1::router(state.clone()));
    }
    // Bodies are read (bounded in size and time) after authentication, right before the
    // handlers: an unauthenticated client never makes the server read its body. A notifier's
    // affected-manifests question (1000 claircore records) may be larger.
    router = router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next| {
            let mut limits = limits;
            if v4_internal::is_affected_manifest(req.uri().path()) {
                limits.max_body = limits.max_body.max(v4_internal::MAX_AFFECTED_BODY);
            }
            server::bounded_body(limits, req, next)
        },
    ));
    if state.read_only {
        router = router.layer(axum::middleware::from_fn(auth::read_only));
    }
    if let Some(psk) = state.auth.clone() {
        router = router.layer(axum::middleware::from_fn_with_state(psk, auth::require_psk));
    }
    if let Some(ks) = state.keyserver.clone() {
        router = router.layer(axum::middleware::from_fn_with_state(
            ks,
            auth::require_keyserver,
        ));
    }
    if let Some(v) = state.jwt.clone() {
        router = router.layer(axum::middleware::from_fn_with_state(
            v,
            jwtproxy::require_jwt,
        ));
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(move |req, next| {
            health::deadline(timeout, req, next)
        }))
}

/// Serve `router` on `addr` until `shutdown` resolves (in-flight requests finish).
pub async fn serve_on(
    addr: &str,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
    serve_listener(listener, router, shutdown).await
}

/// Serve `router` on an already bound listener until `shutdown` resolves.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    serve_listener_with(listener, router, server::Limits::default(), shutdown).await
}

/// [`serve_listener`] with other connection limits.
pub async fn serve_listener_with(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: server::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(%addr, "listening");
    server::serve(listener, router, limits, shutdown).await
}

/// A request's query parameters (`k=v&k2`, a bare key mapping to ""), percent- and
/// `+`-decoded as Go's `url.ParseQuery` does (page tokens, URL-safe base64 with `=` padding,
/// may arrive encoded); the first of repeated keys wins.
pub(crate) fn query_params(q: &Option<String>) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// Run every parser of request input on `data`, for fuzzing: the v4 manifest and `Accept`
/// header, claircore's intra-service documents (affected-manifest requests and answers, update
/// diffs and operations, as a remote service may send them), the v1 layer and vulnerability
/// envelopes, layer URLs and redirect targets, page tokens, JWTs (jwtproxy and PSK), JWKs, and
/// the `Accept-Encoding` and `If-None-Match` headers. Never panics.
pub fn parse_untrusted(data: &[u8]) {
    let _ = v4::parse_manifest_for_fuzz(data);
    claircore::parse_untrusted(data);
    if let Ok(v) = axum::http::HeaderValue::from_bytes(data) {
        let mut h = axum::http::HeaderMap::new();
        h.insert(axum::http::header::ACCEPT_ENCODING, v.clone());
        h.insert(axum::http::header::IF_NONE_MATCH, v);
        let _ = report_cache::Encoding::negotiate(&h);
        let key = report_cache::CacheKey {
            key: "fuzz".into(),
            validator: "v".into(),
        };
        let _ = key.not_modified(&h);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = v1::lower_keys(v);
    }
    let text = String::from_utf8_lossy(data);
    let _ = v4::check_accept_for_fuzz(&text);
    let _ = clair_layer::fetch::check_url_for_fuzz(&text);
    // Tokens: JWS, JWK and the PSK check (clair-jose, also a fuzz target of its own), and
    // jwtproxy's verifier (with a preshared key, no network).
    clair_jose::parse_untrusted(data);
    if let Ok(v) = jwtproxy::Verifier::new(
        "http://127.0.0.1:6060",
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(300),
        jwtproxy::Keys::Preshared {
            issuer: "quay".into(),
            kid: "k".into(),
            key: jwtproxy::PublicKey::Rsa {
                n: vec![0xc5; 256],
                e: vec![1, 0, 1],
            },
        },
        Vec::new(),
    ) {
        let _ = v.verify(Some(&text), 1_800_000_000);
    }
    let key =
        pagination::PageKey::from_config(Some("XxoPtCUzrUv4JV5dS+yQ+MdW7yLEJnRMwigVY/bpgtQ="));
    if let Ok(k) = key {
        let _ = k.open(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::query_params;

    #[test]
    fn query_parameters_decode_as_go_does() {
        let q = query_params(&Some(
            "page=YWJj%3D%3D&fixedIn&x=a+b%2Fc&page=second&limit=%31%30".into(),
        ));
        assert_eq!(
            q["page"], "YWJj==",
            "percent-decoded; the first of repeated keys"
        );
        assert_eq!(q["fixedIn"], "");
        assert_eq!(q["x"], "a b/c");
        assert_eq!(q["limit"], "10");
        assert!(query_params(&None).is_empty());
    }
}
