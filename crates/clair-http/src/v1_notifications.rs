//! Clair v2's notification routes: `GET /v1/notifications/:name?limit=N[&page=TOKEN]` and
//! `DELETE /v1/notifications/:name`.
//!
//! The pages are `clair_service::v1::notification_page`'s (the SNS sender of `clair-sqs`
//! publishes the same); `limit` is required here.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::v1::{V1Error, join_err, limit_param, wants_gzip, write_one};

use crate::notify::V1 as KIND;
const NOT_FOUND: &str = "the resource cannot be found";

/// `GET /v1/notifications/:name`.
pub async fn get(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, V1Error> {
    let q = crate::query_params(&q);
    let limit = limit_param(&q)?;
    let token = q.get("page").filter(|p| !p.is_empty()).cloned();
    let st = s.clone();
    let n = tokio::task::spawn_blocking(move || {
        clair_service::v1::notification_page(&st, &name, limit, token)
    })
    .await
    .map_err(join_err)??;
    Ok(write_one(
        StatusCode::OK,
        "Notification",
        n,
        wants_gzip(&headers),
    ))
}

/// `DELETE /v1/notifications/:name`: acknowledged; no more deliveries.
pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, V1Error> {
    let id: uuid::Uuid = name
        .parse()
        .map_err(|_| V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()))?;
    let store = s.store.clone();
    let existed = tokio::task::spawn_blocking(move || -> Result<bool, V1Error> {
        match store.notification(id)? {
            Some(n) if n.kind == KIND => Ok(store.acknowledge_notification(id)?),
            _ => Ok(false),
        }
    })
    .await
    .map_err(join_err)??;
    if !existed {
        return Err(V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()));
    }
    Ok(StatusCode::OK.into_response())
}
