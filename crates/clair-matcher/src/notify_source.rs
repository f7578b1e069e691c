//! Where Clair v4 notifications come from, behind one small trait, so the same computation
//! runs in one process and across services.
//!
//! A notification says which indexed manifests an update operation changed. That needs the
//! matcher's update operations and their diffs, and the indexer's answer to "which manifests
//! do these records affect" (claircore's `AffectedManifests`). In combo mode both live in the
//! local store ([`LocalSource`]); a notifier-mode server asks the matcher and indexer services
//! over HTTP (clair-http's `remote` module implements [`NotificationSource`] for that). Either
//! way [`notify_updater`] turns an updater's newest operation into one stored notification,
//! once: the notifier's own store keeps, per updater, the operation it last processed (Clair's
//! notifier receipts).

use std::collections::BTreeMap;

use clair_store::{OpKind, Store, UpdateDiff, UpdateOperation};
use clair_types::{Digest, IndexState, ReportVulnerability, Vulnerability};
use uuid::Uuid;

use crate::matching::{MatchIndex, Namespaces, report_id};
use crate::notify::NotifyOptions;

/// Records sent per affected-manifests question (upstream's chunk size).
pub const AFFECTED_CHUNK: usize = 1000;

/// Why a notification's inputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] clair_store::Error),
    /// A remote service failed or answered something unusable.
    #[error("{service}: {message}")]
    Remote {
        /// The URL asked.
        service: String,
        /// What went wrong.
        message: String,
    },
}

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
        .map(|v| clair_store::package_name_key(&v.package_name))
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
pub(crate) fn sort_most_severe_first(found: &mut [ReportVulnerability]) {
    found.sort_by(|a, b| {
        b.normalized_severity
            .cmp(&a.normalized_severity)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The inputs of notifications: the matcher's update operations and diffs, the indexer's
/// affected manifests.
pub trait NotificationSource: Send + Sync + std::fmt::Debug {
    /// Vulnerability update operations by updater, newest first (the matcher's
    /// `GET /matcher/api/v1/internal/update_operation`).
    fn update_operations(&self) -> Result<BTreeMap<String, Vec<UpdateOperation>>, SourceError>;

    /// The newest vulnerability update operation of each updater (`?latest=true`). A remote
    /// source answers repeated polls from its cache when the matcher says nothing changed.
    fn latest_update_operations(&self) -> Result<BTreeMap<String, UpdateOperation>, SourceError> {
        Ok(self
            .update_operations()?
            .into_iter()
            .filter_map(|(u, ops)| ops.into_iter().next().map(|op| (u, op)))
            .collect())
    }

    /// What changed from `prev` to `cur`, two operations of one updater (`update_diff`).
    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff, SourceError>;

    /// Which indexed manifests `records` affect (`POST
    /// /indexer/api/v1/internal/affected_manifest/`); at most [`AFFECTED_CHUNK`] records per
    /// call.
    fn affected_manifests(
        &self,
        records: &[(String, Vulnerability)],
    ) -> Result<AffectedManifests, SourceError>;
}

/// Combo mode: the matcher's and the indexer's data are in one local store.
#[derive(Debug, Clone, Copy)]
pub struct LocalSource<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The namespaces of distributions and repositories (the ecosystems).
    pub ns: &'a dyn Namespaces,
}

impl NotificationSource for LocalSource<'_> {
    fn update_operations(&self) -> Result<BTreeMap<String, Vec<UpdateOperation>>, SourceError> {
        let mut out: BTreeMap<String, Vec<UpdateOperation>> = BTreeMap::new();
        for op in self.store.update_operations(OpKind::Vulnerability, None)? {
            out.entry(op.updater.clone()).or_default().push(op);
        }
        Ok(out)
    }

    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff, SourceError> {
        Ok(self.store.update_diff(prev, cur)?)
    }

    fn affected_manifests(
        &self,
        records: &[(String, Vulnerability)],
    ) -> Result<AffectedManifests, SourceError> {
        Ok(affected_manifests(self.store, self.ns, records)?)
    }
}

/// The manifests a diff affects, per side: `(added, removed)` with each manifest's records,
/// most severe first. Asks `source` in chunks of [`AFFECTED_CHUNK`] records.
pub fn diff_affects(
    source: &dyn NotificationSource,
    diff: &UpdateDiff,
) -> Result<[BTreeMap<Digest, Vec<ReportVulnerability>>; 2], SourceError> {
    let mut sides: [BTreeMap<Digest, Vec<ReportVulnerability>>; 2] = Default::default();
    for (side, records) in sides.iter_mut().zip([&diff.added, &diff.removed]) {
        for chunk in records.chunks(AFFECTED_CHUNK) {
            let with_ids: Vec<(String, Vulnerability)> =
                chunk.iter().map(|v| (report_id(v), v.clone())).collect();
            let a = source.affected_manifests(&with_ids)?;
            for (manifest, ids) in a.vulnerable_manifests {
                let list = side.entry(manifest).or_default();
                for id in ids {
                    if let Some(v) = a.vulnerabilities.get(&id)
                        && !list.iter().any(|have| have.id == id)
                    {
                        list.push(v.clone());
                    }
                }
            }
        }
        for list in side.values_mut() {
            sort_most_severe_first(list);
        }
    }
    Ok(sides)
}

/// Turn `updater`'s newest operation (`ops`, that updater's operations newest first) into one
/// stored notification in `store` (the notifier's), once. The diff runs from the operation
/// processed last time, or the one before the newest when there is none (or it is gone); an
/// updater's first operation notifies nothing (everything would be "added"). Returns the new
/// notification's id, `None` when nothing was to be done or nothing changed for any manifest.
///
/// A crash between storing the notification and recording the operation as processed sends
/// that notification again after the restart (at least once, never lost).
pub fn notify_updater(
    source: &dyn NotificationSource,
    store: &dyn Store,
    updater: &str,
    ops: &[UpdateOperation],
    opts: NotifyOptions,
) -> Result<Option<Uuid>, SourceError> {
    let Some(cur) = ops.first() else {
        return Ok(None);
    };
    let last = store.notified_operation(updater)?;
    if last == Some(cur.id) {
        return Ok(None);
    }
    let prev = match last {
        Some(l) if ops.iter().any(|o| o.id == l) => Some(l),
        _ => ops.get(1).map(|o| o.id),
    };
    let Some(prev) = prev else {
        tracing::debug!(updater, op = %cur.id, "first update operation: nothing to notify");
        store.set_notified_operation(updater, cur.id)?;
        return Ok(None);
    };
    let diff = source.update_diff(Some(prev), cur.id)?;
    let items = crate::notify::items(source, &diff, opts)?;
    let id = if items.is_empty() {
        None
    } else {
        let body = serde_json::json!({"updater": updater, "prev": prev, "cur": cur.id});
        let id = store.create_notification(crate::notify::KIND, &body, &items)?;
        tracing::info!(%id, updater, items = items.len(), "notification created");
        Some(id)
    };
    store.set_notified_operation(updater, cur.id)?;
    Ok(id)
}

/// One poll of a notifier: every updater whose newest operation was not processed yet gets
/// [`notify_updater`], under the store lock `notifier/process` (held elsewhere: nothing done,
/// another instance is at it). Returns the notifications created.
pub fn poll(
    source: &dyn NotificationSource,
    store: &dyn Store,
    opts: NotifyOptions,
) -> Result<Vec<Uuid>, SourceError> {
    let Some(_lock) = store.try_lock("notifier/process")? else {
        return Ok(Vec::new());
    };
    let mut pending = Vec::new();
    for (updater, op) in source.latest_update_operations()? {
        if store.notified_operation(&updater)? != Some(op.id) {
            pending.push(updater);
        }
    }
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let all = source.update_operations()?;
    let mut created = Vec::new();
    for updater in pending {
        let ops = all.get(&updater).map(Vec::as_slice).unwrap_or_default();
        match notify_updater(source, store, &updater, ops, opts) {
            Ok(Some(id)) => created.push(id),
            Ok(None) => {}
            // One updater's failure (a diff the matcher no longer has) does not stop the others.
            Err(e) => tracing::warn!(updater = %updater, error = %e, "computing notifications"),
        }
    }
    Ok(created)
}
