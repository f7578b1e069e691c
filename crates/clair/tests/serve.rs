//! `clair serve` as a process, with each of Clair's own config files in
//! ../shared/spec/configs unchanged (the database pointed at a private SQLite file through
//! `CLAIR_DATABASE_SOURCE`, listeners moved to free loopback ports): it starts, answers on the
//! API, health and introspection ports, enforces the jwtproxy sections (a verifier in front of
//! the API, the signer's keys published to the key registry), and stops cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clair_test::process::SpawnLogged;

use clair_test::free_port;

/// Status, headers, body.
type Answer = (u16, Vec<(String, String)>, String);

fn get(url: &str) -> Option<Answer> {
    get_with(url, None)
}

fn get_with(url: &str, bearer: Option<&str>) -> Option<Answer> {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build(),
    );
    let mut req = agent.get(url);
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let r = req.call().ok()?;
    Some(clair_test::http::read_response(r))
}

struct Serve {
    child: Child,
    api: String,
    health: String,
    intro: String,
}

fn serve_with(
    config: &std::path::Path,
    db: &std::path::Path,
    env: &[(&str, String)],
    args: &[String],
) -> Serve {
    let (a, h, i) = (free_port(), free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["-config"])
        .arg(config)
        .args([
            "serve",
            "--no-updaters",
            "--addr",
            &format!("127.0.0.1:{a}"),
            "--health-addr",
            &format!("127.0.0.1:{h}"),
            "--introspection-addr",
            &format!("127.0.0.1:{i}"),
        ])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("CLAIR_DATABASE_SOURCE", db)
        .env("CLAIR_LOG", "info")
        .env("HOME", "/nonexistent-home-for-tests")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let s = Serve {
        child,
        api: format!("http://127.0.0.1:{a}"),
        health: format!("http://127.0.0.1:{h}"),
        intro: format!("http://127.0.0.1:{i}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    // The introspection port answers "ok: starting" until every listener is bound.
    while get(&format!("{}/healthz", s.intro)).is_none_or(|r| r.2 != "ok\n") {
        assert!(Instant::now() < deadline, "clair serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

fn stop(s: Serve) -> String {
    stop_child(s.child)
}

/// SIGTERM, wait for a clean exit; the process's stderr.
fn stop_child(mut child: Child) -> String {
    let (status, _) = clair_test::sigterm(&mut child, Duration::from_secs(20))
        .expect("clair serve did not stop on SIGTERM");
    let err = stderr_of(&mut child);
    assert!(status.success(), "exit {status:?}\n{err}");
    err
}

/// What an exited child wrote to its piped stderr.
fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

/// `clair` with exactly these arguments and environment (plus a private SQLite database and
/// no CLAIR_LOG), stderr captured.
fn spawn_clair(args: &[&str], env: &[(&str, &str)], db: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(args)
        .env_remove("CLAIR_LOG")
        .env_remove("CLAIR_CONF")
        .env_remove("CLAIR_MODE")
        .envs(env.iter().copied())
        .env("CLAIR_DATABASE_SOURCE", db)
        .env("HOME", "/nonexistent-home-for-tests")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until `url` answers at all.
fn wait_for(url: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(url).is_none() {
        if let Some(st) = child.try_wait().unwrap() {
            let err = stderr_of(child);
            panic!("clair exited ({st:?}) before answering {url}:\n{err}");
        }
        assert!(Instant::now() < deadline, "{url} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn clair_config_files_serve_unchanged() {
    let dir = clair_test::shared().join("spec/configs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "{files:?}");
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let tmp = tempfile::tempdir().unwrap();
        // The jwtproxy sections (Clair 1.2/2.0 files): the key registry they name is a real
        // one on a free port, the signer's key files live in the temporary directory, and the
        // verifier listens on a free port (environment overrides and --verifier-addr; the file
        // is unchanged).
        let registry = clair_test::keyregistry::KeyRegistry::start();
        let quay = clair_http::jwtproxy::SigningKey::generate().unwrap();
        registry.add_approved("quay", quay.jwk.clone());
        let preshared = tmp.path().join("security_scanner.pem");
        std::fs::write(
            &preshared,
            clair_http::jwtproxy::SigningKey::generate().unwrap().pem(),
        )
        .unwrap();
        let vport = free_port();
        let s = serve_with(
            &f,
            &tmp.path().join("clair.db"),
            &[
                ("CLAIR_JWTPROXY_REGISTRY", registry.url()),
                (
                    "CLAIR_JWTPROXY_KEY_FOLDER",
                    tmp.path().join("keys").display().to_string(),
                ),
                (
                    "CLAIR_JWTPROXY_PRIVATE_KEY_PATH",
                    preshared.display().to_string(),
                ),
            ],
            &["--verifier-addr".into(), format!("127.0.0.1:{vport}")],
        );
        if name.starts_with("clair-1.2") || name.starts_with("clair-2.0") {
            let verifier = format!("http://127.0.0.1:{vport}/v1/namespaces");
            let (st, headers, body) = get(&verifier).unwrap();
            assert_eq!(
                (st, body.as_str()),
                (403, "jwtproxy: unable to verify request: No JWT found"),
                "{name}"
            );
            assert!(
                headers
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case("content-type")
                        && v.starts_with("text/plain")),
                "{name}: {headers:?}"
            );
            let now = jiff::Timestamp::now().as_second();
            let claims = |jti: &str| {
                serde_json::json!({"iss": "quay", "aud": "http://127.0.0.1:6060", "iat": now,
                    "nbf": now - 60, "exp": now + 240, "jti": jti})
            };
            let token = quay.sign(&claims("t1")).unwrap();
            let (st, _, body) = get_with(&verifier, Some(&token)).unwrap();
            assert_eq!(st, 200, "{name}: {body}");
            let (st, _, body) = get_with(&verifier, Some(&token)).unwrap();
            assert_eq!(
                (st, body.as_str()),
                (
                    403,
                    "jwtproxy: unable to verify request: Missing or invalid 'jti' claim"
                ),
                "{name}: replay"
            );
            let mut wrong_aud = claims("t2");
            wrong_aud["aud"] = serde_json::json!("http://127.0.0.1:9999");
            let (st, _, _) = get_with(&verifier, Some(&quay.sign(&wrong_aud).unwrap())).unwrap();
            assert_eq!(st, 403, "{name}: audience");
            if name.ends_with("-single.yaml") {
                // Autogenerated signer keys: published to the registry, self-signed.
                let deadline = Instant::now() + Duration::from_secs(20);
                while registry.keys("security_scanner").is_empty() {
                    assert!(Instant::now() < deadline, "{name}: no key published");
                    std::thread::sleep(Duration::from_millis(100));
                }
                assert!(tmp.path().join("keys/security_scanner.pem").is_file());
            } else {
                assert!(
                    registry.keys("security_scanner").is_empty(),
                    "{name}: preshared"
                );
            }
        }
        let (st, headers, body) = get(&format!("{}/health", s.health)).unwrap();
        assert_eq!(st, 200, "{name}");
        assert!(body.is_empty());
        assert!(
            headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("server") && v == "clair"),
            "{name}: {headers:?}"
        );
        // The v4 file configures auth.psk: the API wants a token signed with it.
        let token = name.contains("v4").then(|| {
            use base64::Engine as _;
            let key = base64::engine::general_purpose::STANDARD
                .decode("c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==")
                .unwrap();
            clair_jose::sign_hs256(&key, "quay", jiff::Timestamp::now().as_second())
        });
        if token.is_some() {
            let (st, _, body) = get(&format!("{}/indexer/api/v1/index_state", s.api)).unwrap();
            assert_eq!((st, body.as_str()), (401, ""), "{name}: no token");
        }
        let (st, _, body) = get_with(
            &format!("{}/indexer/api/v1/index_state", s.api),
            token.as_deref(),
        )
        .unwrap();
        assert_eq!(st, 200, "{name}");
        assert!(body.contains("\"state\""), "{body}");
        assert_eq!(
            get_with(&format!("{}/v1/namespaces", s.api), token.as_deref())
                .unwrap()
                .0,
            200
        );
        assert_eq!(get(&format!("{}/healthz", s.intro)).unwrap().0, 200);
        // No updater runs here (--no-updaters): ready once listening, as upstream.
        assert_eq!(
            get(&format!("{}/readyz", s.intro)).unwrap().0,
            200,
            "{name}"
        );
        let (st, _, metrics) = get(&format!("{}/metrics", s.intro)).unwrap();
        assert_eq!(st, 200);
        assert!(metrics.contains("clair_http_requests_total"), "{metrics}");
        let err = stop(s);
        assert!(!err.contains("not implemented"), "{name}:\n{err}");
        assert!(err.contains("shutting down"), "{name}:\n{err}");
    }
}

#[test]
fn no_public_address_without_authentication() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["serve", "--no-updaters", "--addr", "0.0.0.0:0"])
        .env("CLAIR_DATABASE_SOURCE", tmp.path().join("clair.db"))
        .env_remove("CLAIR_CONF")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("without authentication") && err.contains("--insecure-no-auth"),
        "{err}"
    );
}

/// Modes as upstream parses them (case-insensitive, `-mode` or CLAIR_MODE), and a distributed
/// mode without the other services' addresses is refused, naming the missing key.
#[test]
fn modes_are_checked_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "indexer:\n  connstring: i.db\nnotifier:\n  matcher_addr: http://127.0.0.1:1/\n",
    )
    .unwrap();
    let run = |mode_arg: Option<&str>, env: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clair"));
        c.arg("-conf")
            .arg(&cfg)
            .args(["serve", "--addr", "127.0.0.1:0"]);
        if let Some(m) = mode_arg {
            c.args(["-mode", m]);
        }
        match env {
            Some(m) => c.env("CLAIR_MODE", m),
            None => c.env_remove("CLAIR_MODE"),
        };
        let o = c
            .env("CLAIR_DATABASE_SOURCE", tmp.path().join("clair.db"))
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (code, err) = run(Some("both"), None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown mode \"both\""), "{err}");
    let (code, err) = run(Some("Matcher"), None);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("matcher mode needs matcher.indexer_addr") && err.contains("c.yaml"),
        "{err}"
    );
    let (code, err) = run(None, Some("notifier"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("notifier mode needs notifier.indexer_addr"),
        "{err}"
    );
}

