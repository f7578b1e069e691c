//! Faults, with real processes and a real PostgreSQL (a cluster of each test's own, so it can be
//! killed and restarted): `clair serve` started before its database waits for it; PostgreSQL
//! restarted while an image is indexed or an update is stored (requests fail cleanly, retries
//! succeed, nothing partial is stored); SIGTERM while updaters fetch from a server that never
//! answers (the process exits within 5 s, nothing half-stored).
//!
//! Without PostgreSQL the PostgreSQL cases print why and skip, except with `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clair_store::{OpKind, Store, StoreOptions};
use clair_test::free_port;
use clair_test::http::{Behavior, StalledServer, TestServer};
use clair_test::postgres::TestPostgres;

/// A `clair serve` process whose log is collected as it comes.
struct Serve {
    child: Child,
    api: String,
    intro: String,
    log: Arc<Mutex<String>>,
}

impl Serve {
    /// `clair [pre...] serve --addr … --introspection-addr … [args...]`.
    fn start(pre: &[&str], args: &[&str], env: &[(&str, &str)]) -> Serve {
        let (a, i) = (free_port(), free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_clair"))
            .args(pre)
            .arg("serve")
            .args([
                "--addr",
                &format!("127.0.0.1:{a}"),
                "--introspection-addr",
                &format!("127.0.0.1:{i}"),
            ])
            .args(args)
            .envs(env.iter().copied())
            .env("CLAIR_LOG", "info")
            .env("HOME", "/nonexistent-home-for-tests")
            .env_remove("CLAIR_CONF")
            .env_remove("CLAIR_DATABASE_SOURCE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        {
            let log = log.clone();
            let err = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        Serve {
            child,
            api: format!("http://127.0.0.1:{a}"),
            intro: format!("http://127.0.0.1:{i}"),
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait until the log has `n` lines containing `what`.
    fn wait_log(&mut self, what: &str, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.log().matches(what).count() < n {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!(
                    "clair serve exited ({st}) before logging {what:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM; the exit status and how long it took.
    fn terminate(mut self) -> (ExitStatus, Duration, String) {
        let Some((status, took)) = clair_test::sigterm(&mut self.child, Duration::from_secs(30))
        else {
            panic!("clair serve did not exit on SIGTERM:\n{}", self.log());
        };
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        (status, took, self.log())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status and body.
fn http(method: &str, url: &str, body: Option<&str>) -> Option<(u16, String)> {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    );
    let r = match (method, body) {
        ("POST", Some(b)) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(b),
        _ => agent.get(url).call(),
    };
    let r = r.ok()?;
    let status = r.status().as_u16();
    Some((status, r.into_body().read_to_string().unwrap_or_default()))
}

impl Serve {
    /// GET `url` until it answers `want`; its body.
    fn wait_status(&self, url: &str, want: u16, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let got = http("GET", url, None);
            if let Some((s, body)) = &got
                && *s == want
            {
                return body.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{url}: {got:?}, want {want}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A PostgreSQL cluster of this test's own (killing the shared one would break other tests);
/// None when skipping.
fn own_postgres() -> Option<TestPostgres> {
    clair_test::postgres::skip_or_fail()?;
    let pg = TestPostgres::start().unwrap();
    if !pg.is_local() {
        eprintln!(
            "SKIPPED: CLAIR_TEST_DATABASE_URL is an external server, which a test must not kill"
        );
        return None;
    }
    Some(pg)
}

fn open(source: &str) -> Arc<dyn Store> {
    clair_store::open(&StoreOptions {
        source: source.to_string(),
        ..StoreOptions::default()
    })
    .unwrap()
}

fn debian_ops(s: &dyn Store) -> Vec<clair_store::UpdateOperation> {
    s.update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap()
}

/// A Debian security tracker document with `packages` × 2 records for bookworm.
fn big_tracker(packages: usize) -> (String, usize) {
    let mut m = serde_json::Map::new();
    for p in 0..packages {
        let mut cves = serde_json::Map::new();
        for c in 0..2 {
            cves.insert(
                format!("CVE-2099-{p:05}{c}"),
                serde_json::json!({
                    "description": "a made-up issue, for size",
                    "releases": {"bookworm": {"status": "resolved", "repositories": {"bookworm": "1.0-2"},
                                               "fixed_version": "1.0-2", "urgency": "medium"}}
                }),
            );
        }
        m.insert(format!("pkg{p}"), serde_json::Value::Object(cves));
    }
    (serde_json::Value::Object(m).to_string(), packages * 2)
}

/// `clair serve` started while PostgreSQL is down: it logs each attempt, `/healthz` answers,
/// `/readyz` says not ready; once PostgreSQL is up it connects and becomes ready. A database
/// that answers with an error is not waited for.
#[test]
fn serve_waits_for_postgresql() {
    let Some(pg) = own_postgres() else { return };
    let url = pg.create_database();
    // Some vulnerability data, so that "ready" is reachable with the updaters off.
    open(&url)
        .update_vulnerabilities(
            "debian",
            "fp",
            &mut std::iter::once(Ok(clair_types::Vulnerability {
                updater: "debian".into(),
                name: "CVE-2099-1".into(),
                namespace: "debian:12".into(),
                package_name: "bash".into(),
                version_scheme: "dpkg".into(),
                ..Default::default()
            })),
        )
        .unwrap();
    pg.kill();

    let mut s = Serve::start(&["--db", &url], &["--no-updaters"], &[]);
    s.wait_log(
        "database not reachable yet, waiting",
        2,
        Duration::from_secs(20),
    );
    assert_eq!(
        s.wait_status(&format!("{}/healthz", s.intro), 200, Duration::from_secs(5)),
        "ok: starting\n"
    );
    let body = s.wait_status(&format!("{}/readyz", s.intro), 503, Duration::from_secs(5));
    assert!(body.contains("not ready"), "{body}");
    assert!(s.log().contains("attempt=2"), "{}", s.log());

    pg.restart();
    s.wait_status(&format!("{}/readyz", s.intro), 200, Duration::from_secs(40));
    assert!(s.log().contains("database open"), "{}", s.log());
    let (status, took, log) = s.terminate();
    assert!(status.success(), "{status}\n{log}");
    assert!(took < Duration::from_secs(5), "{took:?}\n{log}");

    // Answered with an error (here: TLS required, the server has none): no waiting.
    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args([
            "--db",
            &url.replace("sslmode=disable", "sslmode=require"),
            "serve",
            "--no-updaters",
            "--addr",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .env_remove("CLAIR_CONF")
        .env_remove("CLAIR_DATABASE_SOURCE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("does not support TLS"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

/// SIGTERM while every updater but one waits on a server that never answers, and the one
/// (Debian) is storing a large feed: the process exits within 5 s; Debian's update is stored
/// whole or not at all; the stalled updaters stored nothing.
#[test]
fn sigterm_while_updaters_fetch_from_a_stalled_server_exits_within_5s() {
    let tmp = tempfile::tempdir().unwrap();
    sigterm_with_stalled_updaters(&tmp.path().join("clair.db").display().to_string());
}

/// The same on PostgreSQL (the updaters' locks are held on watched connections).
#[test]
fn sigterm_while_updaters_fetch_exits_within_5s_on_postgresql() {
    let Some(pg) = clair_test::postgres::skip_or_fail() else {
        return;
    };
    sigterm_with_stalled_updaters(&pg.create_database());
}

fn sigterm_with_stalled_updaters(db_arg: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let stalled = StalledServer::start();
    let feeds = TestServer::start();
    let (tracker, records) = big_tracker(40_000);
    feeds.put("/debian/json", tracker);
    let st = stalled.url();
    let cfg = clair_test::config_file!(
        tmp.path(),
        "matcher:\n  period: 1h\n\
             updaters:\n  sets: [debian, oracle, epss, kev, ubuntu, photon]\n  config:\n\
             \x20   debian: {{json_url: {}/debian/json}}\n\
             \x20   oracle: {{url: {st}/oracle.xml.bz2}}\n\
             \x20   epss: {{url: {st}/epss.csv.gz}}\n\
             \x20   kev: {{url: {st}/kev.json}}\n\
             \x20   ubuntu: {{url: {st}/ubuntu/}}\n\
             \x20   photon: {{url: {st}/photon/}}\n",
        feeds.url()
    );
    let s = Serve::start(
        &["--db", db_arg, "-config", cfg.to_str().unwrap()],
        &[],
        &[],
    );
    // Every stalled updater has a request hanging, and Debian's feed was served.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stalled.accepted() < 3
        || !feeds
            .hits()
            .iter()
            .any(|(p, c)| p == "/debian/json" && *c == 200)
    {
        assert!(
            Instant::now() < deadline,
            "updaters never fetched ({} stalled)\n{}",
            stalled.accepted(),
            s.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (status, took, log) = s.terminate();
    assert!(status.success(), "{status}\n{log}");
    assert!(
        took < Duration::from_secs(5),
        "exit took {took:?} after SIGTERM\n{log}"
    );
    assert!(log.contains("stopped: cancelled"), "{log}");
    eprintln!("exited {took:?} after SIGTERM");

    let store = open(db_arg);
    let ops = debian_ops(store.as_ref());
    assert!(ops.len() <= 1, "{ops:?}");
    eprintln!(
        "debian: {}",
        if ops.is_empty() {
            "rolled back"
        } else {
            "stored before the signal"
        }
    );
    if let Some(op) = ops.first() {
        assert_eq!(
            store.vulnerabilities(op.id).unwrap().len(),
            records,
            "whole or nothing"
        );
    }
    for u in ["oracle", "epss", "kev", "ubuntu", "photon"] {
        let kind = if matches!(u, "epss" | "kev") {
            OpKind::Enrichment
        } else {
            OpKind::Vulnerability
        };
        assert!(
            store.update_operations(kind, Some(u)).unwrap().is_empty(),
            "{u}"
        );
    }
}

/// PostgreSQL dies while `clair serve` indexes an image (its layers are being downloaded):
/// the request fails with a JSON 500, requests while it is down fail promptly, no report is
/// left behind; after the restart the same request succeeds.
#[test]
fn postgresql_restart_during_indexing() {
    let Some(pg) = own_postgres() else { return };
    let url = pg.create_database();
    let oci = clair_test::images("oci");
    let manifest = "sha256:fe5c5314bcf84e2b6cc30d63a6e284af7efa42d9f352b5b55bf04225069fd9ac";
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(oci.join("blobs/sha256").join(&manifest[7..])).unwrap(),
    )
    .unwrap();
    let layers: Vec<String> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    let blobs = TestServer::start();
    for d in &layers {
        let p = format!("/blobs/{d}");
        blobs.put(
            &p,
            std::fs::read(oci.join("blobs/sha256").join(&d[7..])).unwrap(),
        );
        blobs.set(&p, Behavior::Stall(Duration::from_secs(3)));
    }
    let body = serde_json::json!({
        "hash": manifest,
        "layers": layers.iter().map(|d| serde_json::json!({
            "hash": d, "uri": format!("{}/blobs/{d}", blobs.url()), "headers": {}
        })).collect::<Vec<_>>(),
    })
    .to_string();

    let mut s = Serve::start(&["--db", &url], &["--no-updaters"], &[]);
    s.wait_log("listening", 2, Duration::from_secs(30));
    let post = {
        let (api, body) = (s.api.clone(), body.clone());
        std::thread::spawn(move || {
            http(
                "POST",
                &format!("{api}/indexer/api/v1/index_report"),
                Some(&body),
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while blobs.request_headers().is_empty() {
        assert!(Instant::now() < deadline, "no layer requested\n{}", s.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    pg.kill();
    let (status, err) = post.join().unwrap().expect("an answer");
    assert_eq!(status, 500, "{err}");
    let err: serde_json::Value = serde_json::from_str(&err).unwrap();
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{err}"
    );
    // While it is down, requests fail promptly.
    let start = Instant::now();
    let report = format!("{}/indexer/api/v1/index_report/{manifest}", s.api);
    let (status, _) = http("GET", &report, None).unwrap();
    assert!(status >= 500, "{status}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );

    pg.restart();
    s.wait_status(&report, 404, Duration::from_secs(20));
    for d in &layers {
        blobs.set(&format!("/blobs/{d}"), Behavior::Serve);
    }
    let (status, text) = http(
        "POST",
        &format!("{}/indexer/api/v1/index_report", s.api),
        Some(&body),
    )
    .unwrap();
    assert_eq!(status, 201, "{text}");
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["state"], "IndexFinished");
    assert_eq!(r["packages"].as_object().unwrap().len(), 105);
    let got: serde_json::Value =
        serde_json::from_str(&s.wait_status(&report, 200, Duration::from_secs(5))).unwrap();
    assert_eq!(got["packages"], r["packages"]);
    let (status, took, log) = s.terminate();
    assert!(status.success(), "{status}\n{log}");
    assert!(took < Duration::from_secs(5), "{took:?}\n{log}");
}

/// PostgreSQL dies while `clair serve`'s updater streams a feed into it (`COPY` in progress):
/// the update fails, nothing of it is stored; after the restart the next scheduled run stores
/// it whole, once.
#[test]
fn postgresql_restart_during_an_update() {
    let Some(pg) = own_postgres() else { return };
    let url = pg.create_database();
    let tmp = tempfile::tempdir().unwrap();
    let feeds = TestServer::start();
    let (tracker, records) = big_tracker(40_000);
    feeds.put("/debian/json", tracker);
    let cfg = clair_test::config_file!(
        tmp.path(),
        "matcher:\n  period: 1s\nupdaters:\n  sets: [debian]\n  config:\n    debian: {{json_url: {}/debian/json}}\n",
        feeds.url()
    );
    let mut s = Serve::start(&["--db", &url, "-config", cfg.to_str().unwrap()], &[], &[]);
    // Kill the server the moment the feed is being copied in.
    let mut admin = pg.admin();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copying: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY tmp_vuln%'",
                &[],
            )
            .unwrap()
            .get(0);
        if copying > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the update never reached COPY\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(admin);
    pg.kill();
    s.wait_log("update failed", 1, Duration::from_secs(30));
    pg.restart();
    let store = open(&url);
    assert!(debian_ops(store.as_ref()).is_empty(), "nothing partial");
    let deadline = Instant::now() + Duration::from_secs(60);
    let op = loop {
        if let Some(op) = debian_ops(store.as_ref()).pop() {
            break op;
        }
        assert!(
            Instant::now() < deadline,
            "no update after the restart\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(store.vulnerabilities(op.id).unwrap().len(), records);
    // Later runs find upstream unchanged.
    std::thread::sleep(Duration::from_secs(2));
    let (status, took, log) = s.terminate();
    assert!(status.success(), "{status}\n{log}");
    assert!(took < Duration::from_secs(5), "{took:?}\n{log}");
    assert_eq!(debian_ops(store.as_ref()).len(), 1, "{log}");
}
