//! Clair v4's intra-service endpoints, which the notifier (and a matcher without its own
//! indexer) call, in claircore's JSON ([`crate::claircore`]):
//!
//! - `GET /matcher/api/v1/internal/update_operation?kind=…&latest=bool`: operations by
//!   updater, with the newest operation's id as a quoted `ETag`; `If-None-Match` naming it is
//!   304 (the notifier's poll);
//! - `DELETE /matcher/api/v1/internal/update_operation/{ref}`;
//! - `GET /matcher/api/v1/internal/update_diff?prev=…&cur=…`;
//! - `POST /indexer/api/v1/internal/affected_manifest/`: which indexed manifests a list of
//!   vulnerabilities affects.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use clair_ecosystems::EcosystemNamespaces;

use crate::AppState;
use crate::claircore::{Affected, AffectedRequest, Diff, Operation};
use crate::v4::{
    ApiError, check_accept, if_none_match, join_err, json_response, on_store, parse_uuid,
};

/// Largest affected-manifests request (upstream's notifier sends 1000 records at a time).
pub(crate) const MAX_AFFECTED_BODY: usize = 64 << 20;

/// Whether `path` is the affected-manifests route (the one request body allowed to exceed
/// the server's `max_body`).
pub(crate) fn is_affected_manifest(path: &str) -> bool {
    path.trim_end_matches('/') == "/indexer/api/v1/internal/affected_manifest"
}

/// The indexer's internal routes.
pub(crate) fn indexer_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/indexer/api/v1/internal/affected_manifest/",
            post(affected_manifest),
        )
        .route(
            "/indexer/api/v1/internal/affected_manifest",
            post(affected_manifest),
        )
        .layer(DefaultBodyLimit::max(MAX_AFFECTED_BODY))
}

/// The matcher's internal routes.
pub(crate) fn matcher_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/matcher/api/v1/internal/update_operation",
            get(update_operations),
        )
        .route(
            "/matcher/api/v1/internal/update_operation/{id}",
            delete(delete_update_operation),
        )
        .route("/matcher/api/v1/internal/update_diff", get(update_diff))
}

/// Go's `strconv.ParseBool` truths.
fn truthy(v: Option<&String>) -> bool {
    matches!(
        v.map(String::as_str),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True")
    )
}

/// `GET /matcher/api/v1/internal/update_operation`: operations by updater, newest first (only
/// the newest with `latest=true`). The `ETag` is the newest operation's id of that kind (the
/// nil UUID when there is none), as upstream's handler computes it.
async fn update_operations(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = crate::query_params(&q);
    let kind = match q.get("kind").map(String::as_str) {
        None | Some("") | Some("vulnerability") => clair_store::OpKind::Vulnerability,
        Some("enrichment") => clair_store::OpKind::Enrichment,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "kind {other:?}: want vulnerability or enrichment"
            )));
        }
    };
    let latest = truthy(q.get("latest"));
    let ops = on_store(&s, move |store| store.update_operations(kind, None)).await?;
    let newest = ops.first().map_or_else(uuid::Uuid::nil, |op| op.id);
    let tag = format!("\"{newest}\"");
    if if_none_match(&headers, &newest.to_string()) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    let mut out: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    for op in &ops {
        let list = out.entry(op.updater.clone()).or_default();
        if latest && !list.is_empty() {
            continue;
        }
        list.push(Operation::from_store(op));
    }
    let body = serde_json::to_string(&out).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut resp = json_response(StatusCode::OK, "application/json", body);
    if let Ok(v) = HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

async fn delete_update_operation(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_uuid("update operation", &id)?;
    on_store(&s, move |store| store.delete_update_operations(&[id])).await?;
    Ok(StatusCode::OK)
}

/// `GET /matcher/api/v1/internal/update_diff?prev=<uuid>&cur=<uuid>`: claircore's
/// `UpdateDiff` (a missing `prev` is the zero operation, everything in `cur` is added).
async fn update_diff(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = crate::query_params(&q);
    let cur = q
        .get("cur")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("\"cur\" query param is required"))?;
    let cur = parse_uuid("cur", cur)?;
    let prev = match q.get("prev").filter(|p| !p.is_empty()) {
        Some(p) => Some(parse_uuid("prev", p)?).filter(|p| !p.is_nil()),
        None => None,
    };
    let store = s.store.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let diff = store.update_diff(prev, cur).map_err(|e| match e {
            clair_store::Error::NotFound(m) => ApiError::not_found(m),
            other => other.into(),
        })?;
        serde_json::to_string(&Diff::from_store(&diff))
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(join_err)??;
    Ok(json_response(StatusCode::OK, "application/json", body))
}

/// `POST /indexer/api/v1/internal/affected_manifest/` with `{"vulnerabilities":[…]}`:
/// claircore's `AffectedManifests` over the indexed manifests.
async fn affected_manifest(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ct = check_accept(&headers, "affected_manifests")?;
    let req: AffectedRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("failed to deserialize vulnerabilities: {e}"))
    })?;
    let store = s.store.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let ns = EcosystemNamespaces;
        let records: Vec<_> = req
            .vulnerabilities
            .iter()
            .map(|v| v.to_record(&ns))
            .collect();
        let a = clair_service::affected::affected_manifests(store.as_ref(), &ns, &records)?;
        serde_json::to_string(&Affected::from_matcher(&a))
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(join_err)??;
    Ok(json_response(StatusCode::OK, ct, body))
}
