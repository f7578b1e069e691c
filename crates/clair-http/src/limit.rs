//! One limit on indexing work, shared by the Clair v4 API, the Clair v2 API and the SQS
//! receiver.
//!
//! Indexing (downloading, decompressing and scanning layers) is what costs memory and CPU, so
//! it is what is limited: at most `concurrency` indexing jobs run at once and at most `queue`
//! more wait for a slot; beyond that a request is refused at once (429 with `Retry-After` on
//! the v4 API, 503 on the v2 API). The SQS receiver waits for a slot instead of refusing: its
//! messages stay in the queue meanwhile.
//!
//! A slot is held by an [`IndexPermit`], which the handler moves into the thread that does the
//! work ([`run`]): when the client goes away or the request deadline fires, the handler future
//! is dropped but the work goes on, and so does its slot until the work ends. A request
//! dropped while it waits leaves the queue at once. Indexing threads run at a lower CPU
//! priority than the threads answering requests, so reports stay fast while layers are read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Seconds a refused client is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 10;

/// Tell the client of a refused request to come back in [`RETRY_AFTER_SECS`].
pub(crate) fn add_retry_after(resp: &mut axum::response::Response) {
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(RETRY_AFTER_SECS),
    );
}

/// Upstream Clair's default for `indexer.index_report_request_concurrency` when it is 0 or
/// unset: four per available core (Go's `GOMAXPROCS × 4`).
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) * 4
}

/// The indexing limit.
#[derive(Debug)]
pub struct IndexLimit {
    slots: Option<Arc<Semaphore>>,
    concurrency: usize,
    queue: usize,
    waiting: AtomicUsize,
}

/// A held indexing slot; the slot is free again when this is dropped.
#[derive(Debug)]
pub struct IndexPermit {
    _permit: Option<OwnedSemaphorePermit>,
}

/// The limit is reached and the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Decrements the waiting count when a wait ends, also by cancellation.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl IndexLimit {
    /// At most `concurrency` jobs at once (0: unlimited) and `queue` waiting for a slot.
    pub fn new(concurrency: usize, queue: usize) -> IndexLimit {
        IndexLimit {
            slots: (concurrency > 0).then(|| Arc::new(Semaphore::new(concurrency))),
            concurrency,
            queue,
            waiting: AtomicUsize::new(0),
        }
    }

    /// No limit.
    pub fn unlimited() -> IndexLimit {
        IndexLimit::new(0, 0)
    }

    /// Jobs allowed at once (0: unlimited).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Jobs running now (0 when unlimited).
    pub fn running(&self) -> usize {
        self.slots.as_ref().map_or(0, |s| {
            self.concurrency.saturating_sub(s.available_permits())
        })
    }

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// A slot: at once if one is free, after waiting if fewer than `queue` requests wait
    /// already, else [`Busy`]. Cancel-safe: dropping the future leaves the queue.
    pub async fn acquire(&self) -> Result<IndexPermit, Busy> {
        let Some(sem) = &self.slots else {
            return Ok(IndexPermit { _permit: None });
        };
        if let Ok(p) = sem.clone().try_acquire_owned() {
            return Ok(IndexPermit { _permit: Some(p) });
        }
        // Join the queue only if it has room (checked and taken in one step).
        let joined = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                (w < self.queue).then_some(w + 1)
            });
        if joined.is_err() {
            return Err(Busy);
        }
        let _waiting = Waiting(&self.waiting);
        let p = sem.clone().acquire_owned().await.map_err(|_| Busy)?;
        Ok(IndexPermit { _permit: Some(p) })
    }

    /// A slot, waiting as long as it takes whatever the queue holds (the SQS receiver, whose
    /// messages wait in their own queue).
    pub async fn acquire_waiting(&self) -> IndexPermit {
        let Some(sem) = &self.slots else {
            return IndexPermit { _permit: None };
        };
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        IndexPermit {
            _permit: sem.clone().acquire_owned().await.ok(),
        }
    }
}

/// Nice value of indexing threads: below the threads that answer requests, so reports stay
/// fast while layers are read (the kernel gives a nice-10 thread about a tenth of the CPU of a
/// nice-0 one that wants it).
const INDEX_NICE: i32 = 10;

/// Run indexing work on a thread of its own, at a lower CPU priority than the threads that
/// answer requests, holding `permit` until the work ends (whatever happens to the awaiting
/// future). Errors: the thread could not start or panicked.
pub async fn run<T: Send + 'static>(
    permit: IndexPermit,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("clair-index".into())
        .spawn(move || {
            // Best effort: without the right to change priorities the work runs as is.
            let _ =
                rustix::process::setpriority_process(Some(rustix::thread::gettid()), INDEX_NICE);
            let out = work();
            // The slot is free before the answer is: whoever hears it may index again.
            drop(permit);
            let _ = tx.send(out);
        })?;
    rx.await
        .map_err(|_| std::io::Error::other("the indexing thread stopped without an answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn slots_then_queue_then_busy() {
        rt().block_on(async {
            let l = Arc::new(IndexLimit::new(1, 1));
            let first = l.acquire().await.expect("a free slot");
            assert_eq!(l.running(), 1);
            // The second waits in the queue; the third finds the queue full.
            let l2 = l.clone();
            let second = tokio::spawn(async move { l2.acquire().await.map(|_| ()) });
            while l.waiting() == 0 {
                tokio::task::yield_now().await;
            }
            assert_eq!(l.acquire().await.err(), Some(Busy));
            drop(first);
            assert_eq!(second.await.ok(), Some(Ok(())));
            assert_eq!(l.waiting(), 0);
            assert_eq!(
                l.running(),
                0,
                "the second's permit was dropped with its task"
            );
        });
    }

    #[test]
    fn a_cancelled_wait_leaves_the_queue() {
        rt().block_on(async {
            let l = IndexLimit::new(1, 1);
            let held = l.acquire().await.expect("a free slot");
            let timed_out =
                tokio::time::timeout(std::time::Duration::from_millis(20), l.acquire()).await;
            assert!(timed_out.is_err(), "waits while the slot is held");
            assert_eq!(l.waiting(), 0, "the dropped wait left the queue");
            // So the queue has room again.
            let again =
                tokio::time::timeout(std::time::Duration::from_millis(20), l.acquire()).await;
            assert!(again.is_err(), "queued (not refused) and timed out");
            drop(held);
            assert!(l.acquire().await.is_ok());
        });
    }

    #[test]
    fn work_runs_at_a_lower_priority_and_keeps_its_slot() {
        rt().block_on(async {
            let l = IndexLimit::new(1, 0);
            let permit = l.acquire().await.unwrap();
            let (go, wait) = std::sync::mpsc::channel::<()>();
            let work = run(permit, move || {
                let _ = wait.recv();
                rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
            });
            let work = tokio::spawn(work);
            tokio::task::yield_now().await;
            assert_eq!(l.running(), 1);
            assert!(l.acquire().await.is_err(), "busy while the work runs");
            go.send(()).unwrap();
            assert_eq!(work.await.unwrap().unwrap(), INDEX_NICE);
            assert_eq!(l.running(), 0);
        });
    }

    #[test]
    fn unlimited_never_refuses() {
        rt().block_on(async {
            let l = IndexLimit::unlimited();
            let held: Vec<_> = futures_permits(&l, 100).await;
            assert_eq!(held.len(), 100);
            assert_eq!(l.running(), 0);
        });
    }

    async fn futures_permits(l: &IndexLimit, n: usize) -> Vec<IndexPermit> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(l.acquire().await.expect("unlimited"));
        }
        out
    }
}
