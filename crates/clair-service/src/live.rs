//! The matcher index over a store: loaded from the store's latest records, rebuilt when an
//! update operation lands, and reports enriched with the store's CVSS data.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use clair_matcher::MatchIndex;
use clair_matcher::matching::{CVSS_ENRICHMENT_KIND, cve_ids};
use clair_store::{OpKind, Store};
use clair_types::VulnerabilityReport;

/// The report use case: `report`'s packages matched by `idx` (the ecosystems' namespaces), with
/// the store's CVSS enrichments added.
pub fn vulnerability_report(
    idx: &MatchIndex,
    report: &clair_types::IndexReport,
    store: &dyn Store,
) -> clair_store::Result<VulnerabilityReport> {
    let (mut vr, _) = idx.report(report, &clair_ecosystems::EcosystemNamespaces);
    add_cvss(&mut vr, store)?;
    Ok(vr)
}

/// A marker of the store's latest vulnerability operations: it changes when any updater stores
/// a new operation.
pub fn store_generation(store: &dyn Store) -> clair_store::Result<String> {
    let ops = store.update_operations(OpKind::Vulnerability, None)?;
    let mut latest: BTreeMap<&str, String> = BTreeMap::new();
    for op in &ops {
        // Newest first: keep the first seen per updater.
        latest
            .entry(op.updater.as_str())
            .or_insert_with(|| op.id.to_string());
    }
    Ok(latest
        .iter()
        .map(|(u, id)| format!("{u}={id}"))
        .collect::<Vec<_>>()
        .join(","))
}

/// Load the latest records of the store, only those in `namespaces` when given.
pub fn load_index(
    store: &dyn Store,
    namespaces: Option<&[String]>,
) -> clair_store::Result<MatchIndex> {
    // Read the generation first: records newer than it only make the index fresher.
    let generation = store_generation(store)?;
    MatchIndex::build(generation, |push| {
        store.for_each_latest_vulnerability(namespaces, push)
    })
}

/// Add NVD's CVSS data to a report as Clair's CVSS enrichment (where Quay reads it). The
/// normalized severities stay the feeds' own, as Clair v4 leaves them: no CVSS fill-in.
pub fn add_cvss(report: &mut VulnerabilityReport, store: &dyn Store) -> clair_store::Result<()> {
    // Each vulnerability's CVE ids, found once.
    let cves: Vec<(String, Vec<String>)> = report
        .vulnerabilities
        .iter()
        .map(|(id, v)| (id.clone(), cve_ids(v)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    let ids: BTreeSet<&String> = cves.iter().flat_map(|(_, c)| c).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = ids.into_iter().cloned().collect();
    let mut by_cve: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for rec in store.enrichments("nvd", &ids)? {
        for t in &rec.tags {
            by_cve.entry(t.clone()).or_default().push(rec.data.clone());
        }
    }
    let mut map = serde_json::Map::new();
    for (id, cves) in cves {
        let cvss: Vec<serde_json::Value> = cves
            .iter()
            .filter_map(|c| by_cve.get(c))
            .flatten()
            .cloned()
            .collect();
        if cvss.is_empty() {
            continue;
        }
        map.insert(id, serde_json::Value::Array(cvss));
    }
    if !map.is_empty() {
        report.enrichments.insert(
            CVSS_ENRICHMENT_KIND.into(),
            vec![serde_json::Value::Object(map)],
        );
    }
    Ok(())
}

/// A [`MatchIndex`] that follows the store: [`LiveIndex::refresh`] builds a new index when an
/// update operation has landed and swaps it in atomically; readers keep the index they hold.
#[derive(Debug)]
pub struct LiveIndex {
    store: Arc<dyn Store>,
    current: RwLock<Arc<MatchIndex>>,
}

impl LiveIndex {
    /// Load the whole index from the store.
    pub fn new(store: Arc<dyn Store>) -> clair_store::Result<LiveIndex> {
        let idx = load_index(store.as_ref(), None)?;
        Ok(LiveIndex {
            store,
            current: RwLock::new(Arc::new(idx)),
        })
    }

    /// An empty index over `store`, loaded by the first [`LiveIndex::refresh`] (for servers
    /// that match nothing, such as an indexer).
    pub fn empty(store: Arc<dyn Store>) -> LiveIndex {
        LiveIndex {
            store,
            current: RwLock::new(Arc::new(MatchIndex::new(Vec::new(), String::new()))),
        }
    }

    /// The index to match against now.
    pub fn current(&self) -> Arc<MatchIndex> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuild and swap if the store's operations changed; returns whether it swapped.
    pub fn refresh(&self) -> clair_store::Result<bool> {
        let generation = store_generation(self.store.as_ref())?;
        if generation == self.current().generation() {
            return Ok(false);
        }
        let fresh = Arc::new(load_index(self.store.as_ref(), None)?);
        tracing::info!(
            records = fresh.len(),
            namespaces = fresh.namespaces().len(),
            "matcher index rebuilt"
        );
        match self.current.write() {
            Ok(mut g) => *g = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(true)
    }
}
