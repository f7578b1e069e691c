//! The indexer's role, written once where the dialects agree; what each backend does its own
//! way (storing a report's package names, looking names up in lists) comes through
//! [`IndexerDriver`].

use clair_indexer::LayerResult;
use clair_types::{Digest, IndexReport};

use super::driver::{Arg, Driver};
use super::{Row, v1_layer_from_row};
use crate::IndexerStore;
use crate::codec::{encode, micros};
use crate::error::Result;
use crate::model::*;

/// The parts of the indexer's role each backend does its own way.
pub(crate) trait IndexerDriver: Driver {
    /// See [`IndexerStore::put_index_report`].
    fn put_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()>;
    /// See [`IndexerStore::manifests_with_packages`].
    fn manifests_named(&self, names: &[String]) -> Result<Vec<Digest>>;
    /// See [`IndexerStore::set_v1_layer_packages`].
    fn name_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()>;
    /// See [`IndexerStore::v1_layers_with_packages`].
    fn v1_layers_named(&self, names: &[String]) -> Result<Vec<V1Layer>>;
}

impl<D: IndexerDriver> IndexerStore for D {
    fn get_layer(&self, layer: &Digest) -> Result<Option<LayerResult>> {
        let mut blobs = self.rows(super::LAYER_GET, &[Arg::Text(layer.as_str())], |r| {
            r.bytes("result")
        })?;
        super::layer_result(layer, blobs.pop())
    }

    fn put_layer(&self, layer: &Digest, result: &LayerResult) -> Result<()> {
        let blob = encode(result)?;
        let now = micros(jiff::Timestamp::now());
        let args = [Arg::Text(layer.as_str()), Arg::Bytes(&blob), Arg::Int(now)];
        self.exec(super::LAYER_PUT, &args)?;
        Ok(())
    }

    fn put_index_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()> {
        self.put_report(report, layers, state)
    }

    fn get_index_report(&self, manifest: &Digest) -> Result<Option<StoredReport>> {
        let m = [Arg::Text(manifest.as_str())];
        let mut rows = self.rows(super::MANIFEST_GET, &m, |r| {
            Ok((r.text("state")?, r.bytes("report")?))
        })?;
        let Some((state, blob)) = rows.pop() else {
            return Ok(None);
        };
        let layers = self.rows(super::MANIFEST_LAYERS, &m, |r| r.text("layer"))?;
        super::stored_report(manifest, state, &blob, layers).map(Some)
    }

    fn index_report_version(&self, manifest: &Digest) -> Result<Option<String>> {
        let m = [Arg::Text(manifest.as_str())];
        let mut rows = self.rows(super::MANIFEST_VERSION, &m, |r| {
            Ok(format!("{}@{}", r.text("state")?, r.int("updated")?))
        })?;
        Ok(rows.pop())
    }

    fn delete_manifests(&self, manifests: &[Digest]) -> Result<Vec<Digest>> {
        self.transaction(&mut |tx| {
            let mut deleted = Vec::new();
            for m in manifests {
                if tx.exec(super::MANIFEST_DELETE, &[Arg::Text(m.as_str())])? > 0 {
                    deleted.push(m.clone());
                }
            }
            Ok(deleted)
        })
    }

    fn manifests(&self) -> Result<Vec<Digest>> {
        let all = self.rows(super::MANIFESTS, &[], |r| r.text("digest"))?;
        Ok(all.iter().filter_map(|d| d.parse().ok()).collect())
    }

    fn manifests_with_packages(&self, names: &[String]) -> Result<Vec<Digest>> {
        self.manifests_named(names)
    }

    fn put_v1_layer(&self, layer: &V1Layer) -> Result<()> {
        let now = micros(jiff::Timestamp::now());
        let args = [
            Arg::Text(&layer.name),
            Arg::Text(layer.digest.as_str()),
            Arg::OptText(layer.parent.as_deref()),
            Arg::Text(&layer.path),
            Arg::Text(&layer.format),
            Arg::Int(now),
        ];
        self.exec(super::V1_LAYER_PUT, &args)?;
        Ok(())
    }

    fn get_v1_layer(&self, name: &str) -> Result<Option<V1Layer>> {
        let mut rows = self.rows(super::V1_LAYER_GET, &[Arg::Text(name)], |r| {
            v1_layer_from_row(r)
        })?;
        Ok(rows.pop())
    }

    fn v1_layers(&self) -> Result<Vec<V1Layer>> {
        self.rows(super::V1_LAYERS, &[], |r| v1_layer_from_row(r))
    }

    fn delete_v1_layer(&self, name: &str) -> Result<usize> {
        self.exec(super::V1_LAYER_DELETE, &[Arg::Text(name)])
    }

    fn set_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
        self.name_v1_layer_packages(layer, names)
    }

    fn v1_layers_with_packages(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        self.v1_layers_named(names)
    }

    fn v1_layers_unindexed(&self) -> Result<Vec<V1Layer>> {
        self.rows(super::V1_LAYERS_UNINDEXED, &[], |r| v1_layer_from_row(r))
    }
}
