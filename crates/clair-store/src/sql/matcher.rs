//! The matcher's role, written once where the dialects agree (reading operations and their
//! vulnerabilities, diffs, updater status, deleting operations); what each backend does its own
//! way (writing a feed, streaming the latest vulnerabilities, enrichment lookups, garbage
//! collection) comes through [`MatcherDriver`].

use clair_types::Vulnerability;
use uuid::Uuid;

use super::driver::{Arg, Driver};
use super::{Row, json, op_from_row};
use crate::error::{Error, Result};
use crate::model::*;
use crate::{Feed, MatcherStore};

/// One updater run to store.
pub(crate) struct Run<'a> {
    pub(crate) updater: &'a str,
    /// The updater's marker of what it fetched.
    pub(crate) fingerprint: &'a str,
    pub(crate) records: Records<'a>,
}

/// The records of one updater run.
pub(crate) enum Records<'a> {
    Vulnerabilities(Feed<'a, Vulnerability>),
    Enrichments(Feed<'a, EnrichmentRecord>),
}

/// The parts of the matcher's role each backend does its own way.
pub(crate) trait MatcherDriver: Driver {
    /// Store one updater run as a new, atomically visible update operation (see
    /// [`MatcherStore::update_vulnerabilities`]).
    fn store_records(&self, run: Run<'_>) -> Result<UpdateOperation>;
    /// See [`MatcherStore::for_each_latest_vulnerability`].
    fn scan_latest(
        &self,
        namespaces: Option<&[String]>,
        f: &mut dyn FnMut(Vulnerability),
    ) -> Result<()>;
    /// See [`MatcherStore::enrichments`].
    fn tagged_enrichments(&self, updater: &str, tags: &[String]) -> Result<Vec<EnrichmentRecord>>;
    /// See [`MatcherStore::gc`].
    fn collect_garbage(&self, keep: usize) -> Result<GcStats>;
}

impl<D: MatcherDriver> MatcherStore for D {
    fn update_vulnerabilities(
        &self,
        updater: &str,
        fingerprint: &str,
        vulnerabilities: Feed<'_, Vulnerability>,
    ) -> Result<UpdateOperation> {
        let records = Records::Vulnerabilities(vulnerabilities);
        self.store_records(Run {
            updater,
            fingerprint,
            records,
        })
    }

    fn update_operations(
        &self,
        kind: OpKind,
        updater: Option<&str>,
    ) -> Result<Vec<UpdateOperation>> {
        let args = [Arg::Text(kind.as_str()), Arg::OptText(updater)];
        self.rows(super::OPS_OF_KIND, &args, |r| op_from_row(r))
    }

    fn vulnerabilities(&self, op: Uuid) -> Result<Vec<Vulnerability>> {
        let op = op.to_string();
        documents(
            self,
            super::OP_VULNERABILITIES,
            &[Arg::Text(&op)],
            "vulnerability",
        )
    }

    fn for_each_latest_vulnerability(
        &self,
        namespaces: Option<&[String]>,
        f: &mut dyn FnMut(Vulnerability),
    ) -> Result<()> {
        self.scan_latest(namespaces, f)
    }

    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff> {
        let op = |id: Uuid| -> Result<Option<(UpdateOperation, i64)>> {
            let id = id.to_string();
            let mut rows = self.rows(super::OP_BY_ID, &[Arg::Text(&id)], |r| {
                Ok((op_from_row(r)?, r.int("seq")?))
            })?;
            Ok(rows.pop())
        };
        let side = |a: i64, b: i64| {
            let args = [Arg::Int(a), Arg::Int(b)];
            documents(self, super::DIFF_SIDE, &args, "vulnerability")
        };
        super::update_diff(prev, cur, op, side)
    }

    fn delete_update_operations(&self, ops: &[Uuid]) -> Result<usize> {
        let ids: Vec<String> = ops.iter().map(Uuid::to_string).collect();
        self.transaction(&mut |tx| {
            let mut n = 0;
            for id in &ids {
                n += tx.exec(
                    "DELETE FROM update_operation WHERE id = $1",
                    &[Arg::Text(id)],
                )?;
            }
            Ok(n)
        })
    }

    fn gc(&self, keep: usize) -> Result<GcStats> {
        self.collect_garbage(keep)
    }

    fn set_updater_status(&self, status: &UpdaterStatus) -> Result<()> {
        let data = serde_json::to_string(status).map_err(|e| Error::Decode {
            what: "updater status".into(),
            message: e.to_string(),
        })?;
        let args = [Arg::Text(&status.updater), Arg::Text(&data)];
        self.exec(super::UPDATER_STATUS_PUT, &args)?;
        Ok(())
    }

    fn updater_status(&self) -> Result<Vec<UpdaterStatus>> {
        documents(self, super::UPDATER_STATUS, &[], "updater status")
    }

    fn update_enrichments(
        &self,
        updater: &str,
        fingerprint: &str,
        records: Feed<'_, EnrichmentRecord>,
    ) -> Result<UpdateOperation> {
        let records = Records::Enrichments(records);
        self.store_records(Run {
            updater,
            fingerprint,
            records,
        })
    }

    fn enrichments(&self, updater: &str, tags: &[String]) -> Result<Vec<EnrichmentRecord>> {
        self.tagged_enrichments(updater, tags)
    }
}

/// The JSON documents a statement selects (its first column, named `data`), decoded.
fn documents<D: Driver, T: serde::de::DeserializeOwned>(
    db: &D,
    sql: &str,
    args: &[Arg<'_>],
    what: &str,
) -> Result<Vec<T>> {
    db.rows(sql, args, |r| r.text("data"))?
        .iter()
        .map(|d| json(what, d))
        .collect()
}
