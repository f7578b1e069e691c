//! Persistence: everything clair-rs keeps between runs, behind traits by role:
//! [`IndexerStore`], [`MatcherStore`], [`NotifierStore`] and [`Locks`]; [`Store`] is all four.
//!
//! - [`sqlite::SqliteStore`]: the embedded default, one file, WAL mode (readers never wait for
//!   the writer), file locks for [`Locks::try_lock`].
//! - `postgres::PgStore`: for many stateless instances sharing one PostgreSQL; a connection
//!   pool, migrations under an advisory lock, advisory locks for [`Locks::try_lock`], transient
//!   errors retried.
//!
//! Both backends apply one set of versioned migrations (`src/migrations/`, types spelt per
//! dialect), share the SQL they agree on (`src/sql/`) and run the same test suite
//! (`tests/suite/`). [`open`] picks the backend from a `--db` value.
//!
//! ```no_run
//! let store = clair_store::open(&clair_store::StoreOptions::default()).unwrap();
//! for op in store.update_operations(clair_store::OpKind::Vulnerability, None).unwrap() {
//!     println!("{} {} {}", op.updater, op.id, op.date);
//! }
//! ```
#![forbid(unsafe_code)]

mod cache;
mod codec;
mod error;
mod migrations;
mod model;
pub mod postgres;
mod sql;
pub mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clair_indexer::LayerResult;
use clair_types::{Digest, IndexReport, Vulnerability};
use uuid::Uuid;

pub use cache::StoreCache;
pub use clair_types::{package_name_key, package_names};
pub use error::{Error, Result};
pub use model::{
    Delivery, EnrichmentRecord, GcStats, Lock, LockWatch, NewNotification, Notification,
    NotificationItem, NotificationJob, NotificationPage, NotificationStatus, OpKind, StoredReport,
    UpdateDiff, UpdateOperation, UpdaterStatus, V1Layer,
};

pub use clair_types::FeedError;

/// Records streamed into the store; an `Err` aborts the operation.
pub type Feed<'a, T> = &'a mut dyn Iterator<Item = std::result::Result<T, FeedError>>;

/// Everything clair-rs persists: the four roles together, for callers that need several (a
/// `clair serve` running every service on one database) and for `Arc<dyn Store>` handles.
///
/// All methods are blocking; async callers run them on a blocking thread. Every write is atomic:
/// after a crash, readers see the state before or after a call, never half of it. A caller that
/// plays one role takes that trait (`&dyn MatcherStore`); `Arc<dyn Store>` upcasts to each.
pub trait Store: IndexerStore + MatcherStore + NotifierStore + Locks {}

impl<T: IndexerStore + MatcherStore + NotifierStore + Locks + ?Sized> Store for T {}

/// What the indexer keeps (claircore's `indexer.Store`): layer results, manifests with their
/// index reports and package names, and Clair v2's named layers.
pub trait IndexerStore: Send + Sync + std::fmt::Debug {
    /// The cached results for a layer.
    fn get_layer(&self, layer: &Digest) -> Result<Option<LayerResult>>;
    /// Store (or replace) the results for a layer.
    fn put_layer(&self, layer: &Digest, result: &LayerResult) -> Result<()>;
    /// Store (or replace) a manifest's index report, its layers and the indexer state that made it.
    fn put_index_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()>;
    /// A manifest's index report.
    fn get_index_report(&self, manifest: &Digest) -> Result<Option<StoredReport>>;
    /// A cheap marker of a manifest's stored index report that changes whenever the report is
    /// written again (`None`: no report), for caches of what is computed from it.
    fn index_report_version(&self, manifest: &Digest) -> Result<Option<String>>;
    /// Delete manifests and their reports; returns those that existed. Layer results stay
    /// (they are content addressed and may be shared).
    fn delete_manifests(&self, manifests: &[Digest]) -> Result<Vec<Digest>>;
    /// Every indexed manifest.
    fn manifests(&self) -> Result<Vec<Digest>>;
    /// Manifests with a package (binary or source) of one of these names, as
    /// [`package_name_key`] spells them.
    fn manifests_with_packages(&self, names: &[String]) -> Result<Vec<Digest>>;

