//! The embedded store: one SQLite file.
//!
//! WAL mode: one writer at a time (a mutex in this process, SQLite's lock across processes)
//! while any number of readers, each on its own pooled connection, see the last committed state.
//! Named locks are `flock`ed files in `<db>.locks/`, released by the kernel when the process dies.

mod indexer;
mod matcher;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};

use crate::codec::micros;
use crate::error::{Error, Result};
use crate::migrations::{self, Dialect};
use crate::model::*;
use crate::sql::driver::{Arg, Driver, Exec};
use crate::sql::{lite, sqlite_spelling};
use crate::{Locks, StoreOptions};

/// Pooled read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    busy_timeout: Duration,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

/// Whether SQLite reported a lock held by another connection.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

std::thread_local! {
    /// When the write transaction this thread is starting stops waiting for SQLite's lock.
    static WRITE_DEADLINE: std::cell::Cell<Option<std::time::Instant>> =
        const { std::cell::Cell::new(None) };
}

/// The writer's busy handler: sleep a millisecond and try again until the deadline
/// [`SqliteStore::write`] set for this thread (SQLite calls it on the thread running the
/// statement).
fn poll_write_lock(_attempts: i32) -> bool {
    let Some(deadline) = WRITE_DEADLINE.get() else {
        return false;
    };
    if std::time::Instant::now() >= deadline {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

/// Run `f` again while SQLite answers "busy", for at most `limit`.
fn retry_busy<T>(
    limit: Duration,
    mut f: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let start = std::time::Instant::now();
    loop {
        match f() {
            Err(e) if is_busy(&e) && start.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl SqliteStore {
    /// Open (creating it and its directory if needed) the database at `path` and migrate it.
    pub fn open(path: &Path, opts: &StoreOptions) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| Error::Io {
                path: dir.display().to_string(),
                source: e,
            })?;
        }
        let store = SqliteStore {
            path: path.to_path_buf(),
            busy_timeout: opts.connect_timeout,
            writer: Mutex::new(Self::connect_writer(path, opts.connect_timeout)?),
            readers: Mutex::new(Vec::new()),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn connect(path: &Path, busy: Duration) -> Result<Connection> {
        let err = |source| Error::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let c = Connection::open(path).map_err(err)?;
        c.busy_timeout(busy).map_err(err)?;
        // WAL: readers see the last commit while a writer works; NORMAL sync is crash-safe in
        // WAL mode (a power loss may drop the last commits, never corrupt). Switching a new
        // file to WAL needs an exclusive lock and SQLite answers SQLITE_BUSY at once, without
        // its busy handler, when another process is switching it too: retry until `busy`.
        retry_busy(busy, || c.pragma_update(None, "journal_mode", "WAL")).map_err(err)?;
        c.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        c.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        Ok(c)
    }

    /// The writing connection: waits for SQLite's write lock by polling every millisecond
    /// (see [`poll_write_lock`]) instead of SQLite's default busy handler, whose sleeps grow
    /// to 100 ms: another process writing in short batches (`clair update` staging a feed)
    /// frees the lock for a few milliseconds between them, and a 100 ms sleeper misses most
    /// of those gaps (index requests waited up to 455 ms at p99 during a 60 MB update).
    fn connect_writer(path: &Path, busy: Duration) -> Result<Connection> {
        let c = Self::connect(path, busy)?;
        c.busy_handler(Some(poll_write_lock))
            .map_err(|source| Error::Sqlite {
                path: path.display().to_string(),
                source,
            })?;
        Ok(c)
    }

    fn migrate(&self) -> Result<()> {
        let start = std::time::Instant::now();
        loop {
            match self.migrate_once() {
                Err(Error::Sqlite { source, .. })
                    if is_busy(&source) && start.elapsed() < self.busy_timeout =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn migrate_once(&self) -> Result<()> {
        let mut w = self.writer.lock().map_err(|_| poisoned())?;
        // IMMEDIATE takes SQLite's write lock up front: two processes migrating at once
        // serialise here, and the second finds the work done.
        let tx = w
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        tx.execute_batch(&Dialect::Sqlite.bookkeeping())
            .map_err(self.err())?;
        let current: i64 = tx
            .query_row(migrations::CURRENT, [], |r| r.get(0))
            .map_err(self.err())?;
        for (version, sql) in Dialect::Sqlite.pending(current)? {
            tx.execute_batch(&sql).map_err(self.err())?;
            tx.execute(
                lite!(migrations::APPLIED),
                params![version, micros(jiff::Timestamp::now())],
            )
            .map_err(self.err())?;
            tracing::info!(db = %self.path.display(), version, "sqlite migration applied");
        }
        tx.commit().map_err(self.err())
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        self.write_tx(|tx| f(tx).map_err(self.err()))
    }

    /// Run `f` in a write transaction (SQLite's write lock taken up front), committed when it
    /// returns `Ok`.
    fn write_tx<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut w = self.writer.lock().map_err(|_| poisoned())?;
        WRITE_DEADLINE.set(Some(std::time::Instant::now() + self.busy_timeout));
        let tx = w
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        // On error the transaction is dropped, which rolls it back.
        let v = f(&tx)?;
        tx.commit().map_err(self.err())?;
        Ok(v)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = {
            let mut pool = self.readers.lock().map_err(|_| poisoned())?;
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => Self::connect(&self.path, self.busy_timeout)?,
        };
        let r = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(conn);
        }
        r
    }
    fn lock_dir(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".locks");
        PathBuf::from(p)
    }
}

fn poisoned() -> Error {
    Error::Decode {
        what: "store".into(),
        message: "a thread panicked while using the database".into(),
    }
}

impl crate::sql::Row for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text(&self, column: &str) -> rusqlite::Result<String> {
        self.get(column)
    }
    fn opt_text(&self, column: &str) -> rusqlite::Result<Option<String>> {
        self.get(column)
    }
    fn int(&self, column: &str) -> rusqlite::Result<i64> {
        self.get(column)
    }
    fn bytes(&self, column: &str) -> rusqlite::Result<Vec<u8>> {
        self.get(column)
    }
    fn opt_int(&self, column: &str) -> rusqlite::Result<Option<i64>> {
        self.get(column)
    }
    fn int32(&self, column: &str) -> rusqlite::Result<i32> {
        self.get(column)
    }
    fn invalid(error: Error) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(error))
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Text(s) => s.to_sql(),
            Arg::OptText(s) => s.to_sql(),
            Arg::Bytes(b) => b.to_sql(),
            Arg::Int(i) => i.to_sql(),
        }
    }
}

