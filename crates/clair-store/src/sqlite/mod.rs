//! The embedded store: one SQLite file.
//!
//! WAL mode: one writer at a time (a mutex in this process, SQLite's lock across processes)
//! while any number of readers, each on its own pooled connection, see the last committed state.
//! Named locks are `flock`ed files in `<db>.locks/`, released by the kernel when the process dies.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use clair_indexer::LayerResult;
use clair_types::{Digest, IndexReport, Vulnerability};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use crate::codec::{decode, encode, from_micros, micros};
use crate::error::{Error, Result};
use crate::model::*;
use crate::{Feed, Store, StoreOptions};

/// Versioned migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_v1_layers.sql")),
    (3, include_str!("migrations/0003_manifest_package.sql")),
    (4, include_str!("migrations/0004_notification_times.sql")),
    (5, include_str!("migrations/0005_notification_jobs.sql")),
    (6, include_str!("migrations/0006_notifier_cursor.sql")),
];

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
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)",
        )
        .map_err(self.err())?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        let newest = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > newest {
            return Err(Error::SchemaTooNew {
                found: current,
                supported: newest,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            tx.execute_batch(sql).map_err(self.err())?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied) VALUES (?1, ?2)",
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
        let mut w = self.writer.lock().map_err(|_| poisoned())?;
        WRITE_DEADLINE.set(Some(std::time::Instant::now() + self.busy_timeout));
        let tx = w
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        // On error the transaction is dropped, which rolls it back.
        let v = f(&tx).map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        Ok(v)
    }

    /// Start an update operation that readers cannot see yet (kind `staging`): records are
    /// linked to it batch by batch, each batch a short write transaction, so feed parsing
    /// never holds the writer; [`Self::publish`] makes it visible in one statement.
    fn stage(&self, updater: &str, fingerprint: &str, kind: OpKind) -> Result<Staged> {
        let id = Uuid::new_v4();
        let (seq, first_new) = self.write(|tx| {
            let first_new: i64 = tx.query_row(
                &format!("SELECT COALESCE(MAX(id), 0) FROM {}", kind_table(kind)),
                [],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO update_operation (id, updater, kind, fingerprint, date) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id.to_string(), updater, STAGING, fingerprint, micros(jiff::Timestamp::now())],
            )?;
            Ok((tx.last_insert_rowid(), first_new))
        })?;
        Ok(Staged {
            seq,
            first_new,
            op: UpdateOperation {
                id,
                updater: updater.to_string(),
                kind,
                fingerprint: fingerprint.to_string(),
                date: jiff::Timestamp::now(),
            },
        })
    }

    /// Store one batch of vulnerabilities and link them to the staged operation.
    fn stage_vulnerabilities(
        &self,
        seq: i64,
        batch: &mut Vec<(String, Vulnerability, String)>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut ins = tx.prepare_cached(
                "INSERT INTO vuln (hash, updater, name, namespace, package_name, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hash) DO NOTHING",
            )?;
            let mut get = tx.prepare_cached("SELECT id FROM vuln WHERE hash = ?1")?;
            let mut link =
                tx.prepare_cached("INSERT OR IGNORE INTO uo_vuln (uo, vuln) VALUES (?1, ?2)")?;
            for (hash, v, data) in batch.iter() {
                ins.execute(params![
                    hash,
                    v.updater,
                    v.name,
                    v.namespace,
                    v.package_name,
                    data
                ])?;
                let id: i64 = get.query_row([hash], |r| r.get(0))?;
                link.execute(params![seq, id])?;
            }
            Ok(())
        })?;
        batch.clear();
        Ok(())
    }

    /// Store one batch of enrichment records and link them to the staged operation.
    fn stage_enrichments(
        &self,
        seq: i64,
        updater: &str,
        batch: &mut Vec<(String, Vec<String>, String, String)>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut ins = tx.prepare_cached(
                "INSERT INTO enrichment (hash, updater, tags, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hash) DO NOTHING",
            )?;
            let mut get = tx.prepare_cached("SELECT id FROM enrichment WHERE hash = ?1")?;
            let mut tag = tx.prepare_cached(
                "INSERT OR IGNORE INTO enrichment_tag (enrichment, tag) VALUES (?1, ?2)",
            )?;
            let mut link = tx.prepare_cached(
                "INSERT OR IGNORE INTO uo_enrich (uo, enrichment) VALUES (?1, ?2)",
            )?;
            for (hash, tags, tags_json, data) in batch.iter() {
                ins.execute(params![hash, updater, tags_json, data])?;
                let id: i64 = get.query_row([hash], |r| r.get(0))?;
                for t in tags {
                    tag.execute(params![id, t])?;
                }
                link.execute(params![seq, id])?;
            }
            Ok(())
        })?;
        batch.clear();
        Ok(())
    }

    /// Make a staged operation visible (one short transaction), or, when staging failed,
    /// remove it and the records only it referenced.
    fn publish(&self, staged: &mut Staged, result: Result<()>) -> Result<UpdateOperation> {
        let kind = staged.op.kind;
        if let Err(e) = result {
            let table = kind_table(kind);
            let link = match kind {
                OpKind::Vulnerability => "uo_vuln WHERE uo_vuln.vuln",
                OpKind::Enrichment => "uo_enrich WHERE uo_enrich.enrichment",
            };
            let cleanup = self.write(|tx| {
                tx.execute("DELETE FROM update_operation WHERE seq = ?1", [staged.seq])?;
                tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE id > ?1 AND NOT EXISTS (SELECT 1 FROM {link} = {table}.id)"
                    ),
                    [staged.first_new],
                )
            });
            if let Err(c) = cleanup {
                tracing::warn!(updater = %staged.op.updater, error = %c, "removing a failed staged update");
            }
            return Err(e);
        }
        staged.op.date = jiff::Timestamp::now();
        self.write(|tx| {
            tx.execute(
                "UPDATE update_operation SET kind = ?2, date = ?3 WHERE seq = ?1",
                params![staged.seq, kind.as_str(), micros(staged.op.date)],
            )?;
            // The operation's notification job, in the transaction that makes it visible.
            if kind == OpKind::Vulnerability {
                tx.execute(
                    "INSERT INTO notification_job (uo, prev, created) VALUES (?1,
                       (SELECT id FROM update_operation WHERE kind = 'vulnerability' AND updater = ?2
                        AND seq < ?1 ORDER BY seq DESC LIMIT 1), ?3)",
                    params![staged.seq, staged.op.updater, micros(staged.op.date)],
                )?;
            }
            Ok(())
        })?;
        Ok(staged.op.clone())
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

    /// The v1 layers a query selects (columns name, digest, parent, path, format).
    fn v1_layers_where(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<V1Layer>> {
        let rows: Vec<(String, String, Option<String>, String, String)> = self.read(|c| {
            let mut st = c.prepare(sql).map_err(self.err())?;
            st.query_map(params, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())
        })?;
        rows.into_iter()
            .map(|(name, digest, parent, path, format)| {
                Ok(V1Layer {
                    digest: digest.parse().map_err(|e: clair_types::DigestError| {
                        Error::Decode {
                            what: format!("v1 layer {name}"),
                            message: e.to_string(),
                        }
                    })?,
                    name,
                    parent,
                    path,
                    format,
                })
            })
            .collect()
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

fn parse_uuid(s: &str) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn op_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UpdateOperation> {
    let id: String = r.get("id")?;
    let kind: String = r.get("kind")?;
    Ok(UpdateOperation {
        id: parse_uuid(&id)?,
        updater: r.get("updater")?,
        kind: OpKind::parse(&kind),
        fingerprint: r.get("fingerprint")?,
        date: from_micros(r.get("date")?),
    })
}

/// The kind of an update operation still being staged (invisible to readers).
const STAGING: &str = "staging";
/// Records written per staging transaction: small enough that a writer waiting behind one
/// waits a few milliseconds (WAL commits do not sync, so more transactions cost little), large
/// enough that a 300k-record feed takes a few hundred transactions.
const STAGE_BATCH: usize = 1000;
/// Staged operations older than this are left over by a process that died while updating.
const STALE_STAGING_HOURS: i64 = 24;

/// An update operation being staged.
struct Staged {
    seq: i64,
    /// Records of its kind with a larger id were inserted after staging began.
    first_new: i64,
    op: UpdateOperation,
}

fn kind_table(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Vulnerability => "vuln",
        OpKind::Enrichment => "enrichment",
    }
}

fn aborted(updater: &str, e: &crate::FeedError) -> Error {
    Error::Aborted {
        updater: updater.to_string(),
        message: e.to_string(),
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Decode {
        what: what.to_string(),
        message: e.to_string(),
    })
}

fn notification_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Notification, String)> {
    let id: String = r.get("id")?;
    let body: String = r.get("body")?;
    let status: String = r.get("status")?;
    let attempts: i64 = r.get("attempts")?;
    Ok((
        Notification {
            id: parse_uuid(&id)?,
            kind: r.get("kind")?,
            body: serde_json::Value::Null,
            created: from_micros(r.get("created")?),
            status: NotificationStatus::parse(&status),
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            next_attempt: from_micros(r.get("next_attempt")?),
            last_error: r.get("last_error")?,
            notified: r.get::<_, Option<i64>>("notified")?.map(from_micros),
            deleted: r.get::<_, Option<i64>>("deleted")?.map(from_micros),
        },
        body,
    ))
}

