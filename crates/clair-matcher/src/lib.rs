//! Vulnerability data: updaters that fetch and parse feeds, the manager that runs them against
//! a store, air-gap bundles, and matching index reports against the stored records.
//!
//! ```text
//!  Updater::fetch (network: conditional GET, retries)  →  files in a temp dir
//!  Updater::parse (pure, streaming)                     →  records  →  Store::update_* (atomic)
//! ```
//! Exactly one instance runs a given updater at a time: each run holds the store lock
//! `updater/<name>`.
#![forbid(unsafe_code)]

pub mod affected;
pub mod bundle;
mod cancel;
pub mod fetch;
mod manager;
pub mod matching;
pub mod updater;

pub use cancel::Cancel;
pub use fetch::{Http, HttpOptions, Validators};
pub use manager::{NoUpdateProgress, Outcome, RunReport, UpdateManager, UpdateProgress, by_name};
pub use matching::{Candidate, Decision, LiveIndex, MatchIndex, MatchStats, Namespaces, Verdict};
pub use updater::{
    Emit, FetchOutcome, FetchedFile, Fingerprint, Record, Stop, Updater, UpdaterError, fetch_urls,
    open_decompressed, safe_name,
};
