//! Vulnerability data without a store: the updater trait (fetch, then a streaming parse), the
//! feed fetcher, and matching index reports against vulnerability records. Running updaters
//! against a store, bundles and the live index are `clair-service`'s.
//!
//! ```text
//!  Updater::fetch (network: conditional GET, retries)  →  files in a temp dir
//!  Updater::parse (pure, streaming)                     →  records (stored by clair-service)
//! ```
#![forbid(unsafe_code)]

mod cancel;
pub mod fetch;
pub mod matching;
pub mod updater;

pub use cancel::Cancel;
pub use fetch::{Http, HttpOptions, Validators};
pub use matching::{Candidate, Decision, MatchIndex, MatchStats, Namespaces, Verdict};
pub use updater::{
    Emit, FetchOutcome, FetchedFile, Fingerprint, Record, Stop, Updater, UpdaterError, fetch_urls,
    open_decompressed, safe_name,
};
