//! The store suite on SQLite, plus what only SQLite has (files, cross-process locks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;

use std::sync::Arc;

use clair_store::sqlite::SqliteStore;
use clair_store::{MatcherStore, Store, StoreOptions};

fn fresh() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/clair.db");
    // Keep the directory for the life of the test process; it is under the OS temp dir.
    std::mem::forget(dir);
    Arc::new(SqliteStore::open(&path, &StoreOptions::default()).unwrap())
}

store_suite!(fresh());

#[test]
fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clair.db");
    let opts = StoreOptions::default();
    {
        let s = SqliteStore::open(&path, &opts).unwrap();
        let mut f = std::iter::once(Ok(clair_types::Vulnerability {
            name: "CVE-1".into(),
            ..Default::default()
        }));
        s.update_vulnerabilities("debian", "fp", &mut f).unwrap();
    }
    let s = SqliteStore::open(&path, &opts).unwrap();
    let ops = s
        .update_operations(clair_store::OpKind::Vulnerability, None)
        .unwrap();
    assert_eq!(ops.len(), 1);
    // WAL mode is on.
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn open_picks_sqlite_for_paths() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.db");
    let s = clair_store::open(&StoreOptions {
        source: format!("sqlite:{}", p.display()),
        ..StoreOptions::default()
    })
    .unwrap();
    assert_eq!(s.describe(), format!("sqlite:{}", p.display()));
    assert!(p.is_file());
}

fn open_path(p: &str) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(std::path::Path::new(p), &StoreOptions::default()).unwrap())
}

/// Child-process entry point for the cross-process cases (a no-op when run normally).
#[test]
fn child() {
    suite::procs::child_main(open_path);
}

#[test]
fn two_processes_migrate_the_same_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    suite::procs::migrate_race(db.to_str().unwrap());
    let s = open_path(db.to_str().unwrap());
    assert!(s.manifests().unwrap().is_empty());
}

#[test]
fn two_processes_race_for_a_lock() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lock.db");
    open_path(db.to_str().unwrap());
    suite::procs::lock_race(db.to_str().unwrap());
}

#[test]
fn lock_is_released_when_the_holder_dies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let s = open_path(db.to_str().unwrap());
    // A child takes the lock and is killed while holding it.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("CLAIR_STORE_CHILD", "lock")
        .env("CLAIR_STORE_CHILD_DB", &db)
        .env("CLAIR_STORE_CHILD_GO", dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.try_lock("updater/debian").unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "child never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        s.try_lock("updater/debian").unwrap().is_some(),
        "released by the kernel"
    );
}

/// Regression (issue 19): while another process wrote a feed transaction after transaction, a
/// write here waited hundreds of milliseconds, because SQLite's default busy handler sleeps up
/// to 100 ms between attempts and misses the short gaps between the other's transactions.
#[test]
fn writer_gets_the_lock_between_another_connections_short_transactions() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    let s = open_path(db.to_str().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            // Another writer, as `clair update` staging batches: holds the write lock 150 ms,
            // then lets go for 5 ms.
            let c = rusqlite::Connection::open(&db).unwrap();
            c.busy_timeout(Duration::from_secs(10)).unwrap();
            while !stop.load(Ordering::Relaxed) {
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                std::thread::sleep(Duration::from_millis(150));
                c.execute_batch("COMMIT").unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let mut waits = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        s.delete_manifests(&[]).unwrap();
        waits.push(t0.elapsed());
        std::thread::sleep(Duration::from_millis(40));
    }
    stop.store(true, Ordering::Relaxed);
    other.join().unwrap();
    // Each waits for at most one 150 ms hold (here at most 126 ms); with SQLite's default
    // handler the first alone waited 1.7 s.
    let worst = waits.iter().max().copied().unwrap_or_default();
    assert!(
        worst < Duration::from_millis(400),
        "writes waited {waits:?}"
    );
}
