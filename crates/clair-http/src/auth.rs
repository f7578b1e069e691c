//! Authentication of incoming requests with Clair v4's pre-shared key (`auth.psk`): an
//! `Authorization: Bearer` JWT signed with HS256, HS384 or HS512 under the key, `iss` one of
//! the configured issuers (or `clair-intraservice`), `exp`/`nbf`/`iat` checked with 15 s of
//! leeway when present (the checks are `clair_jose`'s [`Psk`]). Anything else is 401 with an
//! empty body, as Clair v4 answers. Also Clair v4.0's key server mode and the read-only mode:
//! only GET and HEAD reach the API.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clair_jose::{INTRASERVICE_ISSUER, Jws, audiences, check_times};

pub use clair_jose::{LEEWAY_SECS, Psk};

/// Middleware: requests without a valid token get 401 with an empty body.
pub async fn require_psk(State(psk): State<Psk>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/robots.txt" {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let now = jiff::Timestamp::now().as_second();
    match token.map(|t| psk.verify(t, now)) {
        Some(Ok(())) => next.run(req).await,
        Some(Err(why)) => {
            tracing::info!(path = %req.uri().path(), reason = %why, "request refused: bad token");
            StatusCode::UNAUTHORIZED.into_response()
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// Clair v4.0's key server mode (`auth.keyserver`): RS256 tokens whose public key the key
/// server returns for (`iss`, header `kid`) at `{api}/services/{iss}/keys/{kid}`, `aud`
/// containing the request's origin, time claims with 15 s of leeway when present; tokens from
/// `clair-intraservice` are checked with the `intraservice` key instead. 401 otherwise.
#[derive(Debug)]
pub struct KeyServerAuth {
    reader: crate::jwtproxy::KeyRegistryReader,
    intraservice: Option<Psk>,
    /// Whether this listener serves TLS (the origin's scheme when no proxy header says).
    pub tls: bool,
}

impl KeyServerAuth {
    /// From `auth.keyserver`: the key server's base URL and the optional intra-service key.
    pub fn new(
        api: &str,
        intraservice: Option<&str>,
        client: clair_net::Client,
    ) -> Result<KeyServerAuth, String> {
        let intraservice = match intraservice {
            Some(k) => {
                Some(Psk::new(k, &[]).map_err(|e| format!("auth.keyserver.intraservice: {e}"))?)
            }
            None => None,
        };
        Ok(KeyServerAuth {
            reader: crate::jwtproxy::KeyRegistryReader::new(
                api,
                std::time::Duration::from_secs(600),
                client,
            ),
            intraservice,
            tls: false,
        })
    }

    /// Whether `token` is valid for a request from `origin` (`scheme://host`) at `now`. The
    /// claims (time, audience) are checked before the key server is asked for the key, so a
    /// token that could never pass costs no request.
    pub fn verify(&self, token: &str, origin: &str, now: i64) -> Result<(), String> {
        let jws = Jws::parse(token).map_err(|e| e.to_string())?;
        let iss = jws.claims["iss"].as_str().unwrap_or("");
        if iss == INTRASERVICE_ISSUER
            && let Some(psk) = &self.intraservice
        {
            return psk.verify(token, now).map_err(|e| e.to_string());
        }
        if jws.alg() != Some("RS256") {
            return Err("only RS256 is accepted".into());
        }
        let kid = jws.header["kid"].as_str().ok_or("no kid")?;
        check_times(&jws.claims, now).map_err(|e| e.to_string())?;
        let origin = origin.to_ascii_lowercase();
        if !audiences(&jws.claims)
            .iter()
            .any(|a| a.trim_end_matches('/').to_ascii_lowercase() == origin)
        {
            return Err(format!("audience does not contain {origin}"));
        }
        let key = self
            .reader
            .get(iss, kid)
            .map_err(|e| format!("key {kid} of {iss}: {e:?}"))?;
        jws.verify_with(&key).map_err(|e| e.to_string())
    }

    /// The key server reader (for tests: how often it was asked).
    pub fn reader(&self) -> &crate::jwtproxy::KeyRegistryReader {
        &self.reader
    }
}

/// The origin of a request as Clair v4.0 computed it: `Forwarded: proto=…;host=…`, else
/// `X-Forwarded-Proto`/`X-Forwarded-Host`, else the listener's scheme and the `Host` header.
pub fn request_origin(headers: &axum::http::HeaderMap, tls: bool) -> String {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let (mut proto, mut host) = (None, None);
    if let Some(f) = get("forwarded") {
        for kv in f.split(',').next().unwrap_or("").split(';') {
            if let Some((k, v)) = kv.trim().split_once('=') {
                let v = v.trim_matches('"').to_string();
                match k.trim().to_ascii_lowercase().as_str() {
                    "proto" => proto = Some(v),
                    "host" => host = Some(v),
                    _ => {}
                }
            }
        }
    }
    let proto = proto
        .or_else(|| get("x-forwarded-proto").map(str::to_string))
        .unwrap_or_else(|| if tls { "https" } else { "http" }.to_string());
    let host = host
        .or_else(|| get("x-forwarded-host").map(str::to_string))
        .or_else(|| get("host").map(str::to_string))
        .unwrap_or_default();
    format!("{proto}://{host}")
}

/// Middleware of the key server mode: 401 with an empty body without a valid token.
pub async fn require_keyserver(
    State(ks): State<Arc<KeyServerAuth>>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == "/robots.txt" {
        return next.run(req).await;
    }
    let Some(token) = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let origin = request_origin(req.headers(), ks.tls);
    let now = jiff::Timestamp::now().as_second();
    let check = ks.clone();
    let verdict = tokio::task::spawn_blocking(move || check.verify(&token, &origin, now)).await;
    match verdict {
        Ok(Ok(())) => next.run(req).await,
        Ok(Err(why)) => {
            tracing::info!(path = %req.uri().path(), reason = %why, "request refused: bad token");
            StatusCode::UNAUTHORIZED.into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Middleware of the read-only mode: only GET and HEAD.
pub async fn read_only(req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    let body =
        serde_json::json!({"code": "method-not-allowed", "message": "this server is read-only"});
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
