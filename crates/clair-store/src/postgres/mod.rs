//! The PostgreSQL store: many stateless clair-rs instances share one database.
//!
//! - Connection strings as users write them in Clair configs: URLs
//!   (`postgresql://user@host:5432/db?sslmode=disable`) and libpq `key=value` strings.
//! - TLS with rustls and libpq's `sslmode` (disable … verify-full), `sslrootcert`, `sslcert`,
//!   `sslkey` ([`source`] splits them out, `tls` builds the connector).
//! - A pool of connections (size and wait timeout from [`StoreOptions`]), checked on checkout.
//! - Versioned migrations, applied at start under an advisory lock, so instances starting
//!   together migrate once.
//! - Transient errors (connection reset, server restart, serialization failure, deadlock) are
//!   retried with backoff, except for streamed feeds, which can only be read once: those fail and
//!   the updater runs again.
//! - [`Store::try_lock`] takes a session advisory lock on a dedicated connection, released when
//!   the lock is dropped or the process (or the connection) dies.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clair_indexer::LayerResult;
use clair_types::{Digest, IndexReport, Vulnerability};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, Config, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;
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

/// Advisory lock key serialising migrations ("clair-rs migrate").
const MIGRATION_LOCK: i64 = 0x636c_6169_725f_6d67;
/// Advisory lock key: updates hold it shared, garbage collection exclusive, so GC never removes
/// a record an update is about to reference.
const GC_LOCK: i64 = 0x636c_6169_725f_6763;
/// Attempts for retryable operations.
const ATTEMPTS: u32 = 5;

pub mod source;
mod tls;

pub use source::{SslMode, TlsSettings, split_source};

type Manager = PostgresConnectionManager<MakeRustlsConnect>;
type Pool = r2d2::Pool<Manager>;

/// Connect to PostgreSQL, migrate, and return the store.
pub fn open(source: &str, opts: &StoreOptions) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(PgStore::connect(source, opts)?))
}

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    config: Config,
    tls: MakeRustlsConnect,
    target: String,
    /// Whether the pool can open connections now.
    health: Arc<ConnectHealth>,
    /// How long to wait for a pooled connection (all of them busy).
    wait: Duration,
}

/// The pool's latest attempts to open a connection. r2d2 keeps trying in the background and
/// makes a caller wait its whole timeout; with this, a caller gives up at once while the
/// server refuses (a restart, an outage) and still waits when the pool is merely busy.
#[derive(Debug, Default)]
struct ConnectHealth(std::sync::Mutex<HealthState>);

#[derive(Debug, Default)]
struct HealthState {
    /// When the latest attempt failed, and why.
    failure: Option<(std::time::Instant, String)>,
}

/// r2d2 retries a failed connection after at most half its timeout: this keeps those retries
/// (and so [`ConnectHealth`]) fresh, at about one attempt a second per connection wanted.
const POOL_RETRY_TIMEOUT: Duration = Duration::from_secs(2);
/// A failure younger than this means the server is refusing now.
const FAILURE_FRESH: Duration = Duration::from_secs(3);

impl ConnectHealth {
    /// Why connections fail right now, if they do.
    fn failing(&self) -> Option<String> {
        let st = self.0.lock().ok()?;
        st.failure
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FAILURE_FRESH)
            .map(|(_, why)| why.clone())
    }
}

/// Records connection failures for [`ConnectHealth`] (r2d2 would log each one).
#[derive(Debug)]
struct HealthErrors(Arc<ConnectHealth>);

impl r2d2::HandleError<postgres::Error> for HealthErrors {
    fn handle_error(&self, error: postgres::Error) {
        if let Ok(mut st) = (self.0).0.lock() {
            st.failure = Some((std::time::Instant::now(), crate::error::with_causes(&error)));
        }
    }
}

/// Clears [`ConnectHealth`] when a connection opens.
#[derive(Debug)]
struct HealthEvents(Arc<ConnectHealth>);

impl r2d2::HandleEvent for HealthEvents {
    fn handle_acquire(&self, _: r2d2::event::AcquireEvent) {
        if let Ok(mut st) = (self.0).0.lock() {
            st.failure = None;
        }
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish()
    }
}

/// `host:port/dbname`, never the password.
fn target_of(c: &Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let db = c.get_dbname().or(c.get_user()).unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// The source with any password replaced, for error messages.
fn redact(source: &str) -> String {
    let mut out = Vec::new();
    for part in source.split_whitespace() {
        if part.starts_with("password=") {
            out.push("password=REDACTED".to_string());
        } else {
            out.push(part.to_string());
        }
    }
    let s = out.join(" ");
    // URL userinfo: scheme://user:pass@host
    if let Some((scheme, rest)) = s.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:REDACTED@{host}");
    }
    s
}

/// Internal failure: a PostgreSQL error (maybe retryable) or a final one.
enum Fail {
    Pg(postgres::Error),
    Other(Error),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Other(e)
    }
}

/// Worth retrying: the server is unreachable or restarting, or a serialization failure or
/// deadlock aborted the transaction.
fn transient(e: &postgres::Error) -> bool {
    unreachable(e)
        || e.code().is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        })
}

/// The server could not be reached, is starting up or shutting down, or closed the connection
/// (its error says so). A TLS or authentication failure is not "unreachable": trying again
/// gives the same answer.
pub(crate) fn unreachable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(c) => {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::TOO_MANY_CONNECTIONS
                || c.code().starts_with("08")
        }
        // No SQLSTATE: an I/O error talking to the server (refused, reset, timed out, a name
        // that does not resolve yet), except a failed TLS handshake (InvalidData).
        None => std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() != std::io::ErrorKind::InvalidData),
    }
}

