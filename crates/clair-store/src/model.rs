//! What the store keeps, as the rest of clair-rs sees it.

use std::fmt;

pub use clair_types::update::{
    EnrichmentRecord, OpKind, UpdateDiff, UpdateOperation, UpdaterStatus,
};
use clair_types::{Digest, IndexReport};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a garbage collection removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Update operations deleted.
    pub operations: usize,
    /// Vulnerability records no longer referenced, deleted.
    pub vulnerabilities: usize,
    /// Enrichment records no longer referenced, deleted.
    pub enrichments: usize,
}

/// Delivery state of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationStatus {
    /// Not delivered yet.
    Created,
    /// Delivered (the receiver answered with success).
    Delivered,
    /// Delivered, and to be sent again at `next_attempt` until acknowledged (Clair v2's
    /// `renotifyinterval`).
    Notified,
    /// Last delivery attempt failed; retried at `next_attempt`.
    Failed,
    /// Acknowledged by the client (deleted); kept until garbage-collected.
    Deleted,
}

impl NotificationStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Created => "created",
            NotificationStatus::Delivered => "delivered",
            NotificationStatus::Notified => "notified",
            NotificationStatus::Failed => "failed",
            NotificationStatus::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(s: &str) -> NotificationStatus {
        match s {
            "delivered" => NotificationStatus::Delivered,
            "notified" => NotificationStatus::Notified,
            "failed" => NotificationStatus::Failed,
            "deleted" => NotificationStatus::Deleted,
            _ => NotificationStatus::Created,
        }
    }
}

/// A notification and its delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Id (Clair's notification id / v2 name).
    pub id: Uuid,
    /// What kind (e.g. `v4`, `v2`).
    pub kind: String,
    /// Kind-specific body.
    pub body: serde_json::Value,
    /// When it was created.
    pub created: jiff::Timestamp,
    /// Delivery state.
    pub status: NotificationStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt: jiff::Timestamp,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was last delivered (Clair v2's `Notified`); `None` before the first delivery.
    #[serde(default)]
    pub notified: Option<jiff::Timestamp>,
    /// When it was acknowledged (Clair v2's `Deleted`); `None` until then.
    #[serde(default)]
    pub deleted: Option<jiff::Timestamp>,
}

/// One item of a notification (e.g. an affected manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationItem {
    /// Position, for paging.
    pub seq: i64,
    /// The item.
    pub body: serde_json::Value,
}

/// A page of items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPage {
    /// Items in order.
    pub items: Vec<NotificationItem>,
    /// Pass as `after` for the next page; None at the end.
    pub next: Option<i64>,
}

/// The outcome of a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver accepted it.
    Delivered,
    /// The receiver accepted it; send it again at `again_at` unless it is acknowledged first.
    Notified {
        /// When to send it again.
        again_at: jiff::Timestamp,
    },
    /// It failed; try again at `retry_at`.
    Failed {
        /// Why.
        error: String,
        /// When to try again.
        retry_at: jiff::Timestamp,
    },
}

/// A notification computation waiting: an update operation whose notifications are not
/// stored yet (enqueued with the operation, in the same transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationJob {
    /// The operation.
    pub op: UpdateOperation,
    /// The updater's operation before it, as it was when this one was stored (`None`: this is
    /// the updater's first).
    pub prev: Option<Uuid>,
    /// When it was enqueued.
    pub created: jiff::Timestamp,
}

/// A notification to store, with its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// What kind (which senders deliver it).
    pub kind: String,
    /// Kind-specific body.
    pub body: serde_json::Value,
    /// Its items, in order (e.g. one per affected manifest).
    pub items: Vec<serde_json::Value>,
}

/// A layer of the Clair v2 API (`POST /v1/layers`): the client's name for it, the content
/// digest its results are stored under, and its parent's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Layer {
    /// The client's name (often `sha256:…` or a 128-hex-character id).
    pub name: String,
    /// sha256 of the layer blob as fetched.
    pub digest: Digest,
    /// The parent layer's name; `None` for a base layer.
    pub parent: Option<String>,
    /// Where it was fetched from (URL without its query, or a local path).
    pub path: String,
    /// The format given (`Docker`).
    pub format: String,
}

/// A stored index report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// The report.
    pub report: IndexReport,
    /// Layer digests, bottom first.
    pub layers: Vec<Digest>,
    /// The indexer state that produced it.
    pub state: String,
}

/// A held named lock; released when dropped (or when the process dies).
///
/// A lock can also be *lost* while held: PostgreSQL's lock lives on a database connection, and
/// when that connection dies (the server restarted, an administrator ran
/// `pg_terminate_backend`, the network failed) another instance may take the lock. The
/// backend watches the connection (a ping every second) and marks the lock lost within
/// seconds; work done under a lock checks [`Lock::is_lost`] (or a [`LockWatch`] handed to
/// other threads) and stops. SQLite's file locks are never lost while the process lives.
pub struct Lock {
    name: String,
    watch: LockWatch,
    _guard: Box<dyn Send + Sync>,
}

impl Lock {
    /// A lock that is never lost while `guard` lives.
    pub(crate) fn new(name: &str, guard: Box<dyn Send + Sync>) -> Lock {
        Lock::watched(name, LockWatch::new(name), guard)
    }

    /// A lock whose loss the backend reports through `watch`.
    pub(crate) fn watched(name: &str, watch: LockWatch, guard: Box<dyn Send + Sync>) -> Lock {
        Lock {
            name: name.to_string(),
            watch,
            _guard: guard,
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the lock was lost: another instance may hold it now, so work under it must stop
    /// without writing anything more.
    pub fn is_lost(&self) -> bool {
        self.watch.is_lost()
    }

    /// A handle that tells other threads whether the lock was lost.
    pub fn watch(&self) -> LockWatch {
        self.watch.clone()
    }

    /// `Err(`[`Error::LockLost`]`)` once the lock is lost.
    pub fn check(&self) -> crate::Result<()> {
        self.watch.check()
    }
}

/// Whether a [`Lock`] is still held; cheap to clone and check from any thread.
#[derive(Clone)]
pub struct LockWatch(std::sync::Arc<WatchState>);

struct WatchState {
    name: String,
    lost: std::sync::atomic::AtomicBool,
}

impl LockWatch {
    pub(crate) fn new(name: &str) -> LockWatch {
        LockWatch(std::sync::Arc::new(WatchState {
            name: name.to_string(),
            lost: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// Record that the lock is gone.
    pub(crate) fn set_lost(&self) {
        self.0.lost.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether the lock was lost.
    pub fn is_lost(&self) -> bool {
        self.0.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `Err(`[`Error::LockLost`]`)` once the lock is lost.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_lost() {
            Err(crate::Error::LockLost {
                name: self.0.name.clone(),
            })
        } else {
            Ok(())
        }
    }
}

impl fmt::Debug for LockWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockWatch")
            .field("name", &self.0.name)
            .field("lost", &self.is_lost())
            .finish()
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("name", &self.name)
            .field("lost", &self.is_lost())
            .finish()
    }
}