#[test]
fn bad_pagination_key_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.yaml");
    std::fs::write(&cfg, "clair:\n  api:\n    paginationkey: not-a-key\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["-config"])
        .arg(&cfg)
        .args(["serve", "--no-updaters", "--addr", "127.0.0.1:0"])
        .env("CLAIR_DATABASE_SOURCE", tmp.path().join("clair.db"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Invalid Pagination key; must be 32-bit URL-safe base64"),
        "{err}"
    );
}

/// The whole loop in one `clair serve` process: the updater loads the feed, an image is indexed,
/// the feed changes, the next update computes the notification, and the webhook reaches a
/// receiver, which reads the notification back through the callback.
/// The headers of the first webhook `receiver` got at `/notify`.
fn webhook_headers(receiver: &clair_test::http::TestServer) -> Vec<(String, String)> {
    receiver
        .request_headers()
        .into_iter()
        .find(|(p, _)| p == "/notify")
        .map(|(_, h)| h)
        .expect("a webhook at /notify")
}

/// The Debian tracker (its first version), served at `/debian/json` of a feed server, and a
/// webhook receiver answering 200 at `/notify`.
fn tracker_feed_and_receiver() -> (
    serde_json::Value,
    clair_test::http::TestServer,
    clair_test::http::TestServer,
) {
    let tracker_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../clair-ecosystems/testdata/match/debian-bookworm-tracker.json");
    let v1: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&tracker_path).unwrap()).unwrap();
    let feeds = clair_test::http::TestServer::start();
    feeds.put("/debian/json", v1.to_string());
    let receiver = clair_test::http::TestServer::start();
    receiver.put("/notify", "ok");
    (v1, feeds, receiver)
}

