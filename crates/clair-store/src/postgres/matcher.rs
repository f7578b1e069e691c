//! The matcher's role on PostgreSQL: update operations streamed in with `COPY`,
//! vulnerabilities, enrichments, updater status and garbage collection.

use clair_types::{Digest, Vulnerability};
use postgres::Transaction;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use uuid::Uuid;

use super::{Fail, GC_LOCK, PgStore};
use crate::codec::micros;
use crate::error::{Error, Result};
use crate::model::*;
use crate::sql::{self, json, op_from_row};
use crate::{Feed, MatcherStore};

impl PgStore {
    fn insert_op(tx: &mut Transaction<'_>, op: &UpdateOperation) -> std::result::Result<i64, Fail> {
        let row = tx.query_one(
            sql::OP_INSERT,
            &[
                &op.id.to_string(),
                &op.updater,
                &op.kind.as_str(),
                &op.fingerprint,
                &micros(op.date),
            ],
        )?;
        Ok(row.get(0))
    }
}

fn feed_abort(updater: &str, e: crate::FeedError) -> Fail {
    Fail::Other(Error::Aborted {
        updater: updater.to_string(),
        message: e.to_string(),
    })
}

fn encode_err(e: serde_json::Error) -> Fail {
    Fail::Other(Error::Decode {
        what: "document".into(),
        message: e.to_string(),
    })
}

