//! Running updaters: one runner per updater across every instance sharing a store, each run
//! stored atomically as an update operation, status recorded, old operations collected.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use clair_store::{FeedError, OpKind, Store, UpdateOperation, UpdaterStatus};

use clair_matcher::Cancel;
use clair_matcher::fetch::Http;
use clair_matcher::updater::{FetchOutcome, FetchedFile, Record, Stop, Updater, UpdaterError};

/// How one updater run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New data stored as an update operation.
    Updated {
        /// The operation.
        op: UpdateOperation,
        /// Records stored.
        records: u64,
    },
    /// Upstream has not changed since the last run.
    Unchanged,
    /// Another instance holds this updater's lock.
    Skipped,
    /// The run failed; stored data is unchanged.
    Failed {
        /// Why (names the source and position).
        error: String,
    },
}

/// One updater's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Updater name.
    pub updater: String,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
}

/// Progress callbacks (any thread).
pub trait UpdateProgress: Sync {
    /// An updater started.
    fn started(&self, _updater: &str) {}
    /// It stored `_n` more records.
    fn records(&self, _updater: &str, _n: u64) {}
    /// It finished.
    fn finished(&self, _report: &RunReport) {}
}

/// Ignores progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoUpdateProgress;
impl UpdateProgress for NoUpdateProgress {}

/// Runs updaters against a store.
#[derive(Debug)]
pub struct UpdateManager {
    store: Arc<dyn Store>,
    updaters: Vec<Arc<dyn Updater>>,
    http: Http,
    keep: usize,
    parallel: usize,
    workdir: Option<PathBuf>,
    cancel: Cancel,
}

impl UpdateManager {
    /// A manager for these updaters; keeps the 2 newest operations per updater.
    pub fn new(store: Arc<dyn Store>, updaters: Vec<Arc<dyn Updater>>) -> Self {
        UpdateManager {
            store,
            updaters,
            http: Http::default(),
            keep: 2,
            parallel: 4,
            workdir: None,
            cancel: Cancel::new(),
        }
    }

    /// Use this HTTP client.
    pub fn with_http(mut self, http: Http) -> Self {
        self.http = http.with_cancel(self.cancel.clone());
        self
    }

