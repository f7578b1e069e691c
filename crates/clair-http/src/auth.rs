//! Authentication of incoming requests with Clair v4's pre-shared key (`auth.psk`): an
//! `Authorization: Bearer` JWT signed with HS256, HS384 or HS512 under the key, `iss` one of
//! the configured issuers (or `clair-intraservice`), `exp`/`nbf`/`iat` checked with 15 s of
//! leeway when present. Anything else is 401 with an empty body, as Clair v4 answers. Also the
//! read-only mode: only GET and HEAD reach the API.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

/// Leeway for the time claims.
pub const LEEWAY_SECS: i64 = 15;

/// The pre-shared key and the issuers it accepts.
#[derive(Clone)]
pub struct Psk {
    key: Arc<Vec<u8>>,
    issuers: Vec<String>,
}

impl std::fmt::Debug for Psk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Psk")
            .field("key", &"<redacted>")
            .field("issuers", &self.issuers)
            .finish()
    }
}

impl Psk {
    /// From the config: the standard-base64 key and the accepted issuers.
    pub fn new(key_base64: &str, issuers: &[String]) -> Result<Psk, String> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(key_base64.trim())
            .map_err(|e| format!("auth.psk.key is not base64: {e}"))?;
        if key.is_empty() {
            return Err("auth.psk.key is empty".into());
        }
        let mut issuers = issuers.to_vec();
        issuers.push("clair-intraservice".into());
        Ok(Psk {
            key: Arc::new(key),
            issuers,
        })
    }

    /// Whether `token` is valid at Unix time `now`; why not, otherwise.
    pub fn verify(&self, token: &str, now: i64) -> Result<(), String> {
        let jws = crate::jwtproxy::Jws::parse(token)?;
        let (signing, sig) = (jws.signing_input(), jws.signature());
        let ok = match jws.header["alg"].as_str() {
            Some("HS256") => mac_ok::<Hmac<Sha256>>(&self.key, signing, sig),
            Some("HS384") => mac_ok::<Hmac<Sha384>>(&self.key, signing, sig),
            Some("HS512") => mac_ok::<Hmac<Sha512>>(&self.key, signing, sig),
            other => return Err(format!("algorithm {other:?} is not accepted")),
        };
        if !ok {
            return Err("bad signature".into());
        }
        check_times(&jws.claims, now)?;
        let iss = jws.claims["iss"].as_str().unwrap_or("");
        if !self.issuers.iter().any(|i| i == iss) {
            return Err(format!("issuer {iss:?} is not accepted"));
        }
        Ok(())
    }
}

/// Clair v4's time checks: `exp`, `nbf` and `iat` only when present, with [`LEEWAY_SECS`].
fn check_times(claims: &serde_json::Value, now: i64) -> Result<(), String> {
    if let Some(exp) = claims.get("exp")
        && now > exp.as_i64().ok_or("exp is not a number")? + LEEWAY_SECS
    {
        return Err("expired".into());
    }
    for k in ["nbf", "iat"] {
        if let Some(t) = claims.get(k)
            && now + LEEWAY_SECS < t.as_i64().ok_or(format!("{k} is not a number"))?
        {
            return Err(format!("{k} is in the future"));
        }
    }
    Ok(())
}

