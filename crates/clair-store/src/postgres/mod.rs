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
//! - [`Locks::try_lock`] takes a session advisory lock on a dedicated connection, released when
//!   the lock is dropped or the process (or the connection) dies.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clair_types::Digest;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::codec::micros;
use crate::error::{Error, Result};
use crate::migrations::{self, Dialect};
use crate::model::*;
use crate::sql::driver::{Arg, Driver, Exec};
use crate::{Locks, Store, StoreOptions};

/// Advisory lock key serialising migrations ("clair-rs migrate").
const MIGRATION_LOCK: i64 = 0x636c_6169_725f_6d67;
/// Advisory lock key: updates hold it shared, garbage collection exclusive, so GC never removes
/// a record an update is about to reference.
const GC_LOCK: i64 = 0x636c_6169_725f_6763;
/// Attempts for retryable operations.
const ATTEMPTS: u32 = 5;

mod indexer;
mod matcher;
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
pub(crate) enum Fail {
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
        match e {
            // Still a PostgreSQL error: [`PgStore::run`] may retry it.
            Error::Postgres { source, .. } => Fail::Pg(source),
            e => Fail::Other(e),
        }
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

    /// Run one statement that changes rows (retried like [`Self::run`]); how many.
    fn change(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<usize> {
        let n = self.run(|c| Ok(c.execute(sql, params)?))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
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
        // Fast path, no lock: an up-to-date database (every start but the first).
        let current = self.run(|c| {
            Ok(c.query_one(migrations::CURRENT, &[])
                .map(|r| r.get::<_, i64>(0))
                .ok())
        })?;
        if current == Some(migrations::newest()) {
            return Ok(());
        }
        self.run(|c| {
            // Session lock, taken before anything else: instances starting together wait here
            // and find the work done.
            c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
            let r = (|| -> std::result::Result<(), Fail> {
                c.batch_execute(&Dialect::Postgres.bookkeeping())?;
                let current: i64 = c.query_one(migrations::CURRENT, &[])?.get(0);
                for (version, sql) in Dialect::Postgres.pending(current)? {
                    let mut tx = c.transaction()?;
                    tx.batch_execute(&sql)?;
                    tx.execute(
                        migrations::APPLIED,
                        &[&version, &micros(jiff::Timestamp::now())],
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
}

impl crate::sql::Row for postgres::Row {
    type Error = Fail;
    fn text(&self, column: &str) -> std::result::Result<String, Fail> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> std::result::Result<Option<String>, Fail> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> std::result::Result<i64, Fail> {
        Ok(self.try_get(column)?)
    }
    fn bytes(&self, column: &str) -> std::result::Result<Vec<u8>, Fail> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> std::result::Result<Option<i64>, Fail> {
        Ok(self.try_get(column)?)
    }
    fn int32(&self, column: &str) -> std::result::Result<i32, Fail> {
        Ok(self.try_get(column)?)
    }
    fn invalid(error: Error) -> Fail {
        Fail::Other(error)
    }
}

/// Arguments as the driver binds them.
fn pg_args<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter()
        .map(|a| match a {
            Arg::Text(s) => s as &(dyn ToSql + Sync),
            Arg::OptText(s) => s,
            Arg::Bytes(b) => b,
            Arg::Int(i) => i,
        })
        .collect()
}

/// Statements in a write transaction, for [`Driver::transaction`].
struct PgExec<'a, 't> {
    store: &'a PgStore,
    tx: &'a mut postgres::Transaction<'t>,
}

impl Exec for PgExec<'_, '_> {
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        let n = self
            .tx
            .execute(sql, &pg_args(args))
            .map_err(|e| self.store.pg_err(e))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl Driver for PgStore {
    type Row<'r> = postgres::Row;
    type RowError = Fail;

    fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut map: impl FnMut(&postgres::Row) -> std::result::Result<T, Fail>,
    ) -> Result<Vec<T>> {
        let params = pg_args(args);
        self.run(|c| c.query(sql, &params)?.iter().map(&mut map).collect())
    }

    fn exec(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        self.change(sql, &pg_args(args))
    }

    fn transaction<T>(&self, f: &mut dyn FnMut(&mut dyn Exec) -> Result<T>) -> Result<T> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            let v = f(&mut PgExec {
                store: self,
                tx: &mut tx,
            })?;
            tx.commit()?;
            Ok(v)
        })
    }
}

impl Locks for PgStore {
    fn describe(&self) -> String {
        format!("postgresql://{}", self.target)
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