    /// Stop when `cancel` is set: no updater starts any more, downloads in flight are given up
    /// and a feed being stored is rolled back (its run ends `Failed`, nothing half-stored).
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.http = self.http.with_cancel(cancel.clone());
        self.cancel = cancel;
        self
    }

    /// Keep the newest `n` (≥ 1) update operations per updater.
    pub fn with_keep(mut self, n: usize) -> Self {
        self.keep = n.max(1);
        self
    }

    /// Run at most `n` updaters at once.
    pub fn with_parallelism(mut self, n: usize) -> Self {
        self.parallel = n.max(1);
        self
    }

    /// Download into temporary directories under `dir` (default: the OS temp dir).
    pub fn with_workdir(mut self, dir: PathBuf) -> Self {
        self.workdir = Some(dir);
        self
    }

    /// The updaters.
    pub fn updaters(&self) -> &[Arc<dyn Updater>] {
        &self.updaters
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn selected(&self, only: Option<&[String]>) -> Vec<Arc<dyn Updater>> {
        self.updaters
            .iter()
            .filter(|u| only.is_none_or(|o| o.iter().any(|n| n == u.name())))
            .cloned()
            .collect()
    }

    pub(crate) fn tempdir(&self) -> std::io::Result<tempfile::TempDir> {
        let b = tempfile::Builder::new().prefix("clair-update-").to_owned();
        match &self.workdir {
            Some(d) => b.tempdir_in(d),
            None => b.tempdir(),
        }
    }

    /// Run every updater (or those named in `only`) once, in parallel.
    pub fn run(&self, only: Option<&[String]>, progress: &dyn UpdateProgress) -> Vec<RunReport> {
        let todo = self.selected(only);
        let next = AtomicUsize::new(0);
        let reports = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..self.parallel.min(todo.len()) {
                s.spawn(|| {
                    loop {
                        if self.cancel.is_cancelled() {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(u) = todo.get(i) else { break };
                        let r = self.run_one(u.as_ref(), progress);
                        if let Ok(mut v) = reports.lock() {
                            v.push(r);
                        }
                    }
                });
            }
        });
        let mut v = reports.into_inner().unwrap_or_default();
        v.sort_by(|a, b| a.updater.cmp(&b.updater));
        v
    }

    /// Run one updater: lock, fetch, store, record status, collect garbage.
    ///
    /// The run stops (`Failed`, nothing stored) when the manager is cancelled or its lock is
    /// lost: another instance may be running the same updater by then.
    pub fn run_one(&self, u: &dyn Updater, progress: &dyn UpdateProgress) -> RunReport {
        let name = u.name().to_string();
        let start = Instant::now();
        progress.started(&name);
        let outcome = match self.store.try_lock(&format!("updater/{name}")) {
            Ok(None) => Outcome::Skipped,
            Err(e) => Outcome::Failed {
                error: format!("{name}: taking the updater lock: {e}"),
            },
            Ok(Some(lock)) => {
                let watch = lock.watch();
                let cancel = self.cancel.under_lock(lock.name(), move || watch.is_lost());
                let outcome = self.locked_run(u, progress, &cancel);
                match cancel.reason() {
                    // Whatever the run says, it stopped because of this.
                    Some(why) if !matches!(outcome, Outcome::Updated { .. }) => Outcome::Failed {
                        error: format!("{name}: stopped: {why}"),
                    },
                    _ => outcome,
                }
            }
        };
        let report = RunReport {
            updater: name,
            outcome,
            duration: start.elapsed(),
        };
        if !matches!(report.outcome, Outcome::Skipped) {
            self.record_status(u, &report);
        }
        if let Outcome::Failed { error } = &report.outcome {
            tracing::warn!(updater = %report.updater, error = %error, "update failed");
        } else {
            tracing::info!(updater = %report.updater, outcome = ?report.outcome, ms = report.duration.as_millis() as u64, "update done");
        }
        progress.finished(&report);
        report
    }

    fn prior_fingerprint(&self, u: &dyn Updater) -> String {
        // Only trust the fingerprint while the operation it describes still exists.
        let has_op = self
            .store
            .update_operations(u.kind(), Some(u.name()))
            .is_ok_and(|ops| !ops.is_empty());
        if !has_op {
            return String::new();
        }
        // Data stored by another version of the parser is fetched and stored again.
        self.store
            .updater_status()
            .ok()
            .and_then(|all| all.into_iter().find(|s| s.updater == u.name()))
            .filter(|s| s.updater_version == u.version())
            .map(|s| s.fingerprint)
            .unwrap_or_default()
    }

    fn locked_run(
        &self,
        u: &dyn Updater,
        progress: &dyn UpdateProgress,
        cancel: &Cancel,
    ) -> Outcome {
        let dir = match self.tempdir() {
            Ok(d) => d,
            Err(e) => {
                return Outcome::Failed {
                    error: format!("{}: temporary directory: {e}", u.name()),
                };
            }
        };
        let prior = self.prior_fingerprint(u);
        match u.fetch(&self.http.with_cancel(cancel.clone()), dir.path(), &prior) {
            Err(e) => Outcome::Failed {
                error: e.to_string(),
            },
            Ok(FetchOutcome::Unchanged) => Outcome::Unchanged,
            Ok(FetchOutcome::Fetched { files, fingerprint }) => {
                match self.store_records(u, &files, &fingerprint, progress, cancel) {
                    Ok((op, records)) => {
                        if let Err(e) = self.store.gc(self.keep) {
                            tracing::warn!(error = %e, "garbage collection failed");
                        }
                        Outcome::Updated { op, records }
                    }
                    Err(error) => Outcome::Failed { error },
                }
            }
        }
    }

    /// Parse `files` with `u` and store the records as one update operation; rolled back when
    /// `cancel` is set before the last record is handed over.
    pub(crate) fn store_records(
        &self,
        u: &dyn Updater,
        files: &[FetchedFile],
        fingerprint: &str,
        progress: &dyn UpdateProgress,
        cancel: &Cancel,
    ) -> Result<(UpdateOperation, u64), String> {
        if let Some(why) = cancel.reason() {
            return Err(format!("{}: stopped before storing: {why}", u.name()));
        }
        let name = u.name();
        let kind = u.kind();
        let count = AtomicUsize::new(0);
        std::thread::scope(|s| {
            let (tx, rx) = sync_channel::<Result<Record, FeedError>>(4096);
            let parser = s.spawn(move || {
                let mut emit = |r: Record| tx.send(Ok(r)).map_err(|_| Stop);
                let res = u.parse(files, &mut emit);
                if let Err(e) = &res {
                    let _ = tx.send(Err(e.to_string().into()));
                }
                res
            });
            let wrong_kind = |what: &str| -> FeedError {
                format!("{name}: produced {what} records, but it is a {kind} updater").into()
            };
            let tick = |c: &AtomicUsize| {
                let n = c.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(1000) {
                    progress.records(name, 1000);
                }
            };
            // Every record, and the end of the feed (just before the store commits), checks
            // the flag: an Err aborts the operation.
            let records = Cancellable {
                inner: rx.iter(),
                cancel,
                done: false,
            };
            let stored = match kind {
                OpKind::Vulnerability => {
                    let mut it = records.map(|r| match r {
                        Ok(Record::Vulnerability(v)) => {
                            tick(&count);
                            Ok(v)
                        }
                        Ok(Record::Enrichment(_)) => Err(wrong_kind("enrichment")),
                        Err(e) => Err(e),
                    });
                    self.store
                        .update_vulnerabilities(name, fingerprint, &mut it)
                }
                OpKind::Enrichment => {
                    let mut it = records.map(|r| match r {
                        Ok(Record::Enrichment(e)) => {
                            tick(&count);
                            Ok(e)
                        }
                        Ok(Record::Vulnerability(_)) => Err(wrong_kind("vulnerability")),
                        Err(e) => Err(e),
                    });
                    self.store.update_enrichments(name, fingerprint, &mut it)
                }
            };
            drop(rx);
            let parsed: Result<(), UpdaterError> = parser.join().unwrap_or_else(|_| {
                Err(UpdaterError::Other {
                    updater: name.to_string(),
                    message: "parser panicked".into(),
                })
            });
            let n = count.load(Ordering::Relaxed) as u64;
            progress.records(name, n % 1000);
            match (stored, parsed) {
                (Ok(op), Ok(())) => Ok((op, n)),
                // The store failed by itself (the database went away): that is the cause, and
                // whatever the parser says after its records stopped being taken is not.
                (Err(e), _) if !matches!(e, clair_store::Error::Aborted { .. }) => {
                    Err(format!("{name}: storing: {e}"))
                }
                (_, Err(e)) => Err(e.to_string()),
                (Err(e), Ok(())) => Err(format!("{name}: storing: {e}")),
            }
        })
    }

    pub(crate) fn http_client(&self) -> &Http {
        &self.http
    }

    pub(crate) fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    pub(crate) fn keep_count(&self) -> usize {
        self.keep
    }

    pub(crate) fn record_status(&self, u: &dyn Updater, report: &RunReport) {
        let prev = self
            .store
            .updater_status()
            .ok()
            .and_then(|all| all.into_iter().find(|s| s.updater == u.name()))
            .unwrap_or_else(|| UpdaterStatus {
                updater: u.name().to_string(),
                ..UpdaterStatus::default()
            });
        let now = jiff::Timestamp::now();
        let mut st = UpdaterStatus {
            last_attempt: Some(now),
            duration_ms: report.duration.as_millis() as u64,
            ..prev
        };
        match &report.outcome {
            Outcome::Updated { op, records } => {
                st.last_success = Some(now);
                st.last_error = None;
                st.records = *records;
                st.fingerprint = op.fingerprint.clone();
                st.updater_version = u.version();
            }
            Outcome::Unchanged => {
                st.last_success = Some(now);
                st.last_error = None;
            }
            Outcome::Failed { error } => st.last_error = Some(error.clone()),
            Outcome::Skipped => {}
        }
        if let Err(e) = self.store.set_updater_status(&st) {
            tracing::warn!(updater = u.name(), error = %e, "recording updater status failed");
        }
    }

    /// Run all updaters every `interval` until `stop` is set (checked every second).
    pub fn run_forever(&self, interval: Duration, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            let started = Instant::now();
            self.run(None, &NoUpdateProgress);
            while started.elapsed() < interval && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_secs(1).min(interval));
            }
        }
    }
}

/// Records from the parser, cut short by a [`Cancel`].
struct Cancellable<'a, I> {
    inner: I,
    cancel: &'a Cancel,
    done: bool,
}

impl<I: Iterator<Item = Result<Record, FeedError>>> Iterator for Cancellable<'_, I> {
    type Item = Result<Record, FeedError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.inner.next();
        if let Some(why) = self.cancel.reason() {
            self.done = true;
            return Some(Err(format!("stopped: {why}").into()));
        }
        item
    }
}

/// Files of a fetched set, by logical name (for parsers that need several).
pub fn by_name<'a>(files: &'a [FetchedFile], name: &str) -> Option<&'a FetchedFile> {
    files.iter().find(|f| f.name == name)
}
