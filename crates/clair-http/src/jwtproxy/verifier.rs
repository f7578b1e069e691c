//! jwtproxy's verifier: the checks of its `Verify` (claims, key by `kid`, signature, one-time
//! `jti`), then the static claims verifiers, and the middleware that answers 403 with
//! jwtproxy's text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use clair_config::{KeyServerConfig, VerifierConfig};
use clair_jose::{Jws, PublicKey, audiences, number};
use serde_json::Value;

use super::origin;
use super::registry::{KeyError, KeyRegistryReader};

/// Why a request is refused; the body is jwtproxy's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `jwtproxy: unable to verify request: …`.
    Verify(String),
    /// `Error verifying claims: …` (a claims verifier said no).
    Claims(String),
}

impl Refusal {
    /// The text/plain body of the 403 answer.
    pub fn body(&self) -> String {
        match self {
            Refusal::Verify(why) => format!("jwtproxy: unable to verify request: {why}"),
            Refusal::Claims(why) => format!("Error verifying claims: {why}"),
        }
    }
}

fn refuse(why: &str) -> Refusal {
    Refusal::Verify(why.to_string())
}

/// Where a verifier gets public keys.
#[derive(Debug)]
pub enum Keys {
    /// A key registry.
    Registry(KeyRegistryReader),
    /// One preshared key.
    Preshared {
        /// The only issuer.
        issuer: String,
        /// Its key id.
        kid: String,
        /// The key.
        key: PublicKey,
    },
}

impl Keys {
    fn get(&self, issuer: &str, kid: &str) -> Result<PublicKey, KeyError> {
        match self {
            Keys::Registry(r) => r.get(issuer, kid),
            Keys::Preshared {
                issuer: i,
                kid: k,
                key,
            } => {
                if i == issuer && k == kid {
                    Ok(key.clone())
                } else {
                    Err(KeyError::NotFound)
                }
            }
        }
    }
}

/// One-time `jti`s, each remembered until its token expires.
#[derive(Debug, Default)]
struct Nonces {
    seen: HashMap<String, i64>,
    last_purge: i64,
}

/// jwtproxy's verifier: every check of its `Verify`, then the static claims verifiers.
#[derive(Debug)]
pub struct Verifier {
    audience: (String, String),
    max_skew: i64,
    max_ttl: i64,
    keys: Keys,
    static_claims: Vec<(String, Value)>,
    nonces: Mutex<Nonces>,
}

impl Verifier {
    /// A verifier for audience `audience` with the given limits and key source.
    pub fn new(
        audience: &str,
        max_skew: Duration,
        max_ttl: Duration,
        keys: Keys,
        static_claims: Vec<(String, Value)>,
    ) -> Result<Verifier, String> {
        let audience =
            origin(audience).ok_or_else(|| format!("audience {audience:?} is not a URL"))?;
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Ok(Verifier {
            audience,
            max_skew: secs(max_skew),
            max_ttl: secs(max_ttl),
            keys,
            static_claims,
            nonces: Mutex::new(Nonces::default()),
        })
    }

    /// From a config's verifier proxy; `client` fetches keys.
    pub fn from_config(
        cfg: &VerifierConfig,
        client: clair_net::Client,
    ) -> Result<Verifier, String> {
        let keys = match &cfg.key_server {
            KeyServerConfig::Keyregistry {
                registry,
                cache_duration,
            } => Keys::Registry(KeyRegistryReader::new(registry, *cache_duration, client)),
            KeyServerConfig::Preshared {
                issuer,
                key_id,
                public_key_path,
            } => {
                let text = std::fs::read_to_string(public_key_path)
                    .map_err(|e| format!("{}: {e}", public_key_path.display()))?;
                Keys::Preshared {
                    issuer: issuer.clone(),
                    kid: key_id.clone(),
                    key: PublicKey::from_pem(&text)
                        .map_err(|e| format!("{}: {e}", public_key_path.display()))?,
                }
            }
        };
        Verifier::new(
            &cfg.audience,
            cfg.max_skew,
            cfg.max_ttl,
            keys,
            cfg.static_claims.clone(),
        )
    }

