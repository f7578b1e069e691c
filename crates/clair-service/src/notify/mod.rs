//! Notifications as durable work: computed from stored update operations, kept in the store,
//! delivered by senders behind one small trait.
//!
//! ```text
//!  Store::update_vulnerabilities ─(same transaction)─► notification job
//!                                   (whatever stored the operation: `clair serve`'s updater,
//!                                    `clair update`, `update import`, another instance, the
//!                                    v1 vulnerability API)
//!  Notifier::compute  (store lock notifier/compute, any instance)
//!      job ─► diff(prev, op) ─► v4::compute / v1::compute, for the kinds a sender takes
//!          ─► Store::complete_notification_job: notifications stored, job removed, atomically
//!  Notifier::deliver  (store lock notifier/deliver/<kind>)
//!      due notifications of the kind (selected in SQL) ─► each sender of the kind
//!          ─► Store::record_delivery (+ acknowledged when a sender ends it)
//! ```
//!
//! A crash between an operation's commit and its notifications loses nothing: the job is
//! still there for the next pass of any instance. Delivery is at least once: a process killed
//! after sending and before recording sends again (the receiver sees the same id).
//!
//! A notifier-mode server (Clair v4's distributed deployment) has no update operations in its
//! own database: [`Notifier::with_remote`] makes it poll the matcher service instead, and the
//! cursor per updater in its store plays the job queue's part:
//!
//! ```text
//!  Notifier::compute  (store lock notifier/compute; at most every poll_interval)
//!      matcher: newest operation per updater (ETag / 304) ─► not the cursor's? ─►
//!      matcher: update_diff(cursor's op, newest) ─► indexer: affected_manifest ─► v4::compute
//!          ─► Store::advance_notifier_cursor: notifications stored, cursor moved, atomically
//! ```
//!
//! The operations stay in the matcher's database until its garbage collection, so a crash
//! before the commit loses nothing either: the next poll does the same step again.

pub mod amqp;
pub mod source;
pub mod v1;
pub mod v4;
pub mod webhook;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clair_ecosystems::EcosystemNamespaces;
use clair_store::{
    Delivery, NewNotification, Notification, NotificationJob, Store, UpdateOperation,
};
use uuid::Uuid;

use crate::Service;
use source::{LocalSource, NotificationSource};

/// The store kind of Clair v4 notifications (`/notifier/api/v1/notification/{id}`).
pub const V4: &str = "v4";
/// The store kind of Clair v2 notifications (`/v1/notifications/:name`).
pub const V1: &str = "v1";

/// Jobs computed per pass, and notifications delivered per kind and pass.
const BATCH: usize = 100;

/// A way out for notifications (a webhook, a broker, a topic).
pub trait Sender: Send + Sync + std::fmt::Debug {
    /// Short name, for logs.
    fn name(&self) -> &'static str;
    /// The kind of notification it delivers ([`V4`] or [`V1`]).
    fn kind(&self) -> &'static str;
    /// Deliver one notification (blocking, bounded by the sender's own timeouts) and say how
    /// it went; the caller records it.
    fn send(&self, store: &dyn Store, n: &Notification) -> Delivery;
    /// Whether a successful delivery ends the notification, as a client's `DELETE` would
    /// (clair-sqs's sender did that).
    fn acknowledges(&self) -> bool {
        false
    }
}

/// What to compute.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Clair v4: one item per vulnerability and manifest instead of one summary per manifest.
    pub disable_summary: bool,
}

/// The one notification loop: computes pending jobs and delivers due notifications through
/// the configured senders.
#[derive(Debug, Clone)]
pub struct Notifier {
    state: Service,
    senders: Vec<Arc<dyn Sender>>,
    options: Options,
    remote: Option<Arc<Remote>>,
}

/// Notifier mode: update operations come from the matcher service, polled.
#[derive(Debug)]
struct Remote {
    source: Arc<dyn NotificationSource>,
    every: Duration,
    /// When the next poll is due (`None`: now).
    next: Mutex<Option<Instant>>,
}

