//! Which indexed manifests a set of vulnerability records affects (claircore's
//! `AffectedManifests`): what the indexer's `POST /indexer/api/v1/internal/affected_manifest/`
//! answers and what Clair v4 notifications are made of. The records are matched exactly as
//! vulnerability reports are, so a notification says what a report would now say differently.

use std::collections::BTreeMap;

use clair_store::Store;
use clair_types::{Digest, IndexState, ReportVulnerability, Vulnerability};

use clair_matcher::matching::{MatchIndex, Namespaces, report_id};

/// The manifests a set of vulnerability records affects (claircore's `AffectedManifests`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AffectedManifests {
    /// The records that affect at least one manifest, by the id the question gave them, as a
    /// vulnerability report shows them.
    pub vulnerabilities: BTreeMap<String, ReportVulnerability>,
    /// For each affected manifest, the ids of the records affecting it, most severe first.
    pub vulnerable_manifests: BTreeMap<Digest, Vec<String>>,
}

/// Which stored manifests `records` (each with an id chosen by the caller) affect, matched
/// exactly as vulnerability reports are: only manifests with a package of a record's name are
/// looked at (the store's reverse index), and only successfully indexed ones.
pub fn affected_manifests(
    store: &dyn Store,
    ns: &dyn Namespaces,
    records: &[(String, Vulnerability)],
) -> clair_store::Result<AffectedManifests> {
    // The matcher names a record by its content; map that back to the caller's id.
    let mut ids: BTreeMap<String, &str> = BTreeMap::new();
    let mut unique = Vec::with_capacity(records.len());
    for (id, v) in records {
        if ids.insert(report_id(v), id).is_none() {
            unique.push(v.clone());
        }
    }
    let names: Vec<String> = unique
        .iter()
        .map(|v| clair_types::package_name_key(&v.package_name))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let idx = MatchIndex::new(unique, "affected".into());
    let mut out = AffectedManifests::default();
    if idx.is_empty() {
        return Ok(out);
    }
    for manifest in store.manifests_with_packages(&names)? {
        let Some(stored) = store.get_index_report(&manifest)? else {
            continue;
        };
        if stored.report.state != IndexState::IndexFinished {
            continue;
        }
        let (vr, _) = idx.report(&stored.report, ns);
        let mut found: Vec<ReportVulnerability> = Vec::new();
        for (rid, mut v) in vr.vulnerabilities {
            let Some(id) = ids.get(&rid) else { continue };
            v.id = (*id).to_string();
            found.push(v);
        }
        if found.is_empty() {
            continue;
        }
        sort_most_severe_first(&mut found);
        let list = found.iter().map(|v| v.id.clone()).collect();
        for v in found {
            out.vulnerabilities.entry(v.id.clone()).or_insert(v);
        }
        out.vulnerable_manifests.insert(manifest, list);
    }
    Ok(out)
}

/// Most severe first, then by name (the order summaries pick from).
pub fn sort_most_severe_first(found: &mut [ReportVulnerability]) {
    found.sort_by(|a, b| {
        b.normalized_severity
            .cmp(&a.normalized_severity)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
}
