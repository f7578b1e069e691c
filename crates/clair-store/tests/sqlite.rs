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
