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
