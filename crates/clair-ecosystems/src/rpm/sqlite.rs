//! SQLite rpmdb (`rpmdb.sqlite`, rpm ≥ 4.16): `SELECT blob FROM Packages`.
//!
//! The bytes are opened in memory (`sqlite3_deserialize`), never written to disk, read-only.

use rusqlite::{Connection, MAIN_DB, OpenFlags};

use super::RpmError;

/// Is this a SQLite database?
pub fn is_sqlite(data: &[u8]) -> bool {
    data.starts_with(b"SQLite format 3\0")
}

/// The header blobs in the `Packages` table.
pub fn parse_sqlite(data: &[u8]) -> Result<Vec<Vec<u8>>, RpmError> {
    let err = |e: rusqlite::Error| RpmError::Sqlite(e.to_string());
    if !is_sqlite(data) {
        return Err(RpmError::Sqlite("not a SQLite database (magic)".into()));
    }
    let mut conn = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    // A database last written in WAL mode says so in header bytes 18 and 19; an in-memory copy
    // has no WAL file, so present it as a rollback-journal database (what sqlite3 does when a
    // WAL database is copied without its -wal file).
    let mut bytes = data.to_vec();
    if bytes.len() > 19 && bytes[18] == 2 && bytes[19] == 2 {
        bytes[18] = 1;
        bytes[19] = 1;
    }
    conn.deserialize_read_exact(MAIN_DB, &bytes[..], bytes.len(), true)
        .map_err(err)?;
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'Packages')",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    if !has_table {
        return Err(RpmError::Sqlite("no Packages table: not an rpmdb".into()));
    }
    let mut st = conn
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(err)?;
    let rows = st
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    Ok(rows)
}
