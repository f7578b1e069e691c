//! jwtproxy's protocol against a real key registry on 127.0.0.1 (`clair_test::keyregistry`,
//! which checks signatures itself): every accept and reject path of the verifier, the API
//! behind a verifier (403 bodies as jwtproxy's), the signer's key publication, approval,
//! rotation and revocation, and the notifier's signed webhook.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use clair_http::AppState;
use clair_http::jwtproxy::{
    AutoKeys, KeyRegistry as RegistryClient, KeyRegistryReader, Keys, Refusal, Signer, SigningKey,
    Verifier,
};
use clair_test::keyregistry::{KeyRegistry, KeyState};
use common::{call, key_client, sqlite, start_state};
use serde_json::{Value, json};

const AUD: &str = "http://127.0.0.1:6060";

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

fn reader(registry: &KeyRegistry) -> KeyRegistryReader {
    KeyRegistryReader::new(&registry.url(), Duration::from_secs(600), key_client())
}

fn verifier(registry: &KeyRegistry) -> Verifier {
    Verifier::new(
        AUD,
        Duration::from_secs(60),
        Duration::from_secs(300),
        Keys::Registry(reader(registry)),
        vec![("iss".into(), json!("quay"))],
    )
    .unwrap()
}

/// Claims a Quay-style signer would send at `now`.
fn claims(now: i64, jti: &str) -> Value {
    json!({"iss": "quay", "aud": AUD, "iat": now, "nbf": now - 60, "exp": now + 240, "jti": jti})
}

/// A compact JWS with any header (for forged tokens).
fn raw_token(header: &Value, claims: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(sig)
    )
}

/// An ES256 key: its JWK and a signing function.
fn es256(kid: &str) -> (Value, impl Fn(&Value) -> String) {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]), "kid": kid});
    let kid = kid.to_string();
    let sign = move |claims: &Value| {
        let h = b64(json!({"alg": "ES256", "kid": kid}).to_string().as_bytes());
        let c = b64(claims.to_string().as_bytes());
        let input = format!("{h}.{c}");
        let sig = pair
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    };
    (jwk, sign)
}

fn reason(r: Result<(), Refusal>) -> String {
    match r {
        Ok(()) => "accepted".into(),
        Err(e) => e.body(),
    }
}

