//! The Clair v4 API: indexer (`/indexer/api/v1/…`) and matcher (`/matcher/api/v1/…`).
//!
//! Status codes, headers and bodies follow Clair v4 (quay/clair `httptransport`; see
//! `../shared/spec/clair-api.md` §3 and docs/compatibility.md): 201 with a quoted `ETag` (the
//! indexer state) and `Location`/`Link` headers on index POST, a failed index stored as its
//! error report and answered 500 (400 for a layer that is no tar archive), index report GET
//! validated against the *current* indexer state (304), 202 with no body for a vulnerability
//! report while no vulnerability data exists, 204 on a single DELETE, an empty page for an
//! unknown notification, errors as `{"code","message"}`, the vendor media type when the client
//! sends no `Accept` (415 when nothing it accepts can be produced), 429 above the configured
//! indexing concurrency.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clair_types::{Digest, IndexReport, IndexState};
use serde::Deserialize;

use crate::AppState;
use crate::report_cache::{self, CacheKey, Reply};
use sha2::Digest as _;

/// Largest manifest body accepted.
const MAX_BODY: usize = 4 << 20;

/// An API error: status, Clair v4 code and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
    /// 500.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
    pub(crate) fn with_status(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Upstream's apiError names these four; every other status is "internal-error".
        let code = match self.status {
            StatusCode::BAD_REQUEST => "bad-request",
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
            StatusCode::TOO_MANY_REQUESTS => "too-many-requests",
            _ => "internal-error",
        };
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), message = %self.message, "request failed");
        }
        let body = serde_json::json!({"code": code, "message": self.message});
        let mut resp = (
            self.status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            crate::add_retry_after(&mut resp);
        }
        resp
    }
}

impl From<clair_store::Error> for ApiError {
    fn from(e: clair_store::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

pub(crate) fn join_err(e: tokio::task::JoinError) -> ApiError {
    ApiError::internal(format!("worker: {e}"))
}

/// Run `f` with the store on a blocking thread (the store is synchronous).
pub(crate) async fn on_store<T: Send + 'static>(
    s: &AppState,
    f: impl FnOnce(&dyn clair_store::Store) -> clair_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(join_err)?
        .map_err(ApiError::from)
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        join_err(e)
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

/// The v4 routes of the state's mode, as upstream's httptransport mounts them: the indexer's
/// (`/indexer/api/v1/…`) in combo and indexer mode, the matcher's in combo and matcher mode,
/// the notifier's in combo and notifier mode; `/openapi/v1` and `/robots.txt` everywhere.
/// Another mode's paths are 404.
pub fn router(state: AppState) -> Router {
    let mode = state.mode;
    let mut r = Router::new();
    if mode.indexer() {
        r = r
            .route(
                "/indexer/api/v1/index_report",
                post(index).delete(delete_many),
            )
            .route(
                "/indexer/api/v1/index_report/{digest}",
                get(get_index_report).delete(delete_one),
            )
            .route("/indexer/api/v1/index_state", get(index_state))
            .merge(crate::v4_internal::indexer_routes());
    }
    if mode.matcher() {
        r = r
            .route(
                "/matcher/api/v1/vulnerability_report/{digest}",
                get(vulnerability_report),
            )
            .merge(crate::v4_internal::matcher_routes());
    }
    if mode.notifier() {
        r = r.route(
            "/notifier/api/v1/notification/{id}",
            get(notification_page).delete(delete_notification),
        );
    }
    r.route("/openapi/v1", get(openapi))
        .route("/robots.txt", get(robots))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

pub(crate) async fn robots() -> &'static str {
    "User-agent: *\nDisallow: /\n"
}

async fn method_not_allowed() -> ApiError {
    ApiError::with_status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

async fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

/// Content negotiation as upstream's `pickContentType`: without `Accept`, the endpoint's own
/// media type (`application/vnd.clair.<kind>.v1+json`); otherwise the accepted ranges, highest
/// `q` first (stable), each tried against the endpoint's type then `application/json`
/// (`*/*` and `application/*` pick the endpoint's type). 415 when none matches, 400 for a
/// malformed `Accept`.
pub(crate) fn check_accept(headers: &HeaderMap, kind: &str) -> Result<&'static str, ApiError> {
    let own = match kind {
        "index_report" => "application/vnd.clair.index_report.v1+json",
        "index_state" => "application/vnd.clair.index_state.v1+json",
        "vulnerability_report" => "application/vnd.clair.vulnerability_report.v1+json",
        "notification_page" => "application/vnd.clair.notification_page.v1+json",
        "affected_manifests" => "application/vnd.clair.affected_manifests.v1+json",
        _ => "application/json",
    };
    let allow = [own, "application/json"];
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    if values.is_empty() {
        return Ok(own);
    }
    let mut ranges: Vec<(f64, &str, &str)> = Vec::new();
    for item in values.iter().flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim();
        let Some((ty, sub)) = media.split_once('/').filter(|(t, s)| {
            !t.is_empty() && !s.is_empty() && !s.contains('/') && !media.contains(' ')
        }) else {
            return Err(ApiError::bad_request(format!(
                "malformed request: Accept {item:?} is not a media type"
            )));
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        ranges.push((q, ty, sub));
    }
    ranges.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    for (_, ty, sub) in &ranges {
        for a in allow {
            let (at, asub) = a.split_once('/').unwrap_or((a, ""));
            if (*ty == "*" && *sub == "*") || (*ty == at && (*sub == asub || *sub == "*")) {
                return Ok(a);
            }
        }
    }
    Err(ApiError::with_status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("unable to negotiate common media type for [{own} application/json]"),
    ))
}

pub(crate) fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse::<Digest>()
        .map_err(|e| ApiError::bad_request(format!("malformed digest: {e}")))
}

