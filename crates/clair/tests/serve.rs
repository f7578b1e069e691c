//! `clair serve` as a process, with each of Clair's own config files in
//! ../shared/spec/configs unchanged (the database pointed at a private SQLite file through
//! `CLAIR_DATABASE_SOURCE`, listeners moved to free loopback ports): it starts, answers on the
//! API, health and introspection ports, warns about what it does not implement, and stops
//! cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Status, headers, body.
type Answer = (u16, Vec<(String, String)>, String);

fn get(url: &str) -> Option<Answer> {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build(),
    );
    let r = agent.get(url).call().ok()?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r.into_body().read_to_string().unwrap_or_default();
    Some((status, headers, body))
}

struct Serve {
    child: Child,
    api: String,
    health: String,
    intro: String,
}

fn serve(config: &std::path::Path, db: &std::path::Path) -> Serve {
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
    while get(&format!("{}/indexer/api/v1/index_state", s.api)).is_none() {
        assert!(Instant::now() < deadline, "clair serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

fn stop(mut s: Serve) -> String {
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "clair serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    s.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status:?}\n{err}");
    err
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
        let s = serve(&f, &tmp.path().join("clair.db"));
        let (st, headers, body) = get(&format!("{}/health", s.health)).unwrap();
        assert_eq!(st, 200, "{name}");
        assert!(body.is_empty());
        assert!(
            headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("server") && v == "clair"),
            "{name}: {headers:?}"
        );
        let (st, _, body) = get(&format!("{}/indexer/api/v1/index_state", s.api)).unwrap();
        assert_eq!(st, 200, "{name}");
        assert!(body.contains("\"state\""), "{body}");
        assert_eq!(get(&format!("{}/v1/namespaces", s.api)).unwrap().0, 200);
        assert_eq!(get(&format!("{}/healthz", s.intro)).unwrap().0, 200);
        assert_eq!(
            get(&format!("{}/readyz", s.intro)).unwrap().0,
            503,
            "{name}: no data yet"
        );
        let (st, _, metrics) = get(&format!("{}/metrics", s.intro)).unwrap();
        assert_eq!(st, 200);
        assert!(metrics.contains("clair_http_requests_total"), "{metrics}");
        let err = stop(s);
        if name.starts_with("clair-1.2") || name.starts_with("clair-2.0") {
            assert!(
                err.contains("jwtproxy") && err.contains("not implemented"),
                "{name}: the jwtproxy section is reported, not fatal:\n{err}"
            );
        }
        assert!(err.contains("shutting down"), "{name}:\n{err}");
    }
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
