//! Clair v2 notifications: one per vulnerability an update operation changed, with its `Old`
//! and `New` versions and, for each, the v1 layers that introduce an affected package (Clair
//! v2's `LayersIntroducingVulnerability`).
//!
//! Candidate layers come from the store's reverse index (the package names each layer's own
//! scan found), so an update stacks only the layers it may affect; each candidate's chain is
//! then matched with the same [`MatchIndex`] logic reports use, and a layer is named when an
//! affected package was introduced by it.

use std::collections::{BTreeMap, BTreeSet};

use clair_ecosystems::EcosystemNamespaces;
use clair_indexer::NoProgress;
use clair_layer::source::{Image, ImageFormat, ImageLayer, LayerSource};
use clair_matcher::MatchIndex;
use clair_store::{NewNotification, UpdateDiff, V1Layer};
use clair_types::{IndexReport, Vulnerability as Record};

use crate::Service;

/// Why Clair v2 notifications could not be computed.
fn failed(what: String) -> crate::Error {
    crate::Error::Notification(what)
}

/// The package names a layer's own scan found (its cached result, read as a one-layer image).
pub(crate) fn layer_package_names(
    s: &Service,
    layer: &V1Layer,
) -> Result<Vec<String>, crate::Error> {
    let image = Image::from_layers(
        &layer.name,
        ImageFormat::Remote,
        None,
        vec![ImageLayer {
            digest: Some(layer.digest.clone()),
            media_type: None,
            source: LayerSource::Cached,
        }],
    );
    let report = s
        .indexer
        .index(&image, &NoProgress)
        .map_err(|e| failed(format!("v1 layer {}: {e}", layer.name)))?
        .report;
    Ok(clair_types::package_names(&report).into_iter().collect())
}

/// Fill the reverse index for layers stored before it existed (or whose process stopped
/// between storing the layer and its names).
fn index_unindexed(s: &Service) -> Result<(), crate::Error> {
    for layer in s.store.v1_layers_unindexed()? {
        let names = layer_package_names(s, &layer)?;
        s.store.set_v1_layer_packages(&layer.name, &names)?;
        tracing::info!(layer = %layer.name, packages = names.len(), "v1 layer indexed for notifications");
    }
    Ok(())
}

/// The Clair v2 notifications a diff causes.
pub fn compute(s: &Service, diff: &UpdateDiff) -> Result<Vec<NewNotification>, crate::Error> {
    index_unindexed(s)?;
    let names = super::changed_package_names(diff);
    let candidates = s.store.v1_layers_with_packages(&names)?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // Each candidate's image, stacked from the layer cache; numbered for paging.
    let mut reports: Vec<(usize, V1Layer, IndexReport)> = Vec::with_capacity(candidates.len());
    for (i, layer) in candidates.into_iter().enumerate() {
        let (_, report) = crate::v1::chain_report(s, &layer.name)
            .map_err(|e| failed(format!("v1 layer {}: {}", layer.name, e.message())))?;
        reports.push((i + 1, layer, report));
    }
    let group = |rs: &[Record]| {
        let mut g: BTreeMap<(String, String), Vec<Record>> = BTreeMap::new();
        for r in rs {
            g.entry((r.namespace.clone(), r.name.clone()))
                .or_default()
                .push(r.clone());
        }
        g
    };
    let (added, removed) = (group(&diff.added), group(&diff.removed));
    let ns = EcosystemNamespaces;
    // Layers introducing a package affected by these records.
    let introducing = |records: &[Record]| -> Vec<(usize, String)> {
        let idx = MatchIndex::new(records.to_vec(), "v1".into());
        reports
            .iter()
            .filter(|(_, layer, report)| {
                let (vr, _) = idx.report(report, &ns);
                vr.package_vulnerabilities.keys().any(|pid| {
                    report
                        .environments
                        .get(pid)
                        .into_iter()
                        .flatten()
                        .any(|e| e.introduced_in == layer.digest)
                })
            })
            .map(|(i, layer, _)| (*i, layer.name.clone()))
            .collect()
    };
    let keys: BTreeSet<&(String, String)> = added.keys().chain(removed.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (ns_name, name) = key;
        let old = removed.get(key);
        let new = added.get(key);
        let old_layers = old.map(|r| introducing(r)).unwrap_or_default();
        let new_layers = new.map(|r| introducing(r)).unwrap_or_default();
        if old_layers.is_empty() && new_layers.is_empty() {
            continue;
        }
        let vuln = |rs: &Vec<Record>| serde_json::json!({ "Vulnerability": crate::v1::to_v1(name, rs, ns_name, true) });
        let mut items = Vec::new();
        for (side, list) in [("old", old_layers), ("new", new_layers)] {
            for (index, layer) in list {
                items.push(serde_json::json!({"side": side, "index": index, "layer": layer}));
            }
        }
        out.push(NewNotification {
            kind: super::V1.into(),
            body: serde_json::json!({"Old": old.map(vuln), "New": new.map(vuln)}),
            items,
        });
    }
    Ok(out)
}