#[test]
fn verifier_accepts_and_rejects() {
    let registry = KeyRegistry::start();
    let quay = SigningKey::generate().unwrap();
    registry.add_approved("quay", quay.jwk.clone());
    let (ec_jwk, ec_sign) = es256("ec-key-1");
    registry.add_approved("quay", ec_jwk);
    let other = SigningKey::generate().unwrap();
    registry.add_approved("other", other.jwk.clone());
    let old = SigningKey::generate().unwrap();
    registry.add_approved("quay", old.jwk.clone());
    registry.set_state("quay", &old.kid, KeyState::Expired);
    let v = verifier(&registry);
    let now = jiff::Timestamp::now().as_second();

    // Accepted: RS256 and ES256; `aud` as a list, with a path and another case.
    assert_eq!(
        reason(v.verify(Some(&quay.sign(&claims(now, "a1")).unwrap()), now)),
        "accepted"
    );
    assert_eq!(
        reason(v.verify(Some(&ec_sign(&claims(now, "a2"))), now)),
        "accepted"
    );
    let mut c = claims(now, "a3");
    c["aud"] = json!(["https://elsewhere", "HTTP://127.0.0.1:6060/some/path"]);
    assert_eq!(
        reason(v.verify(Some(&quay.sign(&c).unwrap()), now)),
        "accepted"
    );
    // The key was fetched once and cached.
    let Keys::Registry(r) = v.keys() else {
        panic!()
    };
    let fetched = r.fetches();
    assert_eq!(fetched, 2, "one fetch per key");

    let refused = |token: String| reason(v.verify(Some(&token), now));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(now, &format!("j{}", rand_suffix()));
        f(&mut c);
        quay.sign(&c).unwrap()
    };
    let prefix = "jwtproxy: unable to verify request: ";
    for (token, want) in [
        (
            with(&|c| c["exp"] = json!(now - 10)),
            "Invalid 'exp' claim (expired)",
        ),
        (
            with(&|c| c["nbf"] = json!(now + 30)),
            "Invalid 'nbf' claim (not valid yet)",
        ),
        (
            with(&|c| {
                c["iat"] = json!(now + 120);
                c["exp"] = json!(now + 180);
            }),
            "Invalid 'iat' claim (issued in the future)",
        ),
        (
            with(&|c| c["exp"] = json!(now + 301)),
            "Invalid 'exp' claim (too long)",
        ),
        (
            with(&|c| c["aud"] = json!("http://127.0.0.1:6061")),
            "Missing or invalid 'aud' claim",
        ),
        (
            with(&|c| c["aud"] = json!("https://127.0.0.1:6060")),
            "Missing or invalid 'aud' claim",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            "Missing or invalid 'aud' claim",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "Missing or invalid 'exp' claim",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("nbf");
            }),
            "Missing or invalid 'nbf' claim",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
            "Missing or invalid 'iat' claim",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "Missing or invalid 'jti' claim",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
            "Missing 'iss' claim",
        ),
        // Signed by the wrong key under quay's kid.
        (
            {
                let t = other.sign(&claims(now, "forged")).unwrap();
                let parts: Vec<&str> = t.split('.').collect();
                let h = b64(json!({"alg": "RS256", "kid": quay.kid})
                    .to_string()
                    .as_bytes());
                format!("{h}.{}.{}", parts[1], parts[2])
            },
            "Invalid JWT signature",
        ),
        (
            raw_token(
                &json!({"alg": "none", "kid": quay.kid}),
                &claims(now, "none"),
                b"",
            ),
            "Invalid JWT signature (algorithm not accepted)",
        ),
        (
            raw_token(
                &json!({"alg": "HS256", "kid": quay.kid}),
                &claims(now, "hs"),
                b"mac",
            ),
            "Invalid JWT signature (algorithm not accepted)",
        ),
        (
            raw_token(&json!({"alg": "RS256"}), &claims(now, "nokid"), b"sig"),
            "Missing 'kid' claim",
        ),
        (
            raw_token(
                &json!({"alg": "RS256", "kid": "no-such-key"}),
                &claims(now, "k"),
                b"sig",
            ),
            "Unknown public key",
        ),
        (old.sign(&claims(now, "old")).unwrap(), "Expired public key"),
        ("not a token".to_string(), "No JWT found"),
    ] {
        assert_eq!(refused(token), format!("{prefix}{want}"));
    }
    // An RSA key may not verify an ES256 token (algorithm confusion).
    let t = {
        let t = ec_sign(&claims(now, "confused"));
        let parts: Vec<&str> = t.split('.').collect();
        let h = b64(json!({"alg": "ES256", "kid": quay.kid})
            .to_string()
            .as_bytes());
        format!("{h}.{}.{}", parts[1], parts[2])
    };
    assert_eq!(refused(t), format!("{prefix}Invalid JWT signature"));
    assert_eq!(reason(v.verify(None, now)), format!("{prefix}No JWT found"));
    // A replayed jti is refused; the first use was accepted.
    let once = quay.sign(&claims(now, "only-once")).unwrap();
    assert_eq!(refused(once.clone()), "accepted");
    assert_eq!(
        refused(once),
        format!("{prefix}Missing or invalid 'jti' claim")
    );
    // Another issuer with a valid key of its own: the static claims verifier refuses it.
    let mut c = claims(now, "other-iss");
    c["iss"] = json!("other");
    assert_eq!(
        refused(other.sign(&c).unwrap()),
        "Error verifying claims: claim 'iss' is \"other\", expected \"quay\""
    );
    // Unknown issuer: its key is looked up under that issuer and not found.
    let mut c = claims(now, "mallory");
    c["iss"] = json!("mallory");
    assert_eq!(
        refused(quay.sign(&c).unwrap()),
        format!("{prefix}Unknown public key")
    );
    // The cache: quay's key was not fetched again by all of the above.
    let gets: Vec<_> = registry
        .log()
        .into_iter()
        .filter(|(m, p, _)| m == "GET" && *p == format!("/keys/services/quay/keys/{}", quay.kid))
        .collect();
    assert_eq!(gets.len(), 1, "{gets:?}");
}

fn rand_suffix() -> String {
    clair_http::jwtproxy::nonce(12)
        .unwrap()
        .replace(['+', '/'], "x")
}

