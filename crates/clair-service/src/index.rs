//! Indexing an image with a store: known manifests are answered from the store, layer results are
//! cached in it, and every new report is saved.

use clair_indexer::{Indexed, Indexer, Progress};
use clair_layer::Image;

use clair_store::Store;

/// Errors of [`index_image`].
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Indexing failed.
    #[error(transparent)]
    Index(#[from] clair_indexer::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] clair_store::Error),
}

/// Where an index report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The manifest was indexed before by the same scanners: the stored report, no layer read.
    Stored,
    /// Indexed now (layers already known to the store were not read).
    Indexed,
}

/// Index `image` with `indexer` (whose layer cache should be a [`clair_store::StoreCache`] on the
/// same store), reusing a stored report when the manifest is known, was indexed successfully
/// and the indexer state is unchanged, and saving the new report otherwise (a stored
/// `IndexError` report is never reused: the manifest is indexed again).
pub fn index_image(
    store: &dyn Store,
    indexer: &Indexer,
    image: &Image,
    progress: &dyn Progress,
) -> Result<(Indexed, Origin), IndexError> {
    let state = indexer.state();
    if let Some(m) = &image.manifest_digest
        && let Some(stored) = store.get_index_report(m)?
        && stored.state == state
        && stored.report.state == clair_types::IndexState::IndexFinished
        && stored.layers.len() == image.layers.len()
        && image
            .layers
            .iter()
            .zip(&stored.layers)
            .all(|(l, s)| l.digest.as_ref() == Some(s))
    {
        let n = stored.layers.len();
        return Ok((
            Indexed {
                report: stored.report,
                layers: stored.layers,
                stats: clair_indexer::IndexStats {
                    layers_cached: n,
                    ..Default::default()
                },
                warnings: Vec::new(),
            },
            Origin::Stored,
        ));
    }
    let indexed = indexer.index(image, progress)?;
    store.put_index_report(&indexed.report, &indexed.layers, &state)?;
    Ok((indexed, Origin::Indexed))
}
