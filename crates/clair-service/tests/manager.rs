//! Stopping updater runs: on shutdown ([`Cancel`]) and when the run's store lock is lost, the
//! download in flight is given up at once (even from a server that never answers), retries
//! stop waiting, a feed being stored is rolled back, and nothing is stored twice when another
//! instance takes over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clair_matcher::fetch::FetchError;
use clair_matcher::{
    Cancel, Emit, FetchOutcome, FetchedFile, Http, HttpOptions, Record, Updater, UpdaterError,
    fetch_urls,
};
use clair_service::{NoUpdateProgress, Outcome, UpdateManager};
use clair_store::{OpKind, Store, StoreOptions};
use clair_test::http::{Behavior, StalledServer, TestServer};
use clair_types::Vulnerability;

/// A feed of one name per line, from `url`; `pause` between records makes storing slow.
#[derive(Debug)]
struct LineFeed {
    url: String,
    pause: Duration,
}

impl Updater for LineFeed {
    fn name(&self) -> &str {
        "lines"
    }

    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        fetch_urls(
            "lines",
            http,
            dir,
            prior,
            &[("lines.txt".into(), self.url.clone())],
        )
    }

    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        let text = std::fs::read_to_string(&files[0].path).unwrap();
        for name in text.lines() {
            std::thread::sleep(self.pause);
            let v = Vulnerability {
                updater: "lines".into(),
                name: name.into(),
                namespace: "debian:12".into(),
                package_name: "openssl".into(),
                version_scheme: "dpkg".into(),
                ..Vulnerability::default()
            };
            if emit(Record::Vulnerability(v)).is_err() {
                break;
            }
        }
        Ok(())
    }
}

fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let s = clair_store::open(&StoreOptions {
        source: dir.path().join("clair.db").display().to_string(),
        ..StoreOptions::default()
    })
    .unwrap();
    (dir, s)
}

fn manager(store: Arc<dyn Store>, url: &str, pause: Duration) -> UpdateManager {
    UpdateManager::new(
        store,
        vec![Arc::new(LineFeed {
            url: url.to_string(),
            pause,
        })],
    )
}

fn ops(s: &dyn Store) -> usize {
    s.update_operations(OpKind::Vulnerability, Some("lines"))
        .unwrap()
        .len()
}

/// Cancel `c` after `after`.
fn cancel_later(c: &Cancel, after: Duration) -> std::thread::JoinHandle<()> {
    let c = c.clone();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        c.cancel();
    })
}