    /// Record a Clair v2 layer (replacing one of the same name).
    fn put_v1_layer(&self, layer: &V1Layer) -> Result<()>;
    /// A Clair v2 layer by name.
    fn get_v1_layer(&self, name: &str) -> Result<Option<V1Layer>>;
    /// Every Clair v2 layer, by name.
    fn v1_layers(&self) -> Result<Vec<V1Layer>>;
    /// Delete a Clair v2 layer and every layer descending from it; returns how many were
    /// deleted (0: it did not exist).
    fn delete_v1_layer(&self, name: &str) -> Result<usize>;
    /// Record the package names a Clair v2 layer's own scan found (as [`package_name_key`]
    /// spells them), replacing earlier ones: the reverse index of
    /// [`IndexerStore::v1_layers_with_packages`].
    fn set_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()>;
    /// Clair v2 layers whose scan found a package of one of these names, by name.
    fn v1_layers_with_packages(&self, names: &[String]) -> Result<Vec<V1Layer>>;
    /// Clair v2 layers whose package names were never recorded (stored before the index
    /// existed, or by a process that stopped in between), by name.
    fn v1_layers_unindexed(&self) -> Result<Vec<V1Layer>>;
}

/// What the matcher and its updaters keep (claircore's `datastore.MatcherStore`: its `Updater`,
/// `Vulnerability` and `Enrichment` parts): update operations with their vulnerabilities or
/// enrichment records, updater status, and their garbage collection.
pub trait MatcherStore: Send + Sync + std::fmt::Debug {
    /// Store one updater run as a new update operation, atomically: readers see the previous
    /// operation's set or this one, never part of it. `fingerprint` is the updater's opaque
    /// marker of what it fetched (an ETag, a hash). An `Err` item from the feed (a parse error
    /// halfway through a download) aborts the operation: nothing is stored and
    /// [`Error::Aborted`] is returned. The same transaction enqueues the computation of the
    /// operation's notifications ([`NotifierStore::notification_jobs`]).
    fn update_vulnerabilities(
        &self,
        updater: &str,
        fingerprint: &str,
        vulnerabilities: Feed<'_, Vulnerability>,
    ) -> Result<UpdateOperation>;
    /// Update operations of a kind, newest first, optionally of one updater.
    fn update_operations(
        &self,
        kind: OpKind,
        updater: Option<&str>,
    ) -> Result<Vec<UpdateOperation>>;
    /// The vulnerabilities of one update operation.
    fn vulnerabilities(&self, op: Uuid) -> Result<Vec<Vulnerability>>;
    /// Call `f` with every vulnerability of every updater's latest operation, only those in
    /// `namespaces` when given (one consistent snapshot either way).
    fn for_each_latest_vulnerability(
        &self,
        namespaces: Option<&[String]>,
        f: &mut dyn FnMut(Vulnerability),
    ) -> Result<()>;
    /// What changed between two operations of the same updater (`prev` None: everything in `cur`
    /// is added).
    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff>;
    /// Delete update operations; returns how many existed.
    fn delete_update_operations(&self, ops: &[Uuid]) -> Result<usize>;
    /// Keep the newest `keep` operations per updater and kind, delete older ones and every
    /// vulnerability or enrichment no remaining operation references.
    fn gc(&self, keep: usize) -> Result<GcStats>;
    /// Record an updater's status after a run.
    fn set_updater_status(&self, status: &UpdaterStatus) -> Result<()>;
    /// Every updater's status.
    fn updater_status(&self) -> Result<Vec<UpdaterStatus>>;

    /// Store one enrichment updater run (CVSS, EPSS, KEV) as a new operation, atomically.
    fn update_enrichments(
        &self,
        updater: &str,
        fingerprint: &str,
        records: Feed<'_, EnrichmentRecord>,
    ) -> Result<UpdateOperation>;
    /// Records of an enrichment updater's latest operation tagged with any of `tags`.
    fn enrichments(&self, updater: &str, tags: &[String]) -> Result<Vec<EnrichmentRecord>>;
}

