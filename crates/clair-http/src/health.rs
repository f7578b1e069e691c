//! Health and introspection: Clair v2's `GET /health` on its own port, Clair v4's
//! `/healthz`, `/readyz` and `/metrics`, and the request deadline.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt;

use crate::AppState;

/// Clair v2's health server: `GET /health` → 200 when the store answers, else 500; empty body,
/// `Server: clair`. Anything else is 404.
pub fn v2_health_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(v2_health))
        .with_state(state)
}

async fn v2_health(State(s): State<AppState>) -> Response {
    let store = s.store.clone();
    let ok = tokio::task::spawn_blocking(move || store.updater_status().is_ok())
        .await
        .unwrap_or(false);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (
        status,
        [(header::SERVER, HeaderValue::from_static("clair"))],
    )
        .into_response()
}

/// Clair v4's introspection server while `clair serve` starts (waits for its database, loads
/// the vulnerability data): `/healthz` 200 (the process is up, as Clair's), `/readyz` and
/// everything else 503. Once `later` holds a router, every request goes to it, so the listener
/// is bound once and never closes.
pub fn starting_router(later: Arc<OnceLock<Router>>) -> Router {
    Router::new().fallback(move |req: Request| {
        let later = later.clone();
        async move {
            match later.get() {
                Some(r) => match r.clone().oneshot(req).await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                },
                None if req.uri().path() == "/healthz" => {
                    (StatusCode::OK, "ok: starting\n").into_response()
                }
                None => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: starting (connecting to the database, loading vulnerability data)\n",
                )
                    .into_response(),
            }
        }
    })
}

/// Clair v4's introspection server: `/healthz` (the process and store answer), `/readyz`
/// (vulnerability data is loaded), `/metrics` (Prometheus).
pub fn introspection_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz(State(s): State<AppState>) -> Response {
    let store = s.store.clone();
    match tokio::task::spawn_blocking(move || store.updater_status()).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}\n")).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

async fn readyz(State(s): State<AppState>) -> Response {
    if s.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no vulnerability data yet (updaters have not succeeded, nothing imported)\n",
        )
            .into_response()
    }
}

/// `GET /metrics` (also served as `/v1/metrics` by the Clair v2 API).
pub async fn metrics(State(s): State<AppState>) -> Response {
    let state = s.clone();
    let extra = tokio::task::spawn_blocking(move || crate::metrics::data_gauges(&state))
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        s.metrics.render(&extra),
    )
        .into_response()
}

/// Middleware: answer 503 when a request takes longer than `timeout` (Clair v2's
/// `api.timeout`, with its body).
pub async fn deadline(timeout: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=utf-8"),
            )],
            "{\"Error\":{\"Message\":\"Clair failed to respond within the configured timeout window.\",\"Type\":\"Timeout\"}}\n",
        )
            .into_response(),
    }
}
