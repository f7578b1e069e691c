//! SQLite rpmdb (`rpmdb.sqlite`, rpm ≥ 4.16): the `blob` column of table `Packages`, in `hnum`
//! order.
//!
//! Read with the crate's own file-format reader ([`super::sqlite_file`]), never with SQLite's C
//! library: the file is hostile input, and this crate holds no database driver.

use super::RpmError;
use super::sqlite_file::{Database, MAGIC, Value, columns};

/// Is this a SQLite database?
pub fn is_sqlite(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// The header blobs in the `Packages` table, as `SELECT blob FROM Packages ORDER BY hnum`.
pub fn parse_sqlite(data: &[u8]) -> Result<Vec<Vec<u8>>, RpmError> {
    let bad = RpmError::Sqlite;
    let mut db = Database::open(data)?;
    let Some(table) = db.table("Packages")? else {
        return Err(bad("no Packages table: not an rpmdb".into()));
    };
    let cols = columns(&table.sql);
    let position = |name: &str| cols.iter().position(|c| c.name.eq_ignore_ascii_case(name));
    let blob = position("blob").ok_or_else(|| bad("Packages has no blob column".into()))?;
    // rpm declares `hnum INTEGER PRIMARY KEY`: the rowid, so b-tree order is hnum order.
    if !position("hnum").is_some_and(|i| cols[i].rowid_alias) {
        return Err(bad(
            "Packages.hnum is not an INTEGER PRIMARY KEY: rows have no hnum order".into(),
        ));
    }
    let mut out = Vec::new();
    db.table_rows(table.root, "Packages", |payload| {
        let row = out.len();
        let at = |e: String| bad(format!("Packages row {row}: {e}"));
        let values = super::sqlite_file::record(&payload).map_err(at)?;
        match values.get(blob) {
            Some(Value::Blob(b)) => {
                out.push(b.to_vec());
                Ok(())
            }
            Some(v) => Err(at(format!("blob is {}, not a BLOB", v.kind()))),
            None => Err(at(format!("record of {} values has no blob", values.len()))),
        }
    })?;
    Ok(out)
}
