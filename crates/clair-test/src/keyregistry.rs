//! A key registry on 127.0.0.1, as jwtproxy's `keyregistry` protocol describes it (and Quay
//! serves it under `/keys`): keys per service, pending until approved, self-signed PUTs for new
//! keys, rotations signed by an approved key (which is then revoked), DELETEs signed by the key
//! itself. RS256 signatures are really checked.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

/// A key's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not approved yet (GET: 409).
    Pending,
    /// Approved (GET: 200).
    Approved,
    /// Expired or revoked (GET: 403).
    Expired,
}

#[derive(Debug, Default)]
struct State {
    keys: HashMap<(String, String), (Value, KeyState)>,
    order: Vec<(String, String)>,
    auto_approve: bool,
    log: Vec<(String, String, u16)>,
}

/// The registry; stops when dropped.
#[derive(Debug)]
pub struct KeyRegistry {
    addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// Check an RS256 compact JWS against an RSA JWK; the header's `kid` and the claims.
fn verify(token: &str, jwk: &Value) -> Option<Value> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    let header: Value = serde_json::from_slice(&b64(h)?).ok()?;
    if header["alg"] != "RS256" {
        return None;
    }
    let n = b64(jwk["n"].as_str()?)?;
    let e = b64(jwk["e"].as_str()?)?;
    ring::signature::RsaPublicKeyComponents { n, e }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{c}").as_bytes(),
            &b64(s)?,
        )
        .ok()?;
    serde_json::from_slice(&b64(c)?).ok()
}

fn token_kid(token: &str) -> Option<String> {
    let header: Value = serde_json::from_slice(&b64(token.split('.').next()?)?).ok()?;
    header["kid"].as_str().map(str::to_string)
}

impl State {
    fn handle(
        &mut self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: &[u8],
    ) -> (u16, String) {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (svc, kid) = match segs.as_slice() {
            ["keys", "services", svc, "keys"] => (svc.to_string(), None),
            ["keys", "services", svc, "keys", kid] => (svc.to_string(), Some(kid.to_string())),
            _ => return (404, String::new()),
        };
        let token = auth.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
        match (method, kid) {
            ("GET", None) => {
                let keys: Vec<Value> = self
                    .order
                    .iter()
                    .filter(|id| id.0 == svc)
                    .filter_map(|id| self.keys.get(id))
                    .filter(|(_, st)| *st == KeyState::Approved)
                    .map(|(jwk, _)| jwk.clone())
                    .collect();
                (200, serde_json::json!({ "keys": keys }).to_string())
            }
            ("GET", Some(kid)) => match self.keys.get(&(svc, kid)) {
                Some((jwk, KeyState::Approved)) => (200, jwk.to_string()),
                Some((_, KeyState::Pending)) => (409, String::new()),
                Some((_, KeyState::Expired)) => (403, String::new()),
                None => (404, String::new()),
            },
            ("PUT", Some(kid)) => {
                let Ok(jwk) = serde_json::from_slice::<Value>(body) else {
                    return (400, "bad JWK".into());
                };
                let Some(signer) = token_kid(token) else {
                    return (400, "no kid".into());
                };
                if signer == kid {
                    // A new key: signed by itself.
                    match verify(token, &jwk) {
                        Some(c) if c["iss"] == svc.as_str() => {}
                        Some(_) => return (400, "iss is not the service".into()),
                        None => return (403, "bad signature".into()),
                    }
                    if self.keys.contains_key(&(svc.clone(), kid.clone())) {
                        return (400, "key exists".into());
                    }
                    let st = if self.auto_approve {
                        KeyState::Approved
                    } else {
                        KeyState::Pending
                    };
                    self.keys.insert((svc.clone(), kid.clone()), (jwk, st));
                    self.order.push((svc, kid));
                    (202, String::new())
                } else {
                    // A rotation: signed by an approved key, which is revoked.
                    let by = (svc.clone(), signer);
                    let Some((by_jwk, KeyState::Approved)) = self.keys.get(&by).cloned() else {
                        return (403, "signing key not approved".into());
                    };
                    match verify(token, &by_jwk) {
                        Some(c) if c["iss"] == svc.as_str() => {}
                        _ => return (403, "bad signature".into()),
                    }
                    self.keys
                        .insert((svc.clone(), kid.clone()), (jwk, KeyState::Approved));
                    self.order.push((svc, kid));
                    if let Some(e) = self.keys.get_mut(&by) {
                        e.1 = KeyState::Expired;
                    }
                    (200, String::new())
                }
            }
            ("DELETE", Some(kid)) => {
                let id = (svc, kid.clone());
                let Some((jwk, _)) = self.keys.get(&id).cloned() else {
                    return (404, String::new());
                };
                if token_kid(token).as_deref() != Some(kid.as_str())
                    || verify(token, &jwk).is_none()
                {
                    return (403, String::new());
                }
                self.keys.remove(&id);
                self.order.retain(|k| *k != id);
                (204, String::new())
            }
            _ => (405, String::new()),
        }
    }
}

