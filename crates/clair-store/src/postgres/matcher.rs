//! The matcher's role on PostgreSQL: update operations streamed in with `COPY`,
//! vulnerabilities, enrichments, updater status and garbage collection.

use clair_types::Vulnerability;
use postgres::Transaction;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;

use super::{Fail, GC_LOCK, PgStore};
use crate::Feed;
use crate::codec::micros;
use crate::error::Result;
use crate::model::*;
use crate::sql::matcher::{MatcherDriver, Records, Run};
use crate::sql::{self, json};

impl PgStore {
    /// Store a new update operation of `kind` in one transaction: `load` streams the feed in
    /// (given the transaction, the operation's seq and the operation). Run once: a feed cannot
    /// be replayed.
    fn stream_update(
        &self,
        updater: &str,
        fingerprint: &str,
        kind: OpKind,
        load: impl FnOnce(&mut Transaction<'_>, i64, &UpdateOperation) -> std::result::Result<(), Fail>,
    ) -> Result<UpdateOperation> {
        let op = sql::new_operation(updater, fingerprint, kind);
        self.run_once(|c| {
            let mut tx = c.transaction()?;
            // Shared: garbage collection (exclusive) waits for this operation.
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GC_LOCK])?;
            let seq: i64 = tx
                .query_one(
                    sql::OP_INSERT,
                    &[
                        &op.id.to_string(),
                        &op.updater,
                        &op.kind.as_str(),
                        &op.fingerprint,
                        &micros(op.date),
                    ],
                )?
                .get(0);
            load(&mut tx, seq, &op)?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(op)
    }

    /// A vulnerability feed as one operation: `COPY` into a temp table, then set operations.
    fn copy_vulnerabilities(
        &self,
        (updater, fingerprint): (&str, &str),
        vulnerabilities: Feed<'_, Vulnerability>,
    ) -> Result<UpdateOperation> {
        let kind = OpKind::Vulnerability;
        self.stream_update(updater, fingerprint, kind, |tx, seq, op| {
            tx.execute(
                sql::NOTIFICATION_JOB_ADD,
                &[&seq, &updater, &micros(op.date)],
            )?;
            tx.batch_execute(
                "CREATE TEMP TABLE tmp_vuln (hash TEXT, updater TEXT, name TEXT, namespace TEXT,
                   package_name TEXT, data TEXT) ON COMMIT DROP",
            )?;
            // Stream the feed into the server with COPY: one round trip, bounded memory.
            copy_text::<6>(tx, COPY_VULNS, |w| {
                for v in vulnerabilities {
                    let v = v.map_err(|e| sql::aborted(updater, &e))?;
                    let (hash, data) = sql::vulnerability_row(updater, &v)?;
                    w.write(&[
                        &hash,
                        &v.updater,
                        &v.name,
                        &v.namespace,
                        &v.package_name,
                        &data,
                    ])?;
                }
                Ok(())
            })?;
            tx.execute(VULNS_FROM_TMP, &[])?;
            tx.execute(UO_VULNS_FROM_TMP, &[&seq])?;
            Ok(())
        })
    }

    /// An enrichment feed as one operation: records and their tags `COPY`ed into temp tables,
    /// then set operations.
    fn copy_enrichments(
        &self,
        (updater, fingerprint): (&str, &str),
        records: Feed<'_, EnrichmentRecord>,
    ) -> Result<UpdateOperation> {
        self.stream_update(updater, fingerprint, OpKind::Enrichment, |tx, seq, _| {
            tx.batch_execute(
                "CREATE TEMP TABLE tmp_enrich (hash TEXT, tags TEXT, data TEXT) ON COMMIT DROP;
                 CREATE TEMP TABLE tmp_enrich_tag (hash TEXT, tag TEXT) ON COMMIT DROP",
            )?;
            let mut tag_rows: Vec<(String, String)> = Vec::new();
            let copy = "COPY tmp_enrich (hash, tags, data) FROM STDIN BINARY";
            copy_text::<3>(tx, copy, |w| {
                for r in records {
                    let r = r.map_err(|e| sql::aborted(updater, &e))?;
                    let (hash, tags, data) = sql::enrichment_row(updater, &r)?;
                    w.write(&[&hash, &tags, &data])?;
                    tag_rows.extend(r.tags.into_iter().map(|t| (hash.clone(), t)));
                }
                Ok(())
            })?;
            let copy = "COPY tmp_enrich_tag (hash, tag) FROM STDIN BINARY";
            copy_text::<2>(tx, copy, |w| {
                for (h, t) in &tag_rows {
                    w.write(&[h, t])?;
                }
                Ok(())
            })?;
            tx.execute(
                "INSERT INTO enrichment (hash, updater, tags, data)
                 SELECT DISTINCT ON (hash) hash, $1, tags, data FROM tmp_enrich ON CONFLICT (hash) DO NOTHING",
                &[&updater],
            )?;
            tx.execute(ENRICHMENT_TAGS_FROM_TMP, &[])?;
            tx.execute(UO_ENRICHMENTS_FROM_TMP, &[&seq])?;
            Ok(())
        })
    }
}

