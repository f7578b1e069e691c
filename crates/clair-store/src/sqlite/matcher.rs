//! The matcher's role on SQLite: update operations staged batch by batch, vulnerabilities,
//! enrichments, updater status and garbage collection.

use clair_types::Vulnerability;
use rusqlite::params;

use super::SqliteStore;
use crate::Feed;
use crate::codec::micros;
use crate::error::Result;
use crate::model::*;
use crate::sql::matcher::{MatcherDriver, Records, Run};
use crate::sql::{self, json, lite};

impl SqliteStore {
    /// Start an update operation that readers cannot see yet (kind `staging`): records are
    /// linked to it batch by batch, each batch a short write transaction, so feed parsing
    /// never holds the writer; [`Self::publish`] makes it visible in one statement.
    fn stage(&self, updater: &str, fingerprint: &str, kind: OpKind) -> Result<Staged> {
        let op = sql::new_operation(updater, fingerprint, kind);
        let (seq, first_new) = self.write(|tx| {
            let first_new: i64 = tx.query_row(
                &format!("SELECT COALESCE(MAX(id), 0) FROM {}", kind_table(kind)),
                [],
                |r| r.get(0),
            )?;
            let seq: i64 = tx.query_row(
                lite!(sql::OP_INSERT),
                params![
                    op.id.to_string(),
                    updater,
                    STAGING,
                    fingerprint,
                    micros(op.date)
                ],
                |r| r.get(0),
            )?;
            Ok((seq, first_new))
        })?;
        Ok(Staged { seq, first_new, op })
    }

    /// Stage a feed: each record made a row by `row`, the rows written `STAGE_BATCH` at a time
    /// by `store`, the operation published at the end (or removed when the feed failed).
    fn stage_feed<T, R>(
        &self,
        updater: &str,
        fingerprint: &str,
        kind: OpKind,
        feed: Feed<'_, T>,
        row: impl Fn(T) -> Result<R>,
        store: impl Fn(&Self, i64, &mut Vec<R>) -> Result<()>,
    ) -> Result<UpdateOperation> {
        let mut staged = self.stage(updater, fingerprint, kind)?;
        let result = (|| {
            let mut batch = Vec::with_capacity(STAGE_BATCH);
            for item in feed {
                batch.push(row(item.map_err(|e| sql::aborted(updater, &e))?)?);
                if batch.len() == STAGE_BATCH {
                    store(self, staged.seq, &mut batch)?;
                }
            }
            store(self, staged.seq, &mut batch)
        })();
        self.publish(&mut staged, result)
    }

    /// Store one batch of vulnerabilities and link them to the staged operation.
    fn stage_vulnerabilities(
        &self,
        seq: i64,
        batch: &mut Vec<(String, Vulnerability, String)>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut ins = tx.prepare_cached(
                "INSERT INTO vuln (hash, updater, name, namespace, package_name, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hash) DO NOTHING",
            )?;
            let mut get = tx.prepare_cached("SELECT id FROM vuln WHERE hash = ?1")?;
            let mut link =
                tx.prepare_cached("INSERT OR IGNORE INTO uo_vuln (uo, vuln) VALUES (?1, ?2)")?;
            for (hash, v, data) in batch.iter() {
                ins.execute(params![
                    hash,
                    v.updater,
                    v.name,
                    v.namespace,
                    v.package_name,
                    data
                ])?;
                let id: i64 = get.query_row([hash], |r| r.get(0))?;
                link.execute(params![seq, id])?;
            }
            Ok(())
        })?;
        batch.clear();
        Ok(())
    }

    /// Store one batch of enrichment records and link them to the staged operation.
    fn stage_enrichments(
        &self,
        seq: i64,
        updater: &str,
        batch: &mut Vec<(String, Vec<String>, String, String)>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut ins = tx.prepare_cached(
                "INSERT INTO enrichment (hash, updater, tags, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hash) DO NOTHING",
            )?;
            let mut get = tx.prepare_cached("SELECT id FROM enrichment WHERE hash = ?1")?;
            let mut tag = tx.prepare_cached(
                "INSERT OR IGNORE INTO enrichment_tag (enrichment, tag) VALUES (?1, ?2)",
            )?;
            let mut link = tx.prepare_cached(
                "INSERT OR IGNORE INTO uo_enrich (uo, enrichment) VALUES (?1, ?2)",
            )?;
            for (hash, tags, tags_json, data) in batch.iter() {
                ins.execute(params![hash, updater, tags_json, data])?;
                let id: i64 = get.query_row([hash], |r| r.get(0))?;
                for t in tags {
                    tag.execute(params![id, t])?;
                }
                link.execute(params![seq, id])?;
            }
            Ok(())
        })?;
        batch.clear();
        Ok(())
    }

    /// Make a staged operation visible (one short transaction), or, when staging failed,
    /// remove it and the records only it referenced.
    fn publish(&self, staged: &mut Staged, result: Result<()>) -> Result<UpdateOperation> {
        let kind = staged.op.kind;
        if let Err(e) = result {
            let table = kind_table(kind);
            let link = match kind {
                OpKind::Vulnerability => "uo_vuln WHERE uo_vuln.vuln",
                OpKind::Enrichment => "uo_enrich WHERE uo_enrich.enrichment",
            };
            let cleanup = self.write(|tx| {
                tx.execute("DELETE FROM update_operation WHERE seq = ?1", [staged.seq])?;
                tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE id > ?1 AND NOT EXISTS (SELECT 1 FROM {link} = {table}.id)"
                    ),
                    [staged.first_new],
                )
            });
            if let Err(c) = cleanup {
                tracing::warn!(updater = %staged.op.updater, error = %c, "removing a failed staged update");
            }
            return Err(e);
        }
        staged.op.date = jiff::Timestamp::now();
        self.write(|tx| {
            tx.execute(
                "UPDATE update_operation SET kind = ?2, date = ?3 WHERE seq = ?1",
                params![staged.seq, kind.as_str(), micros(staged.op.date)],
            )?;
            // The operation's notification job, in the transaction that makes it visible.
            if kind == OpKind::Vulnerability {
                tx.execute(
                    lite!(sql::NOTIFICATION_JOB_ADD),
                    params![staged.seq, staged.op.updater, micros(staged.op.date)],
                )?;
            }
            Ok(())
        })?;
        Ok(staged.op.clone())
    }
}

