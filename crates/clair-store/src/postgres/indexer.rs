//! The indexer's role on PostgreSQL: layers, manifests and their reports, Clair v2 layers.

use clair_indexer::LayerResult;
use clair_types::{Digest, IndexReport};

use super::{Fail, PgStore};
use crate::IndexerStore;
use crate::codec::{decode, encode, micros};
use crate::error::{Error, Result};
use crate::model::*;

impl PgStore {
    /// The v1 layers a query selects (columns name, digest, parent, path, format).
    fn v1_layers_where(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<V1Layer>> {
        self.run(|c| {
            c.query(sql, params)?
                .iter()
                .map(|r| {
                    let name: String = r.try_get(0)?;
                    let digest: String = r.try_get(1)?;
                    Ok(V1Layer {
                        digest: digest.parse().map_err(|e: clair_types::DigestError| {
                            Fail::Other(Error::Decode {
                                what: format!("v1 layer {name}"),
                                message: e.to_string(),
                            })
                        })?,
                        name,
                        parent: r.try_get(2)?,
                        path: r.try_get(3)?,
                        format: r.try_get(4)?,
                    })
                })
                .collect()
        })
    }
}

impl IndexerStore for PgStore {
    fn get_layer(&self, layer: &Digest) -> Result<Option<LayerResult>> {
        let blob: Option<Vec<u8>> = self.run(|c| {
            Ok(c.query_opt(
                "SELECT result FROM layer WHERE digest = $1",
                &[&layer.as_str()],
            )?
            .map(|r| r.get(0)))
        })?;
        blob.map(|b| decode(&format!("layer {layer}"), &b))
            .transpose()
    }

    fn put_layer(&self, layer: &Digest, result: &LayerResult) -> Result<()> {
        let blob = encode(result)?;
        self.run(|c| {
            c.execute(
                "INSERT INTO layer (digest, result, created) VALUES ($1, $2, $3)
                 ON CONFLICT (digest) DO UPDATE SET result = excluded.result",
                &[&layer.as_str(), &blob, &micros(jiff::Timestamp::now())],
            )?;
            Ok(())
        })
    }