#[test]
fn feed_change_reaches_the_webhook() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("clair.db");
    let (v1, feeds, receiver) = tracker_feed_and_receiver();
    // The receiver insists on the header the config names (`notifier.webhook.headers`).
    receiver.set(
        "/notify",
        clair_test::http::Behavior::RequireHeader("X-Tenant".into(), "clair-rs".into()),
    );
    let (api, intro) = (free_port(), free_port());
    let cfg = clair_test::config_file!(
        tmp.path(),
        "http_listen_addr: 127.0.0.1:{api}\nintrospection_addr: 127.0.0.1:{intro}\n\
             matcher:\n  period: 1s\n\
             updaters:\n  sets: [debian]\n  config:\n    debian:\n      json_url: {}/debian/json\n\
             notifier:\n  delivery_interval: 1s\n  webhook:\n    target: {}/notify\n    callback: http://127.0.0.1:{api}/notifier/api/v1/notification/\n    headers:\n      X-Tenant: [clair-rs]\n",
        feeds.url(),
        receiver.url()
    );
    // The image is indexed first, into the same database.
    let o = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["index", "-q"])
        .arg(format!(
            "oci:{}:bookworm-minbase",
            clair_test::images("oci").display()
        ))
        .env("CLAIR_DATABASE_SOURCE", &db)
        .output()
        .unwrap();
    clair_test::process::assert_success(&o);
    let mut child = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["-config"])
        .arg(&cfg)
        .arg("serve")
        .env("CLAIR_DATABASE_SOURCE", &db)
        .env("CLAIR_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&format!("http://127.0.0.1:{intro}/readyz")).map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut v2 = v1.clone();
    v2["bash"] = serde_json::json!({"CVE-2099-0100": {"description": "new", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "high"}}}});
    feeds.put("/debian/json", v2.to_string());
    while !receiver
        .hits()
        .iter()
        .any(|(p, c)| p == "/notify" && *c == 200)
    {
        assert!(Instant::now() < deadline, "no webhook");
        std::thread::sleep(Duration::from_millis(200));
    }
    let headers = webhook_headers(&receiver);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v == "application/json")
    );
    clair_test::process::signal(&child, "TERM");
    let status = child.wait().unwrap();
    let err = stderr_of(&mut child);
    assert!(status.success(), "{err}");
    let created = err
        .lines()
        .find(|l| l.contains("notification created"))
        .unwrap_or_else(|| panic!("{err}"));
    let id = created
        .split("id=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(err.contains("notification delivered"), "{err}");
    // Read it back from the database the server used: one added item for the image.
    let store = clair_store::open(&clair_store::StoreOptions {
        source: db.display().to_string(),
        ..clair_store::StoreOptions::default()
    })
    .unwrap();
    let items = store
        .notification_items(id.parse().unwrap(), None, 100)
        .unwrap()
        .items;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].body["reason"], "added");
    assert_eq!(items[0].body["vulnerability"]["name"], "CVE-2099-0100");
}

