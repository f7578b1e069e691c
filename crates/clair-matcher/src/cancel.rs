//! Stopping updater work early: the process is shutting down, or the store lock a run holds
//! was lost (another instance may be running the same updater now).
//!
//! Updaters are blocking code, so cancellation is a flag checked at every step that can wait:
//! each HTTP request (which runs on a helper thread the caller stops waiting for), the backoff
//! between retries, every record streamed into the store, and the end of the feed before it
//! is committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A cancellation flag, shared by clones; children are cancelled with their parent.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    cancelled: AtomicBool,
    parent: Option<Cancel>,
    lock: Option<LockCheck>,
}

/// A held lock as cancellation sees it: its name, and whether it was lost (the store's
/// `LockWatch::is_lost`, passed in so this crate needs no store).
struct LockCheck {
    name: String,
    lost: Box<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for LockCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockCheck")
            .field("name", &self.name)
            .field("lost", &(self.lost)())
            .finish()
    }
}

/// How often waits look at the flag.
const POLL: Duration = Duration::from_millis(50);

impl Cancel {
    /// A flag nobody has set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Set the flag (this one and every child).
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
    }

    /// A flag set by [`cancel`](Self::cancel) on it or on `self`.
    pub fn child(&self) -> Cancel {
        Cancel(Arc::new(Inner {
            cancelled: AtomicBool::new(false),
            parent: Some(self.clone()),
            lock: None,
        }))
    }

    /// A child that is also cancelled once the lock `name` is lost (`lost` says so).
    pub fn under_lock(
        &self,
        name: &str,
        lost: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Cancel {
        Cancel(Arc::new(Inner {
            cancelled: AtomicBool::new(false),
            parent: Some(self.clone()),
            lock: Some(LockCheck {
                name: name.to_string(),
                lost: Box::new(lost),
            }),
        }))
    }

    /// Whether to stop.
    pub fn is_cancelled(&self) -> bool {
        self.reason().is_some()
    }

    /// Why to stop (`None`: carry on): "lock updater/debian lost" or "cancelled".
    pub fn reason(&self) -> Option<String> {
        if let Some(w) = &self.0.lock
            && (w.lost)()
        {
            return Some(format!("lock {} lost", w.name));
        }
        if self.0.cancelled.load(Ordering::SeqCst) {
            return Some("cancelled".into());
        }
        self.0.parent.as_ref().and_then(Cancel::reason)
    }

    /// Sleep for `d` unless cancelled first; whether the whole time passed.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep(POLL.min(end - now));
        }
    }

    /// Wait for `rx`'s one message unless cancelled first (`Err(reason)`); a closed channel is
    /// `Ok(None)`.
    pub fn recv<T>(&self, rx: &std::sync::mpsc::Receiver<T>) -> Result<Option<T>, String> {
        loop {
            if let Some(r) = self.reason() {
                return Err(r);
            }
            match rx.recv_timeout(POLL) {
                Ok(v) => return Ok(Some(v)),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_follow_parents_not_the_other_way() {
        let root = Cancel::new();
        let child = root.child();
        let other = root.child();
        assert!(!child.is_cancelled());
        child.cancel();
        assert!(child.is_cancelled() && !root.is_cancelled() && !other.is_cancelled());
        root.cancel();
        assert_eq!(other.reason().as_deref(), Some("cancelled"));
    }

    #[test]
    fn sleep_ends_early_when_cancelled() {
        let c = Cancel::new();
        assert!(c.sleep(Duration::from_millis(10)));
        let c2 = c.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c2.cancel();
        });
        let start = Instant::now();
        assert!(!c.sleep(Duration::from_secs(30)));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        t.join().unwrap();
    }
}
