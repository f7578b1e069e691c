//! Where the inputs of notifications come from, behind one small trait, so the same
//! computation runs in one process and across services.
//!
//! A notification says which indexed manifests an update operation changed. That needs the
//! matcher's update operations and their diffs, and the indexer's answer to "which manifests
//! do these records affect" (claircore's `AffectedManifests`). In combo mode both live in the
//! local store ([`LocalSource`]); a notifier-mode server asks the matcher and indexer services
//! over HTTP (`clair_http::remote::RemoteSource`).

use std::collections::BTreeMap;

use crate::affected::{AffectedManifests, affected_manifests, sort_most_severe_first};
use clair_matcher::Namespaces;
use clair_matcher::matching::report_id;
use clair_store::{OpKind, Store, UpdateDiff, UpdateOperation};
use clair_types::{Digest, ReportVulnerability, Vulnerability};
use uuid::Uuid;

use crate::Error;

/// The inputs of notifications: the matcher's update operations and diffs, the indexer's
/// affected manifests.
pub trait NotificationSource: Send + Sync + std::fmt::Debug {
    /// Vulnerability update operations by updater, newest first (the matcher's
    /// `GET /matcher/api/v1/internal/update_operation`).
    fn update_operations(&self) -> Result<BTreeMap<String, Vec<UpdateOperation>>, Error>;

    /// The newest vulnerability update operation of each updater (`?latest=true`). A remote
    /// source answers repeated polls from its cache when the matcher says nothing changed.
    fn latest_update_operations(&self) -> Result<BTreeMap<String, UpdateOperation>, Error> {
        Ok(self
            .update_operations()?
            .into_iter()
            .filter_map(|(u, ops)| ops.into_iter().next().map(|op| (u, op)))
            .collect())
    }

    /// What changed from `prev` to `cur`, two operations of one updater (`update_diff`);
    /// `prev` `None`: everything `cur` holds. An operation that no longer exists is
    /// [`clair_store::Error::NotFound`] from the local store, a 404 from a remote one.
    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff, Error>;

    /// Which indexed manifests `records` (each with an id of the caller's choosing) affect
    /// (`POST /indexer/api/v1/internal/affected_manifest/`), however many records there are.
    fn affected_manifests(
        &self,
        records: &[(String, Vulnerability)],
    ) -> Result<AffectedManifests, Error>;
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
    fn update_operations(&self) -> Result<BTreeMap<String, Vec<UpdateOperation>>, Error> {
        let mut out: BTreeMap<String, Vec<UpdateOperation>> = BTreeMap::new();
        for op in self.store.update_operations(OpKind::Vulnerability, None)? {
            out.entry(op.updater.clone()).or_default().push(op);
        }
        Ok(out)
    }

    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff, Error> {
        Ok(self.store.update_diff(prev, cur)?)
    }

    fn affected_manifests(
        &self,
        records: &[(String, Vulnerability)],
    ) -> Result<AffectedManifests, Error> {
        Ok(affected_manifests(self.store, self.ns, records)?)
    }
}

/// The manifests a diff affects, per side: `(added, removed)` with each manifest's records,
/// most severe first.
pub fn diff_affects(
    source: &dyn NotificationSource,
    diff: &UpdateDiff,
) -> Result<[BTreeMap<Digest, Vec<ReportVulnerability>>; 2], Error> {
    let mut sides: [BTreeMap<Digest, Vec<ReportVulnerability>>; 2] = Default::default();
    for (side, records) in sides.iter_mut().zip([&diff.added, &diff.removed]) {
        if records.is_empty() {
            continue;
        }
        let with_ids: Vec<(String, Vulnerability)> =
            records.iter().map(|v| (report_id(v), v.clone())).collect();
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
        for list in side.values_mut() {
            sort_most_severe_first(list);
        }
    }
    Ok(sides)
}
