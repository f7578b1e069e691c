//! Updaters end to end: real feed files served by a real HTTP server on 127.0.0.1, stored in
//! SQLite and PostgreSQL. Conditional GETs, failures that must leave data intact, locks,
//! air-gap bundles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clair_matcher::{Http, HttpOptions, NoUpdateProgress, Outcome, UpdateManager};
use clair_store::{OpKind, Store, StoreOptions};
use clair_test::corpus;
use clair_test::http::{Behavior, TestServer};
use clair_types::Vulnerability;

fn sqlite() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().unwrap().keep();
    clair_store::open(&StoreOptions {
        source: dir.join("clair.db").display().to_string(),
        ..StoreOptions::default()
    })
    .unwrap()
}

fn postgres() -> Option<Arc<dyn Store>> {
    let pg = clair_test::postgres::skip_or_fail()?;
    Some(
        clair_store::open(&StoreOptions {
            source: pg.create_database(),
            ..StoreOptions::default()
        })
        .unwrap(),
    )
}

fn quick_http() -> Http {
    Http::new(HttpOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(800),
        request_timeout: Duration::from_secs(3),
        attempts: 2,
        backoff: Duration::from_millis(20),
        max_body: 64 << 20,
    })
}

/// Serve every corpus feed the updaters read, laid out as upstream lays them out.
fn serve_feeds(s: &TestServer) {
    let f = |rel: &str| std::fs::read(corpus(rel)).unwrap();
    s.put(
        "/debian/json",
        f("feeds/debian/clair2-security-tracker.json"),
    );
    s.put(
        "/alpine/",
        "<a href=\"v3.10/\">v3.10/</a> <a href=\"v3.11/\">v3.11/</a>",
    );
    s.put(
        "/alpine/v3.10/main.json",
        r#"{"distroversion": "v3.10", "reponame": "main", "packages": []}"#,
    );
    s.put(
        "/alpine/v3.10/community.json",
        f("feeds/alpine/claircore-v3.10-community.json"),
    );
    s.put(
        "/alpine/v3.11/main.json",
        f("feeds/alpine/vulnerablecode-v3.11-main.json"),
    );
    s.put(
        "/rhel/RHEL8/rhel-8.oval.xml.bz2",
        bz2(&gunzip(&f(
            "feeds/rhel/claircore-com.redhat.rhsa-RHEL8.xml.gz",
        ))),
    );
    s.put(
        "/ubuntu/com.ubuntu.xenial.cve.oval.xml.bz2",
        bz2(&f("feeds/ubuntu/clair3-xenial-cve.oval.xml")),
    );
    s.put(
        "/oracle/elsa.xml.bz2",
        bz2(&f("feeds/oracle/clair2-elsa-oval-1.xml")),
    );
    s.put(
        "/osv/PyPI/all.zip",
        zip_of(&[
            "feeds/osv/trivydb-PYSEC-2018-27.json",
            "feeds/osv/trivydb-PYSEC-2023-120.json",
        ]),
    );
    s.put(
        "/nvd/nvdcve-2.0-2016.json.gz",
        gzip(&f("feeds/nvd/claircore-nvd-api2-feed.json")),
    );
    s.put("/epss.csv.gz", gzip(&f("feeds/epss/claircore-epss.csv")));
    s.put(
        "/kev.json",
        f("feeds/kev/claircore-known_exploited_vulnerabilities.json"),
    );
    s.put(
        "/suse/opensuse.xml",
        f("feeds/suse/clair3-opensuse-oval.xml"),
    );
    s.put(
        "/photon/com.vmware.phsa-photon3.xml.gz",
        f("feeds/photon/claircore-com.vmware.phsa-photon3.xml.gz"),
    );
    // Amazon: mirror.list → repository → repodata/repomd.xml → updateinfo.
    s.put("/aws/2/mirror.list", format!("{}/aws/2/repo/\n", s.url()));
    s.put(
        "/aws/2/repo/repodata/repomd.xml",
        r#"<repomd><data type="updateinfo"><location href="repodata/updateinfo.xml.gz"/></data></repomd>"#,
    );
    s.put(
        "/aws/2/repo/repodata/updateinfo.xml.gz",
        gzip(&f("feeds/amazon/clair2-amazon_linux_2_updateinfo.xml")),
    );
    // Red Hat VEX: archive_latest.txt names a tar.zst of documents.
    s.put("/vex/archive_latest.txt", "csaf_vex_2024-06-23.tar.zst");
    s.put("/vex/csaf_vex_2024-06-23.tar.zst", vex_archive());
}

