//! Clair v2 notifications: after an update operation, one notification per changed
//! vulnerability with its `Old` and `New` versions and, for each, the v1 layers that introduce
//! an affected package (Clair v2's `LayersIntroducingVulnerability`).

use std::collections::BTreeMap;

use clair_ecosystems::EcosystemNamespaces;
use clair_indexer::NoProgress;
use clair_layer::source::{Image, ImageFormat, ImageLayer, LayerSource};
use clair_matcher::MatchIndex;
use clair_store::{OpKind, V1Layer};
use clair_types::{IndexReport, Vulnerability as Record};

use crate::AppState;

/// The index report of a v1 layer's chain (from the layer cache; `None` if unavailable).
fn chain_report(
    s: &AppState,
    by_name: &BTreeMap<String, V1Layer>,
    top: &V1Layer,
) -> Option<IndexReport> {
    let mut chain = vec![top.clone()];
    while let Some(p) = chain.last().and_then(|l| l.parent.clone()) {
        if chain.len() > 1000 || chain.iter().any(|l| l.name == p) {
            return None;
        }
        chain.push(by_name.get(&p)?.clone());
    }
    chain.reverse();
    let image = Image::from_layers(
        &top.name,
        ImageFormat::Remote,
        None,
        chain
            .iter()
            .map(|l| ImageLayer {
                digest: Some(l.digest.clone()),
                media_type: None,
                source: LayerSource::Cached,
            })
            .collect(),
    );
    s.indexer.index(&image, &NoProgress).ok().map(|i| i.report)
}

/// The v1 notifications an update of `updater` causes; their ids.
pub fn notify_v1(s: &AppState, updater: &str) -> clair_store::Result<Vec<uuid::Uuid>> {
    let ops = s
        .store
        .update_operations(OpKind::Vulnerability, Some(updater))?;
    let (Some(cur), Some(prev)) = (ops.first(), ops.get(1)) else {
        return Ok(Vec::new());
    };
    let layers = s.store.v1_layers()?;
    if layers.is_empty() {
        return Ok(Vec::new());
    }
    let diff = s.store.update_diff(Some(prev.id), cur.id)?;
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
    let by_name: BTreeMap<String, V1Layer> =
        layers.iter().map(|l| (l.name.clone(), l.clone())).collect();
    let reports: Vec<(usize, &V1Layer, IndexReport)> = layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| chain_report(s, &by_name, l).map(|r| (i + 1, l, r)))
        .collect();
    let ns = EcosystemNamespaces;
    // Layers introducing a package affected by these records.
    let introducing = |records: &[Record]| -> Vec<serde_json::Value> {
        let idx = MatchIndex::new(records.to_vec(), "v1".into());
        let mut out = Vec::new();
        for (index, layer, report) in &reports {
            let (vr, _) = idx.report(report, &ns);
            let adds = vr.package_vulnerabilities.keys().any(|pid| {
                report
                    .environments
                    .get(pid)
                    .into_iter()
                    .flatten()
                    .any(|e| e.introduced_in == layer.digest)
            });
            if adds {
                out.push((*index, layer.name.clone()));
            }
        }
        out.into_iter()
            .map(|(i, n)| serde_json::json!({"index": i, "layer": n}))
            .collect()
    };
    let mut keys: Vec<&(String, String)> = added.keys().chain(removed.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut ids = Vec::new();
    for key in keys {
        let (ns_name, name) = key;
        let old = removed.get(key);
        let new = added.get(key);
        let old_layers = old.map(|r| introducing(r)).unwrap_or_default();
        let new_layers = new.map(|r| introducing(r)).unwrap_or_default();
        if old_layers.is_empty() && new_layers.is_empty() {
            continue;
        }
        let vuln = |rs: &Vec<Record>| serde_json::json!({ "Vulnerability": crate::v1_vulns::to_v1(name, rs, ns_name, true) });
        let body = serde_json::json!({
            "Old": old.map(vuln),
            "New": new.map(vuln),
        });
        let mut items = Vec::new();
        for (side, list) in [("old", old_layers), ("new", new_layers)] {
            for l in list {
                items.push(
                    serde_json::json!({"side": side, "index": l["index"], "layer": l["layer"]}),
                );
            }
        }
        let id = s
            .store
            .create_notification(crate::v1_notifications::KIND, &body, &items)?;
        tracing::info!(%id, vulnerability = %name, "v1 notification created");
        ids.push(id);
    }
    Ok(ids)
}
