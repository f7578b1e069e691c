//! The throwaway PostgreSQL works: databases, connections, crash and restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clair_test::postgres::skip_or_fail;

#[test]
fn databases_are_separate_and_survive_a_crash() {
    let Some(pg) = skip_or_fail() else { return };
    let a = pg.create_database();
    let b = pg.create_database();
    assert_ne!(a, b);
    let mut ca = postgres::Client::connect(&a, postgres::NoTls).unwrap();
    ca.batch_execute("CREATE TABLE t (x INT); INSERT INTO t VALUES (42)")
        .unwrap();
    let mut cb = postgres::Client::connect(&b, postgres::NoTls).unwrap();
    let one: i32 = cb.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    assert!(
        cb.query("SELECT * FROM t", &[]).is_err(),
        "databases are separate"
    );
    if pg.is_local() {
        pg.kill();
        assert!(ca.query("SELECT 1", &[]).is_err(), "server is down");
        pg.restart();
        let mut c = postgres::Client::connect(&a, postgres::NoTls).unwrap();
        let x: i32 = c.query_one("SELECT x FROM t", &[]).unwrap().get(0);
        assert_eq!(x, 42, "committed data survives an immediate shutdown");
    }
}
