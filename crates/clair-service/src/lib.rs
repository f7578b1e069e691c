//! The use cases of clair-rs over a store, called alike by the HTTP APIs (`clair-http`), the
//! SQS pipeline (`clair-sqs`) and the command line (`clair`):
//!
//! - [`index_image`]: index an image, answering a known manifest from the store and saving
//!   every new report;
//! - [`LiveIndex`]: the matcher index loaded from the store's latest records, rebuilt when an
//!   update operation lands; [`add_cvss`] adds the stored CVSS enrichment to a report;
//! - [`UpdateManager`]: updaters run against the store (one runner per updater across the
//!   instances sharing it), air-gap [`bundle`]s exported and imported;
//! - [`affected`]: which stored manifests vulnerability records affect (notifications);
//! - [`v1`]: the Clair v2 use cases (index a pushed layer, a layer's view, a notification's
//!   pages), for the `/v1` API and the SQS pipeline alike;
//! - [`notify`]: notifications computed from update operations, queued in the store and
//!   delivered by webhook, AMQP (and SNS, in `clair-sqs`);
//! - [`limit`]: the one indexing limit of every entry point.
//!
//! [`Service`] is the state they share; `clair_http::AppState` wraps it.
//!
//! The crates below it stay free of one another: `clair-matcher` matches records and parses
//! feeds without a store, `clair-store` persists without knowing how an image is indexed.
#![forbid(unsafe_code)]

pub mod affected;
pub mod bundle;
mod error;
mod index;
pub mod limit;
mod live;
mod manager;
pub mod notify;
pub mod pagination;
mod state;
pub mod v1;

pub use error::Error;
pub use index::{LayerRef, NOT_A_LAYER, Origin, index_image};
pub use live::{LiveIndex, add_cvss, load_index, store_generation, vulnerability_report};
pub use manager::{NoUpdateProgress, Outcome, RunReport, UpdateManager, UpdateProgress, by_name};
pub use state::{Counters, NoCounters, Service};