    fn put_index_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()> {
        let blob = encode(report)?;
        let m = report.manifest_hash.as_str();
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO manifest (digest, state, report, updated) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (digest) DO UPDATE SET state = excluded.state,
                   report = excluded.report, updated = excluded.updated",
                &[&m, &state, &blob, &micros(jiff::Timestamp::now())],
            )?;
            tx.execute("DELETE FROM manifest_layer WHERE manifest = $1", &[&m])?;
            let ins = tx
                .prepare("INSERT INTO manifest_layer (manifest, idx, layer) VALUES ($1, $2, $3)")?;
            for (i, l) in layers.iter().enumerate() {
                let idx = i32::try_from(i).unwrap_or(i32::MAX);
                tx.execute(&ins, &[&m, &idx, &l.as_str()])?;
            }
            tx.execute("DELETE FROM manifest_package WHERE manifest = $1", &[&m])?;
            let names: Vec<String> = crate::index::package_names(report).into_iter().collect();
            tx.execute(
                "INSERT INTO manifest_package (manifest, name) SELECT $1, unnest($2::text[])
                 ON CONFLICT DO NOTHING",
                &[&m, &names],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn index_report_version(&self, manifest: &Digest) -> Result<Option<String>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT state, updated FROM manifest WHERE digest = $1",
                &[&manifest.as_str()],
            )?
            .map(|row| format!("{}@{}", row.get::<_, String>(0), row.get::<_, i64>(1))))
        })
    }

    fn get_index_report(&self, manifest: &Digest) -> Result<Option<StoredReport>> {
        self.run(|c| {
            let Some(row) = c.query_opt(
                "SELECT state, report FROM manifest WHERE digest = $1",
                &[&manifest.as_str()],
            )?
            else {
                return Ok(None);
            };
            let state: String = row.get(0);
            let blob: Vec<u8> = row.get(1);
            let report: IndexReport = decode(&format!("index report {manifest}"), &blob)?;
            let layers = c
                .query(
                    "SELECT layer FROM manifest_layer WHERE manifest = $1 ORDER BY idx",
                    &[&manifest.as_str()],
                )?
                .iter()
                .map(|r| {
                    let s: String = r.get(0);
                    s.parse::<Digest>().map_err(|e| {
                        Fail::Other(Error::Decode {
                            what: format!("layers of {manifest}"),
                            message: e.to_string(),
                        })
                    })
                })
                .collect::<std::result::Result<Vec<_>, Fail>>()?;
            Ok(Some(StoredReport {
                report,
                layers,
                state,
            }))
        })
    }

    fn delete_manifests(&self, manifests: &[Digest]) -> Result<Vec<Digest>> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            let mut deleted = Vec::new();
            for m in manifests {
                if tx.execute("DELETE FROM manifest WHERE digest = $1", &[&m.as_str()])? > 0 {
                    deleted.push(m.clone());
                }
            }
            tx.commit()?;
            Ok(deleted)
        })
    }

    fn manifests_with_packages(&self, names: &[String]) -> Result<Vec<Digest>> {
        self.run(|c| {
            Ok(c.query(
                "SELECT DISTINCT manifest FROM manifest_package WHERE name = ANY($1) ORDER BY manifest",
                &[&names],
            )?
            .iter()
            .filter_map(|r| r.get::<_, String>(0).parse().ok())
            .collect())
        })
    }

    fn manifests(&self) -> Result<Vec<Digest>> {
        self.run(|c| {
            Ok(c.query("SELECT digest FROM manifest ORDER BY digest", &[])?
                .iter()
                .filter_map(|r| r.get::<_, String>(0).parse().ok())
                .collect())
        })
    }

    fn put_v1_layer(&self, layer: &V1Layer) -> Result<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO v1_layer (name, digest, parent, path, format, created)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, parent = excluded.parent,
                   path = excluded.path, format = excluded.format",
                &[
                    &layer.name,
                    &layer.digest.as_str(),
                    &layer.parent,
                    &layer.path,
                    &layer.format,
                    &micros(jiff::Timestamp::now()),
                ],
            )?;
            Ok(())
        })
    }

    fn get_v1_layer(&self, name: &str) -> Result<Option<V1Layer>> {
        Ok(self
            .v1_layers_where(
                "SELECT name, digest, parent, path, format FROM v1_layer WHERE name = $1",
                &[&name],
            )?
            .pop())
    }

    fn v1_layers(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer ORDER BY name",
            &[],
        )
    }

    fn set_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("DELETE FROM v1_layer_package WHERE layer = $1", &[&layer])?;
            tx.execute(
                "INSERT INTO v1_layer_package (layer, name)
                 SELECT l.name, n FROM v1_layer l, UNNEST($2::TEXT[]) AS n WHERE l.name = $1
                 ON CONFLICT DO NOTHING",
                &[&layer, &names],
            )?;
            tx.execute(
                "UPDATE v1_layer SET packages_indexed = TRUE WHERE name = $1",
                &[&layer],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn v1_layers_with_packages(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer l WHERE EXISTS
               (SELECT 1 FROM v1_layer_package p WHERE p.layer = l.name AND p.name = ANY($1))
             ORDER BY name",
            &[&names],
        )
    }

    fn v1_layers_unindexed(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer WHERE NOT packages_indexed
             ORDER BY name",
            &[],
        )
    }

    fn delete_v1_layer(&self, name: &str) -> Result<usize> {
        self.run(|c| {
            let n = c.execute(
                "WITH RECURSIVE doomed(name) AS (
                     SELECT name FROM v1_layer WHERE name = $1
                     UNION SELECT l.name FROM v1_layer l JOIN doomed d ON l.parent = d.name)
                 DELETE FROM v1_layer WHERE name IN (SELECT name FROM doomed)",
                &[&name],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }
}
