//! Indexing an image with a store: known manifests are answered from the store, layer results are
//! cached in it, and every new report is saved.

use clair_indexer::{Indexed, Indexer, NoProgress, Progress};
use clair_layer::Image;
use clair_layer::blob::FileRange;
use clair_layer::read::Verify;
use clair_layer::source::{ImageFormat, ImageLayer, LayerSource};
use clair_store::Store;
use clair_types::{Digest, IndexReport, IndexState};

use crate::{Error, Service};

/// A layer of a manifest to index: its digest, the URL to fetch it from, the headers to send.
pub type LayerRef = (Digest, String, Vec<(String, String)>);

/// How the message of an `IndexError` report starts when a blob is not a layer (Clair v4
/// answers those 400, other failures 500).
pub const NOT_A_LAYER: &str = "not a layer: ";

impl Service {
    /// The index use case of Clair v4 (`POST index_report`): each layer the store does not know
    /// is fetched (checked, digest verified) into a temporary directory, then the image is
    /// indexed with [`index_image`]. A layer that cannot be fetched or read is no error of this
    /// call: the manifest's report is stored and returned as an `IndexError` report naming it.
    pub fn index_manifest(
        &self,
        manifest: &Digest,
        layers: &[LayerRef],
    ) -> Result<IndexReport, Error> {
        let dir = tempfile::Builder::new()
            .prefix("clair-layers-")
            .tempdir_in(&self.work_dir)
            .map_err(|source| Error::Io {
                what: "temporary directory".into(),
                source,
            })?;
        let layer_digests: Vec<Digest> = layers.iter().map(|(d, _, _)| d.clone()).collect();
        let failed = |msg: String| -> Result<IndexReport, Error> {
            tracing::warn!(manifest = %manifest, error = %msg, "indexing failed");
            let report = IndexReport {
                manifest_hash: manifest.clone(),
                state: IndexState::IndexError,
                packages: Default::default(),
                distributions: Default::default(),
                repository: Default::default(),
                environments: Default::default(),
                success: false,
                err: msg,
            };
            self.store
                .put_index_report(&report, &layer_digests, &self.indexer.state())?;
            Ok(report)
        };
        let mut image_layers = Vec::with_capacity(layers.len());
        for (i, (digest, uri, headers)) in layers.iter().enumerate() {
            if self.indexer.is_cached(digest) {
                self.counters.layer_cached();
                image_layers.push(ImageLayer {
                    digest: Some(digest.clone()),
                    media_type: None,
                    source: LayerSource::Cached,
                });
                continue;
            }
            let path = dir.path().join(format!("layer-{i}"));
            let len = match self
                .fetcher
                .fetch(digest.as_str(), uri, headers, Some(digest), &path)
            {
                Ok(n) => n,
                Err(e) => return failed(e.to_string()),
            };
            self.counters.layer_fetched();
            image_layers.push(ImageLayer {
                digest: Some(digest.clone()),
                media_type: None,
                source: LayerSource::Blob {
                    range: FileRange {
                        path: std::sync::Arc::new(path),
                        offset: 0,
                        len,
                    },
                    verify: Verify::None,
                },
            });
        }
        let image = Image::from_layers(
            manifest.as_str(),
            ImageFormat::Remote,
            Some(manifest.clone()),
            image_layers,
        );
        match index_image(self.store.as_ref(), &self.indexer, &image, &NoProgress) {
            Ok((indexed, _)) => Ok(indexed.report),
            Err(Error::Index(clair_indexer::Error::Layer {
                source: e @ clair_layer::Error::Tar { .. },
                ..
            })) => failed(format!("{NOT_A_LAYER}{e}")),
            Err(e @ Error::Index(_)) => failed(e.to_string()),
            Err(e) => Err(e),
        }
    }
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
) -> Result<(Indexed, Origin), Error> {
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