/// Clair 2's `api.certfile/keyfile/cafile`: the API over TLS, client certificates required;
/// SIGHUP reads new certificates without a restart.
#[test]
fn tls_api_with_client_certificates_reloads_on_sighup() {
    use clair_test::certs;
    let Some((tmp, ca, server)) = certs::ca_and_server("ca", "server", "127.0.0.1") else {
        return;
    };
    let d = tmp.path();
    let quay = certs::leaf(d, &ca, "quay", "quay", true);
    let (cert, key) = (d.join("clair.crt"), d.join("clair.key"));
    std::fs::copy(&server.cert, &cert).unwrap();
    std::fs::copy(&server.key, &key).unwrap();
    let cfg = clair_test::config_file!(
        d,
        "clair:\n  api:\n    port: 6062\n    certfile: {}\n    keyfile: {}\n    cafile: {}\n",
        cert.display(),
        key.display(),
        ca.cert.display()
    );
    let s = serve_with(&cfg, &d.join("clair.db"), &[], &[]);
    let url = format!("{}/v1/namespaces", s.api.replace("http://", "https://"));
    let call = |agent: &ureq::Agent| agent.get(&url).call().map(|r| r.status().as_u16());
    assert_eq!(call(&certs::https_agent(&ca, Some(&quay))).unwrap(), 200);
    assert!(
        call(&certs::https_agent(&ca, None)).is_err(),
        "no client certificate"
    );
    // Plain HTTP gets no answer from a TLS listener.
    assert!(get(&url.replace("https://", "http://")).is_none_or(|(st, _, _)| st >= 400));
    // New certificates from another CA, then SIGHUP.
    let ca2 = certs::ca(d, "ca2");
    let server2 = certs::leaf(d, &ca2, "server2", "127.0.0.1", false);
    std::fs::copy(&server2.cert, &cert).unwrap();
    std::fs::copy(&server2.key, &key).unwrap();
    clair_test::process::signal(&s.child, "HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while call(&certs::https_agent(&ca2, Some(&quay))).is_err() {
        assert!(
            Instant::now() < deadline,
            "new certificate not served after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(call(&certs::https_agent(&ca, Some(&quay))).is_err());
    let err = stop(s);
    assert!(err.contains("TLS certificates reloaded"), "{err}");
}

/// A jwtproxy verifier with `key_file`/`crt_file`: the API over TLS behind registry-signed
/// tokens, with a static claims verifier.
#[test]
fn jwtproxy_verifier_over_tls() {
    use clair_test::certs;
    let Some((tmp, ca, server)) = certs::ca_and_server("ca", "clair", "127.0.0.1") else {
        return;
    };
    let d = tmp.path();
    let registry = clair_test::keyregistry::KeyRegistry::start();
    let quay = clair_http::jwtproxy::SigningKey::generate().unwrap();
    registry.add_approved("quay", quay.jwk.clone());
    registry.add_approved("other", quay.jwk.clone());
    let vport = free_port();
    let cfg = clair_test::config_file!(
        d,
        r#"clair:
  api:
    port: 6062
jwtproxy:
  verifier_proxies:
  - enabled: true
    listen_addr: 127.0.0.1:{vport}
    key_file: {key}
    crt_file: {cert}
    verifier:
      audience: https://127.0.0.1:{vport}
      upstream: http://localhost:6062
      key_server:
        type: keyregistry
        options:
          registry: {registry}
      claims_verifiers:
      - type: static
        options:
          iss: quay
"#,
        key = server.key.display(),
        cert = server.cert.display(),
        registry = registry.url(),
    );
    let s = serve_with(&cfg, &d.join("clair.db"), &[], &[]);
    let agent = certs::https_agent(&ca, None);
    let url = format!("https://127.0.0.1:{vport}/v1/namespaces");
    let call = |token: Option<&str>| {
        let mut req = agent.get(&url);
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let r = req.call().unwrap();
        let st = r.status().as_u16();
        (st, r.into_body().read_to_string().unwrap())
    };
    assert_eq!(
        call(None),
        (
            403,
            "jwtproxy: unable to verify request: No JWT found".to_string()
        )
    );
    let now = jiff::Timestamp::now().as_second();
    let claims = |iss: &str, jti: &str| {
        serde_json::json!({"iss": iss, "aud": format!("https://127.0.0.1:{vport}"), "iat": now,
            "nbf": now - 60, "exp": now + 240, "jti": jti})
    };
    let (st, body) = call(Some(&quay.sign(&claims("quay", "1")).unwrap()));
    assert_eq!(st, 200, "{body}");
    let (st, body) = call(Some(&quay.sign(&claims("other", "2")).unwrap()));
    assert_eq!(st, 403);
    assert!(body.starts_with("Error verifying claims:"), "{body}");
    // Plain HTTP to the TLS verifier gets nothing useful.
    assert!(
        get(&format!("http://127.0.0.1:{vport}/v1/namespaces")).is_none_or(|(st, _, _)| st >= 400)
    );
    stop(s);
}

/// Clair v2's image runs `clair -config /config/config.yaml -log-level …`: no `serve`. A Clair
/// v2 file has no authentication and listens on every interface (the jwtproxy, or klar on a
/// private network, is the deployment's business): served as asked, with a loud warning and a
/// metric. The log level flag works. (Refused before: the deployment did not come up.)
#[test]
fn clair_v2_command_line_serves_an_open_api_as_its_config_asks() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, h) = (free_port(), free_port());
    let cfg = clair_test::config_file!(
        tmp.path(),
        "clair:\n  api:\n    port: {a}\n    healthport: {h}\n  updater:\n    interval: 0s\n"
    );
    let cfg = cfg.display().to_string();
    let mut child = spawn_clair(
        &["-config", &cfg, "-log-level", "debug"],
        &[],
        &tmp.path().join("clair.db"),
    );
    wait_for(&format!("http://127.0.0.1:{h}/health"), &mut child);
    let (st, _, body) = get(&format!("http://127.0.0.1:{a}/v1/namespaces")).unwrap();
    assert_eq!(st, 200, "{body}");
    let (_, _, metrics) = get(&format!("http://127.0.0.1:{a}/v1/metrics")).unwrap();
    assert!(
        metrics.contains("\nclair_api_unauthenticated_public 1\n"),
        "{metrics}"
    );
    let err = stop_child(child);
    assert!(err.contains("WITHOUT AUTHENTICATION"), "{err}");
    assert!(err.contains(&format!("0.0.0.0:{a}")), "{err}");
    // -log-level debug: debug lines (the default is warnings only).
    assert!(err.contains("database open"), "{err}");
}