/// `"state"` as an ETag, and whether `If-None-Match` names it.
pub(crate) fn etag(state: &str) -> String {
    format!("\"{state}\"")
}

pub(crate) fn if_none_match(headers: &HeaderMap, state: &str) -> bool {
    report_cache::if_none_match(headers).any(|t| t == state || t == "*")
}

#[derive(Debug, Deserialize)]
struct ManifestIn {
    #[serde(default)]
    hash: String,
    #[serde(default)]
    layers: Option<Vec<LayerIn>>,
}

#[derive(Debug, Deserialize)]
struct LayerIn {
    #[serde(default)]
    hash: String,
    #[serde(default)]
    uri: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, Vec<String>>,
}

use clair_service::{LayerRef, NOT_A_LAYER};

struct Manifest {
    hash: Digest,
    layers: Vec<LayerRef>,
}

fn parse_manifest(body: &[u8]) -> Result<Manifest, ApiError> {
    let m: ManifestIn = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("could not decode manifest: {e}")))?;
    if m.hash.is_empty() {
        return Err(ApiError::bad_request("bogus manifest: no hash"));
    }
    let hash = parse_digest(&m.hash)?;
    let layers = m.layers.unwrap_or_default();
    if layers.is_empty() {
        return Err(ApiError::bad_request("bogus manifest: no layers"));
    }
    let mut out = Vec::with_capacity(layers.len());
    for (i, l) in layers.into_iter().enumerate() {
        let d = l
            .hash
            .parse::<Digest>()
            .map_err(|e| ApiError::bad_request(format!("layer {}: {e}", i + 1)))?;
        if l.uri.trim().is_empty() {
            return Err(ApiError::bad_request(format!("layer {}: no uri", i + 1)));
        }
        let headers = l
            .headers
            .into_iter()
            .flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v)))
            .collect();
        out.push((d, l.uri, headers));
    }
    Ok(Manifest { hash, layers: out })
}

