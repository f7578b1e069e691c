//! The store suite on PostgreSQL (a throwaway cluster, or CLAIR_TEST_DATABASE_URL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clair_store::{Store, StoreOptions};

fn fresh_url() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let admin = std::env::var("CLAIR_TEST_DATABASE_URL").expect("CLAIR_TEST_DATABASE_URL");
    let name = format!(
        "clair_t_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let base = admin.rsplit_once('/').unwrap().0;
    format!("{base}/{name}?sslmode=disable")
}

fn fresh() -> Arc<dyn Store> {
    clair_store::open(&StoreOptions {
        source: fresh_url(),
        ..StoreOptions::default()
    })
    .unwrap()
}

store_suite!(fresh());

fn open_source(s: &str) -> Arc<dyn Store> {
    clair_store::open(&StoreOptions {
        source: s.to_string(),
        ..StoreOptions::default()
    })
    .unwrap()
}

/// Child-process entry point for the cross-process cases (a no-op when run normally).
#[test]
fn child() {
    suite::procs::child_main(open_source);
}

#[test]
fn two_processes_migrate_the_same_new_database() {
    let url = fresh_url();
    suite::procs::migrate_race(&url);
    assert!(open_source(&url).manifests().unwrap().is_empty());
}

#[test]
fn two_processes_race_for_a_lock() {
    let url = fresh_url();
    open_source(&url);
    suite::procs::lock_race(&url);
}

#[test]
fn libpq_key_value_sources_work() {
    let url = fresh_url();
    // postgresql://USER@HOST:PORT/DB?sslmode=disable → host=… port=… user=… dbname=…
    let rest = url.strip_prefix("postgresql://").unwrap();
    let (userhost, db) = rest.split_once('/').unwrap();
    let (user, hostport) = userhost.split_once('@').unwrap();
    let (host, port) = hostport.split_once(':').unwrap();
    let db = db.split('?').next().unwrap();
    let kv = format!("host={host} port={port} user={user} dbname={db} sslmode=disable");
    let s = open_source(&kv);
    assert!(s.describe().contains(db), "{}", s.describe());
    assert!(s.try_lock("x").unwrap().is_some());
}