/// Clair v4's image runs `clair -conf FILE -mode combo` (or sets CLAIR_CONF and CLAIR_MODE),
/// and keeps secrets in `config.yaml.d/` drop-ins: the PSK there is enforced (it used to be
/// silently ignored, leaving the API open), `config check` lists the drop-in, and `/readyz`
/// says ready with no updater running (it stayed 503 forever).
#[test]
fn clair_v4_command_lines_and_dropins() {
    use base64::Engine as _;
    let tmp = tempfile::tempdir().unwrap();
    let (a, i) = (free_port(), free_port());
    let cfg = clair_test::config_file!(
        tmp.path(),
        "http_listen_addr: 127.0.0.1:{a}\nintrospection_addr: 127.0.0.1:{i}\n\
             log_level: info\nmatcher:\n  disable_updaters: true\n"
    );
    let dropins = tmp.path().join("config.yaml.d");
    std::fs::create_dir(&dropins).unwrap();
    let key = b"a key kept in a drop-in";
    std::fs::write(
        dropins.join("secret.yaml"),
        format!(
            "auth:\n  psk:\n    key: {}\n    iss: [quay]\n",
            base64::engine::general_purpose::STANDARD.encode(key)
        ),
    )
    .unwrap();
    std::fs::write(
        dropins.join("zz-level.yaml-patch"),
        "- op: replace\n  path: /log_level\n  value: debug\n",
    )
    .unwrap();
    let db = tmp.path().join("clair.db");
    let cfg_s = cfg.display().to_string();
    let state_url = format!("http://127.0.0.1:{a}/indexer/api/v1/index_state");
    let check = |mut child: Child| {
        // The API itself (the introspection listener answers while the server starts).
        wait_for(&state_url, &mut child);
        let (st, _, body) = get(&state_url).unwrap();
        assert_eq!((st, body.as_str()), (401, ""), "the drop-in's PSK");
        let token = clair_jose::sign_hs256(key, "quay", jiff::Timestamp::now().as_second());
        let (st, headers, body) = get_with(&state_url, Some(&token)).unwrap();
        assert_eq!(st, 200, "{body}");
        assert!(
            headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("content-type")
                    && v == "application/vnd.clair.index_state.v1+json"),
            "{headers:?}"
        );
        // Ready once every listener is bound, with no updater to wait for.
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(&format!("http://127.0.0.1:{i}/readyz")).unwrap().0 != 200 {
            assert!(Instant::now() < deadline, "/readyz never 200");
            std::thread::sleep(Duration::from_millis(100));
        }
        let err = stop_child(child);
        // log_level from the file, replaced by the drop-in's patch: debug lines.
        assert!(err.contains("database open"), "{err}");
        assert!(!err.contains("WITHOUT AUTHENTICATION"), "{err}");
    };
    check(spawn_clair(&["-conf", &cfg_s, "-mode", "combo"], &[], &db));
    check(spawn_clair(
        &[],
        &[("CLAIR_CONF", &cfg_s), ("CLAIR_MODE", "combo")],
        &db,
    ));
    // A distributed mode from the same command line: the indexer serves its part only.
    let mut child = spawn_clair(&["-conf", &cfg_s, "-mode", "indexer"], &[], &db);
    wait_for(&state_url, &mut child);
    let token = clair_jose::sign_hs256(key, "quay", jiff::Timestamp::now().as_second());
    assert_eq!(get_with(&state_url, Some(&token)).unwrap().0, 200);
    let ops = format!("http://127.0.0.1:{a}/matcher/api/v1/internal/update_operation");
    assert_eq!(get_with(&ops, Some(&token)).unwrap().0, 404);
    let err = stop_child(child);
    assert!(err.contains("mode=indexer"), "{err}");
    // `config check` shows the merged result and names the drop-ins.
    let o = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["config", "check", "-f", "json", &cfg_s])
        .env_remove("CLAIR_DATABASE_SOURCE")
        .output()
        .unwrap();
    clair_test::process::assert_success(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["dropins"],
        serde_json::json!([
            dropins.join("secret.yaml").display().to_string(),
            dropins.join("zz-level.yaml-patch").display().to_string()
        ])
    );
    assert_eq!(v["config"]["psk"]["iss"], serde_json::json!(["quay"]));
    assert_eq!(v["config"]["psk"]["key"], "<redacted>");
    assert!(!out.contains(&base64::engine::general_purpose::STANDARD.encode(key)));
    let o = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["config", "check", &cfg_s])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "Drop-in: {}",
            dropins.join("secret.yaml").display()
        )),
        "{text}"
    );
}

/// `auth.psk.key` of the distributed deployment (base64 of "secret-key-for-tests-only").
const PSK: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==";

/// What Quay sends: an HS256 token from issuer `quay` under the pre-shared key.
fn quay_token() -> String {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(PSK)
        .unwrap();
    clair_jose::sign_hs256(&key, "quay", jiff::Timestamp::now().as_second())
}

