//! What every use case shares: the store, the indexer over it, the live matcher index, layer
//! downloads, the indexing limit, page tokens and the counters the metrics endpoint reads.

use std::path::PathBuf;
use std::sync::Arc;

use clair_indexer::Indexer;
use clair_layer::fetch::{FetchOptions, Fetcher};
use clair_store::{OpKind, Store};

use crate::LiveIndex;
use crate::limit::{self, IndexLimit};
use crate::pagination::PageKey;

/// Events the use cases count; the metrics endpoint (`clair-http`) implements it.
pub trait Counters: Send + Sync + std::fmt::Debug {
    /// A layer was downloaded.
    fn layer_fetched(&self);
    /// A layer was already known (its results cached), so not downloaded.
    fn layer_cached(&self);
    /// A vulnerability report was computed.
    fn vulnerability_report(&self);
}

/// Counts nothing (for callers without metrics).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCounters;

impl Counters for NoCounters {
    fn layer_fetched(&self) {}
    fn layer_cached(&self) {}
    fn vulnerability_report(&self) {}
}

/// The state the use cases run over; cheap to clone (shared parts are behind `Arc`s).
#[derive(Debug, Clone)]
pub struct Service {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The indexer, with the store as its layer cache.
    pub indexer: Arc<Indexer>,
    /// The in-memory matcher index, swapped when new vulnerability data lands.
    pub live: Arc<LiveIndex>,
    /// Layer downloads (Clair v4: only 200 counts).
    pub fetcher: Arc<Fetcher>,
    /// Layer downloads for the Clair v2 API (any 2xx counts).
    pub fetcher_v1: Arc<Fetcher>,
    /// The one indexing limit of the v4 API, the v2 API and the SQS receiver.
    pub index_limit: Arc<IndexLimit>,
    /// What the use cases count.
    pub counters: Arc<dyn Counters>,
    /// Where layer downloads go (a temporary directory per request inside it).
    pub work_dir: PathBuf,
    /// Let Clair v2 layer pushes name a local file (`clair_rs.allow_local_layer_paths`); off,
    /// only http(s) URLs are read, so a client cannot make the server open its own files.
    pub allow_local_layer_paths: bool,
    /// Clair v2 page tokens (`api.paginationkey`).
    pub page_key: PageKey,
    /// The latest enrichment operations as of the last [`Service::refresh`] (part of the
    /// data generation of vulnerability reports).
    pub enrichment_generation: Arc<std::sync::RwLock<String>>,
}

impl Service {
    /// The use cases over `store` with `indexer` (whose layer cache should be the store), the
    /// vulnerability data in memory when `matcher` (else loaded by the first refresh), and
    /// the default indexing limit.
    pub fn new(
        store: Arc<dyn Store>,
        indexer: Indexer,
        fetch: FetchOptions,
        page_key: PageKey,
        matcher: bool,
    ) -> clair_store::Result<Service> {
        let live = if matcher {
            LiveIndex::new(store.clone())?
        } else {
            LiveIndex::empty(store.clone())
        };
        let enrichment_generation = enrichment_generation(store.as_ref())?;
        Ok(Service {
            store,
            indexer: Arc::new(indexer),
            live: Arc::new(live),
            fetcher_v1: Arc::new(Fetcher::new(FetchOptions {
                require_200: false,
                ..fetch.clone()
            })),
            fetcher: Arc::new(Fetcher::new(fetch)),
            index_limit: Arc::new(IndexLimit::new(
                limit::default_concurrency(),
                limit::default_concurrency(),
            )),
            counters: Arc::new(NoCounters),
            work_dir: std::env::temp_dir(),
            allow_local_layer_paths: false,
            page_key,
            enrichment_generation: Arc::new(std::sync::RwLock::new(enrichment_generation)),
        })
    }

    /// What the vulnerability data of reports made with `idx` is: its vulnerability
    /// operations and the enrichment operations of the last refresh.
    pub fn data_generation(&self, idx: &clair_matcher::MatchIndex) -> String {
        let enrich = match self.enrichment_generation.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        format!("{}|{enrich}", idx.generation())
    }

    /// Rebuild the matcher index if the store's vulnerability data changed and note the
    /// latest enrichment operations. Returns whether the index was rebuilt.
    pub fn refresh(&self) -> clair_store::Result<bool> {
        let changed = self.live.refresh()?;
        let enrich = enrichment_generation(self.store.as_ref())?;
        match self.enrichment_generation.write() {
            Ok(mut g) => *g = enrich,
            Err(poisoned) => *poisoned.into_inner() = enrich,
        }
        Ok(changed)
    }
}

/// A marker of the latest enrichment operation of each updater.
fn enrichment_generation(store: &dyn Store) -> clair_store::Result<String> {
    let mut latest = std::collections::BTreeMap::new();
    // Newest first: the first seen per updater is its latest.
    for op in store.update_operations(OpKind::Enrichment, None)? {
        latest.entry(op.updater).or_insert(op.id);
    }
    Ok(latest
        .iter()
        .map(|(u, id)| format!("{u}={id}"))
        .collect::<Vec<_>>()
        .join(","))
}