const OP_COLS: &str = "id, updater, kind, fingerprint, date";

impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn get_layer(&self, layer: &Digest) -> Result<Option<LayerResult>> {
        let blob: Option<Vec<u8>> = self.read(|c| {
            c.query_row(
                "SELECT result FROM layer WHERE digest = ?1",
                [layer.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
        })?;
        blob.map(|b| decode(&format!("layer {layer}"), &b))
            .transpose()
    }

    fn put_layer(&self, layer: &Digest, result: &LayerResult) -> Result<()> {
        let blob = encode(result)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO layer (digest, result, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT (digest) DO UPDATE SET result = excluded.result",
                params![layer.as_str(), blob, micros(jiff::Timestamp::now())],
            )
            .map(|_| ())
        })
    }

    fn put_index_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()> {
        let blob = encode(report)?;
        let m = report.manifest_hash.as_str();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO manifest (digest, state, report, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (digest) DO UPDATE SET state = excluded.state,
                   report = excluded.report, updated = excluded.updated",
                params![m, state, blob, micros(jiff::Timestamp::now())],
            )?;
            tx.execute("DELETE FROM manifest_layer WHERE manifest = ?1", [m])?;
            let mut ins = tx
                .prepare("INSERT INTO manifest_layer (manifest, idx, layer) VALUES (?1, ?2, ?3)")?;
            for (i, l) in layers.iter().enumerate() {
                ins.execute(params![m, i as i64, l.as_str()])?;
            }
            tx.execute("DELETE FROM manifest_package WHERE manifest = ?1", [m])?;
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO manifest_package (manifest, name) VALUES (?1, ?2)",
            )?;
            for name in crate::index::package_names(report) {
                ins.execute(params![m, name])?;
            }
            Ok(())
        })
    }

    fn get_index_report(&self, manifest: &Digest) -> Result<Option<StoredReport>> {
        self.read(|c| {
            let row: Option<(String, Vec<u8>)> = c
                .query_row(
                    "SELECT state, report FROM manifest WHERE digest = ?1",
                    [manifest.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.err())?;
            let Some((state, blob)) = row else {
                return Ok(None);
            };
            let report: IndexReport = decode(&format!("index report {manifest}"), &blob)?;
            let mut st = c
                .prepare("SELECT layer FROM manifest_layer WHERE manifest = ?1 ORDER BY idx")
                .map_err(self.err())?;
            let layers: Vec<String> = st
                .query_map([manifest.as_str()], |r| r.get(0))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())?;
            let layers = layers
                .iter()
                .map(|l| {
                    l.parse()
                        .map_err(|e: clair_types::DigestError| Error::Decode {
                            what: format!("layers of {manifest}"),
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<Digest>>>()?;
            Ok(Some(StoredReport {
                report,
                layers,
                state,
            }))
        })
    }

    fn index_report_version(&self, manifest: &Digest) -> Result<Option<String>> {
        self.read(|c| {
            c.prepare_cached("SELECT state, updated FROM manifest WHERE digest = ?1")
                .and_then(|mut st| {
                    st.query_row([manifest.as_str()], |r| {
                        Ok(format!(
                            "{}@{}",
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?
                        ))
                    })
                    .optional()
                })
                .map_err(self.err())
        })
    }

    fn delete_manifests(&self, manifests: &[Digest]) -> Result<Vec<Digest>> {
        self.write(|tx| {
            let mut deleted = Vec::new();
            let mut del = tx.prepare("DELETE FROM manifest WHERE digest = ?1")?;
            for m in manifests {
                if del.execute([m.as_str()])? > 0 {
                    deleted.push(m.clone());
                }
            }
            Ok(deleted)
        })
    }

    fn manifests_with_packages(&self, names: &[String]) -> Result<Vec<Digest>> {
        let mut out = std::collections::BTreeSet::new();
        self.read(|c| {
            for chunk in names.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let mut st = c
                    .prepare(&format!(
                        "SELECT DISTINCT manifest FROM manifest_package WHERE name IN ({marks})"
                    ))
                    .map_err(self.err())?;
                let rows = st
                    .query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
                        r.get::<_, String>(0)
                    })
                    .map_err(self.err())?;
                for r in rows {
                    if let Ok(d) = r.map_err(self.err())?.parse() {
                        out.insert(d);
                    }
                }
            }
            Ok(())
        })?;
        Ok(out.into_iter().collect())
    }

    fn manifests(&self) -> Result<Vec<Digest>> {
        let all: Vec<String> = self.read(|c| {
            let mut st = c
                .prepare("SELECT digest FROM manifest ORDER BY digest")
                .map_err(self.err())?;
            st.query_map([], |r| r.get(0))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())
        })?;
        Ok(all.iter().filter_map(|d| d.parse().ok()).collect())
    }

    fn put_v1_layer(&self, layer: &V1Layer) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO v1_layer (name, digest, parent, path, format, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, parent = excluded.parent,
                   path = excluded.path, format = excluded.format",
                params![
                    layer.name,
                    layer.digest.as_str(),
                    layer.parent,
                    layer.path,
                    layer.format,
                    micros(jiff::Timestamp::now())
                ],
            )
            .map(|_| ())
        })
    }

    fn get_v1_layer(&self, name: &str) -> Result<Option<V1Layer>> {
        Ok(self
            .v1_layers_where(
                "SELECT name, digest, parent, path, format FROM v1_layer WHERE name = ?1",
                [name],
            )?
            .pop())
    }

    fn v1_layers(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer ORDER BY name",
            [],
        )
    }

    fn delete_v1_layer(&self, name: &str) -> Result<usize> {
        self.write(|tx| {
            tx.execute(
                "WITH RECURSIVE doomed(name) AS (
                     SELECT name FROM v1_layer WHERE name = ?1
                     UNION SELECT l.name FROM v1_layer l JOIN doomed d ON l.parent = d.name)
                 DELETE FROM v1_layer WHERE name IN (SELECT name FROM doomed)",
                [name],
            )
        })
    }

    fn set_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM v1_layer_package WHERE layer = ?1", [layer])?;
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO v1_layer_package (layer, name)
                 SELECT name, ?2 FROM v1_layer WHERE name = ?1",
            )?;
            for n in names {
                ins.execute(params![layer, n])?;
            }
            tx.execute(
                "UPDATE v1_layer SET packages_indexed = 1 WHERE name = ?1",
                [layer],
            )?;
            Ok(())
        })
    }

    fn v1_layers_with_packages(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        let mut out = std::collections::BTreeMap::new();
        for chunk in names.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT DISTINCT l.name, l.digest, l.parent, l.path, l.format FROM v1_layer l
                 JOIN v1_layer_package p ON p.layer = l.name WHERE p.name IN ({marks})"
            );
            for l in self.v1_layers_where(&sql, rusqlite::params_from_iter(chunk.iter()))? {
                out.insert(l.name.clone(), l);
            }
        }
        Ok(out.into_values().collect())
    }

    fn v1_layers_unindexed(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer WHERE packages_indexed = 0
             ORDER BY name",
            [],
        )
    }

    fn update_vulnerabilities(
        &self,
        updater: &str,
        fingerprint: &str,
        vulnerabilities: Feed<'_, Vulnerability>,
    ) -> Result<UpdateOperation> {
        let mut staged = self.stage(updater, fingerprint, OpKind::Vulnerability)?;
        let result = (|| {
            let mut batch = Vec::with_capacity(STAGE_BATCH);
            for v in vulnerabilities {
                let v = v.map_err(|e| aborted(updater, &e))?;
                let data = serde_json::to_string(&v).map_err(|e| Error::Decode {
                    what: format!("vulnerability {} of {updater}", v.name),
                    message: e.to_string(),
                })?;
                batch.push((v.fingerprint().hex().to_string(), v, data));
                if batch.len() == STAGE_BATCH {
                    self.stage_vulnerabilities(staged.seq, &mut batch)?;
                }
            }
            self.stage_vulnerabilities(staged.seq, &mut batch)
        })();
        self.publish(&mut staged, result)
    }

    fn update_operations(
        &self,
        kind: OpKind,
        updater: Option<&str>,
    ) -> Result<Vec<UpdateOperation>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {OP_COLS} FROM update_operation WHERE kind = ?1 AND (?2 IS NULL OR updater = ?2) ORDER BY seq DESC"
            );
            let mut st = c.prepare(&sql).map_err(self.err())?;
            st.query_map(params![kind.as_str(), updater], op_from_row)
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())
        })
    }

    fn vulnerabilities(&self, op: Uuid) -> Result<Vec<Vulnerability>> {
        self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT v.data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id
                     JOIN update_operation o ON o.seq = uv.uo WHERE o.id = ?1 ORDER BY v.id",
                )
                .map_err(self.err())?;
            let rows: Vec<String> = st
                .query_map([op.to_string()], |r| r.get(0))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())?;
            rows.iter()
                .map(|d| decode_json("vulnerability", d))
                .collect()
        })
    }

    fn for_each_latest_vulnerability(
        &self,
        namespaces: Option<&[String]>,
        f: &mut dyn FnMut(Vulnerability),
    ) -> Result<()> {
        self.read(|c| {
            let filter = match namespaces {
                None => String::new(),
                Some(ns) => format!(
                    "AND v.namespace IN ({})",
                    (1..=ns.len())
                        .map(|i| format!("?{i}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            };
            if namespaces.is_some_and(|n| n.is_empty()) {
                return Ok(());
            }
            let mut st = c
                .prepare(&format!(
                    "SELECT v.data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id
                     WHERE uv.uo IN (SELECT MAX(seq) FROM update_operation
                                     WHERE kind = 'vulnerability' GROUP BY updater) {filter}"
                ))
                .map_err(self.err())?;
            let params = rusqlite::params_from_iter(namespaces.unwrap_or(&[]).iter());
            let mut rows = st.query(params).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                let d: String = r.get(0).map_err(self.err())?;
                f(decode_json("vulnerability", &d)?);
            }
            Ok(())
        })
    }

    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff> {
        self.read(|c| {
            let get_op = |id: Uuid| -> Result<(UpdateOperation, i64)> {
                c.query_row(
                    &format!("SELECT seq, {OP_COLS} FROM update_operation WHERE id = ?1"),
                    [id.to_string()],
                    |r| Ok((op_from_row(r)?, r.get::<_, i64>("seq")?)),
                )
                .optional()
                .map_err(self.err())?
                .ok_or_else(|| Error::NotFound(format!("update operation {id}")))
            };
            let (cur_op, cur_seq) = get_op(cur)?;
            let prev_op = prev.map(get_op).transpose()?;
            let prev_seq = prev_op.as_ref().map_or(-1, |p| p.1);
            let side = |a: i64, b: i64| -> Result<Vec<Vulnerability>> {
                let mut st = c
                    .prepare(
                        "SELECT v.data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id WHERE uv.uo = ?1
                         AND NOT EXISTS (SELECT 1 FROM uo_vuln o WHERE o.uo = ?2 AND o.vuln = v.id)
                         ORDER BY v.id",
                    )
                    .map_err(self.err())?;
                let rows: Vec<String> = st
                    .query_map(params![a, b], |r| r.get(0))
                    .map_err(self.err())?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(self.err())?;
                rows.iter().map(|d| decode_json("vulnerability", d)).collect()
            };
            let added = side(cur_seq, prev_seq)?;
            let removed = if prev_op.is_some() { side(prev_seq, cur_seq)? } else { Vec::new() };
            Ok(UpdateDiff {
                prev: prev_op.map(|p| p.0),
                cur: cur_op,
                added,
                removed,
            })
        })
    }

    fn delete_update_operations(&self, ops: &[Uuid]) -> Result<usize> {
        self.write(|tx| {
            let mut n = 0;
            let mut del = tx.prepare("DELETE FROM update_operation WHERE id = ?1")?;
            for id in ops {
                n += del.execute([id.to_string()])?;
            }
            Ok(n)
        })
    }

    fn gc(&self, keep: usize) -> Result<GcStats> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.write(|tx| {
            // Operations being staged are not counted; ones a dead process left are removed.
            let stale = micros(jiff::Timestamp::now())
                - STALE_STAGING_HOURS * 3600 * 1_000_000;
            let operations = tx.execute(
                "DELETE FROM update_operation WHERE seq IN (
                   SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY kind, updater ORDER BY seq DESC) AS rn
                                    FROM update_operation WHERE kind != ?3) WHERE rn > ?1)
                   OR (kind = ?3 AND date < ?2)",
                params![keep, stale, STAGING],
            )?;
            let vulnerabilities = tx.execute(
                "DELETE FROM vuln WHERE NOT EXISTS (SELECT 1 FROM uo_vuln WHERE uo_vuln.vuln = vuln.id)",
                [],
            )?;
            let enrichments = tx.execute(
                "DELETE FROM enrichment WHERE NOT EXISTS (SELECT 1 FROM uo_enrich WHERE uo_enrich.enrichment = enrichment.id)",
                [],
            )?;
            Ok(GcStats {
                operations,
                vulnerabilities,
                enrichments,
            })
        })
    }

    fn set_updater_status(&self, status: &UpdaterStatus) -> Result<()> {
        let data = serde_json::to_string(status).map_err(|e| Error::Decode {
            what: "updater status".into(),
            message: e.to_string(),
        })?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO updater_status (updater, data) VALUES (?1, ?2)
                 ON CONFLICT (updater) DO UPDATE SET data = excluded.data",
                params![status.updater, data],
            )
            .map(|_| ())
        })
    }

    fn updater_status(&self) -> Result<Vec<UpdaterStatus>> {
        let rows: Vec<String> = self.read(|c| {
            let mut st = c
                .prepare("SELECT data FROM updater_status ORDER BY updater")
                .map_err(self.err())?;
            st.query_map([], |r| r.get(0))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())
        })?;
        rows.iter()
            .map(|d| decode_json("updater status", d))
            .collect()
    }

    fn update_enrichments(
        &self,
        updater: &str,
        fingerprint: &str,
        records: Feed<'_, EnrichmentRecord>,
    ) -> Result<UpdateOperation> {
        let mut staged = self.stage(updater, fingerprint, OpKind::Enrichment)?;
        let result = (|| {
            let mut batch = Vec::with_capacity(STAGE_BATCH);
            for r in records {
                let r = r.map_err(|e| aborted(updater, &e))?;
                let encode = |e: serde_json::Error| Error::Decode {
                    what: format!("enrichment record of {updater}"),
                    message: e.to_string(),
                };
                let tags = serde_json::to_string(&r.tags).map_err(encode)?;
                let data = serde_json::to_string(&r.data).map_err(encode)?;
                let hash = Digest::sha256_of(format!("{updater}\n{tags}\n{data}").as_bytes());
                batch.push((hash.hex().to_string(), r.tags, tags, data));
                if batch.len() == STAGE_BATCH {
                    self.stage_enrichments(staged.seq, updater, &mut batch)?;
                }
            }
            self.stage_enrichments(staged.seq, updater, &mut batch)
        })();
        self.publish(&mut staged, result)
    }

    fn enrichments(&self, updater: &str, tags: &[String]) -> Result<Vec<EnrichmentRecord>> {
        self.read(|c| {
            // One read transaction for every lookup: a consistent snapshot, and the file lock
            // taken once instead of once per statement.
            let tx = c.unchecked_transaction().map_err(self.err())?;
            let latest: Option<i64> = tx
                .query_row(
                    "SELECT MAX(seq) FROM update_operation WHERE kind = 'enrichment' AND updater = ?1",
                    [updater],
                    |r| r.get(0),
                )
                .map_err(self.err())?;
            let Some(latest) = latest else {
                return Ok(Vec::new());
            };
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            // Tags in chunks, well under SQLite's limit on bound parameters.
            for chunk in tags.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let mut st = tx
                    .prepare_cached(&format!(
                        "SELECT DISTINCT e.id, e.tags, e.data FROM enrichment e
                         JOIN uo_enrich ue ON ue.enrichment = e.id
                         JOIN enrichment_tag t ON t.enrichment = e.id
                         WHERE ue.uo = ? AND t.tag IN ({marks})
                         ORDER BY e.id"
                    ))
                    .map_err(self.err())?;
                let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() + 1);
                params.push(&latest);
                params.extend(chunk.iter().map(|t| t as &dyn rusqlite::ToSql));
                let rows: Vec<(i64, String, String)> = st
                    .query_map(params.as_slice(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(self.err())?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(self.err())?;
                for (id, t, d) in rows {
                    if seen.insert(id) {
                        out.push(EnrichmentRecord {
                            tags: decode_json("enrichment tags", &t)?,
                            data: decode_json("enrichment", &d)?,
                        });
                    }
                }
            }
            Ok(out)
        })
    }

    fn create_notification(
        &self,
        kind: &str,
        body: &serde_json::Value,
        items: &[serde_json::Value],
    ) -> Result<Uuid> {
        self.write(|tx| insert_notification(tx, kind, body, items))
    }

    fn notification(&self, id: Uuid) -> Result<Option<Notification>> {
        let row = self.read(|c| {
            c.query_row(
                "SELECT * FROM notification WHERE id = ?1",
                [id.to_string()],
                notification_from_row,
            )
            .optional()
            .map_err(self.err())
        })?;
        row.map(|(mut n, body)| {
            n.body = decode_json("notification", &body)?;
            Ok(n)
        })
        .transpose()
    }

    fn notification_items(
        &self,
        id: Uuid,
        after: Option<i64>,
        limit: usize,
    ) -> Result<NotificationPage> {
        let limit = limit.max(1);
        let rows: Vec<(i64, String)> = self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT seq, body FROM notification_item WHERE notification = ?1 AND seq > ?2
                     ORDER BY seq LIMIT ?3",
                )
                .map_err(self.err())?;
            st.query_map(
                params![id.to_string(), after.unwrap_or(-1), (limit + 1) as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())
        })?;
        let more = rows.len() > limit;
        let items = rows
            .into_iter()
            .take(limit)
            .map(|(seq, b)| {
                Ok(NotificationItem {
                    seq,
                    body: decode_json("notification item", &b)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let next = if more {
            items.last().map(|i| i.seq)
        } else {
            None
        };
        Ok(NotificationPage { items, next })
    }

    fn notifications_due(
        &self,
        kinds: &[&str],
        now: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<Notification>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let marks = (3..3 + kinds.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let rows = self.read(|c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT * FROM notification WHERE kind IN ({marks})
                     AND status IN ('created', 'failed', 'notified') AND next_attempt <= ?1
                     ORDER BY next_attempt, id LIMIT ?2"
                ))
                .map_err(self.err())?;
            let mut p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(kinds.len() + 2);
            let (now, limit) = (micros(now), i64::try_from(limit).unwrap_or(i64::MAX));
            p.push(&now);
            p.push(&limit);
            p.extend(kinds.iter().map(|k| k as &dyn rusqlite::ToSql));
            st.query_map(p.as_slice(), notification_from_row)
                .map_err(self.err())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.err())
        })?;
        rows.into_iter()
            .map(|(mut n, body)| {
                n.body = decode_json("notification", &body)?;
                Ok(n)
            })
            .collect()
    }

    fn notification_jobs(&self, limit: usize) -> Result<Vec<NotificationJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(UpdateOperation, Option<String>, i64)> = self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT o.id, o.updater, o.kind, o.fingerprint, o.date, j.prev, j.created
                     FROM notification_job j JOIN update_operation o ON o.seq = j.uo
                     ORDER BY j.uo LIMIT ?1",
                )
                .map_err(self.err())?;
            st.query_map([limit], |r| {
                Ok((op_from_row(r)?, r.get("prev")?, r.get("created")?))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())
        })?;
        rows.into_iter()
            .map(|(op, prev, created)| {
                Ok(NotificationJob {
                    prev: prev
                        .map(|p| parse_uuid(&p))
                        .transpose()
                        .map_err(self.err())?,
                    op,
                    created: from_micros(created),
                })
            })
            .collect()
    }

    fn complete_notification_job(
        &self,
        op: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM notification_job WHERE uo = (SELECT seq FROM update_operation WHERE id = ?1)",
                [op.to_string()],
            )?;
            insert_claimed(tx, n, notifications)
        })
    }

    fn record_delivery(&self, id: Uuid, outcome: &Delivery) -> Result<()> {
        let now = micros(jiff::Timestamp::now());
        let n = self.write(|tx| match outcome {
            Delivery::Delivered => tx.execute(
                "UPDATE notification SET status = 'delivered', attempts = attempts + 1, last_error = NULL,
                 notified = ?2, updated = ?2 WHERE id = ?1 AND status != 'deleted'",
                params![id.to_string(), now],
            ),
            Delivery::Notified { again_at } => tx.execute(
                "UPDATE notification SET status = 'notified', attempts = attempts + 1, last_error = NULL,
                 next_attempt = ?2, notified = ?3, updated = ?3 WHERE id = ?1 AND status != 'deleted'",
                params![id.to_string(), micros(*again_at), now],
            ),
            Delivery::Failed { error, retry_at } => tx.execute(
                "UPDATE notification SET status = 'failed', attempts = attempts + 1, last_error = ?2,
                 next_attempt = ?3, updated = ?4 WHERE id = ?1 AND status != 'deleted'",
                params![id.to_string(), error, micros(*retry_at), now],
            ),
        })?;
        if n == 0 && self.notification(id)?.is_none() {
            return Err(Error::NotFound(format!("notification {id}")));
        }
        Ok(())
    }

    fn acknowledge_notification(&self, id: Uuid) -> Result<bool> {
        let now = micros(jiff::Timestamp::now());
        let n = self.write(|tx| {
            tx.execute(
                "UPDATE notification SET status = 'deleted', deleted = ?2, updated = ?2 WHERE id = ?1",
                params![id.to_string(), now],
            )
        })?;
        Ok(n > 0)
    }

    fn gc_notifications(&self, older_than: jiff::Timestamp) -> Result<usize> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM notification WHERE status = 'deleted' AND updated < ?1",
                [micros(older_than)],
            )
        })
    }

    fn notified_operation(&self, updater: &str) -> Result<Option<Uuid>> {
        let op: Option<String> = self.read(|c| {
            c.query_row(
                "SELECT operation FROM notifier_cursor WHERE updater = ?1",
                [updater],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
        })?;
        op.map(|o| {
            Uuid::parse_str(&o).map_err(|e| Error::Decode {
                what: format!("notifier cursor of {updater}"),
                message: e.to_string(),
            })
        })
        .transpose()
    }

    fn advance_notifier_cursor(
        &self,
        updater: &str,
        from: Option<Uuid>,
        to: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        let now = micros(jiff::Timestamp::now());
        self.write(|tx| {
            let n = match from {
                None => tx.execute(
                    "INSERT INTO notifier_cursor (updater, operation, updated) VALUES (?1, ?2, ?3)
                     ON CONFLICT (updater) DO NOTHING",
                    params![updater, to.to_string(), now],
                )?,
                Some(from) => tx.execute(
                    "UPDATE notifier_cursor SET operation = ?2, updated = ?3
                     WHERE updater = ?1 AND operation = ?4",
                    params![updater, to.to_string(), now, from.to_string()],
                )?,
            };
            insert_claimed(tx, n, notifications)
        })
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

/// Insert a notification due now, with its items; its id.
/// After a statement that took a piece of notification work (deleting its job, moving a
/// cursor) and changed `claimed` rows: `notifications` stored when it took it, none when the
/// work was already done.
fn insert_claimed(
    tx: &rusqlite::Transaction<'_>,
    claimed: usize,
    notifications: &[NewNotification],
) -> rusqlite::Result<Vec<Uuid>> {
    if claimed == 0 {
        return Ok(Vec::new());
    }
    notifications
        .iter()
        .map(|n| insert_notification(tx, &n.kind, &n.body, &n.items))
        .collect()
}

fn insert_notification(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    body: &serde_json::Value,
    items: &[serde_json::Value],
) -> rusqlite::Result<Uuid> {
    let id = Uuid::new_v4();
    let now = micros(jiff::Timestamp::now());
    tx.execute(
        "INSERT INTO notification (id, kind, body, created, status, attempts, next_attempt, updated)
         VALUES (?1, ?2, ?3, ?4, 'created', 0, ?4, ?4)",
        params![id.to_string(), kind, body.to_string(), now],
    )?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO notification_item (notification, seq, body) VALUES (?1, ?2, ?3)",
    )?;
    for (i, it) in items.iter().enumerate() {
        ins.execute(params![id.to_string(), i as i64, it.to_string()])?;
    }
    Ok(id)
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