    /// The key source (for tests: how often the key server was asked).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Verify `token` at Unix time `now`. Blocking: may ask the key server.
    pub fn verify(&self, token: Option<&str>, now: i64) -> Result<(), Refusal> {
        let jws = token
            .and_then(|t| Jws::parse(t).ok())
            .ok_or_else(|| refuse("No JWT found"))?;
        let kid = jws.header["kid"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| refuse("Missing 'kid' claim"))?;
        let c = &jws.claims;
        let iss = c["iss"]
            .as_str()
            .ok_or_else(|| refuse("Missing 'iss' claim"))?;
        if !audiences(c)
            .iter()
            .any(|a| origin(a).is_some_and(|o| o == self.audience))
        {
            return Err(refuse("Missing or invalid 'aud' claim"));
        }
        let exp = number(&c["exp"]).ok_or_else(|| refuse("Missing or invalid 'exp' claim"))?;
        let nbf = number(&c["nbf"]).ok_or_else(|| refuse("Missing or invalid 'nbf' claim"))?;
        let iat = number(&c["iat"]).ok_or_else(|| refuse("Missing or invalid 'iat' claim"))?;
        if exp.saturating_sub(iat) > self.max_ttl {
            return Err(refuse("Invalid 'exp' claim (too long)"));
        }
        if exp < now {
            return Err(refuse("Invalid 'exp' claim (expired)"));
        }
        if nbf > now {
            return Err(refuse("Invalid 'nbf' claim (not valid yet)"));
        }
        if iat.saturating_sub(self.max_skew) > now {
            return Err(refuse("Invalid 'iat' claim (issued in the future)"));
        }
        let jti = c["jti"]
            .as_str()
            .filter(|j| !j.is_empty() && j.len() <= 1024)
            .ok_or_else(|| refuse("Missing or invalid 'jti' claim"))?;
        let alg = jws.alg().unwrap_or("");
        if !matches!(alg, "RS256" | "RS384" | "RS512" | "ES256" | "ES384") {
            return Err(refuse("Invalid JWT signature (algorithm not accepted)"));
        }
        let key = match self.keys.get(iss, kid) {
            Ok(k) => k,
            Err(KeyError::NotFound) => return Err(refuse("Unknown public key")),
            Err(KeyError::Expired) => return Err(refuse("Expired public key")),
            Err(KeyError::Other(_)) => return Err(refuse("Could not get public key")),
        };
        key.verify(alg, jws.signing_input().as_bytes(), jws.signature())
            .map_err(|_| refuse("Invalid JWT signature"))?;
        // The nonce is spent only by a token with a valid signature, so forged tokens cannot
        // burn other clients' nonces.
        {
            let mut n = self
                .nonces
                .lock()
                .map_err(|_| refuse("Missing or invalid 'jti' claim"))?;
            if now - n.last_purge >= 60 {
                n.seen.retain(|_, until| *until >= now);
                n.last_purge = now;
            }
            if n.seen.contains_key(jti) {
                return Err(refuse("Missing or invalid 'jti' claim"));
            }
            n.seen.insert(jti.to_string(), exp);
        }
        for (k, want) in &self.static_claims {
            let got = &c[k.as_str()];
            if got != want {
                return Err(Refusal::Claims(format!(
                    "claim '{k}' is {got}, expected {want}"
                )));
            }
        }
        Ok(())
    }
}

/// The token of a request: `Authorization: Bearer …`, or the password of Basic credentials.
pub fn request_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    if let Some(t) = v.strip_prefix("Bearer ") {
        return Some(t.trim().to_string());
    }
    let basic = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.split_once(':').map(|(_, p)| p.to_string())
}

/// Middleware of a verifier proxy: 403 `text/plain` with jwtproxy's message unless the
/// request carries a valid token.
pub async fn require_jwt(State(v): State<Arc<Verifier>>, req: Request, next: Next) -> Response {
    let token = request_token(req.headers());
    let now = jiff::Timestamp::now().as_second();
    let check = v.clone();
    let verdict = tokio::task::spawn_blocking(move || check.verify(token.as_deref(), now)).await;
    match verdict {
        Ok(Ok(())) => next.run(req).await,
        Ok(Err(refusal)) => {
            tracing::info!(path = %req.uri().path(), reason = %refusal.body(), "request refused");
            (
                StatusCode::FORBIDDEN,
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; charset=utf-8",
                )],
                refusal.body(),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "token verification task");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