/// [`check_accept`] for the fuzz target: the media type picked for an `Accept` header.
pub(crate) fn check_accept_for_fuzz(accept: &str) -> Option<&'static str> {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT, HeaderValue::from_str(accept).ok()?);
    check_accept(&h, "index_report").ok()
}

/// [`parse_manifest`] for the fuzz target: whether the body is a valid manifest.
pub(crate) fn parse_manifest_for_fuzz(body: &[u8]) -> bool {
    parse_manifest(body).is_ok()
}

fn index_headers(state: &str, digest: &Digest) -> Vec<(header::HeaderName, String)> {
    vec![
        (header::ETAG, etag(state)),
        (
            header::LOCATION,
            format!("/indexer/api/v1/index_report/{digest}"),
        ),
        (
            header::LINK,
            format!(
                "</indexer/api/v1/index_report/{digest}>; rel=\"https://projectquay.io/clair/v1/index_report\""
            ),
        ),
        (
            header::LINK,
            format!(
                "</matcher/api/v1/vulnerability_report/{digest}>; rel=\"https://projectquay.io/clair/v1/vulnerability_report\""
            ),
        ),
    ]
}

async fn index(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match index_inner(s.clone(), headers, body).await {
        Ok(r) => r,
        Err(e) => {
            s.metrics.index_errors.fetch_add(1, Ordering::Relaxed);
            e.into_response()
        }
    }
}

async fn index_inner(s: AppState, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let manifest = parse_manifest(&body)?;
    let state = s.indexer.state();
    // Already indexed under the current scanners: the client's copy is good.
    if if_none_match(&headers, &state) {
        let store = s.store.clone();
        let m = manifest.hash.clone();
        let stored = tokio::task::spawn_blocking(move || store.get_index_report(&m))
            .await
            .map_err(join_err)??;
        if stored.is_some_and(|r| r.state == state && r.report.state == IndexState::IndexFinished) {
            // Upstream answers 412 with no body.
            return Ok(StatusCode::PRECONDITION_FAILED.into_response());
        }
    }
    let permit = s.index_limit.acquire().await.map_err(|_| {
        s.metrics.index_limited.fetch_add(1, Ordering::Relaxed);
        ApiError::with_status(
            StatusCode::TOO_MANY_REQUESTS,
            "too many indexing requests at once; retry later",
        )
    })?;
    let digest = manifest.hash.clone();
    let st = s.clone();
    // The permit moves into the work: it is released when indexing ends, not when this
    // handler is dropped (client gone, deadline).
    let report = crate::limit::run(permit, move || index_blocking(&st, manifest)).await??;
    if report.state == IndexState::IndexError {
        // Stored as its error report (GET answers it); the request fails as upstream's does.
        let status = if report.err.starts_with(NOT_A_LAYER) {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        return Err(ApiError::with_status(
            status,
            format!("failed to start scan: {}", report.err),
        ));
    }
    s.metrics.index_reports.fetch_add(1, Ordering::Relaxed);
    let body = serde_json::to_string(&report).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut resp = json_response(StatusCode::CREATED, "application/json", body);
    for (k, v) in index_headers(&state, &digest) {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().append(k, v);
        }
    }
    Ok(resp)
}

/// How the error of a layer that is no (readable) tar archive begins; upstream answers 400
/// for it (claircore's `tarfs.ErrFormat`), 500 for every other indexing failure.
fn index_blocking(s: &AppState, m: Manifest) -> Result<IndexReport, ApiError> {
    s.index_manifest(&m.hash, &m.layers).map_err(|e| match e {
        clair_service::Error::Store(e) => e.into(),
        e => ApiError::internal(e.to_string()),
    })
}