fn vex_archive() -> Vec<u8> {
    let docs = [
        "claircore-cve-2024-0727-openssl.json",
        "claircore-cve-2024-24786-illegal-module.json",
    ];
    let members: Vec<clair_test::tar::Member> = docs
        .iter()
        .map(|d| {
            clair_test::tar::Member::file(
                &format!("2024/{d}"),
                std::fs::read(corpus(&format!("feeds/rhel-csaf/{d}"))).unwrap(),
            )
        })
        .collect();
    zstd::encode_all(&clair_test::tar::build(&members)[..], 3).unwrap()
}

fn config(s: &TestServer) -> BTreeMap<String, serde_json::Value> {
    let u = s.url();
    let all = serde_json::json!({
        "debian": {"json_url": format!("{u}/debian/json")},
        "alpine": {"url": format!("{u}/alpine/")},
        "rhel": {"url": format!("{u}/rhel/"), "files": ["RHEL8/rhel-8.oval.xml.bz2"]},
        "rhel-vex": {"url": format!("{u}/vex/")},
        "ubuntu": {"url": format!("{u}/ubuntu"), "releases": ["xenial"]},
        "oracle": {"url": format!("{u}/oracle/elsa.xml.bz2")},
        "osv": {"url": format!("{u}/osv/"), "ecosystems": ["PyPI"]},
        "suse": {"url": format!("{u}/suse/"), "files": ["opensuse.xml"]},
        "photon": {"url": format!("{u}/photon/"), "releases": ["3"]},
        "aws": {"mirrors": {"2": format!("{u}/aws/2/mirror.list")}},
        "nvd": {"url": format!("{u}/nvd/"), "years": [2016]},
        "epss": {"url": format!("{u}/epss.csv.gz")},
        "kev": {"url": format!("{u}/kev.json")},
    });
    serde_json::from_value(all).unwrap()
}

/// The updaters named in `only`, or every updater there is.
fn manager(store: Arc<dyn Store>, s: &TestServer, only: &[&str]) -> UpdateManager {
    let names: &[&str] = if only.is_empty() {
        &clair_ecosystems::UPDATERS
    } else {
        only
    };
    let sets: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let ups = clair_ecosystems::updaters(Some(&sets), &config(s)).unwrap();
    UpdateManager::new(store, ups).with_http(quick_http())
}

fn latest(store: &dyn Store) -> Vec<Vulnerability> {
    let mut v = Vec::new();
    store
        .for_each_latest_vulnerability(None, &mut |x| v.push(x))
        .unwrap();
    v.sort();
    v
}

fn gzip(d: &[u8]) -> Vec<u8> {
    clair_test::tar::gzip(d)
}

fn gunzip(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(d), &mut out).unwrap();
    out
}

fn bz2(d: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    std::io::Write::write_all(&mut e, d).unwrap();
    e.finish().unwrap()
}

fn zip_of(rels: &[&str]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for r in rels {
            z.start_file(
                r.rsplit('/').next().unwrap(),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            std::io::Write::write_all(&mut z, &std::fs::read(corpus(r)).unwrap()).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn outcome<'a>(reports: &'a [clair_matcher::RunReport], name: &str) -> &'a Outcome {
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
    let reports = manager(sqlite(), &s, &[]).export(&bundle, None).unwrap();
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
    let imported = offline.import(&bundle, &NoUpdateProgress).unwrap();
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
        .import(&bad, &NoUpdateProgress)
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