/// Statements in a write transaction, for [`Driver::transaction`].
struct LiteExec<'a, 't> {
    store: &'a SqliteStore,
    tx: &'a rusqlite::Transaction<'t>,
}

impl Exec for LiteExec<'_, '_> {
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        self.tx
            .prepare_cached(&sqlite_spelling(sql))
            .and_then(|mut st| st.execute(rusqlite::params_from_iter(args)))
            .map_err(self.store.err())
    }
}

impl Driver for SqliteStore {
    type Row<'r> = rusqlite::Row<'r>;
    type RowError = rusqlite::Error;

    fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        self.read(|c| {
            let mut st = c
                .prepare_cached(&sqlite_spelling(sql))
                .map_err(self.err())?;
            st.query_map(rusqlite::params_from_iter(args), |r| map(r))
                .map_err(self.err())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.err())
        })
    }

    fn exec(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        self.write_tx(|tx| LiteExec { store: self, tx }.exec(sql, args))
    }

    fn transaction<T>(&self, f: &mut dyn FnMut(&mut dyn Exec) -> Result<T>) -> Result<T> {
        self.write_tx(|tx| f(&mut LiteExec { store: self, tx }))
    }
}

impl Locks for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn try_lock(&self, name: &str) -> Result<Option<Lock>> {
        let dir = self.lock_dir();
        fs::create_dir_all(&dir).map_err(|e| Error::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let path = dir.join(lock_file_name(name));
        let f: File = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Io {
                path: path.display().to_string(),
                source: e,
            })?;
        match f.try_lock() {
            Ok(()) => Ok(Some(Lock::new(name, Box::new(f)))),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(Error::Io {
                path: path.display().to_string(),
                source: e,
            }),
        }
    }
}
/// A file name for a lock name: readable characters kept, the rest hex-escaped.
fn lock_file_name(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 5);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02x}"));
        }
    }
    s.push_str(".lock");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_are_safe_file_names() {
        assert_eq!(lock_file_name("updater/debian"), "updater%2fdebian.lock");
        assert_eq!(lock_file_name("../../etc"), "%2e%2e%2f%2e%2e%2fetc.lock");
    }
}