#[test]
fn a_stalled_download_is_given_up_when_cancelled() {
    let stalled = StalledServer::start();
    let cancel = Cancel::new();
    let http = Http::default().with_cancel(cancel.clone());
    let dir = tempfile::tempdir().unwrap();
    let t = cancel_later(&cancel, Duration::from_millis(300));
    let start = Instant::now();
    let r = http.download(
        &format!("{}/feed.json", stalled.url()),
        &dir.path().join("f"),
        None,
    );
    let took = start.elapsed();
    t.join().unwrap();
    assert!(
        matches!(&r, Err(FetchError::Cancelled { reason, .. }) if reason == "cancelled"),
        "{r:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(stalled.accepted(), 1);
}

#[test]
fn retry_backoff_ends_when_cancelled() {
    let server = TestServer::start();
    server.put("/feed", "x");
    server.set("/feed", Behavior::Status(503));
    let cancel = Cancel::new();
    let http = Http::new(HttpOptions {
        attempts: 5,
        backoff: Duration::from_secs(30),
        ..HttpOptions::default()
    })
    .with_cancel(cancel.clone());
    let dir = tempfile::tempdir().unwrap();
    let t = cancel_later(&cancel, Duration::from_millis(500));
    let start = Instant::now();
    let r = http.download(
        &format!("{}/feed", server.url()),
        &dir.path().join("f"),
        None,
    );
    t.join().unwrap();
    assert!(matches!(r, Err(FetchError::Cancelled { .. })), "{r:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.hits().len(), 1, "no second attempt");
}

#[test]
fn a_cancelled_manager_stores_nothing() {
    let (_dir, store) = sqlite();
    // Fetching from a server that never answers.
    let stalled = StalledServer::start();
    let cancel = Cancel::new();
    let m = manager(store.clone(), stalled.url(), Duration::ZERO).with_cancel(cancel.clone());
    let t = cancel_later(&cancel, Duration::from_millis(300));
    let start = Instant::now();
    let reports = m.run(None, &NoUpdateProgress);
    t.join().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let Outcome::Failed { error } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert!(error.contains("cancelled"), "{error}");
    assert_eq!(ops(store.as_ref()), 0);

    // Storing a slow feed: the transaction is rolled back.
    let server = TestServer::start();
    let lines: String = (0..2000).map(|i| format!("CVE-2024-{i}\n")).collect();
    server.put("/lines", lines);
    let cancel = Cancel::new();
    let m = manager(
        store.clone(),
        &format!("{}/lines", server.url()),
        Duration::from_millis(1),
    )
    .with_cancel(cancel.clone());
    let t = cancel_later(&cancel, Duration::from_millis(500));
    let reports = m.run(None, &NoUpdateProgress);
    t.join().unwrap();
    let Outcome::Failed { error } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert!(error.contains("cancelled"), "{error}");
    assert_eq!(ops(store.as_ref()), 0, "nothing half-stored");
    // Not cancelled, the same feed is stored whole.
    let m = manager(
        store.clone(),
        &format!("{}/lines", server.url()),
        Duration::ZERO,
    );
    let r = m.run(None, &NoUpdateProgress);
    assert!(
        matches!(r[0].outcome, Outcome::Updated { records: 2000, .. }),
        "{r:?}"
    );
    // And a cancelled manager starts nothing.
    let cancel = Cancel::new();
    cancel.cancel();
    let m = manager(store.clone(), stalled.url(), Duration::ZERO).with_cancel(cancel);
    assert!(m.run(None, &NoUpdateProgress).is_empty());
}

/// Instance A runs the updater against a server that never answers; an administrator (or a
/// failover) terminates A's lock connection. A notices within seconds, gives up its download
/// and stores nothing; instance B takes the lock and stores the update once.
#[test]
fn a_lost_lock_stops_the_run_and_another_instance_takes_over() {
    let Some(pg) = clair_test::postgres::skip_or_fail() else {
        return;
    };
    let url = pg.create_database();
    let open = || {
        clair_store::open(&StoreOptions {
            source: url.clone(),
            ..StoreOptions::default()
        })
        .unwrap()
    };
    let (a, b) = (open(), open());
    let stalled = StalledServer::start();
    let feed = TestServer::start();
    feed.put("/lines", "CVE-2024-1\nCVE-2024-2\n");

    let runner = {
        let m = manager(a.clone(), stalled.url(), Duration::ZERO);
        std::thread::spawn(move || {
            let r = m.run(None, &NoUpdateProgress);
            (r, Instant::now())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while stalled.accepted() == 0 {
        assert!(Instant::now() < deadline, "A never fetched");
        std::thread::sleep(Duration::from_millis(20));
    }
    // B finds the updater taken.
    let mb = manager(b.clone(), &format!("{}/lines", feed.url()), Duration::ZERO);
    assert_eq!(mb.run(None, &NoUpdateProgress)[0].outcome, Outcome::Skipped);

    let killed_at = Instant::now();
    assert_eq!(pg.terminate_lock_holders(&url), 1);
    let (reports, ended) = runner.join().unwrap();
    let took = ended - killed_at;
    assert!(took < Duration::from_secs(5), "A stopped after {took:?}");
    let Outcome::Failed { error } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert!(error.contains("lock updater/lines lost"), "{error}");

    let r = mb.run(None, &NoUpdateProgress);
    assert!(
        matches!(r[0].outcome, Outcome::Updated { records: 2, .. }),
        "{r:?}"
    );
    assert_eq!(ops(b.as_ref()), 1, "stored once");
    let status = b.updater_status().unwrap();
    assert!(status[0].last_error.is_none(), "{status:?}");
}
