//! The Clair v2 API (`/v1`), as klar, ProGet and the legacy Quay client call it
//! (`../shared/spec/clair-api.md` §1): layers posted one by one with their parent, by URL (with
//! headers) or local path; the image's features and vulnerabilities read from the top layer.
//!
//! JSON names are Clair v2's (`Layer`, `NamespaceName`, `FixedBy`, …), read case-insensitively
//! as Go does and written with empty fields omitted; errors are `{"Error":{"Message":…}}` with
//! Clair's exact messages and status codes. Layers are stored by the digest of their blob, so a
//! layer posted under several names (or already indexed through the v4 API) is read once.

use std::io::Write as _;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clair_service::v1::chain;
pub use clair_service::v1::{
    ENGINE_VERSION, Feature, Layer, UNKNOWN_PARENT, Vulnerability, chain_report, index_layer,
    layer_view, lower_keys, namespace_format, title, v2_severity,
};
use serde::Serialize;

use crate::AppState;
use crate::report_cache::{self, CacheKey, Reply};

/// Request bodies are read up to 1 MiB, as Clair v2 does.
const MAX_BODY: usize = 1 << 20;
const NOT_FOUND: &str = "the resource cannot be found";

/// A v1 error: status and message.
#[derive(Debug)]
pub struct V1Error(pub(crate) StatusCode, pub(crate) String);

impl V1Error {
    /// The HTTP status the API answers with.
    pub fn status(&self) -> StatusCode {
        self.0
    }

    /// Clair's error message.
    pub fn message(&self) -> &str {
        &self.1
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        if self.0.is_server_error() {
            tracing::error!(status = self.0.as_u16(), message = %self.1, "v1 request failed");
        }
        let body = serde_json::json!({"Error": {"Message": self.1}});
        let mut resp = write(self.0, &body, false);
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            crate::add_retry_after(&mut resp);
        }
        resp
    }
}

impl From<clair_service::v1::V1Error> for V1Error {
    fn from(e: clair_service::v1::V1Error) -> Self {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        V1Error(status, e.message)
    }
}

