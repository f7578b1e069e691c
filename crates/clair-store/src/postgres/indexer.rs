//! The indexer's role on PostgreSQL: layers, manifests and their reports, Clair v2 layers.

use clair_indexer::LayerResult;
use clair_types::{Digest, IndexReport};
use postgres::types::ToSql;

use super::PgStore;
use crate::IndexerStore;
use crate::codec::{encode, micros};
use crate::error::Result;
use crate::model::*;
use crate::sql::{self, v1_layer_from_row};

impl PgStore {
    /// The v1 layers a query selects (columns name, digest, parent, path, format).
    fn v1_layers_where(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<V1Layer>> {
        self.run(|c| {
            c.query(sql, params)?
                .iter()
                .map(v1_layer_from_row)
                .collect()
        })
    }

    /// The digests a query selects (one column); unparsable ones are skipped.
    fn digests(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Digest>> {
        self.run(|c| {
            Ok(c.query(sql, params)?
                .iter()
                .filter_map(|r| r.get::<_, String>(0).parse().ok())
                .collect())
        })
    }
}

impl IndexerStore for PgStore {
    fn get_layer(&self, layer: &Digest) -> Result<Option<LayerResult>> {
        let blob: Option<Vec<u8>> = self.run(|c| {
            Ok(c.query_opt(sql::LAYER_GET, &[&layer.as_str()])?
                .map(|r| r.get(0)))
        })?;
        sql::layer_result(layer, blob)
    }

    fn put_layer(&self, layer: &Digest, result: &LayerResult) -> Result<()> {
        let blob = encode(result)?;
        let now = micros(jiff::Timestamp::now());
        self.change(sql::LAYER_PUT, &[&layer.as_str(), &blob, &now])?;
        Ok(())
    }

    fn put_index_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()> {
        let blob = encode(report)?;
        let m = report.manifest_hash.as_str();
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                sql::MANIFEST_PUT,
                &[&m, &state, &blob, &micros(jiff::Timestamp::now())],
            )?;
            tx.execute(sql::MANIFEST_LAYERS_CLEAR, &[&m])?;
            let ins = tx.prepare(sql::MANIFEST_LAYER_ADD)?;
            for (i, l) in layers.iter().enumerate() {
                let idx = i32::try_from(i).unwrap_or(i32::MAX);
                tx.execute(&ins, &[&m, &idx, &l.as_str()])?;
            }
            tx.execute(sql::MANIFEST_PACKAGES_CLEAR, &[&m])?;
            let names: Vec<String> = crate::package_names(report).into_iter().collect();
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
            Ok(c.query_opt(sql::MANIFEST_VERSION, &[&manifest.as_str()])?
                .map(|row| format!("{}@{}", row.get::<_, String>(0), row.get::<_, i64>(1))))
        })
    }

    fn get_index_report(&self, manifest: &Digest) -> Result<Option<StoredReport>> {
        self.run(|c| {
            let Some(row) = c.query_opt(sql::MANIFEST_GET, &[&manifest.as_str()])? else {
                return Ok(None);
            };
            let layers = c
                .query(sql::MANIFEST_LAYERS, &[&manifest.as_str()])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let blob: Vec<u8> = row.get(1);
            Ok(Some(sql::stored_report(
                manifest,
                row.get(0),
                &blob,
                layers,
            )?))
        })
    }

    fn delete_manifests(&self, manifests: &[Digest]) -> Result<Vec<Digest>> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            let mut deleted = Vec::new();
            for m in manifests {
                if tx.execute(sql::MANIFEST_DELETE, &[&m.as_str()])? > 0 {
                    deleted.push(m.clone());
                }
            }
            tx.commit()?;
            Ok(deleted)
        })
    }

    fn manifests_with_packages(&self, names: &[String]) -> Result<Vec<Digest>> {
        self.digests(
            "SELECT DISTINCT manifest FROM manifest_package WHERE name = ANY($1) ORDER BY manifest",
            &[&names],
        )
    }

    fn manifests(&self) -> Result<Vec<Digest>> {
        self.digests(sql::MANIFESTS, &[])
    }

    fn put_v1_layer(&self, layer: &V1Layer) -> Result<()> {
        let (digest, now) = (layer.digest.as_str(), micros(jiff::Timestamp::now()));
        let row: [&(dyn ToSql + Sync); 6] = [
            &layer.name,
            &digest,
            &layer.parent,
            &layer.path,
            &layer.format,
            &now,
        ];
        self.change(sql::V1_LAYER_PUT, &row)?;
        Ok(())
    }

    fn get_v1_layer(&self, name: &str) -> Result<Option<V1Layer>> {
        Ok(self.v1_layers_where(sql::V1_LAYER_GET, &[&name])?.pop())
    }

    fn v1_layers(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(sql::V1_LAYERS, &[])
    }

    fn set_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute(sql::V1_LAYER_PACKAGES_CLEAR, &[&layer])?;
            tx.execute(
                "INSERT INTO v1_layer_package (layer, name)
                 SELECT l.name, n FROM v1_layer l, UNNEST($2::TEXT[]) AS n WHERE l.name = $1
                 ON CONFLICT DO NOTHING",
                &[&layer, &names],
            )?;
            tx.execute(sql::V1_LAYER_INDEXED, &[&layer])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn v1_layers_with_packages(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        let query = format!("{} = ANY($1)) ORDER BY name", sql::V1_LAYERS_WITH_PACKAGE);
        self.v1_layers_where(&query, &[&names])
    }

    fn v1_layers_unindexed(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(sql::V1_LAYERS_UNINDEXED, &[])
    }

    fn delete_v1_layer(&self, name: &str) -> Result<usize> {
        self.change(sql::V1_LAYER_DELETE, &[&name])
    }
}