/// `GET /indexer/api/v1/index_report/{digest}`. The `ETag` and `If-None-Match` are the
/// *current* indexer state, as upstream: a client holding a report made by other scanners gets
/// 200 and knows to index again (clairctl stores the POST's `ETag` for this path).
async fn get_index_report(
    State(s): State<AppState>,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&digest)?;
    let ct = check_accept(&headers, "index_report")?;
    // Clair's ETag here is the current indexer state.
    let state = s.indexer.state();
    if if_none_match(&headers, &state) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag(&state))]).into_response());
    }
    let version = report_version(&s, &digest, || format!("no index report for {digest}")).await?;
    let mut extra = Vec::new();
    if let Ok(v) = HeaderValue::from_str(&etag(&state)) {
        extra.push((header::ETAG, v));
    }
    let key = CacheKey {
        key: format!("index_report/{digest}"),
        validator: version,
    };
    let reply = Reply {
        status: StatusCode::OK,
        content_type: ct,
        headers: extra,
        etag: false,
    };
    let store = s.store.clone();
    report_cache::serve(&s.report_cache, &headers, key, reply, move || {
        let stored = store
            .get_index_report(&digest)?
            .ok_or_else(|| ApiError::not_found(format!("no index report for {digest}")))?;
        serde_json::to_vec(&stored.report).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// The stored index report's version (404 with `missing`'s message when there is none).
async fn report_version(
    s: &AppState,
    digest: &Digest,
    missing: impl FnOnce() -> String,
) -> Result<String, ApiError> {
    let d = digest.clone();
    on_store(s, move |store| store.index_report_version(&d))
        .await?
        .ok_or_else(|| ApiError::not_found(missing()))
}

async fn delete_one(
    State(s): State<AppState>,
    Path(digest): Path<String>,
) -> Result<StatusCode, ApiError> {
    let digest = parse_digest(&digest)?;
    on_store(&s, move |store| store.delete_manifests(&[digest])).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_many(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let list: Vec<String> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("want a JSON array of digests: {e}")))?;
    let digests = list
        .iter()
        .map(|d| parse_digest(d))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = on_store(&s, move |store| store.delete_manifests(&digests)).await?;
    let body = serde_json::to_string(&deleted).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json_response(StatusCode::OK, "application/json", body))
}