impl PgStore {
    /// Connect (URL or libpq key/value string) and migrate.
    pub fn connect(source: &str, opts: &StoreOptions) -> Result<PgStore> {
        let bad = |message: String| Error::BadSource {
            source_display: redact(source),
            message,
        };
        let split = split_source(source).map_err(bad)?;
        let mut config = Config::from_str(&split.rest).map_err(|e| bad(e.to_string()))?;
        let mode = tls::effective_mode(&split.tls).map_err(bad)?;
        config.ssl_mode(match mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                postgres::config::SslMode::Require
            }
        });
        let tls = if mode == SslMode::Disable {
            // Never used; no certificate files are read.
            tls::connector(&TlsSettings::default(), None)
        } else {
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            tls::connector(&split.tls, home.as_deref())
        }
        .map_err(bad)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(opts.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("clair-rs");
        }
        let target = target_of(&config);
        // One connection first, outside the pool: its error says what is wrong (refused, TLS,
        // authentication), where the pool would only time out.
        config
            .connect(tls.clone())
            .map_err(|e| Error::Postgres {
                target: target.clone(),
                source: e,
            })?
            .close()
            .ok();
        let manager = PostgresConnectionManager::new(config.clone(), tls.clone());
        let health = Arc::new(ConnectHealth::default());
        let pool = r2d2::Pool::builder()
            .max_size(opts.max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(POOL_RETRY_TIMEOUT)
            .error_handler(Box::new(HealthErrors(health.clone())))
            .event_handler(Box::new(HealthEvents(health.clone())))
            .test_on_check_out(true)
            .build(manager)
            .map_err(|e| Error::Connect {
                target: target.clone(),
                message: e.to_string(),
            })?;
        let store = PgStore {
            pool,
            config,
            tls,
            target,
            health,
            wait: opts.connect_timeout,
        };
        store.migrate()?;
        Ok(store)
    }

    fn pg_err(&self, e: postgres::Error) -> Error {
        Error::Postgres {
            target: self.target.clone(),
            source: e,
        }
    }

    fn fail(&self, f: Fail) -> Error {
        match f {
            Fail::Pg(e) => self.pg_err(e),
            Fail::Other(e) => e,
        }
    }

    /// A pooled connection: waits while every connection is busy (up to the connect timeout),
    /// gives up at once while new connections fail.
    fn client(&self) -> std::result::Result<r2d2::PooledConnection<Manager>, Error> {
        let deadline = std::time::Instant::now() + self.wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.pool.get_timeout(left.min(Duration::from_millis(250))) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    let failing = self.health.failing();
                    if failing.is_some() || left.is_zero() {
                        return Err(Error::Connect {
                            target: self.target.clone(),
                            message: failing.unwrap_or_else(|| e.to_string()),
                        });
                    }
                }
            }
        }
    }

    /// Run `f` on a pooled connection, retrying transient failures with backoff.
    fn run<T>(&self, mut f: impl FnMut(&mut Client) -> std::result::Result<T, Fail>) -> Result<T> {
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=ATTEMPTS {
            let last = attempt == ATTEMPTS;
            let mut c = match self.client() {
                Ok(c) => c,
                Err(e) if !last => {
                    tracing::warn!(db = %self.target, attempt, error = %e, "no connection, retrying");
                    std::thread::sleep(delay);
                    delay *= 2;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match f(&mut c) {
                Ok(v) => return Ok(v),
                Err(Fail::Pg(e)) if transient(&e) && !last => {
                    tracing::warn!(db = %self.target, attempt, error = %e, "transient error, retrying");
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                Err(f) => return Err(self.fail(f)),
            }
        }
        Err(Error::Connect {
            target: self.target.clone(),
            message: "retries exhausted".into(),
        })
    }

    /// Run `f` once (it consumes a feed that cannot be replayed).
    fn run_once<T>(
        &self,
        f: impl FnOnce(&mut Client) -> std::result::Result<T, Fail>,
    ) -> Result<T> {
        let mut c = self.client()?;
        f(&mut c).map_err(|e| self.fail(e))
    }

    fn migrate(&self) -> Result<()> {
        let newest = MIGRATIONS.last().map_or(0, |m| m.0);
        // Fast path, no lock: an up-to-date database (every start but the first).
        let current = self.run(|c| {
            Ok(c.query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .map(|r| r.get::<_, i64>(0))
            .ok())
        })?;
        if current == Some(newest) {
            return Ok(());
        }
        self.run(|c| {
            // Session lock, taken before anything else: instances starting together wait here
            // and find the work done.
            c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
            let r = (|| -> std::result::Result<(), Fail> {
                c.batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)",
                )?;
                let current: i64 = c
                    .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?
                    .get(0);
                let newest = MIGRATIONS.last().map_or(0, |m| m.0);
                if current > newest {
                    return Err(Fail::Other(Error::SchemaTooNew {
                        found: current,
                        supported: newest,
                    }));
                }
                for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
                    let mut tx = c.transaction()?;
                    tx.batch_execute(sql)?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)",
                        &[version, &micros(jiff::Timestamp::now())],
                    )?;
                    tx.commit()?;
                    tracing::info!(db = %self.target, version, "postgresql migration applied");
                }
                Ok(())
            })();
            let unlock = c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
            r?;
            unlock?;
            Ok(())
        })
    }

    /// The v1 layers a query selects (columns name, digest, parent, path, format).
    fn v1_layers_where(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<V1Layer>> {
        self.run(|c| {
            c.query(sql, params)?
                .iter()
                .map(|r| {
                    let name: String = r.try_get(0)?;
                    let digest: String = r.try_get(1)?;
                    Ok(V1Layer {
                        digest: digest.parse().map_err(|e: clair_types::DigestError| {
                            Fail::Other(Error::Decode {
                                what: format!("v1 layer {name}"),
                                message: e.to_string(),
                            })
                        })?,
                        name,
                        parent: r.try_get(2)?,
                        path: r.try_get(3)?,
                        format: r.try_get(4)?,
                    })
                })
                .collect()
        })
    }

    /// Insert a notification due now, with its items; its id.
    /// Run `claim` (a statement taking a piece of notification work: deleting its job,
    /// moving a cursor) and, when it changed a row, store `notifications`, in one
    /// transaction; their ids (none when the work was already done).
    fn store_claimed(
        &self,
        notifications: &[NewNotification],
        claim: impl Fn(&mut Transaction<'_>) -> std::result::Result<u64, postgres::Error>,
    ) -> Result<Vec<Uuid>> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            if claim(&mut tx)? == 0 {
                return Ok(Vec::new());
            }
            let ids = notifications
                .iter()
                .map(|n| Self::insert_notification(&mut tx, &n.kind, &n.body, &n.items))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(ids)
        })
    }

    fn insert_notification(
        tx: &mut Transaction<'_>,
        kind: &str,
        body: &serde_json::Value,
        items: &[serde_json::Value],
    ) -> std::result::Result<Uuid, Fail> {
        let id = Uuid::new_v4();
        let now = micros(jiff::Timestamp::now());
        tx.execute(
            "INSERT INTO notification (id, kind, body, created, status, attempts, next_attempt, updated)
             VALUES ($1, $2, $3, $4, 'created', 0, $4, $4)",
            &[&id.to_string(), &kind, &body.to_string(), &now],
        )?;
        let ins = tx.prepare(
            "INSERT INTO notification_item (notification, seq, body) VALUES ($1, $2, $3)",
        )?;
        for (i, it) in items.iter().enumerate() {
            let seq = i64::try_from(i).unwrap_or(i64::MAX);
            tx.execute(&ins, &[&id.to_string(), &seq, &it.to_string()])?;
        }
        Ok(id)
    }

    fn insert_op(tx: &mut Transaction<'_>, op: &UpdateOperation) -> std::result::Result<i64, Fail> {
        let row = tx.query_one(
            "INSERT INTO update_operation (id, updater, kind, fingerprint, date) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
            &[&op.id.to_string(), &op.updater, &op.kind.as_str(), &op.fingerprint, &micros(op.date)],
        )?;
        Ok(row.get(0))
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(
    what: &str,
    s: &str,
) -> std::result::Result<T, Fail> {
    serde_json::from_str(s).map_err(|e| {
        Fail::Other(Error::Decode {
            what: what.to_string(),
            message: e.to_string(),
        })
    })
}

fn parse_uuid(s: &str) -> std::result::Result<Uuid, Fail> {
    Uuid::parse_str(s).map_err(|e| {
        Fail::Other(Error::Decode {
            what: "id".into(),
            message: e.to_string(),
        })
    })
}

fn op_from_row(r: &postgres::Row) -> std::result::Result<UpdateOperation, Fail> {
    let id: String = r.try_get("id")?;
    let kind: String = r.try_get("kind")?;
    Ok(UpdateOperation {
        id: parse_uuid(&id)?,
        updater: r.try_get("updater")?,
        kind: OpKind::parse(&kind),
        fingerprint: r.try_get("fingerprint")?,
        date: from_micros(r.try_get("date")?),
    })
}

fn notification_from_row(r: &postgres::Row) -> std::result::Result<Notification, Fail> {
    let id: String = r.try_get("id")?;
    let body: String = r.try_get("body")?;
    let status: String = r.try_get("status")?;
    let attempts: i32 = r.try_get("attempts")?;
    Ok(Notification {
        id: parse_uuid(&id)?,
        kind: r.try_get("kind")?,
        body: decode_json("notification", &body)?,
        created: from_micros(r.try_get("created")?),
        status: NotificationStatus::parse(&status),
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt: from_micros(r.try_get("next_attempt")?),
        last_error: r.try_get("last_error")?,
        notified: r.try_get::<_, Option<i64>>("notified")?.map(from_micros),
        deleted: r.try_get::<_, Option<i64>>("deleted")?.map(from_micros),
    })
}

fn feed_abort(updater: &str, e: crate::FeedError) -> Fail {
    Fail::Other(Error::Aborted {
        updater: updater.to_string(),
        message: e.to_string(),
    })
}

fn encode_err(e: serde_json::Error) -> Fail {
    Fail::Other(Error::Decode {
        what: "document".into(),
        message: e.to_string(),
    })
}

const OP_COLS: &str = "id, updater, kind, fingerprint, date";

impl Store for PgStore {
    fn describe(&self) -> String {
        format!("postgresql://{}", self.target)
    }

    fn get_layer(&self, layer: &Digest) -> Result<Option<LayerResult>> {
        let blob: Option<Vec<u8>> = self.run(|c| {
            Ok(c.query_opt(
                "SELECT result FROM layer WHERE digest = $1",
                &[&layer.as_str()],
            )?
            .map(|r| r.get(0)))
        })?;
        blob.map(|b| decode(&format!("layer {layer}"), &b))
            .transpose()
    }

    fn put_layer(&self, layer: &Digest, result: &LayerResult) -> Result<()> {
        let blob = encode(result)?;
        self.run(|c| {
            c.execute(
                "INSERT INTO layer (digest, result, created) VALUES ($1, $2, $3)
                 ON CONFLICT (digest) DO UPDATE SET result = excluded.result",
                &[&layer.as_str(), &blob, &micros(jiff::Timestamp::now())],
            )?;
            Ok(())
        })
    }

    fn put_index_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()> {
        let blob = encode(report)?;
        let m = report.manifest_hash.as_str();
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO manifest (digest, state, report, updated) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (digest) DO UPDATE SET state = excluded.state,
                   report = excluded.report, updated = excluded.updated",
                &[&m, &state, &blob, &micros(jiff::Timestamp::now())],
            )?;
            tx.execute("DELETE FROM manifest_layer WHERE manifest = $1", &[&m])?;
            let ins = tx
                .prepare("INSERT INTO manifest_layer (manifest, idx, layer) VALUES ($1, $2, $3)")?;
            for (i, l) in layers.iter().enumerate() {
                let idx = i32::try_from(i).unwrap_or(i32::MAX);
                tx.execute(&ins, &[&m, &idx, &l.as_str()])?;
            }
            tx.execute("DELETE FROM manifest_package WHERE manifest = $1", &[&m])?;
            let names: Vec<String> = crate::index::package_names(report).into_iter().collect();
            tx.execute(
                "INSERT INTO manifest_package (manifest, name) SELECT $1, unnest($2::text[])
                 ON CONFLICT DO NOTHING",
                &[&m, &names],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn index_report_version(&self, manifest: &Digest) -> Result<Option<String>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT state, updated FROM manifest WHERE digest = $1",
                &[&manifest.as_str()],
            )?
            .map(|row| format!("{}@{}", row.get::<_, String>(0), row.get::<_, i64>(1))))
        })
    }

    fn get_index_report(&self, manifest: &Digest) -> Result<Option<StoredReport>> {
        self.run(|c| {
            let Some(row) = c.query_opt(
                "SELECT state, report FROM manifest WHERE digest = $1",
                &[&manifest.as_str()],
            )?
            else {
                return Ok(None);
            };
            let state: String = row.get(0);
            let blob: Vec<u8> = row.get(1);
            let report: IndexReport = decode(&format!("index report {manifest}"), &blob)?;
            let layers = c
                .query(
                    "SELECT layer FROM manifest_layer WHERE manifest = $1 ORDER BY idx",
                    &[&manifest.as_str()],
                )?
                .iter()
                .map(|r| {
                    let s: String = r.get(0);
                    s.parse::<Digest>().map_err(|e| {
                        Fail::Other(Error::Decode {
                            what: format!("layers of {manifest}"),
                            message: e.to_string(),
                        })
                    })
                })
                .collect::<std::result::Result<Vec<_>, Fail>>()?;
            Ok(Some(StoredReport {
                report,
                layers,
                state,
            }))
        })
    }

    fn delete_manifests(&self, manifests: &[Digest]) -> Result<Vec<Digest>> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            let mut deleted = Vec::new();
            for m in manifests {
                if tx.execute("DELETE FROM manifest WHERE digest = $1", &[&m.as_str()])? > 0 {
                    deleted.push(m.clone());
                }
            }
            tx.commit()?;
            Ok(deleted)
        })
    }

    fn manifests_with_packages(&self, names: &[String]) -> Result<Vec<Digest>> {
        self.run(|c| {
            Ok(c.query(
                "SELECT DISTINCT manifest FROM manifest_package WHERE name = ANY($1) ORDER BY manifest",
                &[&names],
            )?
            .iter()
            .filter_map(|r| r.get::<_, String>(0).parse().ok())
            .collect())
        })
    }

    fn manifests(&self) -> Result<Vec<Digest>> {
        self.run(|c| {
            Ok(c.query("SELECT digest FROM manifest ORDER BY digest", &[])?
                .iter()
                .filter_map(|r| r.get::<_, String>(0).parse().ok())
                .collect())
        })
    }

    fn put_v1_layer(&self, layer: &V1Layer) -> Result<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO v1_layer (name, digest, parent, path, format, created)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, parent = excluded.parent,
                   path = excluded.path, format = excluded.format",
                &[
                    &layer.name,
                    &layer.digest.as_str(),
                    &layer.parent,
                    &layer.path,
                    &layer.format,
                    &micros(jiff::Timestamp::now()),
                ],
            )?;
            Ok(())
        })
    }

    fn get_v1_layer(&self, name: &str) -> Result<Option<V1Layer>> {
        Ok(self
            .v1_layers_where(
                "SELECT name, digest, parent, path, format FROM v1_layer WHERE name = $1",
                &[&name],
            )?
            .pop())
    }

    fn v1_layers(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer ORDER BY name",
            &[],
        )
    }

    fn set_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("DELETE FROM v1_layer_package WHERE layer = $1", &[&layer])?;
            tx.execute(
                "INSERT INTO v1_layer_package (layer, name)
                 SELECT l.name, n FROM v1_layer l, UNNEST($2::TEXT[]) AS n WHERE l.name = $1
                 ON CONFLICT DO NOTHING",
                &[&layer, &names],
            )?;
            tx.execute(
                "UPDATE v1_layer SET packages_indexed = TRUE WHERE name = $1",
                &[&layer],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn v1_layers_with_packages(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer l WHERE EXISTS
               (SELECT 1 FROM v1_layer_package p WHERE p.layer = l.name AND p.name = ANY($1))
             ORDER BY name",
            &[&names],
        )
    }

    fn v1_layers_unindexed(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer WHERE NOT packages_indexed
             ORDER BY name",
            &[],
        )
    }

    fn delete_v1_layer(&self, name: &str) -> Result<usize> {
        self.run(|c| {
            let n = c.execute(
                "WITH RECURSIVE doomed(name) AS (
                     SELECT name FROM v1_layer WHERE name = $1
                     UNION SELECT l.name FROM v1_layer l JOIN doomed d ON l.parent = d.name)
                 DELETE FROM v1_layer WHERE name IN (SELECT name FROM doomed)",
                &[&name],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn update_vulnerabilities(
        &self,
        updater: &str,
        fingerprint: &str,
        vulnerabilities: Feed<'_, Vulnerability>,
    ) -> Result<UpdateOperation> {
        let op = UpdateOperation {
            id: Uuid::new_v4(),
            updater: updater.to_string(),
            kind: OpKind::Vulnerability,
            fingerprint: fingerprint.to_string(),
            date: jiff::Timestamp::now(),
        };
        self.run_once(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GC_LOCK])?;
            let seq = Self::insert_op(&mut tx, &op)?;
            tx.execute(
                "INSERT INTO notification_job (uo, prev, created) VALUES ($1,
                   (SELECT id FROM update_operation WHERE kind = 'vulnerability' AND updater = $2
                    AND seq < $1 ORDER BY seq DESC LIMIT 1), $3)",
                &[&seq, &updater, &micros(op.date)],
            )?;
            tx.batch_execute(
                "CREATE TEMP TABLE tmp_vuln (hash TEXT, updater TEXT, name TEXT, namespace TEXT,
                   package_name TEXT, data TEXT) ON COMMIT DROP",
            )?;
            {
                // Stream the feed into the server with COPY: one round trip, bounded memory.
                let sink = tx.copy_in(
                    "COPY tmp_vuln (hash, updater, name, namespace, package_name, data) FROM STDIN BINARY",
                )?;
                let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT; 6]);
                for v in vulnerabilities {
                    let v = v.map_err(|e| feed_abort(updater, e))?;
                    let data = serde_json::to_string(&v).map_err(encode_err)?;
                    let hash = v.fingerprint();
                    w.write(&[&hash.hex(), &v.updater, &v.name, &v.namespace, &v.package_name, &data])?;
                }
                w.finish()?;
            }
            tx.execute(
                "INSERT INTO vuln (hash, updater, name, namespace, package_name, data)
                 SELECT DISTINCT ON (hash) hash, updater, name, namespace, package_name, data FROM tmp_vuln
                 ON CONFLICT (hash) DO NOTHING",
                &[],
            )?;
            tx.execute(
                "INSERT INTO uo_vuln (uo, vuln) SELECT DISTINCT $1::BIGINT, v.id FROM tmp_vuln t
                 JOIN vuln v ON v.hash = t.hash ON CONFLICT DO NOTHING",
                &[&seq],
            )?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(op)
    }

    fn update_operations(
        &self,
        kind: OpKind,
        updater: Option<&str>,
    ) -> Result<Vec<UpdateOperation>> {
        self.run(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {OP_COLS} FROM update_operation WHERE kind = $1 AND ($2::TEXT IS NULL OR updater = $2)
                     ORDER BY seq DESC"
                ),
                &[&kind.as_str(), &updater],
            )?;
            rows.iter().map(op_from_row).collect()
        })
    }

    fn vulnerabilities(&self, op: Uuid) -> Result<Vec<Vulnerability>> {
        self.run(|c| {
            c.query(
                "SELECT v.data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id
                 JOIN update_operation o ON o.seq = uv.uo WHERE o.id = $1 ORDER BY v.id",
                &[&op.to_string()],
            )?
            .iter()
            .map(|r| decode_json("vulnerability", r.get::<_, &str>(0)))
            .collect()
        })
    }

    fn for_each_latest_vulnerability(
        &self,
        namespaces: Option<&[String]>,
        f: &mut dyn FnMut(Vulnerability),
    ) -> Result<()> {
        // One statement: a consistent snapshot even while updaters write.
        let mut c = self.client()?;
        let mut tx = c.transaction().map_err(|e| self.pg_err(e))?;
        let all = namespaces.is_none();
        let ns: Vec<String> = namespaces.map(<[String]>::to_vec).unwrap_or_default();
        let portal = tx
            .bind(
                "SELECT v.data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id
                 WHERE uv.uo IN (SELECT MAX(seq) FROM update_operation
                                 WHERE kind = 'vulnerability' GROUP BY updater)
                   AND ($1 OR v.namespace = ANY($2))",
                &[&all, &ns],
            )
            .map_err(|e| self.pg_err(e))?;
        loop {
            let rows = tx.query_portal(&portal, 5000).map_err(|e| self.pg_err(e))?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                f(decode_json("vulnerability", r.get::<_, &str>(0)).map_err(|e| self.fail(e))?);
            }
        }
        tx.commit().map_err(|e| self.pg_err(e))
    }

    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff> {
        self.run(|c| {
            let mut get_op = |id: Uuid| -> std::result::Result<(UpdateOperation, i64), Fail> {
                let row = c
                    .query_opt(
                        &format!("SELECT seq, {OP_COLS} FROM update_operation WHERE id = $1"),
                        &[&id.to_string()],
                    )?
                    .ok_or_else(|| {
                        Fail::Other(Error::NotFound(format!("update operation {id}")))
                    })?;
                Ok((op_from_row(&row)?, row.get("seq")))
            };
            let (cur_op, cur_seq) = get_op(cur)?;
            let prev_op = prev.map(&mut get_op).transpose()?;
            let prev_seq = prev_op.as_ref().map_or(-1, |p| p.1);
            let mut side = |a: i64, b: i64| -> std::result::Result<Vec<Vulnerability>, Fail> {
                c.query(
                    "SELECT v.data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id WHERE uv.uo = $1
                     AND NOT EXISTS (SELECT 1 FROM uo_vuln o WHERE o.uo = $2 AND o.vuln = v.id)
                     ORDER BY v.id",
                    &[&a, &b],
                )?
                .iter()
                .map(|r| decode_json("vulnerability", r.get::<_, &str>(0)))
                .collect()
            };
            let added = side(cur_seq, prev_seq)?;
            let removed = if prev_op.is_some() {
                side(prev_seq, cur_seq)?
            } else {
                Vec::new()
            };
            Ok(UpdateDiff {
                prev: prev_op.map(|p| p.0),
                cur: cur_op,
                added,
                removed,
            })
        })
    }

    fn delete_update_operations(&self, ops: &[Uuid]) -> Result<usize> {
        let ids: Vec<String> = ops.iter().map(Uuid::to_string).collect();
        self.run(|c| {
            let n = c.execute("DELETE FROM update_operation WHERE id = ANY($1)", &[&ids])?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn gc(&self, keep: usize) -> Result<GcStats> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&GC_LOCK])?;
            let operations = tx.execute(
                "DELETE FROM update_operation WHERE seq IN (
                   SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY kind, updater ORDER BY seq DESC) AS rn
                                    FROM update_operation) ranked WHERE rn > $1)",
                &[&keep],
            )?;
            let vulnerabilities = tx.execute(
                "DELETE FROM vuln WHERE NOT EXISTS (SELECT 1 FROM uo_vuln WHERE uo_vuln.vuln = vuln.id)",
                &[],
            )?;
            let enrichments = tx.execute(
                "DELETE FROM enrichment WHERE NOT EXISTS (SELECT 1 FROM uo_enrich WHERE uo_enrich.enrichment = enrichment.id)",
                &[],
            )?;
            tx.commit()?;
            let n = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
            Ok(GcStats {
                operations: n(operations),
                vulnerabilities: n(vulnerabilities),
                enrichments: n(enrichments),
            })
        })
    }

    fn set_updater_status(&self, status: &UpdaterStatus) -> Result<()> {
        let data = serde_json::to_string(status).map_err(|e| Error::Decode {
            what: "updater status".into(),
            message: e.to_string(),
        })?;
        self.run(|c| {
            c.execute(
                "INSERT INTO updater_status (updater, data) VALUES ($1, $2)
                 ON CONFLICT (updater) DO UPDATE SET data = excluded.data",
                &[&status.updater, &data],
            )?;
            Ok(())
        })
    }

    fn updater_status(&self) -> Result<Vec<UpdaterStatus>> {
        self.run(|c| {
            c.query("SELECT data FROM updater_status ORDER BY updater", &[])?
                .iter()
                .map(|r| decode_json("updater status", r.get::<_, &str>(0)))
                .collect()
        })
    }

    fn update_enrichments(
        &self,
        updater: &str,
        fingerprint: &str,
        records: Feed<'_, EnrichmentRecord>,
    ) -> Result<UpdateOperation> {
        let op = UpdateOperation {
            id: Uuid::new_v4(),
            updater: updater.to_string(),
            kind: OpKind::Enrichment,
            fingerprint: fingerprint.to_string(),
            date: jiff::Timestamp::now(),
        };
        self.run_once(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GC_LOCK])?;
            let seq = Self::insert_op(&mut tx, &op)?;
            tx.batch_execute(
                "CREATE TEMP TABLE tmp_enrich (hash TEXT, tags TEXT, data TEXT) ON COMMIT DROP;
                 CREATE TEMP TABLE tmp_enrich_tag (hash TEXT, tag TEXT) ON COMMIT DROP",
            )?;
            {
                let sink = tx.copy_in("COPY tmp_enrich (hash, tags, data) FROM STDIN BINARY")?;
                let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT; 3]);
                let mut tag_rows: Vec<(String, String)> = Vec::new();
                for r in records {
                    let r = r.map_err(|e| feed_abort(updater, e))?;
                    let tags = serde_json::to_string(&r.tags).map_err(encode_err)?;
                    let data = serde_json::to_string(&r.data).map_err(encode_err)?;
                    let hash = Digest::sha256_of(format!("{updater}\n{tags}\n{data}").as_bytes());
                    w.write(&[&hash.hex(), &tags, &data])?;
                    for t in r.tags {
                        tag_rows.push((hash.hex().to_string(), t));
                    }
                }
                w.finish()?;
                let sink = tx.copy_in("COPY tmp_enrich_tag (hash, tag) FROM STDIN BINARY")?;
                let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT; 2]);
                for (h, t) in &tag_rows {
                    w.write(&[h, t])?;
                }
                w.finish()?;
            }
            tx.execute(
                "INSERT INTO enrichment (hash, updater, tags, data)
                 SELECT DISTINCT ON (hash) hash, $1, tags, data FROM tmp_enrich ON CONFLICT (hash) DO NOTHING",
                &[&updater],
            )?;
            tx.execute(
                "INSERT INTO enrichment_tag (enrichment, tag) SELECT DISTINCT e.id, t.tag FROM tmp_enrich_tag t
                 JOIN enrichment e ON e.hash = t.hash ON CONFLICT DO NOTHING",
                &[],
            )?;
            tx.execute(
                "INSERT INTO uo_enrich (uo, enrichment) SELECT DISTINCT $1::BIGINT, e.id FROM tmp_enrich t
                 JOIN enrichment e ON e.hash = t.hash ON CONFLICT DO NOTHING",
                &[&seq],
            )?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(op)
    }

    fn enrichments(&self, updater: &str, tags: &[String]) -> Result<Vec<EnrichmentRecord>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT DISTINCT e.id, e.tags, e.data FROM enrichment e
                 JOIN uo_enrich ue ON ue.enrichment = e.id
                 JOIN enrichment_tag t ON t.enrichment = e.id
                 WHERE ue.uo = (SELECT MAX(seq) FROM update_operation WHERE kind = 'enrichment' AND updater = $1)
                   AND t.tag = ANY($2)
                 ORDER BY e.id",
                &[&updater, &tags],
            )?;
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for r in &rows {
                let id: i64 = r.get(0);
                if seen.insert(id) {
                    out.push(EnrichmentRecord {
                        tags: decode_json("enrichment tags", r.get::<_, &str>(1))?,
                        data: decode_json("enrichment", r.get::<_, &str>(2))?,
                    });
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
        self.run(|c| {
            let mut tx = c.transaction()?;
            let id = Self::insert_notification(&mut tx, kind, body, items)?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn notification(&self, id: Uuid) -> Result<Option<Notification>> {
        self.run(|c| {
            c.query_opt(
                "SELECT * FROM notification WHERE id = $1",
                &[&id.to_string()],
            )?
            .map(|r| notification_from_row(&r))
            .transpose()
        })
    }

    fn notification_items(
        &self,
        id: Uuid,
        after: Option<i64>,
        limit: usize,
    ) -> Result<NotificationPage> {
        let limit = limit.max(1);
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String)> = self.run(|c| {
            Ok(c.query(
                "SELECT seq, body FROM notification_item WHERE notification = $1 AND seq > $2
                 ORDER BY seq LIMIT $3",
                &[&id.to_string(), &after.unwrap_or(-1), &fetch],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?;
        let more = rows.len() > limit;
        let items = rows
            .into_iter()
            .take(limit)
            .map(|(seq, b)| {
                Ok(NotificationItem {
                    seq,
                    body: decode_json("notification item", &b).map_err(|e| self.fail(e))?,
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|c| {
            c.query(
                "SELECT * FROM notification WHERE kind = ANY($3)
                 AND status IN ('created', 'failed', 'notified') AND next_attempt <= $1
                 ORDER BY next_attempt, id LIMIT $2",
                &[&micros(now), &limit, &kinds],
            )?
            .iter()
            .map(notification_from_row)
            .collect()
        })
    }

    fn notification_jobs(&self, limit: usize) -> Result<Vec<NotificationJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|c| {
            c.query(
                "SELECT o.id, o.updater, o.kind, o.fingerprint, o.date, j.prev, j.created
                 FROM notification_job j JOIN update_operation o ON o.seq = j.uo
                 ORDER BY j.uo LIMIT $1",
                &[&limit],
            )?
            .iter()
            .map(|r| {
                Ok(NotificationJob {
                    op: op_from_row(r)?,
                    prev: r
                        .try_get::<_, Option<String>>("prev")?
                        .map(|p| parse_uuid(&p))
                        .transpose()?,
                    created: from_micros(r.try_get("created")?),
                })
            })
            .collect()
        })
    }

    fn complete_notification_job(
        &self,
        op: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        self.store_claimed(notifications, |tx| {
            tx.execute(
                "DELETE FROM notification_job WHERE uo = (SELECT seq FROM update_operation WHERE id = $1)",
                &[&op.to_string()],
            )
        })
    }

    fn record_delivery(&self, id: Uuid, outcome: &Delivery) -> Result<()> {
        let now = micros(jiff::Timestamp::now());
        let n = self.run(|c| {
            Ok(match outcome {
                Delivery::Delivered => c.execute(
                    "UPDATE notification SET status = 'delivered', attempts = attempts + 1, last_error = NULL,
                     notified = $2, updated = $2 WHERE id = $1 AND status != 'deleted'",
                    &[&id.to_string(), &now],
                )?,
                Delivery::Notified { again_at } => c.execute(
                    "UPDATE notification SET status = 'notified', attempts = attempts + 1, last_error = NULL,
                     next_attempt = $2, notified = $3, updated = $3 WHERE id = $1 AND status != 'deleted'",
                    &[&id.to_string(), &micros(*again_at), &now],
                )?,
                Delivery::Failed { error, retry_at } => c.execute(
                    "UPDATE notification SET status = 'failed', attempts = attempts + 1, last_error = $2,
                     next_attempt = $3, updated = $4 WHERE id = $1 AND status != 'deleted'",
                    &[&id.to_string(), error, &micros(*retry_at), &now],
                )?,
            })
        })?;
        if n == 0 && self.notification(id)?.is_none() {
            return Err(Error::NotFound(format!("notification {id}")));
        }
        Ok(())
    }

    fn acknowledge_notification(&self, id: Uuid) -> Result<bool> {
        let now = micros(jiff::Timestamp::now());
        let n = self.run(|c| {
            Ok(c.execute(
                "UPDATE notification SET status = 'deleted', deleted = $2, updated = $2 WHERE id = $1",
                &[&id.to_string(), &now],
            )?)
        })?;
        Ok(n > 0)
    }

    fn gc_notifications(&self, older_than: jiff::Timestamp) -> Result<usize> {
        self.run(|c| {
            let n = c.execute(
                "DELETE FROM notification WHERE status = 'deleted' AND updated < $1",
                &[&micros(older_than)],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn notified_operation(&self, updater: &str) -> Result<Option<Uuid>> {
        self.run(|c| {
            c.query_opt(
                "SELECT operation FROM notifier_cursor WHERE updater = $1",
                &[&updater],
            )?
            .map(|r| parse_uuid(r.get::<_, &str>(0)))
            .transpose()
        })
    }

    fn advance_notifier_cursor(
        &self,
        updater: &str,
        from: Option<Uuid>,
        to: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        let now = micros(jiff::Timestamp::now());
        self.store_claimed(notifications, |tx| match from {
            None => tx.execute(
                "INSERT INTO notifier_cursor (updater, operation, updated) VALUES ($1, $2, $3)
                 ON CONFLICT (updater) DO NOTHING",
                &[&updater, &to.to_string(), &now],
            ),
            Some(from) => tx.execute(
                "UPDATE notifier_cursor SET operation = $2, updated = $3
                 WHERE updater = $1 AND operation = $4",
                &[&updater, &to.to_string(), &now, &from.to_string()],
            ),
        })
    }

    fn pool_stats(&self) -> Option<crate::PoolStats> {
        let st = self.pool.state();
        Some(crate::PoolStats {
            connections: st.connections,
            idle: st.idle_connections,
            max: self.pool.max_size(),
        })
    }

    fn try_lock(&self, name: &str) -> Result<Option<Lock>> {
        // A dedicated connection, outside the pool: the session lock lives exactly as long as
        // the connection, so a crash (or a dropped Lock, which closes it) releases it.
        let key = lock_key(name);
        let mut client = self
            .config
            .connect(self.tls.clone())
            .map_err(|e| self.pg_err(e))?;
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .map_err(|e| self.pg_err(e))?
            .get(0);
        if !got {
            return Ok(None);
        }
        let watch = LockWatch::new(name);
        let guard =
            LockConn::watch(client, key, watch.clone(), self.target.clone()).map_err(|e| {
                Error::Io {
                    path: format!("lock {name}: watcher thread"),
                    source: e,
                }
            })?;
        Ok(Some(Lock::watched(name, watch, Box::new(guard))))
    }
}

/// How often a held lock's connection is checked.
const LOCK_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a check may take before the connection counts as dead.
const LOCK_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A held lock's connection, checked by a watcher thread (claircore's ctxlock is the model):
/// when a check fails, the lock is marked lost. Dropping it unlocks and closes the connection.
struct LockConn {
    stop: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LockConn {
    fn watch(
        mut client: Client,
        key: i64,
        watch: LockWatch,
        target: String,
    ) -> std::io::Result<LockConn> {
        let stop = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("lock {}", watch.name()))
                .spawn(move || {
                    let (flag, cv) = &*stop;
                    loop {
                        let Ok(guard) = flag.lock() else { return };
                        let Ok((guard, _)) =
                            cv.wait_timeout_while(guard, LOCK_CHECK_EVERY, |stopped| !*stopped)
                        else {
                            return;
                        };
                        if *guard {
                            drop(guard);
                            // Unlock explicitly: closing alone releases it too, but only once
                            // the server has noticed.
                            let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&key]);
                            return;
                        }
                        drop(guard);
                        if let Err(e) = client.is_valid(LOCK_CHECK_TIMEOUT) {
                            watch.set_lost();
                            tracing::warn!(
                                db = %target,
                                lock = watch.name(),
                                error = %crate::error::Error::Postgres { target: target.clone(), source: e },
                                "lock lost: its database connection failed"
                            );
                            return;
                        }
                    }
                })
        };
        Ok(LockConn {
            stop,
            thread: Some(thread?),
        })
    }
}

impl Drop for LockConn {
    fn drop(&mut self) {
        let (flag, cv) = &*self.stop;
        if let Ok(mut stopped) = flag.lock() {
            *stopped = true;
        }
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A 64-bit advisory lock key for a lock name (first 8 bytes of its sha256).
fn lock_key(name: &str) -> i64 {
    let d = Digest::sha256_of(format!("clair-rs lock {name}").as_bytes());
    let mut b = [0u8; 8];
    for (i, chunk) in d.hex().as_bytes().chunks(2).take(8).enumerate() {
        b[i] = u8::from_str_radix(std::str::from_utf8(chunk).unwrap_or("0"), 16).unwrap_or(0);
    }
    i64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clair_connection_strings() {
        for s in [
            "postgresql://postgres@host:5432/clairtest?sslmode=disable",
            "postgres://host/clair?user=clair&password=secret",
            "host=127.0.0.1 port=5432 user=clair dbname=clair sslmode=disable",
        ] {
            let c = Config::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(!target_of(&c).is_empty());
        }
        let c = Config::from_str("host=db.example port=6543 user=u dbname=clair sslmode=disable")
            .unwrap();
        assert_eq!(target_of(&c), "db.example:6543/clair");
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgresql://clair:hunter2@db:5432/clair"),
            "postgresql://clair:REDACTED@db:5432/clair"
        );
        assert_eq!(
            redact("host=db user=clair password=hunter2 dbname=clair"),
            "host=db user=clair password=REDACTED dbname=clair"
        );
    }

    #[test]
    fn lock_keys_differ_per_name() {
        assert_ne!(lock_key("updater/debian"), lock_key("updater/alpine"));
        assert_eq!(lock_key("x"), lock_key("x"));
    }
}