/// Vulnerabilities streamed into the temp table.
const COPY_VULNS: &str =
    "COPY tmp_vuln (hash, updater, name, namespace, package_name, data) FROM STDIN BINARY";
/// New vulnerabilities from the `COPY`ed rows.
const VULNS_FROM_TMP: &str = "INSERT INTO vuln (hash, updater, name, namespace, package_name, data)
     SELECT DISTINCT ON (hash) hash, updater, name, namespace, package_name, data FROM tmp_vuln
     ON CONFLICT (hash) DO NOTHING";
/// The `COPY`ed vulnerabilities linked to operation `$1`.
const UO_VULNS_FROM_TMP: &str =
    "INSERT INTO uo_vuln (uo, vuln) SELECT DISTINCT $1::BIGINT, v.id FROM tmp_vuln t
     JOIN vuln v ON v.hash = t.hash ON CONFLICT DO NOTHING";
/// The tags of the `COPY`ed enrichment records.
const ENRICHMENT_TAGS_FROM_TMP: &str = "INSERT INTO enrichment_tag (enrichment, tag)
     SELECT DISTINCT e.id, t.tag FROM tmp_enrich_tag t
     JOIN enrichment e ON e.hash = t.hash ON CONFLICT DO NOTHING";
/// The `COPY`ed enrichment records linked to operation `$1`.
const UO_ENRICHMENTS_FROM_TMP: &str =
    "INSERT INTO uo_enrich (uo, enrichment) SELECT DISTINCT $1::BIGINT, e.id FROM tmp_enrich t
     JOIN enrichment e ON e.hash = t.hash ON CONFLICT DO NOTHING";

/// `COPY … FROM STDIN BINARY` into `N` text columns, the rows written by `fill`.
fn copy_text<const N: usize>(
    tx: &mut Transaction<'_>,
    copy: &str,
    fill: impl FnOnce(&mut BinaryCopyInWriter<'_>) -> std::result::Result<(), Fail>,
) -> std::result::Result<(), Fail> {
    let sink = tx.copy_in(copy)?;
    let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT; N]);
    fill(&mut w)?;
    w.finish()?;
    Ok(())
}

impl MatcherDriver for PgStore {
    fn store_records(&self, run: Run<'_>) -> Result<UpdateOperation> {
        let names = (run.updater, run.fingerprint);
        match run.records {
            Records::Vulnerabilities(feed) => self.copy_vulnerabilities(names, feed),
            Records::Enrichments(feed) => self.copy_enrichments(names, feed),
        }
    }

    fn scan_latest(
        &self,
        namespaces: Option<&[String]>,
        f: &mut dyn FnMut(Vulnerability),
    ) -> Result<()> {
        // One statement: a consistent snapshot even while updaters write.
        let mut c = self.client()?;
        let mut tx = c.transaction().map_err(|e| self.pg_err(e))?;
        let all = namespaces.is_none();
        let ns: Vec<String> = namespaces.map(<[String]>::to_vec).unwrap_or_default();
        let query = format!(
            "{} AND ($1 OR v.namespace = ANY($2))",
            sql::LATEST_VULNERABILITIES
        );
        let portal = tx.bind(&query, &[&all, &ns]).map_err(|e| self.pg_err(e))?;
        loop {
            let rows = tx.query_portal(&portal, 5000).map_err(|e| self.pg_err(e))?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                f(json("vulnerability", r.get::<_, &str>(0))?);
            }
        }
        tx.commit().map_err(|e| self.pg_err(e))
    }

    fn tagged_enrichments(&self, updater: &str, tags: &[String]) -> Result<Vec<EnrichmentRecord>> {
        self.run(|c| {
            // One statement, the latest operation a subquery: a consistent snapshot.
            let query = format!(
                "{} = ANY($2) ORDER BY e.id",
                sql::ENRICHMENTS_TAGGED.replace("$1", &format!("({})", sql::LATEST_ENRICHMENT_OP))
            );
            let mut out = sql::Enrichments::default();
            for r in c.query(&query, &[&updater, &tags])? {
                out.add(r.get(0), r.get(1), r.get(2))?;
            }
            Ok(out.records)
        })
    }

    fn collect_garbage(&self, keep: usize) -> Result<GcStats> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&GC_LOCK])?;
            let operations = tx.execute(
                "DELETE FROM update_operation WHERE seq IN (
                   SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY kind, updater ORDER BY seq DESC) AS rn
                                    FROM update_operation) ranked WHERE rn > $1)",
                &[&keep],
            )?;
            let vulnerabilities = tx.execute(sql::GC_VULNERABILITIES, &[])?;
            let enrichments = tx.execute(sql::GC_ENRICHMENTS, &[])?;
            tx.commit()?;
            let n = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
            Ok(GcStats {
                operations: n(operations),
                vulnerabilities: n(vulnerabilities),
                enrichments: n(enrichments),
            })
        })
    }
}
