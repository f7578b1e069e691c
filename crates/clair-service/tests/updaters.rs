//! Updaters end to end: real feed files served by a real HTTP server on 127.0.0.1, stored in
//! SQLite and PostgreSQL. Conditional GETs, failures that must leave data intact, locks,
//! air-gap bundles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clair_service::{NoUpdateProgress, Outcome, UpdateManager};
use clair_store::{OpKind, Store};
use clair_test::corpus;
use clair_test::http::{Behavior, TestServer};

fn outcome<'a>(reports: &'a [clair_service::RunReport], name: &str) -> &'a Outcome {
    &reports.iter().find(|r| r.updater == name).unwrap().outcome
}

fn every_updater_end_to_end(store: Arc<dyn Store>) {
    let s = TestServer::start();
    serve_feeds(&s);
    let m = manager(store.clone(), &s, &[]);
    let reports = m.run(None, &NoUpdateProgress);
    let expect = [
        ("alpine", 14), // v3.10 community 9 + v3.11 main 5
        ("debian", 5),
        ("oracle", 3),
        ("osv", 3),
        ("ubuntu", 2),
        ("nvd", 2),
        ("kev", 2),
    ];
    for (name, n) in expect {
        match outcome(&reports, name) {
            Outcome::Updated { records, .. } => assert_eq!(*records, n, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    match outcome(&reports, "rhel") {
        Outcome::Updated { records, .. } => assert!(*records >= 2110, "{records}"),
        other => panic!("rhel: {other:?}"),
    }
    assert!(matches!(outcome(&reports, "epss"), Outcome::Updated { .. }));
    assert!(
        matches!(
            outcome(&reports, "suse"),
            Outcome::Updated { records: 2, .. }
        ),
        "{:?}",
        outcome(&reports, "suse")
    );
    assert!(
        matches!(
            outcome(&reports, "photon"),
            Outcome::Updated { records: 778, .. }
        ),
        "{:?}",
        outcome(&reports, "photon")
    );
    assert!(
        matches!(outcome(&reports, "aws"), Outcome::Updated { .. }),
        "{:?}",
        outcome(&reports, "aws")
    );
    match outcome(&reports, "rhel-vex") {
        Outcome::Updated { records, .. } => assert!(*records > 10, "{records}"),
        other => panic!("rhel-vex: {other:?}"),
    }
    let all = latest(store.as_ref());
    assert!(
        all.iter()
            .any(|v| v.namespace == "alpine:v3.10" && v.package_name == "botan")
    );
    assert!(
        all.iter()
            .any(|v| v.namespace == "debian:8" && v.package_name == "aptdaemon")
    );
    assert!(all.iter().any(|v| v.namespace == "rhel:8"));
    let cvss = store
        .enrichments("nvd", &["CVE-2016-3674".to_string()])
        .unwrap();
    assert_eq!(cvss.len(), 1);
    let status = store.updater_status().unwrap();
    assert_eq!(status.len(), clair_ecosystems::UPDATERS.len());
    assert!(
        status
            .iter()
            .all(|s| s.last_success.is_some() && s.last_error.is_none())
    );

    // Second run: every feed answers 304 (or identical content): nothing new is stored.
    s.clear_hits();
    let again = m.run(None, &NoUpdateProgress);
    for r in &again {
        assert_eq!(r.outcome, Outcome::Unchanged, "{}", r.updater);
    }
    assert!(s.hits().iter().any(|(_, st)| *st == 304));
    assert_eq!(
        store
            .update_operations(OpKind::Vulnerability, Some("debian"))
            .unwrap()
            .len(),
        1
    );
}

fn failures_leave_previous_data(store: Arc<dyn Store>) {
    let s = TestServer::start();
    serve_feeds(&s);
    let m = manager(store.clone(), &s, &["debian"]);
    assert!(matches!(
        m.run(None, &NoUpdateProgress)[0].outcome,
        Outcome::Updated { .. }
    ));
    let before = latest(store.as_ref());
    assert_eq!(before.len(), 5);
    let check_failed = |what: &str, needle: &str| {
        let r = m.run(None, &NoUpdateProgress);
        let Outcome::Failed { error } = &r[0].outcome else {
            panic!("{what}: {:?}", r[0].outcome);
        };
        assert!(error.contains(needle), "{what}: {error}");
        assert_eq!(latest(store.as_ref()), before, "{what}: data changed");
        let st = store.updater_status().unwrap();
        let st = st.iter().find(|u| u.updater == "debian").unwrap();
        assert!(st.last_error.as_deref().unwrap().contains(needle), "{what}");
        assert_eq!(st.records, 5, "{what}: the last good run's count is kept");
    };
    s.set("/debian/json", Behavior::Status(500));
    check_failed("HTTP 500", "HTTP 500");
    s.set("/debian/json", Behavior::Stall(Duration::from_secs(5)));
    check_failed("timeout", "/debian/json");
    // New content, but the download breaks off halfway.
    s.put(
        "/debian/json",
        std::fs::read(corpus("feeds/debian/clair2-security-tracker.json")).unwrap(),
    );
    s.set("/debian/json", Behavior::Truncate(1000));
    check_failed("truncated", "/debian/json");
    // Malformed JSON (a feed format change): the error names the position.
    s.put(
        "/debian/json",
        r#"{"pkg": {"CVE-1": {"releases": {"bookworm": {"status": "open"}}}}, "x": [1, "#,
    );
    check_failed("malformed", "line 1 column");
    // Recovery: the same feed as stored (new ETag, same bytes) is recognised as unchanged and
    // clears the error; a changed feed stores a new operation.
    s.put(
        "/debian/json",
        std::fs::read(corpus("feeds/debian/clair2-security-tracker.json")).unwrap(),
    );
    assert_eq!(
        m.run(None, &NoUpdateProgress)[0].outcome,
        Outcome::Unchanged
    );
    assert_eq!(latest(store.as_ref()), before);
    let st = store.updater_status().unwrap();
    assert!(
        st.iter()
            .find(|u| u.updater == "debian")
            .unwrap()
            .last_error
            .is_none()
    );
    s.put(
        "/debian/json",
        r#"{"curl": {"CVE-2023-38545": {"description": "SOCKS5 heap overflow",
            "releases": {"bookworm": {"status": "resolved", "fixed_version": "7.88.1-10+deb12u4", "urgency": "high"}}}}}"#,
    );
    assert!(matches!(
        m.run(None, &NoUpdateProgress)[0].outcome,
        Outcome::Updated { records: 1, .. }
    ));
    let now = latest(store.as_ref());
    assert_eq!(now.len(), 1);
    assert_eq!(
        (now[0].namespace.as_str(), now[0].fixed_in_version.as_str()),
        ("debian:12", "7.88.1-10+deb12u4")
    );
    let ops = store
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap();
    let diff = store.update_diff(Some(ops[1].id), ops[0].id).unwrap();
    assert_eq!((diff.added.len(), diff.removed.len()), (1, 5));
}

