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

pub mod amqp;
pub mod v1;
pub mod v4;
pub mod webhook;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clair_ecosystems::EcosystemNamespaces;
use clair_store::{Delivery, Notification, NotificationJob, Store};

use crate::AppState;

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
    state: AppState,
    senders: Vec<Arc<dyn Sender>>,
    options: Options,
}

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
        .map(|v| clair_store::package_name_key(&v.package_name))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
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
    pub fn new(state: AppState, senders: Vec<Arc<dyn Sender>>, options: Options) -> Notifier {
        Notifier {
            state,
            senders,
            options,
        }
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
        // An updater's first operation would flag everything: nothing, as Clair does; the
        // v1 API's manual vulnerabilities are notified from the first (as Clair v2 did).
        let manual = op.updater == crate::v1_vulns::MANUAL_UPDATER;
        if job.prev.is_none() && !manual {
            store.complete_notification_job(op.id, &[])?;
            return Ok(0);
        }
        let diff = match store.update_diff(job.prev, op.id) {
            Ok(d) => d,
            Err(clair_store::Error::NotFound(what)) => {
                tracing::warn!(updater = %op.updater, operation = %op.id, missing = %what,
                    "previous operation gone (garbage collected): no notifications for this one");
                store.complete_notification_job(op.id, &[])?;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        if kinds.contains(&V4)
            && let Some(n) = v4::compute(store, &EcosystemNamespaces, &diff, self.options)?
        {
            out.push(n);
        }
        if kinds.contains(&V1) {
            out.extend(v1::compute(&self.state, &diff)?);
        }
        let ids = store.complete_notification_job(op.id, &out)?;
        for (id, n) in ids.iter().zip(&out) {
            tracing::info!(%id, kind = %n.kind, updater = %op.updater, items = n.items.len(),
                "notification created");
        }
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