/// What the notifier keeps (Clair's `notifier.Store`): notifications with their items and
/// delivery state, the notification jobs update operations enqueue, and the notifier's cursor
/// per updater.
pub trait NotifierStore: Send + Sync + std::fmt::Debug {
    /// Create a notification with its items (e.g. one per affected manifest), due for delivery.
    fn create_notification(
        &self,
        kind: &str,
        body: &serde_json::Value,
        items: &[serde_json::Value],
    ) -> Result<Uuid>;
    /// A notification.
    fn notification(&self, id: Uuid) -> Result<Option<Notification>>;
    /// A page of a notification's items, starting after item `after` (None: from the start).
    fn notification_items(
        &self,
        id: Uuid,
        after: Option<i64>,
        limit: usize,
    ) -> Result<NotificationPage>;
    /// Notifications of these kinds due for delivery at `now` (created, failed or notified,
    /// with `next_attempt <= now`), soonest first.
    fn notifications_due(
        &self,
        kinds: &[&str],
        now: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<Notification>>;
    /// Notification computations waiting, oldest first, at most `limit`.
    fn notification_jobs(&self, limit: usize) -> Result<Vec<NotificationJob>>;
    /// Store the notifications a job computed and remove the job, in one transaction; their
    /// ids. Nothing is stored when the job is gone (done by another instance, or its operation
    /// deleted).
    fn complete_notification_job(
        &self,
        op: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>>;
    /// Record a delivery attempt.
    fn record_delivery(&self, id: Uuid, outcome: &Delivery) -> Result<()>;
    /// Acknowledge (the client deleted it); returns whether it existed.
    fn acknowledge_notification(&self, id: Uuid) -> Result<bool>;
    /// Delete acknowledged notifications older than `older_than`; returns how many.
    fn gc_notifications(&self, older_than: jiff::Timestamp) -> Result<usize>;
    /// The update operation of `updater` whose changes the notifier last turned into
    /// notifications (None: none yet). The operation may live in another service's database
    /// (a notifier polling a remote matcher).
    fn notified_operation(&self, updater: &str) -> Result<Option<Uuid>>;
    /// Move the notifier's cursor of `updater` from `from` (what
    /// [`NotifierStore::notified_operation`] said) to `to` and store the notifications computed
    /// for that step, in one transaction; their ids. Nothing is stored when the cursor is no
    /// longer at `from` (another instance did this step), so a step is recorded once and a
    /// crash before the commit loses nothing.
    fn advance_notifier_cursor(
        &self,
        updater: &str,
        from: Option<Uuid>,
        to: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>>;
}

/// The backend itself: named locks that make one instance run a job (Clair's
/// `notifier.Locker`, claircore's `ctxlock`), what the backend is and how its connection pool
/// is used.
pub trait Locks: Send + Sync + std::fmt::Debug {
    /// A short name of the backend and where it is (`sqlite:/path`, `postgresql://host/db`),
    /// without secrets.
    fn describe(&self) -> String;

    /// Take the named lock if nobody holds it. Held until the returned [`Lock`] is dropped or
    /// the process dies (crash included), so exactly one instance runs a given job. A lock can
    /// be lost while held (PostgreSQL: its connection died); work under it checks
    /// [`Lock::is_lost`] and stops.
    fn try_lock(&self, name: &str) -> Result<Option<Lock>>;

    /// Connection pool use, for metrics; `None` when the backend has no pool to speak of.
    fn pool_stats(&self) -> Option<PoolStats> {
        None
    }
}

/// Connection pool use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub connections: u32,
    /// Of those, idle.
    pub idle: u32,
    /// Most the pool opens.
    pub max: u32,
}

/// Where and how to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `--db` value: a SQLite file path (optionally `sqlite:PATH`), a `postgres(ql)://` URL or a
    /// libpq `key=value` string. Empty: the default SQLite file.
    pub source: String,
    /// Most pooled PostgreSQL connections.
    pub max_connections: u32,
    /// How long to wait for a connection (PostgreSQL) or a busy database (SQLite).
    pub connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            source: String::new(),
            max_connections: 10,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Is this `--db` value a PostgreSQL connection string (URL or libpq key/value)?
pub fn is_postgres_source(source: &str) -> bool {
    let s = source.trim();
    s.starts_with("postgres://")
        || s.starts_with("postgresql://")
        || s.split_whitespace()
            .next()
            .and_then(|kv| kv.split_once('='))
            .is_some_and(|(k, _)| {
                matches!(
                    k,
                    "host"
                        | "hostaddr"
                        | "port"
                        | "user"
                        | "dbname"
                        | "password"
                        | "sslmode"
                        | "sslrootcert"
                        | "sslcert"
                        | "sslkey"
                )
            })
}

/// The default SQLite database: `$XDG_DATA_HOME/clair/clair.db` or `~/.local/share/clair/clair.db`.
pub fn default_sqlite_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("clair").join("clair.db")
}

/// Open the store `opts.source` names, applying migrations.
pub fn open(opts: &StoreOptions) -> Result<Arc<dyn Store>> {
    let src = opts.source.trim();
    if is_postgres_source(src) {
        return postgres::open(src, opts);
    }
    let path = match src.strip_prefix("sqlite:").unwrap_or(src) {
        "" => default_sqlite_path(),
        p => PathBuf::from(p),
    };
    Ok(Arc::new(sqlite::SqliteStore::open(&path, opts)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_postgres_sources() {
        for s in [
            "postgresql://postgres@host:5432/clairtest?sslmode=disable",
            "postgres://host/db?user=clair",
            "host=127.0.0.1 port=5432 user=clair dbname=clair sslmode=disable",
            "  dbname=clair",
        ] {
            assert!(is_postgres_source(s), "{s}");
        }
        for s in [
            "",
            "clair.db",
            "/var/lib/clair/clair.db",
            "sqlite:x.db",
            "./host=x",
        ] {
            assert!(!is_postgres_source(s), "{s}");
        }
    }
}