async fn index_state(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let ct = check_accept(&headers, "index_state")?;
    let state = s.indexer.state();
    if if_none_match(&headers, &state) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag(&state))]).into_response());
    }
    let mut resp = json_response(
        StatusCode::OK,
        ct,
        serde_json::json!({ "state": state }).to_string(),
    );
    if let Ok(v) = HeaderValue::from_str(&etag(&state)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

/// `GET /matcher/api/v1/vulnerability_report/{digest}`: 202 with no body while there is no
/// vulnerability data at all (upstream's "matcher not initialized"), 404 without a finished
/// index report, else the report with `Cache-Control: max-age` = `matcher.cache_age`.
async fn vulnerability_report(
    State(s): State<AppState>,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&digest)?;
    let ct = check_accept(&headers, "vulnerability_report")?;
    // Upstream answers 202 with no body until vulnerability data exists.
    if s.live.current().is_empty() {
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let not_found = format!("index report for manifest {digest:?} not found");
    // With a remote indexer (matcher mode) the report is fetched once, here, and its version
    // is a digest of it: the indexer's store is not this server's to ask.
    let (version, fetched) = if s.remote_indexer.is_some() {
        let st = s.clone();
        let d = digest.clone();
        let report = tokio::task::spawn_blocking(move || st.index_report(&d))
            .await
            .map_err(join_err)??
            .ok_or_else(|| ApiError::not_found(not_found.clone()))?;
        let bytes = serde_json::to_vec(&report).map_err(|e| ApiError::internal(e.to_string()))?;
        let version = format!("remote:{}", hex::encode(sha2::Sha256::digest(&bytes)));
        (version, Some(report))
    } else {
        (
            report_version(&s, &digest, || not_found.clone()).await?,
            None,
        )
    };
    // The matcher index this report is made with, and the data generation that names it.
    let idx = s.live.current();
    let key = CacheKey {
        key: format!("vulnerability_report/{digest}"),
        validator: format!("{version}|{}", s.data_generation(&idx)),
    };
    let mut extra = Vec::new();
    if let Ok(v) = HeaderValue::from_str(&format!("max-age={}", s.cache_age.as_secs_f64().round()))
    {
        extra.push((header::CACHE_CONTROL, v));
    }
    let reply = Reply {
        status: StatusCode::OK,
        content_type: ct,
        headers: extra,
        etag: true,
    };
    s.metrics
        .vulnerability_reports
        .fetch_add(1, Ordering::Relaxed);
    let store = s.store.clone();
    report_cache::serve(&s.report_cache, &headers, key, reply, move || {
        let report = match fetched {
            Some(r) => Some(r),
            None => store.get_index_report(&digest)?.map(|s| s.report),
        };
        let report = report
            .filter(|r| r.state == IndexState::IndexFinished)
            .ok_or_else(|| ApiError::not_found(not_found))?;
        let vr = clair_service::vulnerability_report(&idx, &report, store.as_ref())?;
        serde_json::to_vec(&vr).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

pub(crate) fn parse_uuid(what: &str, s: &str) -> Result<uuid::Uuid, ApiError> {
    s.parse::<uuid::Uuid>()
        .map_err(|_| ApiError::bad_request(format!("{what} {s:?} is not a UUID")))
}

/// A page cursor as Clair v4 spells it (a UUID): the item sequence number in its last group.
fn cursor(seq: i64) -> String {
    uuid::Uuid::from_u64_pair(0, u64::try_from(seq).unwrap_or(0)).to_string()
}

fn uncursor(s: &str) -> Result<i64, ApiError> {
    let u = parse_uuid("next", s)?;
    let (hi, lo) = u.as_u64_pair();
    if hi != 0 {
        return Err(ApiError::bad_request(format!(
            "next {s:?} is not a cursor of this server"
        )));
    }
    i64::try_from(lo).map_err(|_| ApiError::bad_request(format!("next {s:?} is out of range")))
}

/// `GET /notifier/api/v1/notification/{id}?page_size=N&next=<cursor>`: a page of the
/// notification's items; `next` is omitted on the last page.
async fn notification_page(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let ct = check_accept(&headers, "notification_page")?;
    let id = parse_uuid("notification id", &id)?;
    let q = crate::query_params(&q);
    let size = match q.get("page_size").filter(|v| !v.is_empty()) {
        None => 500,
        Some(v) => match v.parse::<usize>() {
            Ok(0) => 500,
            Ok(n) => n.min(10_000),
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "page_size {v:?} is not a number"
                )));
            }
        },
    };
    let after = match q.get("next").filter(|v| !v.is_empty()) {
        Some(n) => Some(uncursor(n)?),
        None => None,
    };
    let store = s.store.clone();
    // An unknown id is an empty page, as upstream (its store simply finds no rows).
    let page = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        if store.notification(id)?.is_none() {
            return Ok(clair_store::NotificationPage::default());
        }
        Ok(store.notification_items(id, after, size)?)
    })
    .await
    .map_err(join_err)??;
    let mut p = serde_json::json!({ "size": size });
    if let Some(n) = page.next {
        p["next"] = serde_json::Value::String(cursor(n));
    }
    let notifications: Vec<serde_json::Value> = page.items.into_iter().map(|i| i.body).collect();
    let body = serde_json::json!({"page": p, "notifications": notifications});
    Ok(json_response(StatusCode::OK, ct, body.to_string()))
}

async fn delete_notification(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_uuid("notification id", &id)?;
    on_store(&s, move |store| store.acknowledge_notification(id)).await?;
    Ok(StatusCode::OK)
}

/// The OpenAPI description of the routes served here.
async fn openapi() -> Response {
    json_response(
        StatusCode::OK,
        "application/openapi+json",
        include_str!("openapi.json").to_string(),
    )
}
