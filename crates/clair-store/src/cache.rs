//! The indexer's layer cache, backed by a store: a layer seen once is never read again, across
//! runs and across instances sharing a database.

use std::sync::Arc;

use clair_indexer::{LayerCache, LayerResult};
use clair_types::Digest;

use crate::IndexerStore;

/// A [`LayerCache`] over a store's indexer role ([`IndexerStore`]; an `Arc<dyn Store>` is one).
/// Store errors are logged and treated as a miss (the layer
/// is read again), never as a failed index.
#[derive(Debug, Clone)]
pub struct StoreCache {
    store: Arc<dyn IndexerStore>,
}

impl StoreCache {
    /// Cache layers in `store`.
    pub fn new(store: Arc<dyn IndexerStore>) -> Self {
        StoreCache { store }
    }
}

impl LayerCache for StoreCache {
    fn get(&self, layer: &Digest) -> Option<Arc<LayerResult>> {
        match self.store.get_layer(layer) {
            Ok(r) => r.map(Arc::new),
            Err(e) => {
                tracing::warn!(layer = %layer, error = %e, "reading cached layer results failed");
                None
            }
        }
    }

    fn put(&self, layer: &Digest, result: Arc<LayerResult>) {
        if let Err(e) = self.store.put_layer(layer, &result) {
            tracing::warn!(layer = %layer, error = %e, "storing layer results failed");
        }
    }
}