fn one_runner_per_updater(store: Arc<dyn Store>) {
    let s = TestServer::start();
    serve_feeds(&s);
    let m = manager(store.clone(), &s, &["debian"]);
    let held = store.try_lock("updater/debian").unwrap().unwrap();
    assert_eq!(m.run(None, &NoUpdateProgress)[0].outcome, Outcome::Skipped);
    assert!(s.hits().is_empty(), "a skipped updater fetches nothing");
    drop(held);
    assert!(matches!(
        m.run(None, &NoUpdateProgress)[0].outcome,
        Outcome::Updated { .. }
    ));
}

fn bundles_round_trip(store: Arc<dyn Store>) {
    let s = TestServer::start();
    serve_feeds(&s);
    let online = sqlite();
    manager(online.clone(), &s, &[]).run(None, &NoUpdateProgress);
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("feeds.bundle");
    let reports = manager(sqlite(), &s, &[])
        .export(&bundle, None, None)
        .unwrap();
    assert!(reports.iter().all(|r| r.result.is_ok()), "{reports:?}");
    // Offline: the server is gone.
    drop(s);
    let every: Vec<String> = clair_ecosystems::UPDATERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let offline = UpdateManager::new(
        store.clone(),
        clair_ecosystems::updaters(Some(&every), &BTreeMap::new()).unwrap(),
    );
    let open = clair_service::bundle::Trust {
        keys: Vec::new(),
        allow_unsigned: true,
    };
    let (imported, _) = offline.import(&bundle, &NoUpdateProgress, &open).unwrap();
    assert_eq!(imported.len(), clair_ecosystems::UPDATERS.len());
    assert!(
        imported
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Updated { .. })),
        "{imported:?}"
    );
    let (a, b) = (latest(store.as_ref()), latest(online.as_ref()));
    assert_eq!(a.len(), b.len(), "as many records");
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!(
            "first difference at {i}:\n imported {:?}\n   online {:?}",
            a[i], b[i]
        );
    }
    assert_eq!(
        store.enrichments("kev", &["CVE-2017-3066".into()]).unwrap(),
        online
            .enrichments("kev", &["CVE-2017-3066".into()])
            .unwrap()
    );
    // A damaged bundle is refused with a clear error and changes nothing.
    let bad = dir.path().join("bad.bundle");
    std::fs::write(&bad, b"not a bundle").unwrap();
    let err = offline
        .import(&bad, &NoUpdateProgress, &open)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.bundle"), "{err}");
}