impl From<clair_store::Error> for V1Error {
    fn from(_: clair_store::Error) -> Self {
        V1Error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "database: an error occured when querying the backend".into(),
        )
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> V1Error {
    V1Error(StatusCode::BAD_REQUEST, msg.into())
}

pub(crate) fn join_err(e: tokio::task::JoinError) -> V1Error {
    V1Error(StatusCode::INTERNAL_SERVER_ERROR, format!("worker: {e}"))
}

impl From<tokio::task::JoinError> for V1Error {
    fn from(e: tokio::task::JoinError) -> Self {
        join_err(e)
    }
}

impl From<std::io::Error> for V1Error {
    fn from(e: std::io::Error) -> Self {
        V1Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

/// Clair v2's `writeResponse`: JSON with a trailing newline, `Server: clair`, gzip when asked.
pub(crate) fn write(status: StatusCode, body: &impl Serialize, gzip: bool) -> Response {
    let mut bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes.push(b'\n');
    let mut headers = vec![
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        ),
        (header::SERVER, HeaderValue::from_static("clair")),
    ];
    if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if e.write_all(&bytes).is_ok()
            && let Ok(z) = e.finish()
        {
            bytes = z;
            headers.push((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
        }
    }
    let mut resp = (status, bytes).into_response();
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    resp
}

/// [`write`] of Clair v2's envelope, `{"<name>": value}`.
pub(crate) fn write_one(
    status: StatusCode,
    name: &str,
    value: impl Serialize,
    gzip: bool,
) -> Response {
    write(
        status,
        &std::collections::BTreeMap::from([(name, value)]),
        gzip,
    )
}

/// The `limit` query parameter Clair v2's paged lists require.
pub(crate) fn limit_param(q: &std::collections::BTreeMap<String, String>) -> Result<i64, V1Error> {
    q.get("limit")
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| bad("must provide limit query parameter"))
}

/// The content of a `page` token this server issued.
pub(crate) fn page_token(s: &crate::AppState, token: &str) -> Result<serde_json::Value, V1Error> {
    s.page_key
        .open(token)
        .ok_or_else(|| bad("invalid page format: invalid or expired pagination token"))
}

pub(crate) fn wants_gzip(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"))
}

/// The v1 routes, to be nested under `/v1`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/layers", axum::routing::post(post_layer))
        .route("/layers/{name}", get(get_layer).delete(delete_layer))
        .route("/namespaces", get(namespaces))
        .route(
            "/namespaces/{ns}/vulnerabilities",
            get(crate::v1_vulns::list).post(crate::v1_vulns::create),
        )
        .route(
            "/namespaces/{ns}/vulnerabilities/{vuln}",
            get(crate::v1_vulns::get_one)
                .put(crate::v1_vulns::update)
                .delete(crate::v1_vulns::delete),
        )
        .route(
            "/namespaces/{ns}/vulnerabilities/{vuln}/fixes",
            get(crate::v1_vulns::fixes),
        )
        .route(
            "/namespaces/{ns}/vulnerabilities/{vuln}/fixes/{fix}",
            axum::routing::put(crate::v1_vulns::put_fix).delete(crate::v1_vulns::delete_fix),
        )
        .route("/metrics", get(crate::health::metrics))
        .route(
            "/notifications/{name}",
            get(crate::v1_notifications::get).delete(crate::v1_notifications::delete),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn post_layer(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, V1Error> {
    let gzip = wants_gzip(&headers);
    let permit = s.index_limit.acquire().await.map_err(|_| {
        s.metrics.index_limited.fetch_add(1, Ordering::Relaxed);
        V1Error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many indexing requests at once; retry later".into(),
        )
    })?;
    let st = s.clone();
    // The permit is held by the work itself, which outlives a dropped handler.
    let echo = crate::limit::run(permit, move || index_layer(&st, &body)).await??;
    Ok(write_one(StatusCode::CREATED, "Layer", echo, gzip))
}

fn flag(query: &Option<String>, name: &str) -> bool {
    crate::query_params(query).contains_key(name)
}

async fn get_layer(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, V1Error> {
    let with_vulns = flag(&query, "vulnerabilities");
    let with_features = with_vulns || flag(&query, "features");
    if !with_features {
        let st = s.clone();
        let layer = tokio::task::spawn_blocking(move || layer_view(&st, &name, false, false))
            .await
            .map_err(join_err)??;
        return Ok(write_one(
            StatusCode::OK,
            "Layer",
            layer,
            wants_gzip(&headers),
        ));
    }
    // Features (and vulnerabilities) are cached: named by the layer chain's digests and, with
    // vulnerabilities, the matcher's data generation.
    let st = s.clone();
    let n = name.clone();
    let chain = tokio::task::spawn_blocking(move || chain(&st, &n))
        .await
        .map_err(join_err)??;
    let mut validator: String = chain
        .iter()
        .map(|l| format!("{}={} ", l.name, l.digest))
        .collect();
    if with_vulns {
        validator.push_str(&s.data_generation(&s.live.current()));
    }
    let key = CacheKey {
        key: format!(
            "v1/layers/{name}?{}",
            if with_vulns {
                "vulnerabilities"
            } else {
                "features"
            }
        ),
        validator,
    };
    let reply = Reply {
        status: StatusCode::OK,
        content_type: "application/json;charset=utf-8",
        headers: vec![(header::SERVER, HeaderValue::from_static("clair"))],
        etag: true,
    };
    report_cache::serve(&s.report_cache.clone(), &headers, key, reply, move || {
        let layer = layer_view(&s, &name, with_features, with_vulns)?;
        let mut body = serde_json::to_vec(&serde_json::json!({ "Layer": layer }))
            .map_err(|e| V1Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        body.push(b'\n');
        Ok(body)
    })
    .await
}

async fn delete_layer(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, V1Error> {
    let store = s.store.clone();
    let n = tokio::task::spawn_blocking(move || store.delete_v1_layer(&name))
        .await
        .map_err(join_err)??;
    if n == 0 {
        return Err(V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()));
    }
    // Clair v2 writes only the status: no body, no headers.
    Ok(StatusCode::OK.into_response())
}

async fn namespaces(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let idx = s.live.current();
    let list: Vec<serde_json::Value> = idx
        .namespaces()
        .keys()
        .map(|n| serde_json::json!({"Name": n, "VersionFormat": namespace_format(n)}))
        .collect();
    // Clair v2 sends `"Namespaces": null` when there is none (a pointer to a nil slice).
    let body = if list.is_empty() {
        serde_json::json!({ "Namespaces": null })
    } else {
        serde_json::json!({ "Namespaces": list })
    };
    write(StatusCode::OK, &body, wants_gzip(&headers))
}