/// How soon a failed poll of the matcher is retried (at most; `poll_interval` if shorter).
const RETRY_POLL: Duration = Duration::from_secs(30);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Notifications created.
    pub created: usize,
    /// Notifications delivered.
    pub delivered: usize,
}

/// The reverse-index keys of every package a diff's records name (added or removed).
pub(crate) fn changed_package_names(diff: &clair_store::UpdateDiff) -> Vec<String> {
    diff.added
        .iter()
        .chain(&diff.removed)
        .map(|v| clair_types::package_name_key(&v.package_name))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn log_created(ids: &[Uuid], out: &[NewNotification], op: &UpdateOperation) {
    for (id, n) in ids.iter().zip(out) {
        tracing::info!(%id, kind = %n.kind, updater = %op.updater, items = n.items.len(),
            "notification created");
    }
}

/// `now + after`.
pub(crate) fn retry_at(after: Duration) -> jiff::Timestamp {
    let now = jiff::Timestamp::now();
    jiff::SignedDuration::try_from(after)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(now)
}

/// Several senders' outcomes for one notification as one: a failure if any failed (retried at
/// the latest time asked), else sent again when one asks for that and none ends it.
fn combine(outcomes: Vec<Delivery>, acknowledged: bool) -> Delivery {
    let mut failed: Option<(Vec<String>, jiff::Timestamp)> = None;
    let mut again: Option<jiff::Timestamp> = None;
    for o in outcomes {
        match o {
            Delivery::Failed { error, retry_at } => {
                let f = failed.get_or_insert((Vec::new(), retry_at));
                f.0.push(error);
                f.1 = f.1.max(retry_at);
            }
            Delivery::Notified { again_at } => {
                again = Some(again.map_or(again_at, |a| a.min(again_at)));
            }
            Delivery::Delivered => {}
        }
    }
    match (failed, again) {
        (Some((errors, retry_at)), _) => Delivery::Failed {
            error: errors.join("; "),
            retry_at,
        },
        (None, Some(again_at)) if !acknowledged => Delivery::Notified { again_at },
        _ => Delivery::Delivered,
    }
}

impl Notifier {
    /// A notifier over the server's state with these senders.
    pub fn new(
        state: impl Into<Service>,
        senders: Vec<Arc<dyn Sender>>,
        options: Options,
    ) -> Notifier {
        Notifier {
            state: state.into(),
            senders,
            options,
            remote: None,
        }
    }

    /// Notifier mode: compute the notifications of the update operations `source` (the
    /// matcher and indexer services) has, polled every `every`, instead of the jobs of the
    /// local store.
    pub fn with_remote(mut self, source: Arc<dyn NotificationSource>, every: Duration) -> Notifier {
        self.remote = Some(Arc::new(Remote {
            source,
            every,
            next: Mutex::new(None),
        }));
        self
    }

    /// The kinds the senders take: the notifications computed.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.senders
            .iter()
            .map(|s| s.kind())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Compute pending jobs (under the store lock `notifier/compute`; another instance
    /// holding it: nothing done here). Without senders nothing is computed: the jobs wait for
    /// an instance that has some. Returns how many notifications were created; a job that
    /// fails is logged and left for the next pass.
    pub fn compute(&self) -> Result<usize, crate::Error> {
        let kinds = self.kinds();
        if kinds.is_empty() {
            return Ok(0);
        }
        let store = self.state.store.as_ref();
        if let Some(remote) = &self.remote {
            return self.compute_remote(remote, &kinds);
        }
        let Some(lock) = store.try_lock("notifier/compute")? else {
            return Ok(0);
        };
        let mut created = 0;
        for job in store.notification_jobs(BATCH)? {
            // Lost (its connection gone): another instance may compute now. Completing a job
            // is idempotent, so stopping here is only to leave the work to it.
            lock.check()?;
            match self.compute_job(&job, &kinds) {
                Ok(n) => created += n,
                Err(e) => tracing::error!(
                    updater = %job.op.updater, operation = %job.op.id, error = %e,
                    "computing notifications; retried on the next pass"
                ),
            }
        }
        Ok(created)
    }

    fn compute_job(&self, job: &NotificationJob, kinds: &[&str]) -> Result<usize, crate::Error> {
        let store = self.state.store.as_ref();
        let op = &job.op;
        let source = LocalSource {
            store,
            ns: &EcosystemNamespaces,
        };
        let out = self.notifications(&source, job.prev, op, kinds)?;
        let ids = store.complete_notification_job(op.id, &out)?;
        log_created(&ids, &out, op);
        Ok(ids.len())
    }

    /// The notifications of `op`, the operation of its updater after `prev`, for these kinds.
    fn notifications(
        &self,
        source: &dyn NotificationSource,
        prev: Option<Uuid>,
        op: &UpdateOperation,
        kinds: &[&str],
    ) -> Result<Vec<NewNotification>, crate::Error> {
        // An updater's first operation would flag everything: nothing, as Clair does; the
        // v1 API's manual vulnerabilities are notified from the first (as Clair v2 did).
        let manual = op.updater == crate::v1::MANUAL_UPDATER;
        if prev.is_none() && !manual {
            return Ok(Vec::new());
        }
        let diff = match source.update_diff(prev, op.id) {
            Ok(d) => d,
            Err(crate::Error::Store(clair_store::Error::NotFound(what))) => {
                tracing::warn!(updater = %op.updater, operation = %op.id, missing = %what,
                    "previous operation gone (garbage collected): no notifications for this one");
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        if kinds.contains(&V4)
            && let Some(n) = v4::compute(source, &diff, self.options)?
        {
            out.push(n);
        }
        if kinds.contains(&V1) {
            out.extend(v1::compute(&self.state, &diff)?);
        }
        Ok(out)
    }

    /// Notifier mode: one poll of the matcher when due (under the store lock
    /// `notifier/compute`); each updater whose newest operation is not its cursor's gets its
    /// notifications, stored as the cursor moves. One updater's failure does not stop the
    /// others; it is retried on the next poll.
    fn compute_remote(&self, remote: &Remote, kinds: &[&str]) -> Result<usize, crate::Error> {
        let now = Instant::now();
        {
            let next = remote.next.lock().unwrap_or_else(|p| p.into_inner());
            if next.is_some_and(|t| now < t) {
                return Ok(0);
            }
        }
        let store = self.state.store.as_ref();
        let Some(lock) = store.try_lock("notifier/compute")? else {
            return Ok(0);
        };
        let result = self.poll(remote.source.as_ref(), &lock, kinds);
        let after = match &result {
            Ok(_) => remote.every,
            Err(_) => remote.every.min(RETRY_POLL),
        };
        *remote.next.lock().unwrap_or_else(|p| p.into_inner()) = Some(now + after);
        result
    }

    fn poll(
        &self,
        source: &dyn NotificationSource,
        lock: &clair_store::Lock,
        kinds: &[&str],
    ) -> Result<usize, crate::Error> {
        let store = self.state.store.as_ref();
        let mut pending = Vec::new();
        for (updater, op) in source.latest_update_operations()? {
            if store.notified_operation(&updater)? != Some(op.id) {
                pending.push(updater);
            }
        }
        if pending.is_empty() {
            return Ok(0);
        }
        let all = source.update_operations()?;
        let mut created = 0;
        for updater in pending {
            lock.check()?;
            let ops = all.get(&updater).map(Vec::as_slice).unwrap_or_default();
            match self.compute_updater(source, &updater, ops, kinds) {
                Ok(n) => created += n,
                Err(e) => tracing::error!(updater = %updater, error = %e,
                    "computing notifications; retried on the next poll"),
            }
        }
        Ok(created)
    }

    /// `updater`'s newest operation (`ops`: its operations, newest first) against the one its
    /// cursor names, or (no cursor yet, or its operation gone) the one before the newest, as
    /// Clair's notifier does; an updater's only operation notifies nothing.
    fn compute_updater(
        &self,
        source: &dyn NotificationSource,
        updater: &str,
        ops: &[UpdateOperation],
        kinds: &[&str],
    ) -> Result<usize, crate::Error> {
        let store = self.state.store.as_ref();
        let Some(cur) = ops.first() else {
            return Ok(0);
        };
        let last = store.notified_operation(updater)?;
        if last == Some(cur.id) {
            return Ok(0);
        }
        let prev = match last {
            Some(l) if ops.iter().any(|o| o.id == l) => Some(l),
            _ => ops.get(1).map(|o| o.id),
        };
        let out = self.notifications(source, prev, cur, kinds)?;
        let ids = store.advance_notifier_cursor(updater, last, cur.id, &out)?;
        log_created(&ids, &out, cur);
        Ok(ids.len())
    }

    /// Deliver due notifications, each kind under its store lock `notifier/deliver/<kind>`,
    /// through every sender of the kind. Returns how many were delivered.
    pub fn deliver(&self) -> Result<usize, crate::Error> {
        let store = self.state.store.as_ref();
        let mut delivered = 0;
        for kind in self.kinds() {
            let Some(lock) = store.try_lock(&format!("notifier/deliver/{kind}"))? else {
                continue;
            };
            let senders: Vec<&Arc<dyn Sender>> =
                self.senders.iter().filter(|s| s.kind() == kind).collect();
            let acknowledges = senders.iter().any(|s| s.acknowledges());
            for n in store.notifications_due(&[kind], jiff::Timestamp::now(), BATCH)? {
                // Lost: another instance may be delivering; stop rather than send twice.
                lock.check()?;
                let outcomes = senders.iter().map(|s| s.send(store, &n)).collect();
                let outcome = combine(outcomes, acknowledges);
                match &outcome {
                    Delivery::Failed { error, .. } => {
                        tracing::warn!(id = %n.id, kind, %error, "notification delivery failed");
                    }
                    _ => {
                        delivered += 1;
                        tracing::info!(id = %n.id, kind, "notification delivered");
                    }
                }
                let ok = !matches!(outcome, Delivery::Failed { .. });
                store.record_delivery(n.id, &outcome)?;
                if ok && acknowledges {
                    store.acknowledge_notification(n.id)?;
                }
            }
        }
        Ok(delivered)
    }

    /// One pass: compute, then deliver; errors logged.
    pub fn run_once(&self) -> Pass {
        let created = self.compute().unwrap_or_else(|e| {
            tracing::error!(error = %e, "computing notifications");
            0
        });
        let delivered = self.deliver().unwrap_or_else(|e| {
            tracing::error!(error = %e, "delivering notifications");
            0
        });
        Pass { created, delivered }
    }

    /// Passes every `every` until `stop` is set; acknowledged notifications are removed after a
    /// week (hourly).
    pub fn run(&self, stop: &AtomicBool, every: Duration) {
        let mut last_gc: Option<std::time::Instant> = None;
        while !stop.load(Ordering::SeqCst) {
            self.run_once();
            if last_gc.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                last_gc = Some(std::time::Instant::now());
                let cutoff = jiff::Timestamp::now()
                    .checked_sub(jiff::SignedDuration::from_hours(24 * 7))
                    .unwrap_or_else(|_| jiff::Timestamp::now());
                match self.state.store.gc_notifications(cutoff) {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "old notifications removed"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "removing old notifications"),
                }
            }
            let start = std::time::Instant::now();
            while start.elapsed() < every && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_combine() {
        let t = |s: i64| jiff::Timestamp::from_second(1_800_000_000 + s).unwrap();
        let failed = |s: i64| Delivery::Failed {
            error: format!("e{s}"),
            retry_at: t(s),
        };
        assert_eq!(
            combine(vec![Delivery::Delivered, failed(5), failed(9)], false),
            Delivery::Failed {
                error: "e5; e9".into(),
                retry_at: t(9)
            }
        );
        assert_eq!(
            combine(
                vec![
                    Delivery::Notified { again_at: t(7) },
                    Delivery::Notified { again_at: t(3) }
                ],
                false
            ),
            Delivery::Notified { again_at: t(3) }
        );
        assert_eq!(
            combine(vec![Delivery::Notified { again_at: t(7) }], true),
            Delivery::Delivered,
            "an acknowledging sender ends it"
        );
        assert_eq!(
            combine(vec![Delivery::Delivered], false),
            Delivery::Delivered
        );
    }
}