fn mac_ok<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &str, sig: &[u8]) -> bool {
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data.as_bytes());
            m.verify_slice(sig).is_ok()
        }
        Err(_) => false,
    }
}

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
        agent: ureq::Agent,
    ) -> Result<KeyServerAuth, String> {
        let intraservice = match intraservice {
            Some(k) => {
                Some(Psk::new(k, &[]).map_err(|e| e.replace("psk", "keyserver.intraservice"))?)
            }
            None => None,
        };
        Ok(KeyServerAuth {
            reader: crate::jwtproxy::KeyRegistryReader::new(
                api,
                std::time::Duration::from_secs(600),
                agent,
            ),
            intraservice,
            tls: false,
        })
    }

    /// Whether `token` is valid for a request from `origin` (`scheme://host`) at `now`. The
    /// claims (time, audience) are checked before the key server is asked for the key, so a
    /// token that could never pass costs no request.
    pub fn verify(&self, token: &str, origin: &str, now: i64) -> Result<(), String> {
        let jws = crate::jwtproxy::Jws::parse(token)?;
        let iss = jws.claims["iss"].as_str().unwrap_or("");
        if iss == "clair-intraservice"
            && let Some(psk) = &self.intraservice
        {
            return psk.verify(token, now);
        }
        if jws.header["alg"].as_str() != Some("RS256") {
            return Err("only RS256 is accepted".into());
        }
        let kid = jws.header["kid"].as_str().ok_or("no kid")?;
        let c = &jws.claims;
        check_times(c, now)?;
        let origin = origin.to_ascii_lowercase();
        let fits = |a: &serde_json::Value| {
            a.as_str()
                .is_some_and(|a| a.trim_end_matches('/').to_ascii_lowercase() == origin)
        };
        let ok = match &c["aud"] {
            serde_json::Value::Array(a) => a.iter().any(fits),
            a => fits(a),
        };
        if !ok {
            return Err(format!("audience does not contain {origin}"));
        }
        let key = self
            .reader
            .get(iss, kid)
            .map_err(|e| format!("key {kid} of {iss}: {e:?}"))?;
        jws.verify_with(&key)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn token(alg: &str, key: &[u8], claims: serde_json::Value) -> String {
        let b64 = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
        let h = b64(serde_json::json!({"alg": alg, "typ": "JWT"})
            .to_string()
            .as_bytes());
        let c = b64(claims.to_string().as_bytes());
        let input = format!("{h}.{c}");
        let sig = match alg {
            "HS512" => {
                let mut m = <Hmac<Sha512> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
                m.update(input.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut m = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
                m.update(input.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
        };
        format!("{input}.{}", b64(&sig))
    }

    #[test]
    fn accepts_and_rejects() {
        let key = b"secret-key-for-tests-only";
        let psk = Psk::new(
            &base64::engine::general_purpose::STANDARD.encode(key),
            &["quay".to_string()],
        )
        .unwrap();
        let now = 1_800_000_000;
        let ok = token(
            "HS256",
            key,
            serde_json::json!({"iss": "quay", "exp": now + 300}),
        );
        assert_eq!(psk.verify(&ok, now), Ok(()));
        let ok512 = token(
            "HS512",
            key,
            serde_json::json!({"iss": "clair-intraservice"}),
        );
        assert_eq!(psk.verify(&ok512, now), Ok(()), "no time claims is fine");
        let leeway = token(
            "HS256",
            key,
            serde_json::json!({"iss": "quay", "exp": now - 10}),
        );
        assert_eq!(psk.verify(&leeway, now), Ok(()), "15 s leeway");
        for (t, why) in [
            (
                token(
                    "HS256",
                    key,
                    serde_json::json!({"iss": "quay", "exp": now - 60}),
                ),
                "expired",
            ),
            (
                token(
                    "HS256",
                    key,
                    serde_json::json!({"iss": "quay", "nbf": now + 60}),
                ),
                "future",
            ),
            (
                token("HS256", key, serde_json::json!({"iss": "mallory"})),
                "issuer",
            ),
            (
                token("HS256", b"another key", serde_json::json!({"iss": "quay"})),
                "signature",
            ),
            (
                token("none", key, serde_json::json!({"iss": "quay"})),
                "algorithm",
            ),
            ("a.b".to_string(), "compact"),
        ] {
            let e = psk.verify(&t, now).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
        // alg "none" with an empty signature.
        let b64 = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(br#"{"iss":"quay"}"#)
        );
        assert!(psk.verify(&none, now).is_err());
    }
}
