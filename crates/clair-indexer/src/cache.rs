//! Content-addressed per-layer results.
//!
//! A layer is named by its digest, so what a scanner found in it never changes: a layer seen
//! once is never read again. An entry holds each package scanner's results, keyed by scanner
//! name and version, and the layer's structure (symlinks, whiteouts, ...) with the few files
//! distribution scanners read, which stacking needs. An entry made with another scanner set or
//! scanner version, or another file selection, is not used: the layer is read again.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use clair_layer::LayerContents;
use clair_types::Digest;

use crate::scanner::DbScan;

/// What is known about one layer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerResult {
    /// Fingerprint of the file selection the contents were read with.
    pub selection: String,
    /// Structure, and the selected files distribution scanners read.
    pub contents: Arc<LayerContents>,
    /// Package scanner results by `name@version`.
    pub scans: BTreeMap<String, Vec<DbScan>>,
}

/// Storage for per-layer results. Implementations must be safe to share between threads.
pub trait LayerCache: Send + Sync + Debug {
    /// The entry for a layer, if any.
    fn get(&self, layer: &Digest) -> Option<Arc<LayerResult>>;
    /// Store (or replace) the entry for a layer. Only called with verified digests.
    fn put(&self, layer: &Digest, result: Arc<LayerResult>);
}

/// An in-memory [`LayerCache`] (per process).
#[derive(Debug, Default)]
pub struct MemoryCache {
    map: Mutex<HashMap<Digest, Arc<LayerResult>>>,
}

impl MemoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of layers cached.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LayerCache for MemoryCache {
    fn get(&self, layer: &Digest) -> Option<Arc<LayerResult>> {
        self.map.lock().ok()?.get(layer).cloned()
    }

    fn put(&self, layer: &Digest, result: Arc<LayerResult>) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(layer.clone(), result);
        }
    }
}