#[test]
fn api_behind_a_verifier() {
    let registry = KeyRegistry::start();
    let quay = SigningKey::generate().unwrap();
    registry.add_approved("quay", quay.jwk.clone());
    let mut state = AppState::new(sqlite(), clair_http::FetchOptions::default()).unwrap();
    state.jwt = Some(Arc::new(verifier(&registry)));
    let srv = start_state(state);
    let url = format!("{}/indexer/api/v1/index_state", srv.api);
    let r = call("GET", &url, &[], None);
    assert_eq!(r.status, 403);
    assert_eq!(r.body, "jwtproxy: unable to verify request: No JWT found");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let now = jiff::Timestamp::now().as_second();
    let token = quay.sign(&claims(now, "api-1")).unwrap();
    let auth = format!("Bearer {token}");
    let r = call("GET", &url, &[("Authorization", &auth)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"state\""));
    // The same token again: replay.
    let r = call("GET", &url, &[("Authorization", &auth)], None);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        "jwtproxy: unable to verify request: Missing or invalid 'jti' claim"
    );
    // jwtproxy also takes the token as a Basic password.
    let token = quay.sign(&claims(now, "api-2")).unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("user:{token}"))
    );
    let r = call(
        "GET",
        &format!("{}/v1/namespaces", srv.api),
        &[("Authorization", &basic)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Health and metrics stay open (they are served on their own listener).
    assert_eq!(
        call("GET", &format!("{}/healthz", srv.intro), &[], None).status,
        200
    );
    assert_eq!(
        call("GET", &format!("{}/metrics", srv.intro), &[], None).status,
        200
    );
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn signer_publishes_waits_for_approval_rotates_and_revokes() {
    let registry = KeyRegistry::start();
    let folder = tempfile::tempdir().unwrap();
    let signer = Arc::new(Signer::new(
        "security_scanner",
        Duration::from_secs(300),
        Duration::from_secs(60),
        32,
    ));
    let keys = AutoKeys {
        signer: signer.clone(),
        registry: RegistryClient::new(&registry.url(), key_client()),
        key_folder: folder.path().to_path_buf(),
        rotate_every: Duration::from_secs(3),
        poll: Duration::from_millis(100),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let t = {
        let stop = stop.clone();
        std::thread::spawn(move || keys.run(&stop))
    };
    // Published self-signed and pending: no key to sign with yet.
    wait_until("the first key", || {
        registry.keys("security_scanner").len() == 1
    });
    let (first, st) = registry.keys("security_scanner")[0].clone();
    assert_eq!(st, KeyState::Pending);
    assert!(signer.authorization("http://quay/secscan/notify").is_err());
    let stored = std::fs::read_to_string(folder.path().join("security_scanner.pem")).unwrap();
    assert!(stored.contains("RSA PRIVATE KEY"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(folder.path().join("security_scanner.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Approved: the signer uses it, and its tokens verify against the registry.
    registry.set_state("security_scanner", &first, KeyState::Approved);
    wait_until("the key in use", || signer.key().is_some());
    assert_eq!(signer.key().unwrap().kid, first);
    let v = Verifier::new(
        "http://quay.example:8080",
        Duration::from_secs(60),
        Duration::from_secs(300),
        Keys::Registry(reader(&registry)),
        vec![],
    )
    .unwrap();
    let auth = signer
        .authorization("http://quay.example:8080/secscan/notify")
        .unwrap();
    let token = auth.strip_prefix("Bearer ").unwrap();
    assert_eq!(
        reason(v.verify(Some(token), jiff::Timestamp::now().as_second())),
        "accepted"
    );
    // The claims jwtproxy's signer sets.
    let c: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(c["iss"], "security_scanner");
    assert_eq!(c["aud"], "http://quay.example:8080");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
    assert_eq!(c["iat"].as_i64().unwrap() - c["nbf"].as_i64().unwrap(), 60);
    assert_eq!(c["jti"].as_str().unwrap().len(), 32);
    // Rotation after rotate_every: a new key published under the old one's signature (the
    // registry approves it and revokes the old), then the old one deleted.
    wait_until("a rotation", || {
        signer.key().is_some_and(|k| k.kid != first)
    });
    let second = signer.key().unwrap().kid.clone();
    wait_until("the old key gone", || {
        !registry
            .keys("security_scanner")
            .iter()
            .any(|(k, _)| *k == first)
    });
    assert!(
        registry
            .keys("security_scanner")
            .contains(&(second.clone(), KeyState::Approved))
    );
    let log = registry.log();
    assert!(
        log.iter()
            .any(|(m, p, c)| m == "PUT" && p.ends_with(&second) && *c == 200),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|(m, p, c)| m == "DELETE" && p.ends_with(&first) && *c == 204),
        "{log:?}"
    );
    stop.store(true, Ordering::SeqCst);
    t.join().unwrap();

    // A restart reuses the stored key while the registry still has it.
    let signer2 = Arc::new(Signer::new(
        "security_scanner",
        Duration::from_secs(300),
        Duration::from_secs(60),
        32,
    ));
    let keys = AutoKeys {
        signer: signer2.clone(),
        registry: RegistryClient::new(&registry.url(), key_client()),
        key_folder: folder.path().to_path_buf(),
        rotate_every: Duration::from_secs(3600),
        poll: Duration::from_millis(100),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let t = {
        let stop = stop.clone();
        std::thread::spawn(move || keys.run(&stop))
    };
    wait_until("the stored key", || signer2.key().is_some());
    assert_eq!(signer2.key().unwrap().kid, second);
    stop.store(true, Ordering::SeqCst);
    t.join().unwrap();
}

#[test]
fn notifier_webhook_is_signed() {
    let registry = KeyRegistry::start();
    registry.set_auto_approve(true);
    let key = Arc::new(SigningKey::generate().unwrap());
    registry.add_approved("security_scanner", key.jwk.clone());
    let signer = Arc::new(Signer::new(
        "security_scanner",
        Duration::from_secs(300),
        Duration::from_secs(60),
        32,
    ));
    signer.set_key(key);
    let store = sqlite();
    store
        .create_notification(clair_service::notify::V1, &json!({}), &[])
        .unwrap();
    let receiver = clair_test::http::TestServer::start();
    receiver.put("/secscan/notify", "ok");
    let s = signer.clone();
    use clair_service::notify::webhook::{Authorize, WebhookV2, WebhookV2Config};
    let hook = WebhookV2::new(WebhookV2Config {
        endpoint: format!("{}/secscan/notify", receiver.url()),
        proxy: None,
        attempts: 1,
        backoff: Duration::from_millis(10),
        renotify: Duration::from_secs(3600),
        authorize: Some(Authorize(Arc::new(move |u: &str| s.authorization(u)))),
        ca_pem: None,
        client_tls: None,
    })
    .unwrap();
    let n = clair_service::notify::Notifier::new(
        clair_http::AppState::new(store.clone(), clair_http::FetchOptions::default()).unwrap(),
        vec![Arc::new(hook)],
        clair_service::notify::Options::default(),
    );
    assert_eq!(n.deliver().unwrap(), 1);
    let seen = receiver.request_headers();
    let auth = seen
        .iter()
        .flat_map(|(_, h)| h.iter())
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .expect("signed");
    // Quay's side: its verifier with audience = its own URL accepts it.
    let v = Verifier::new(
        receiver.url(),
        Duration::from_secs(60),
        Duration::from_secs(300),
        Keys::Registry(reader(&registry)),
        vec![("iss".into(), json!("security_scanner"))],
    )
    .unwrap();
    let token = auth.strip_prefix("Bearer ").unwrap();
    assert_eq!(
        reason(v.verify(Some(token), jiff::Timestamp::now().as_second())),
        "accepted"
    );
}

/// Clair v4.0's `auth.keyserver`: RS256 by (iss, kid) from the key server, `aud` = the
/// request's origin (Host, or Forwarded / X-Forwarded-*), intra-service HS256 tokens with their
/// own key; 401 with an empty body otherwise.
#[test]
fn v4_keyserver_mode() {
    let registry = KeyRegistry::start();
    let quay = SigningKey::generate().unwrap();
    registry.add_approved("quay", quay.jwk.clone());
    let intra = base64::engine::general_purpose::STANDARD.encode(b"intra-service-key");
    let mut state = AppState::new(sqlite(), clair_http::FetchOptions::default()).unwrap();
    state.keyserver = Some(Arc::new(
        clair_http::auth::KeyServerAuth::new(&registry.url(), Some(&intra), key_client()).unwrap(),
    ));
    let srv = start_state(state);
    let url = format!("{}/indexer/api/v1/index_state", srv.api);
    let now = jiff::Timestamp::now().as_second();
    let token = |aud: &str| {
        format!(
            "Bearer {}",
            quay.sign(&json!({"iss": "quay", "aud": aud, "exp": now + 300}))
                .unwrap()
        )
    };
    let r = call("GET", &url, &[], None);
    assert_eq!((r.status, r.body.as_str()), (401, ""));
    let ok = token(&srv.api);
    assert_eq!(
        call("GET", &url, &[("Authorization", &ok)], None).status,
        200
    );
    let elsewhere = token("http://127.0.0.1:1");
    let r = call("GET", &url, &[("Authorization", &elsewhere)], None);
    assert_eq!((r.status, r.body.as_str()), (401, ""), "wrong audience");
    // Behind a proxy: the origin comes from Forwarded, then X-Forwarded-*.
    let proxied = token("https://clair.example.com");
    assert_eq!(
        call(
            "GET",
            &url,
            &[
                ("Authorization", &proxied),
                ("Forwarded", "proto=https;host=clair.example.com")
            ],
            None
        )
        .status,
        200
    );
    assert_eq!(
        call(
            "GET",
            &url,
            &[
                ("Authorization", &proxied),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "clair.example.com")
            ],
            None
        )
        .status,
        200
    );
    // Intra-service: HS256 under the intraservice key.
    let hs = clair_jose::sign_hs256(b"intra-service-key", "clair-intraservice", now);
    let hs_auth = format!("Bearer {hs}");
    assert_eq!(
        call("GET", &url, &[("Authorization", &hs_auth)], None).status,
        200
    );
    // HS256 from anyone else, and an unknown key, are refused.
    let forged = format!(
        "Bearer {}",
        clair_jose::sign_hs256(b"intra-service-key", "quay", now)
    );
    assert_eq!(
        call("GET", &url, &[("Authorization", &forged)], None).status,
        401
    );
    let stranger = SigningKey::generate().unwrap();
    let t = format!(
        "Bearer {}",
        stranger
            .sign(&json!({"iss": "quay", "aud": srv.api, "exp": now + 300}))
            .unwrap()
    );
    assert_eq!(
        call("GET", &url, &[("Authorization", &t)], None).status,
        401
    );
}

/// Random key ids cost one key server request each, whatever the answer (404, 500, no
/// answer); the cache keeps the most recently used answers; requests past the rate are
/// refused without asking; claims that cannot pass are refused before any request.
#[test]
fn key_server_requests_are_bounded() {
    use clair_test::http::{Behavior, TestServer};
    let srv = TestServer::start();
    srv.set("/services/quay/keys/broken", Behavior::Status(500));
    let r = KeyRegistryReader::new(srv.url(), Duration::from_secs(600), key_client());
    // 404 (nothing put there), 500 and an unreadable body: each cached as a refusal.
    srv.put("/services/quay/keys/junk", b"not json".to_vec());
    for kid in ["missing", "broken", "junk"] {
        assert!(r.get("quay", kid).is_err());
        assert!(r.get("quay", kid).is_err());
    }
    assert_eq!(r.fetches(), 3, "one request per key id");
    assert_eq!(srv.hits().len(), 3);

    // No answer at all (nothing listens): cached too.
    let port = clair_test::free_port();
    let dead = KeyRegistryReader::new(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(600),
        key_client(),
    );
    assert!(dead.get("quay", "k").is_err());
    assert!(dead.get("quay", "k").is_err());
    assert_eq!(dead.fetches(), 1);

    // Least recently used goes first; nothing is dropped wholesale.
    let lru = KeyRegistryReader::new(srv.url(), Duration::from_secs(600), key_client())
        .with_limits(3, 1000);
    for kid in ["a", "b", "c", "a", "d", "a", "c", "d"] {
        let _ = lru.get("quay", kid);
    }
    assert_eq!(lru.fetches(), 4, "a, b, c, d: the rest were cached");
    let _ = lru.get("quay", "b");
    assert_eq!(lru.fetches(), 5, "b was the least recently used");
    let _ = lru.get("quay", "d");
    assert_eq!(lru.fetches(), 5, "d stayed");

    // The request rate: past it, unknown keys are refused without asking.
    let slow = KeyRegistryReader::new(srv.url(), Duration::from_secs(600), key_client())
        .with_limits(1000, 5);
    let refused = (0..20)
        .filter(|i| slow.get("quay", &format!("rate-{i}")).is_err())
        .count();
    assert_eq!(refused, 20);
    assert_eq!(slow.fetches(), 5);

    // Claims first: a token that could never pass asks nothing.
    let ks = clair_http::auth::KeyServerAuth::new(srv.url(), None, key_client()).unwrap();
    let now = jiff::Timestamp::now().as_second();
    let header = json!({"alg": "RS256", "kid": "claims-first"});
    for (claims, why) in [
        (
            json!({"iss": "quay", "aud": "http://elsewhere", "exp": now + 60}),
            "audience",
        ),
        (
            json!({"iss": "quay", "aud": AUD, "exp": now - 3600}),
            "expired",
        ),
        (
            json!({"iss": "quay", "aud": AUD, "nbf": now + 3600}),
            "future",
        ),
    ] {
        let e = ks
            .verify(&raw_token(&header, &claims, b"sig"), AUD, now)
            .unwrap_err();
        assert!(e.contains(why), "{why}: {e}");
    }
    assert_eq!(ks.reader().fetches(), 0);
    let ok_claims = json!({"iss": "quay", "aud": AUD, "exp": now + 60});
    assert!(
        ks.verify(&raw_token(&header, &ok_claims, b"sig"), AUD, now)
            .is_err()
    );
    assert_eq!(
        ks.reader().fetches(),
        1,
        "only a token whose claims pass asks"
    );
}
