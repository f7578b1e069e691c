//! The store suite on SQLite, plus what only SQLite has (files, cross-process locks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;

use std::sync::Arc;

use clair_store::sqlite::SqliteStore;
use clair_store::{Store, StoreOptions};

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
