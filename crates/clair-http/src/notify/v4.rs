//! Clair v4 notifications: what an update operation changed for the indexed manifests.
//!
//! [`compute`] matches the records the operation *added* and those it *removed* against the
//! stored index report of every manifest with a package those records name (the store's
//! reverse index), with the same [`MatchIndex`] logic reports use, so a notification says
//! exactly what a report would now say differently. By default each manifest gets one summary
//! per reason (its most severe vulnerability); with `disable_summary`, one item per
//! vulnerability and manifest.

use clair_matcher::matching::{MatchIndex, Namespaces};
use clair_store::{NewNotification, Store, UpdateDiff};
use clair_types::{IndexState, ReportVulnerability};

use super::Options;

/// Clair's `VulnSummary` of a vulnerability. `package`, `distribution` and `repo` are written
/// as the report writes them: objects, never `null` (Quay validates each page against its
/// schema, which wants objects, and retries a page that fails forever).
fn summary(v: &ReportVulnerability) -> serde_json::Value {
    let full = serde_json::to_value(v).unwrap_or_default();
    let sev = v.normalized_severity.as_str();
    serde_json::json!({
        "name": v.name,
        "description": v.description,
        "package": full["package"],
        "distribution": full["distribution"],
        "repo": full["repository"],
        // Clair's VulnSummary puts the normalized severity under `severity`; Quay's schema
        // reads `normalized_severity`: both are sent.
        "severity": sev,
        "normalized_severity": sev,
        "fixed_in_version": v.fixed_in_version,
        "links": v.links,
    })
}

/// The notification items a diff causes for the stored manifests.
pub fn items(
    store: &dyn Store,
    ns: &dyn Namespaces,
    diff: &UpdateDiff,
    opts: Options,
) -> clair_store::Result<Vec<serde_json::Value>> {
    let sides = [
        ("added", MatchIndex::new(diff.added.clone(), "added".into())),
        (
            "removed",
            MatchIndex::new(diff.removed.clone(), "removed".into()),
        ),
    ];
    // Only manifests with a package the changed records name (the store's reverse index).
    let names = super::changed_package_names(diff);
    let mut items = Vec::new();
    for manifest in store.manifests_with_packages(&names)? {
        let Some(stored) = store.get_index_report(&manifest)? else {
            continue;
        };
        if stored.report.state != IndexState::IndexFinished {
            continue;
        }
        for (reason, idx) in &sides {
            if idx.is_empty() {
                continue;
            }
            let (vr, _) = idx.report(&stored.report, ns);
            let mut found: Vec<&ReportVulnerability> = vr.vulnerabilities.values().collect();
            if found.is_empty() {
                continue;
            }
            found.sort_by(|a, b| {
                b.normalized_severity
                    .cmp(&a.normalized_severity)
                    .then_with(|| a.name.cmp(&b.name))
            });
            if !opts.disable_summary {
                found.truncate(1);
            }
            for v in found {
                items.push(serde_json::json!({
                    "id": uuid::Uuid::new_v4(),
                    "manifest": manifest,
                    "reason": reason,
                    "vulnerability": summary(v),
                }));
            }
        }
    }
    Ok(items)
}

/// The Clair v4 notification of one update (none when no manifest is affected).
pub fn compute(
    store: &dyn Store,
    ns: &dyn Namespaces,
    diff: &UpdateDiff,
    opts: Options,
) -> clair_store::Result<Option<NewNotification>> {
    let items = items(store, ns, diff, opts)?;
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(NewNotification {
        kind: super::V4.into(),
        body: serde_json::json!({
            "updater": diff.cur.updater,
            "prev": diff.prev.as_ref().map(|p| p.id),
            "cur": diff.cur.id,
        }),
        items,
    }))
}
