//! Clair v4 notifications: what an update operation changed for the indexed manifests.
//!
//! [`compute`] asks a [`NotificationSource`] (the local store, or the indexer service) which
//! manifests the records the operation *added* and those it *removed* affect, matched with the
//! same `MatchIndex` logic reports use, so a notification says exactly what a report would now
//! say differently. By default each manifest gets one summary per reason (its most severe
//! vulnerability); with `disable_summary`, one item per vulnerability and manifest.

use clair_store::{NewNotification, UpdateDiff};
use clair_types::{Digest, ReportVulnerability};

use super::Options;
use super::source::{NotificationSource, diff_affects};

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

/// The notification items a diff causes for the manifests `source` knows: per manifest, the
/// records it now has ("added") or no longer has ("removed"), as one summary per reason (the
/// most severe record) or, with `disable_summary`, one item per record.
pub fn items(
    source: &dyn NotificationSource,
    diff: &UpdateDiff,
    opts: Options,
) -> Result<Vec<serde_json::Value>, crate::Error> {
    let [added, removed] = diff_affects(source, diff)?;
    let mut manifests: Vec<&Digest> = added.keys().chain(removed.keys()).collect();
    manifests.sort();
    manifests.dedup();
    let mut items = Vec::new();
    for manifest in manifests {
        for (reason, side) in [("added", &added), ("removed", &removed)] {
            let Some(found) = side.get(manifest) else {
                continue;
            };
            let keep = if opts.disable_summary { found.len() } else { 1 };
            for v in found.iter().take(keep) {
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
    source: &dyn NotificationSource,
    diff: &UpdateDiff,
    opts: Options,
) -> Result<Option<NewNotification>, crate::Error> {
    let items = items(source, diff, opts)?;
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
