//! The store suite on PostgreSQL (a throwaway cluster, or CLAIR_TEST_DATABASE_URL), plus what
//! only a server has: crashes mid-transaction, several processes.
//!
//! Without PostgreSQL these tests print why and skip, except with `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;
#[path = "postgres/tls.rs"]
mod tls;

use std::sync::Arc;

use clair_store::{FeedError, OpKind, Store, StoreOptions};
use clair_test::postgres::{TestPostgres, skip_or_fail};
use clair_types::Vulnerability;

/// A new empty database on the shared server; None when skipping.
fn fresh_url() -> Option<String> {
    skip_or_fail().map(TestPostgres::create_database)
}

fn fresh() -> Option<Arc<dyn Store>> {
    fresh_url().map(|u| open_source(&u))
}

macro_rules! pg_suite {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let Some(store) = fresh() else { return };
                suite::$case(store);
            }
        )*
    };
}

pg_suite!(
    layers_round_trip,
    index_reports,
    update_operations_and_latest,
    identical_records_are_shared,
    update_diff,
    aborted_update_keeps_previous_data,
    gc_keeps_newest,
    updater_status,
    enrichments,
    notifications_lifecycle,
    notification_paging,
    locks_are_exclusive,
    concurrent_readers_and_writer,
    v1_layers,
    v1_layer_package_index,
    notification_jobs,
    notifications_due_by_kind,
    notifier_cursor,
);

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
    let Some(url) = fresh_url() else { return };
    suite::procs::migrate_race(&url);
    assert!(open_source(&url).manifests().unwrap().is_empty());
}

#[test]
fn two_processes_race_for_a_lock() {
    let Some(url) = fresh_url() else { return };
    open_source(&url);
    suite::procs::lock_race(&url);
}

#[test]
fn libpq_key_value_sources_work() {
    let Some(url) = fresh_url() else { return };
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

/// The holder's lock connection is terminated (`pg_terminate_backend`, as an administrator or
/// a failover would): the holder learns within seconds that the lock is lost, and another
/// instance can take it.
#[test]
fn a_lock_whose_connection_dies_is_lost_and_taken_over() {
    let Some(url) = fresh_url() else { return };
    let (a, b) = (open_source(&url), open_source(&url));
    let lock = a.try_lock("updater/debian").unwrap().unwrap();
    let watch = lock.watch();
    assert!(b.try_lock("updater/debian").unwrap().is_none(), "held");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(!lock.is_lost(), "a healthy connection keeps it");
    assert_eq!(
        TestPostgres::shared().terminate_lock_holders(&url),
        1,
        "one lock connection"
    );
    let start = std::time::Instant::now();
    while !watch.is_lost() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "loss not noticed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    eprintln!("lock loss noticed after {:?}", start.elapsed());
    assert!(matches!(
        lock.check(),
        Err(clair_store::Error::LockLost { name }) if name == "updater/debian"
    ));
    let taken = b.try_lock("updater/debian").unwrap();
    assert!(taken.is_some(), "another instance takes over");
    drop(lock);
    assert!(!taken.unwrap().is_lost());
}

fn vulns(prefix: &str, n: usize) -> Vec<Vulnerability> {
    (0..n)
        .map(|i| Vulnerability {
            updater: "debian".into(),
            name: format!("CVE-{prefix}-{i}"),
            namespace: "debian:12".into(),
            package_name: format!("pkg{}", i % 97),
            version_scheme: "dpkg".into(),
            description: "x".repeat(200),
            ..Vulnerability::default()
        })
        .collect()
}

/// PostgreSQL dies in the middle of storing an update: the previous update operation is intact
/// and readable after the restart, and running the update again completes.
#[test]
fn killing_postgresql_mid_update_keeps_the_previous_operation() {
    if skip_or_fail().is_none() {
        return;
    }
    // A cluster of its own: killing the shared one would break the other tests.
    let pg = TestPostgres::start().unwrap();
    if !pg.is_local() {
        eprintln!(
            "SKIPPED: CLAIR_TEST_DATABASE_URL is an external server, which a test must not kill"
        );
        return;
    }
    let url = pg.create_database();
    let store = open_source(&url);
    let first = store
        .update_vulnerabilities("debian", "fp1", &mut vulns("old", 100).into_iter().map(Ok))
        .unwrap();

    let mut sent = 0;
    let mut killing = vulns("new", 20_000).into_iter().map(|v| {
        sent += 1;
        if sent == 5_000 {
            pg.kill();
        }
        Ok::<_, FeedError>(v)
    });
    let err = store
        .update_vulnerabilities("debian", "fp2", &mut killing)
        .unwrap_err();
    assert!(sent >= 5_000, "the server died mid-stream");
    eprintln!("update failed as expected: {err}");

    pg.restart();
    let after = open_source(&url);
    let ops = after
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap();
    assert_eq!(ops.iter().map(|o| o.id).collect::<Vec<_>>(), vec![first.id]);
    let mut latest = 0;
    after
        .for_each_latest_vulnerability(None, &mut |v| {
            assert!(v.name.starts_with("CVE-old-"));
            latest += 1;
        })
        .unwrap();
    assert_eq!(latest, 100);

    // The same store object recovers too (its pooled connections died with the server).
    let again = store
        .update_vulnerabilities(
            "debian",
            "fp2",
            &mut vulns("new", 20_000).into_iter().map(Ok),
        )
        .unwrap();
    let ops = after
        .update_operations(OpKind::Vulnerability, Some("debian"))
        .unwrap();
    assert_eq!(ops[0].id, again.id);
    assert_eq!(after.vulnerabilities(again.id).unwrap().len(), 20_000);
    assert_eq!(after.gc(1).unwrap().vulnerabilities, 100);
}
