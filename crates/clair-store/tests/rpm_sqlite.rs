//! Differential check: clair-ecosystems' own SQLite file reader against SQLite itself on every
//! rpmdb.sqlite we have. It lives here because the store already links SQLite; the ecosystems
//! crate must not, even for tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use clair_ecosystems::rpm::sqlite::parse_sqlite;

/// `SELECT blob FROM Packages ORDER BY hnum` by SQLite, on a copy of the file (a WAL-mode file
/// opens as its main file: the copy has no `-wal`).
fn sqlite_blobs(data: &[u8]) -> rusqlite::Result<Vec<Vec<u8>>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&path, data).unwrap();
    let conn = rusqlite::Connection::open(&path)?;
    let mut st = conn.prepare("SELECT blob FROM Packages ORDER BY hnum")?;
    st.query_map([], |r| r.get::<_, Vec<u8>>(0))?.collect()
}

fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../clair-ecosystems/testdata/rpm-sqlite")
        .join(format!("{name}.sqlite.zst"));
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let data = zstd::decode_all(&raw[..]).unwrap();
    (path, data)
}

fn corpus(rel: &str) -> (PathBuf, Vec<u8>) {
    let path = clair_test::corpus(rel);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, data)
}

#[test]
fn reader_agrees_with_sqlite() {
    let files = [
        corpus("pkgdb/rpm-sqlite/converted-sle15-bci/rpmdb.sqlite"),
        corpus("pkgdb/rpm-sqlite/osvscanner-rocky9/rpmdb.sqlite"),
        fixture("page512"),
        fixture("page65536"),
        fixture("wal"),
    ];
    for (path, data) in &files {
        let ours = parse_sqlite(data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let theirs = sqlite_blobs(data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!theirs.is_empty(), "{}", path.display());
        assert_eq!(ours.len(), theirs.len(), "{}: row count", path.display());
        assert!(ours == theirs, "{}: blobs differ", path.display());
    }
    let (path, data) = corpus("pkgdb/rpm-sqlite/claircore-no-packages/rpmdb.sqlite");
    let ours = parse_sqlite(&data).unwrap_err().to_string();
    assert_eq!(
        ours,
        "rpm sqlite: no Packages table: not an rpmdb",
        "{}",
        path.display()
    );
    let theirs = sqlite_blobs(&data).unwrap_err().to_string();
    assert!(theirs.contains("no such table: Packages"), "{theirs}");
}