impl MatcherStore for PgStore {
    fn update_vulnerabilities(
        &self,
        updater: &str,
        fingerprint: &str,
        vulnerabilities: Feed<'_, Vulnerability>,
    ) -> Result<UpdateOperation> {
        let op = UpdateOperation {
            id: Uuid::new_v4(),
            updater: updater.to_string(),
            kind: OpKind::Vulnerability,
            fingerprint: fingerprint.to_string(),
            date: jiff::Timestamp::now(),
        };
        self.run_once(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GC_LOCK])?;
            let seq = Self::insert_op(&mut tx, &op)?;
            tx.execute(
                sql::NOTIFICATION_JOB_ADD,
                &[&seq, &updater, &micros(op.date)],
            )?;
            tx.batch_execute(
                "CREATE TEMP TABLE tmp_vuln (hash TEXT, updater TEXT, name TEXT, namespace TEXT,
                   package_name TEXT, data TEXT) ON COMMIT DROP",
            )?;
            {
                // Stream the feed into the server with COPY: one round trip, bounded memory.
                let sink = tx.copy_in(
                    "COPY tmp_vuln (hash, updater, name, namespace, package_name, data) FROM STDIN BINARY",
                )?;
                let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT; 6]);
                for v in vulnerabilities {
                    let v = v.map_err(|e| feed_abort(updater, e))?;
                    let data = serde_json::to_string(&v).map_err(encode_err)?;
                    let hash = v.fingerprint();
                    w.write(&[&hash.hex(), &v.updater, &v.name, &v.namespace, &v.package_name, &data])?;
                }
                w.finish()?;
            }
            tx.execute(
                "INSERT INTO vuln (hash, updater, name, namespace, package_name, data)
                 SELECT DISTINCT ON (hash) hash, updater, name, namespace, package_name, data FROM tmp_vuln
                 ON CONFLICT (hash) DO NOTHING",
                &[],
            )?;
            tx.execute(
                "INSERT INTO uo_vuln (uo, vuln) SELECT DISTINCT $1::BIGINT, v.id FROM tmp_vuln t
                 JOIN vuln v ON v.hash = t.hash ON CONFLICT DO NOTHING",
                &[&seq],
            )?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(op)
    }

    fn update_operations(
        &self,
        kind: OpKind,
        updater: Option<&str>,
    ) -> Result<Vec<UpdateOperation>> {
        self.run(|c| {
            let rows = c.query(sql::OPS_OF_KIND, &[&kind.as_str(), &updater])?;
            rows.iter().map(op_from_row).collect()
        })
    }

    fn vulnerabilities(&self, op: Uuid) -> Result<Vec<Vulnerability>> {
        self.run(|c| {
            c.query(sql::OP_VULNERABILITIES, &[&op.to_string()])?
                .iter()
                .map(|r| Ok(json("vulnerability", r.get::<_, &str>(0))?))
                .collect()
        })
    }

    fn for_each_latest_vulnerability(
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

    fn update_diff(&self, prev: Option<Uuid>, cur: Uuid) -> Result<UpdateDiff> {
        self.run(|c| {
            let mut get_op = |id: Uuid| -> std::result::Result<(UpdateOperation, i64), Fail> {
                let row = c
                    .query_opt(sql::OP_BY_ID, &[&id.to_string()])?
                    .ok_or_else(|| {
                        Fail::Other(Error::NotFound(format!("update operation {id}")))
                    })?;
                Ok((op_from_row(&row)?, row.get("seq")))
            };
            let (cur_op, cur_seq) = get_op(cur)?;
            let prev_op = prev.map(&mut get_op).transpose()?;
            let prev_seq = prev_op.as_ref().map_or(-1, |p| p.1);
            let mut side = |a: i64, b: i64| -> std::result::Result<Vec<Vulnerability>, Fail> {
                c.query(sql::DIFF_SIDE, &[&a, &b])?
                    .iter()
                    .map(|r| Ok(json("vulnerability", r.get::<_, &str>(0))?))
                    .collect()
            };
            let added = side(cur_seq, prev_seq)?;
            let removed = if prev_op.is_some() {
                side(prev_seq, cur_seq)?
            } else {
                Vec::new()
            };
            Ok(UpdateDiff {
                prev: prev_op.map(|p| p.0),
                cur: cur_op,
                added,
                removed,
            })
        })
    }

    fn delete_update_operations(&self, ops: &[Uuid]) -> Result<usize> {
        let ids: Vec<String> = ops.iter().map(Uuid::to_string).collect();
        self.run(|c| {
            let n = c.execute("DELETE FROM update_operation WHERE id = ANY($1)", &[&ids])?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn gc(&self, keep: usize) -> Result<GcStats> {
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

    fn set_updater_status(&self, status: &UpdaterStatus) -> Result<()> {
        let data = serde_json::to_string(status).map_err(|e| Error::Decode {
            what: "updater status".into(),
            message: e.to_string(),
        })?;
        self.run(|c| {
            c.execute(sql::UPDATER_STATUS_PUT, &[&status.updater, &data])?;
            Ok(())
        })
    }

    fn updater_status(&self) -> Result<Vec<UpdaterStatus>> {
        self.run(|c| {
            c.query(sql::UPDATER_STATUS, &[])?
                .iter()
                .map(|r| Ok(json("updater status", r.get::<_, &str>(0))?))
                .collect()
        })
    }

    fn update_enrichments(
        &self,
        updater: &str,
        fingerprint: &str,
        records: Feed<'_, EnrichmentRecord>,
    ) -> Result<UpdateOperation> {
        let op = UpdateOperation {
            id: Uuid::new_v4(),
            updater: updater.to_string(),
            kind: OpKind::Enrichment,
            fingerprint: fingerprint.to_string(),
            date: jiff::Timestamp::now(),
        };
        self.run_once(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GC_LOCK])?;
            let seq = Self::insert_op(&mut tx, &op)?;
            tx.batch_execute(
                "CREATE TEMP TABLE tmp_enrich (hash TEXT, tags TEXT, data TEXT) ON COMMIT DROP;
                 CREATE TEMP TABLE tmp_enrich_tag (hash TEXT, tag TEXT) ON COMMIT DROP",
            )?;
            {
                let sink = tx.copy_in("COPY tmp_enrich (hash, tags, data) FROM STDIN BINARY")?;
                let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT; 3]);
                let mut tag_rows: Vec<(String, String)> = Vec::new();
                for r in records {
                    let r = r.map_err(|e| feed_abort(updater, e))?;
                    let tags = serde_json::to_string(&r.tags).map_err(encode_err)?;
                    let data = serde_json::to_string(&r.data).map_err(encode_err)?;
                    let hash = Digest::sha256_of(format!("{updater}\n{tags}\n{data}").as_bytes());
                    w.write(&[&hash.hex(), &tags, &data])?;
                    for t in r.tags {
                        tag_rows.push((hash.hex().to_string(), t));
                    }
                }
                w.finish()?;
                let sink = tx.copy_in("COPY tmp_enrich_tag (hash, tag) FROM STDIN BINARY")?;
                let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT; 2]);
                for (h, t) in &tag_rows {
                    w.write(&[h, t])?;
                }
                w.finish()?;
            }
            tx.execute(
                "INSERT INTO enrichment (hash, updater, tags, data)
                 SELECT DISTINCT ON (hash) hash, $1, tags, data FROM tmp_enrich ON CONFLICT (hash) DO NOTHING",
                &[&updater],
            )?;
            tx.execute(
                "INSERT INTO enrichment_tag (enrichment, tag) SELECT DISTINCT e.id, t.tag FROM tmp_enrich_tag t
                 JOIN enrichment e ON e.hash = t.hash ON CONFLICT DO NOTHING",
                &[],
            )?;
            tx.execute(
                "INSERT INTO uo_enrich (uo, enrichment) SELECT DISTINCT $1::BIGINT, e.id FROM tmp_enrich t
                 JOIN enrichment e ON e.hash = t.hash ON CONFLICT DO NOTHING",
                &[&seq],
            )?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(op)
    }

    fn enrichments(&self, updater: &str, tags: &[String]) -> Result<Vec<EnrichmentRecord>> {
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
}