/// The kind of an update operation still being staged (invisible to readers).
const STAGING: &str = "staging";
/// Records written per staging transaction: small enough that a writer waiting behind one
/// waits a few milliseconds (WAL commits do not sync, so more transactions cost little), large
/// enough that a 300k-record feed takes a few hundred transactions.
const STAGE_BATCH: usize = 1000;
/// Staged operations older than this are left over by a process that died while updating.
const STALE_STAGING_HOURS: i64 = 24;

/// An update operation being staged.
struct Staged {
    seq: i64,
    /// Records of its kind with a larger id were inserted after staging began.
    first_new: i64,
    op: UpdateOperation,
}

fn kind_table(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Vulnerability => "vuln",
        OpKind::Enrichment => "enrichment",
    }
}

impl MatcherDriver for SqliteStore {
    fn store_records(&self, run: Run<'_>) -> Result<UpdateOperation> {
        let (updater, fingerprint) = (run.updater, run.fingerprint);
        match run.records {
            Records::Vulnerabilities(feed) => {
                let row = |v: Vulnerability| {
                    let (hash, data) = sql::vulnerability_row(updater, &v)?;
                    Ok((hash, v, data))
                };
                let store = |s: &Self, seq, batch: &mut Vec<_>| s.stage_vulnerabilities(seq, batch);
                self.stage_feed(
                    updater,
                    fingerprint,
                    OpKind::Vulnerability,
                    feed,
                    row,
                    store,
                )
            }
            Records::Enrichments(feed) => {
                let row = |r: EnrichmentRecord| {
                    let (hash, tags, data) = sql::enrichment_row(updater, &r)?;
                    Ok((hash, r.tags, tags, data))
                };
                let store =
                    |s: &Self, seq, batch: &mut Vec<_>| s.stage_enrichments(seq, updater, batch);
                self.stage_feed(updater, fingerprint, OpKind::Enrichment, feed, row, store)
            }
        }
    }

    fn scan_latest(
        &self,
        namespaces: Option<&[String]>,
        f: &mut dyn FnMut(Vulnerability),
    ) -> Result<()> {
        self.read(|c| {
            let filter = match namespaces {
                None => String::new(),
                Some(ns) => format!(
                    "AND v.namespace IN ({})",
                    (1..=ns.len())
                        .map(|i| format!("?{i}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            };
            if namespaces.is_some_and(|n| n.is_empty()) {
                return Ok(());
            }
            let mut st = c
                .prepare(&format!("{} {filter}", sql::LATEST_VULNERABILITIES))
                .map_err(self.err())?;
            let params = rusqlite::params_from_iter(namespaces.unwrap_or(&[]).iter());
            let mut rows = st.query(params).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                let d: String = r.get(0).map_err(self.err())?;
                f(json("vulnerability", &d)?);
            }
            Ok(())
        })
    }

    fn tagged_enrichments(&self, updater: &str, tags: &[String]) -> Result<Vec<EnrichmentRecord>> {
        self.read(|c| {
            // One read transaction for every lookup: a consistent snapshot, and the file lock
            // taken once instead of once per statement.
            let tx = c.unchecked_transaction().map_err(self.err())?;
            let latest: Option<i64> = tx
                .query_row(lite!(sql::LATEST_ENRICHMENT_OP), [updater], |r| r.get(0))
                .map_err(self.err())?;
            let Some(latest) = latest else {
                return Ok(Vec::new());
            };
            let mut out = sql::Enrichments::default();
            // Tags in chunks, well under SQLite's limit on bound parameters.
            for chunk in tags.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let mut st = tx
                    .prepare_cached(&format!(
                        "{} IN ({marks}) ORDER BY e.id",
                        lite!(sql::ENRICHMENTS_TAGGED)
                    ))
                    .map_err(self.err())?;
                let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() + 1);
                params.push(&latest);
                params.extend(chunk.iter().map(|t| t as &dyn rusqlite::ToSql));
                let rows: Vec<(i64, String, String)> = st
                    .query_map(params.as_slice(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(self.err())?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(self.err())?;
                for (id, t, d) in rows {
                    out.add(id, &t, &d)?;
                }
            }
            Ok(out.records)
        })
    }

    fn collect_garbage(&self, keep: usize) -> Result<GcStats> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.write(|tx| {
            // Operations being staged are not counted; ones a dead process left are removed.
            let stale = micros(jiff::Timestamp::now())
                - STALE_STAGING_HOURS * 3600 * 1_000_000;
            let operations = tx.execute(
                "DELETE FROM update_operation WHERE seq IN (
                   SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY kind, updater ORDER BY seq DESC) AS rn
                                    FROM update_operation WHERE kind != ?3) WHERE rn > ?1)
                   OR (kind = ?3 AND date < ?2)",
                params![keep, stale, STAGING],
            )?;
            let vulnerabilities = tx.execute(sql::GC_VULNERABILITIES, [])?;
            let enrichments = tx.execute(sql::GC_ENRICHMENTS, [])?;
            Ok(GcStats {
                operations,
                vulnerabilities,
                enrichments,
            })
        })
    }
}