impl KeyRegistry {
    /// Start on a free loopback port.
    pub fn start() -> KeyRegistry {
        let (server, addr) = crate::http::bind_loopback();
        let state: Arc<Mutex<State>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(50)) else {
                        continue;
                    };
                    let method = req.method().as_str().to_string();
                    let path = req.url().split('?').next().unwrap_or("").to_string();
                    let auth = req
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("Authorization"))
                        .map(|h| h.value.as_str().to_string());
                    let mut body = Vec::new();
                    let _ = req.as_reader().take(1 << 20).read_to_end(&mut body);
                    let (code, text) = match state.lock() {
                        Ok(mut st) => {
                            let r = st.handle(&method, &path, auth.as_deref(), &body);
                            st.log.push((method, path, r.0));
                            r
                        }
                        Err(_) => (500, String::new()),
                    };
                    let mut resp = tiny_http::Response::from_string(text).with_status_code(code);
                    if code == 200 {
                        if let Ok(h) = tiny_http::Header::from_bytes("Cache-Control", "max-age=300")
                        {
                            resp.add_header(h);
                        }
                        if let Ok(h) =
                            tiny_http::Header::from_bytes("Content-Type", "application/json")
                        {
                            resp.add_header(h);
                        }
                    }
                    let _ = req.respond(resp);
                }
            })
        };
        KeyRegistry {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The registry's base URL (`http://127.0.0.1:PORT/keys`), as a config's `registry`.
    pub fn url(&self) -> String {
        format!("{}/keys", self.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("registry state"))
    }

    /// Approve new keys as they are published.
    pub fn set_auto_approve(&self, on: bool) {
        self.with(|s| s.auto_approve = on);
    }

    /// Add an approved key of `service` (its JWK must carry `kid`).
    pub fn add_approved(&self, service: &str, jwk: Value) {
        let kid = jwk["kid"].as_str().unwrap_or_default().to_string();
        self.with(|s| {
            s.keys
                .insert((service.into(), kid.clone()), (jwk, KeyState::Approved));
            s.order.push((service.into(), kid));
        });
    }

    /// Change a key's state (approve a pending key, expire one).
    pub fn set_state(&self, service: &str, kid: &str, state: KeyState) {
        self.with(|s| {
            if let Some(e) = s.keys.get_mut(&(service.to_string(), kid.to_string())) {
                e.1 = state;
            }
        });
    }

    /// The keys of `service` in publishing order, with their state.
    pub fn keys(&self, service: &str) -> Vec<(String, KeyState)> {
        self.with(|s| {
            s.order
                .iter()
                .filter(|id| id.0 == service)
                .filter_map(|id| s.keys.get(id).map(|(_, st)| (id.1.clone(), *st)))
                .collect()
        })
    }

    /// Requests seen: method, path, status.
    pub fn log(&self) -> Vec<(String, String, u16)> {
        self.with(|s| s.log.clone())
    }
}

impl Drop for KeyRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