/// A request with Quay's token: status and body.
fn send(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    );
    let auth = format!("Bearer {}", quay_token());
    let r = match (method, body) {
        ("POST", Some(b)) => agent
            .post(url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b),
        ("DELETE", _) => agent.delete(url).header("Authorization", &auth).call(),
        _ => agent.get(url).header("Authorization", &auth).call(),
    }
    .unwrap();
    let status = r.status().as_u16();
    (status, r.into_body().read_to_string().unwrap_or_default())
}

/// One `clair -conf FILE serve -mode M` process of the distributed deployment (the notifier's
/// mode from CLAIR_MODE, as Clair's container images set it), logging to a file; killed when
/// dropped (a failed assertion leaves nothing running).
struct Service {
    child: Child,
    mode: String,
    api: String,
    log: std::path::PathBuf,
}

impl Service {
    fn start(cfg: &std::path::Path, mode: &str, api: u16) -> Service {
        let intro = free_port();
        let log = cfg.with_file_name(format!("{mode}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clair"));
        cmd.arg("-conf").arg(cfg).arg("serve");
        if mode == "notifier" {
            cmd.env("CLAIR_MODE", mode);
        } else {
            cmd.args(["-mode", mode]);
        }
        let child = cmd
            .args([
                "--addr",
                &format!("127.0.0.1:{api}"),
                "--introspection-addr",
                &format!("127.0.0.1:{intro}"),
            ])
            .env_remove("CLAIR_DATABASE_SOURCE")
            .env("CLAIR_LOG", "info")
            .env("HOME", "/nonexistent-home-for-tests")
            .spawn_logged(&log);
        let s = Service {
            child,
            mode: mode.into(),
            api: format!("http://127.0.0.1:{api}"),
            log,
        };
        // The introspection listener answers while the database is awaited; the API once
        // the store is open.
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&format!("http://127.0.0.1:{api}/robots.txt")).is_none() {
            assert!(
                Instant::now() < deadline,
                "clair serve -mode {mode} did not start\n{}",
                s.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn logs(&self) -> String {
        format!(
            "--- {} ---\n{}",
            self.mode,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// SIGTERM; the exit must be clean. Returns the log.
    fn stop(mut self) -> String {
        let Some((status, _)) = clair_test::sigterm(&mut self.child, Duration::from_secs(20))
        else {
            panic!("did not stop on SIGTERM\n{}", self.logs());
        };
        assert!(status.success(), "exit {status:?}\n{}", self.logs());
        self.logs()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Clair v4's distributed deployment as three processes, each on its own database (its config
/// section's `connstring`), calling each other with PSK intra-service tokens: Quay indexes an
/// image at the indexer (layers from 127.0.0.1), reads the vulnerability report from the
/// matcher (which asks the indexer for the index report), the feed changes, the matcher's
/// updater stores the new operation, the notifier polls it, asks the indexer which manifests it
/// affects, and delivers a signed webhook whose page lists the manifest. Each service answers
/// 404 for the others' routes.
fn distributed(databases: [String; 3]) {
    let tmp = tempfile::tempdir().unwrap();
    let (v1, feeds, receiver) = tracker_feed_and_receiver();
    // The layers of the bookworm-layered image, served as a registry would.
    let oci = clair_test::images("oci");
    let hash = "sha256:fe5c5314bcf84e2b6cc30d63a6e284af7efa42d9f352b5b55bf04225069fd9ac";
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(oci.join("blobs/sha256").join(&hash[7..])).unwrap())
            .unwrap();
    let blobs = clair_test::http::TestServer::start();
    let mut layers = Vec::new();
    for l in m["layers"].as_array().unwrap() {
        let d = l["digest"].as_str().unwrap();
        blobs.put(
            &format!("/blobs/{d}"),
            std::fs::read(oci.join("blobs/sha256").join(&d[7..])).unwrap(),
        );
        layers.push(serde_json::json!({"hash": d, "uri": format!("{}/blobs/{d}", blobs.url()), "headers": {}}));
    }
    let manifest = serde_json::json!({"hash": hash, "layers": layers}).to_string();

    let (ip, mp, np) = (free_port(), free_port(), free_port());
    let cfg = tmp.path().join("config.yaml");
    let [idb, mdb, ndb] = &databases;
    std::fs::write(
        &cfg,
        format!(
            "http_listen_addr: :6060\n\
             indexer:\n  connstring: {idb}\n\
             matcher:\n  connstring: {mdb}\n  indexer_addr: http://127.0.0.1:{ip}/\n  period: 1s\n\
             notifier:\n  connstring: {ndb}\n  indexer_addr: http://127.0.0.1:{ip}/\n  \
             matcher_addr: http://127.0.0.1:{mp}/\n  poll_interval: 1s\n  delivery_interval: 1s\n  \
             webhook:\n    target: {}/notify\n    callback: http://127.0.0.1:{np}/notifier/api/v1/notification/\n\
             updaters:\n  sets: [debian]\n  config:\n    debian:\n      json_url: {}/debian/json\n\
             auth:\n  psk:\n    key: {PSK}\n    iss: [quay]\n",
            receiver.url(),
            feeds.url(),
        ),
    )
    .unwrap();
    let indexer = Service::start(&cfg, "indexer", ip);
    let matcher = Service::start(&cfg, "matcher", mp);
    let notifier = Service::start(&cfg, "notifier", np);
    let all_logs = || {
        [&indexer, &matcher, &notifier]
            .map(Service::logs)
            .join("\n")
    };

    // The matcher's first update.
    let deadline = Instant::now() + Duration::from_secs(90);
    let ops_url = format!("{}/matcher/api/v1/internal/update_operation", matcher.api);
    while !send("GET", &ops_url, None).1.contains("\"debian\"") {
        assert!(
            Instant::now() < deadline,
            "the matcher never updated\n{}",
            all_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (st, body) = send(
        "POST",
        &format!("{}/indexer/api/v1/index_report", indexer.api),
        Some(&manifest),
    );
    assert_eq!(st, 201, "{body}");
    assert!(body.contains("\"IndexFinished\""), "{body}");
    let report_url = format!("{}/matcher/api/v1/vulnerability_report/{hash}", matcher.api);
    let (st, body) = send("GET", &report_url, None);
    assert_eq!(st, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        !report["vulnerabilities"].as_object().unwrap().is_empty(),
        "{body}"
    );

    // The feed changes: a new bash issue.
    let mut v2 = v1.clone();
    v2["bash"] = serde_json::json!({"CVE-2099-0100": {"description": "new", "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "5.2.15-2+b9"}, "urgency": "high"}}}});
    feeds.put("/debian/json", v2.to_string());
    let hook = loop {
        if let Some((_, b)) = receiver
            .request_bodies()
            .into_iter()
            .find(|(p, _)| p == "/notify")
        {
            break serde_json::from_slice::<serde_json::Value>(&b).unwrap();
        }
        assert!(Instant::now() < deadline, "no webhook\n{}", all_logs());
        std::thread::sleep(Duration::from_millis(200));
    };
    let headers = webhook_headers(&receiver);
    let jwt = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim_start_matches("Bearer ").to_string())
        .expect("a signed webhook");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwt.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "clair-notifier");
    let id = hook["notification_id"].as_str().unwrap().to_string();
    let callback = hook["callback"].as_str().unwrap();
    assert_eq!(
        callback,
        format!("http://127.0.0.1:{np}/notifier/api/v1/notification/{id}")
    );
    let (st, body) = send("GET", callback, None);
    assert_eq!(st, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = page["notifications"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["manifest"], hash);
    assert_eq!(items[0]["reason"], "added");
    assert_eq!(items[0]["vulnerability"]["name"], "CVE-2099-0100");
    assert_eq!(send("DELETE", callback, None).0, 200);

    // Each service serves its part only.
    for (s, path) in [
        (
            &indexer,
            format!("/matcher/api/v1/vulnerability_report/{hash}"),
        ),
        (&indexer, format!("/notifier/api/v1/notification/{id}")),
        (&indexer, "/v1/namespaces".to_string()),
        (&matcher, format!("/indexer/api/v1/index_report/{hash}")),
        (&matcher, format!("/notifier/api/v1/notification/{id}")),
        (&notifier, "/indexer/api/v1/index_state".to_string()),
        (
            &notifier,
            "/matcher/api/v1/internal/update_operation".to_string(),
        ),
    ] {
        assert_eq!(
            send("GET", &format!("{}{path}", s.api), None).0,
            404,
            "{} {path}",
            s.api
        );
    }
    for (s, path) in [
        (&indexer, format!("/indexer/api/v1/index_report/{hash}")),
        (
            &matcher,
            "/matcher/api/v1/internal/update_operation".to_string(),
        ),
    ] {
        assert_eq!(
            send("GET", &format!("{}{path}", s.api), None).0,
            200,
            "{} {path}",
            s.api
        );
    }
    let logs = [indexer.stop(), matcher.stop(), notifier.stop()];
    assert!(logs[1].contains("mode=matcher"), "{}", logs[1]);
    assert!(logs[2].contains("notification delivered"), "{}", logs[2]);

    // Each kept its own data in its own database.
    let open = |source: &str| {
        clair_store::open(&clair_store::StoreOptions {
            source: source.to_string(),
            ..clair_store::StoreOptions::default()
        })
        .unwrap()
    };
    let kind = clair_store::OpKind::Vulnerability;
    let (i, m, n) = (open(idb), open(mdb), open(ndb));
    assert_eq!(i.manifests().unwrap().len(), 1);
    assert!(i.update_operations(kind, None).unwrap().is_empty());
    assert!(m.manifests().unwrap().is_empty());
    assert_eq!(m.update_operations(kind, Some("debian")).unwrap().len(), 2);
    assert!(n.manifests().unwrap().is_empty());
    assert!(n.update_operations(kind, None).unwrap().is_empty());
    assert!(n.notification(id.parse().unwrap()).unwrap().is_some());
    // Only the notifier computed notifications: its cursor is at the matcher's newest
    // operation; the matcher's own jobs wait untouched.
    let newest = m.update_operations(kind, Some("debian")).unwrap()[0].id;
    assert_eq!(n.notified_operation("debian").unwrap(), Some(newest));
    assert_eq!(m.notification_jobs(10).unwrap().len(), 2);
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365);
    for store in [&i, &m] {
        assert!(
            store
                .notifications_due(&["v4", "v1"], later, 10)
                .unwrap()
                .is_empty()
        );
    }
    assert!(!logs[1].contains("notification created"), "{}", logs[1]);
}

#[test]
fn distributed_services_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    distributed(
        ["indexer", "matcher", "notifier"]
            .map(|s| tmp.path().join(format!("{s}.db")).display().to_string()),
    );
}

#[test]
fn distributed_services_postgres() {
    let Some(pg) = clair_test::postgres::skip_or_fail() else {
        return;
    };
    distributed([(); 3].map(|_| pg.create_database()));
}

/// A config full of secrets: none of them appears in `clair config check` (text or JSON), in
/// an error message, or in any log line of `clair serve` at trace level while it refuses a
/// token and fails to fetch a layer whose URL carries credentials.
#[test]
fn secrets_stay_out_of_output_and_logs() {
    use base64::Engine as _;
    let tmp = tempfile::tempdir().unwrap();
    let psk = b"PskSecretBytes-0001";
    let psk_b64 = base64::engine::general_purpose::STANDARD.encode(psk);
    let secrets = [
        psk_b64.as_str(),
        "PgPassSecret1",
        "Ssl Pass 2",
        "UrlPassSecret3",
        "QueryPassSecret4",
        "HookPassSecret5",
        "HookTokenSecret6",
        "HeaderSecret7",
        "LayerPassSecret8",
        "SigSecret9",
        "EnvDbPassSecret10",
    ];
    let cfg = tmp.path().join("secrets.yaml");
    std::fs::write(
        &cfg,
        format!(
            "http_listen_addr: \":6060\"\n\
             indexer:\n  connstring: host=127.0.0.1 port=1 user=clair password=PgPassSecret1 sslpassword='Ssl Pass 2' dbname=clair\n\
             matcher:\n  connstring: postgresql://clair:UrlPassSecret3@127.0.0.1:1/clair?password=QueryPassSecret4\n  period: 6h\n\
             notifier:\n  connstring: host=127.0.0.1 password=PgPassSecret1\n  webhook:\n    target: http://hook:HookPassSecret5@127.0.0.1:1/notify?token=HookTokenSecret6\n    callback: http://127.0.0.1:6060/notifier/api/v1/notification/\n    headers:\n      X-Api-Key: [HeaderSecret7]\n\
             auth:\n  psk:\n    key: \"{psk_b64}\"\n    iss: [quay]\n"
        ),
    )
    .unwrap();
    let leaks = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s:?}:\n{text}");
        }
    };

    for format in ["text", "json"] {
        let o = Command::new(env!("CARGO_BIN_EXE_clair"))
            .args(["-v", "-v", "-v", "config", "check", "-f", format])
            .arg(&cfg)
            .env(
                "CLAIR_DATABASE_SOURCE",
                "postgresql://clair:EnvDbPassSecret10@db.example/clair",
            )
            .output()
            .unwrap();
        clair_test::process::assert_success(&o);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("<redacted>"), "{out}");
        assert!(out.contains("X-Api-Key"), "header names stay: {out}");
        leaks("config check", &out);
        leaks("config check's log", &String::from_utf8_lossy(&o.stderr));
    }

    // Log lines that name the database source: serve waits for an unreachable PostgreSQL,
    // saying so at each attempt, until it is stopped.
    let child = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["-config"])
        .arg(&cfg)
        .args(["serve", "--no-updaters", "--addr", "127.0.0.1:0"])
        .args(["--introspection-addr", "127.0.0.1:0"])
        .env(
            "CLAIR_DATABASE_SOURCE",
            "postgresql://clair:EnvDbPassSecret10@127.0.0.1:1/clair?connect_timeout=1",
        )
        .env("CLAIR_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let o = {
        let mut child = child;
        let _ = child.kill();
        child.wait_with_output().unwrap()
    };
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("database not reachable yet"), "{log}");
    leaks("a waiting start", &log);

    let s = serve_with(
        &cfg,
        &tmp.path().join("clair.db"),
        &[("CLAIR_LOG", "trace".to_string())],
        &[],
    );
    let token = clair_jose::sign_hs256(psk, "quay", jiff::Timestamp::now().as_second());
    let call = |token: Option<&str>, body: &str| {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        let mut req = agent.post(&format!("{}/indexer/api/v1/index_report", s.api));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let r = req.send(body).unwrap();
        (
            r.status().as_u16(),
            r.into_body().read_to_string().unwrap_or_default(),
        )
    };
    let digest = format!("sha256:{}", "ab".repeat(32));
    let body = serde_json::json!({"hash": digest, "layers": [{"hash": format!("sha256:{}", "cd".repeat(32)),
        "uri": format!("http://user:LayerPassSecret8@127.0.0.1:{}/blob?X-Amz-Signature=SigSecret9", free_port()),
        "headers": {"Authorization": ["Bearer HeaderSecret7"]}}]})
    .to_string();
    assert_eq!(call(Some("not.a.token"), &body).0, 401);
    let (status, report) = call(Some(&token), &body);
    leaks("an index report", &report);
    // The fetch fails (nothing listens there): the stored IndexError report, as upstream.
    assert_eq!(status, 500, "{report}");
    assert!(report.contains("127.0.0.1"), "{report}");
    let log = stop(s);
    assert!(!log.is_empty(), "trace logging wrote nothing");
    leaks("the server's log", &log);
}
