//! The HTTP/1 connection loop under every listener (plain and TLS), with the limits a server
//! on a network needs against hostile clients.
//!
//! Why not `axum::serve`: it sets no timer, so a client that sends its headers a byte a second
//! (slowloris) or opens connections and sends nothing holds them forever, and it accepts
//! without bound. Here:
//! - **Header timeout**: the request head must arrive within [`Limits::header_timeout`] of the
//!   connection becoming ready for it (also for an idle keep-alive connection), else the
//!   connection is closed.
//! - **Body timeout**: a request body must arrive within [`Limits::body_timeout`]; else 408.
//!   Bodies are read whole before a handler runs, and one that announces or reaches more than
//!   [`Limits::max_body`] bytes gets 413 before anything parses it.
//! - **Connection limit**: at most [`Limits::max_connections`] at once; past it the listener
//!   stops accepting until one closes (new clients wait in the kernel's queue, and the header
//!   timeout frees the slots idle clients hold).

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use crate::Error;

/// Limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Longest wait for a request's head (from the connection being ready for one).
    pub header_timeout: Duration,
    /// Longest wait for a request's whole body.
    pub body_timeout: Duration,
    /// Largest request body read, in bytes.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            max_body: 4 << 20,
        }
    }
}

/// The error body of a refused request: the v4 shape (`code`, `message`), which Clair v2
/// clients read as an unknown error.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"code": code, "message": message});
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Middleware: read the whole body within the body timeout and size limit before the handler
/// runs.
pub async fn bounded_body(limits: Limits, req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_body as u64) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "request body too large",
        );
    }
    let (parts, body) = req.into_parts();
    let read = axum::body::to_bytes(body, limits.max_body);
    match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "request body too large or broken off",
        ),
        Err(_) => {
            tracing::info!(path = %parts.uri.path(), "request body timed out");
            refuse(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "request body not received in time",
            )
        }
    }
}

/// Serve `router` on connections from `listener` until `shutdown` resolves; then stop
/// accepting, let in-flight requests finish and close idle connections.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error>
where
    L: axum::serve::Listener,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let (closing, closed) = tokio::sync::watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (io, _peer) = tokio::select! {
            c = listener.accept() => c,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
            let closing = async move {
                let _ = closed.wait_for(|c| *c).await;
            };
            let shut = tokio::select! {
                _ = conn.as_mut() => false,
                () = closing => true,
            };
            if shut {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // In-flight requests finish (bounded by the request deadline middleware).
    let n = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(n).await;
    Ok(())
}