macro_rules! on_both {
    ($($case:ident),*) => {
        mod sqlite_backend {
            $( #[test] fn $case() { super::$case(super::sqlite()); } )*
        }
        mod postgres_backend {
            $( #[test] fn $case() { if let Some(s) = super::postgres() { super::$case(s); } } )*
        }
    };
}

on_both!(
    every_updater_end_to_end,
    failures_leave_previous_data,
    one_runner_per_updater,
    bundles_round_trip
);

#[test]
fn scheduled_runs_repeat_until_stopped() {
    let s = TestServer::start();
    serve_feeds(&s);
    let m = manager(sqlite(), &s, &["debian"]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        sc.spawn(|| m.run_forever(Duration::from_millis(300), &stop));
        std::thread::sleep(Duration::from_millis(1300));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let runs: Vec<u16> = s
        .hits()
        .into_iter()
        .filter(|(p, _)| p == "/debian/json")
        .map(|(_, st)| st)
        .collect();
    assert!(runs.len() >= 3, "{runs:?}");
    assert_eq!(runs[0], 200);
    assert!(
        runs[1..].iter().all(|&st| st == 304),
        "later runs are conditional: {runs:?}"
    );
}

/// Records written by an older parser (`Updater::version`) are not trusted to describe the
/// feed: the next run ignores the stored fingerprint and stores the feed again.
#[test]
fn a_new_parser_version_refetches_and_rewrites() {
    let store = sqlite();
    let s = TestServer::start();
    serve_feeds(&s);
    let m = manager(store.clone(), &s, &["osv"]);
    assert!(matches!(
        m.run(None, &NoUpdateProgress)[0].outcome,
        Outcome::Updated { .. }
    ));
    assert_eq!(
        m.run(None, &NoUpdateProgress)[0].outcome,
        Outcome::Unchanged
    );
    let status = |store: &Arc<dyn Store>| {
        store
            .updater_status()
            .unwrap()
            .into_iter()
            .find(|s| s.updater == "osv")
            .unwrap()
    };
    let mut st = status(&store);
    assert_eq!(st.updater_version, clair_ecosystems::osv::PARSER_VERSION);
    // As a status written by the first OSV parser (before sorted events and version lists).
    st.updater_version = 1;
    store.set_updater_status(&st).unwrap();
    s.clear_hits();
    assert!(matches!(
        m.run(None, &NoUpdateProgress)[0].outcome,
        Outcome::Updated { .. }
    ));
    let hits = s.hits();
    assert!(
        !hits.is_empty() && hits.iter().all(|(_, code)| *code == 200),
        "unconditional downloads: {hits:?}"
    );
    assert_eq!(
        status(&store).updater_version,
        clair_ecosystems::osv::PARSER_VERSION
    );
    assert_eq!(
        store
            .update_operations(OpKind::Vulnerability, Some("osv"))
            .unwrap()
            .len(),
        2,
        "the rewritten data is a new operation"
    );
}
