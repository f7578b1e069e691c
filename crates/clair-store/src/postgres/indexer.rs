//! The indexer's role on PostgreSQL: layers, manifests and their reports, Clair v2 layers.

use clair_types::{Digest, IndexReport};

use super::PgStore;
use crate::codec::{encode, micros};
use crate::error::Result;
use crate::model::*;
use crate::sql::indexer::IndexerDriver;
use crate::sql::{self, v1_layer_from_row};

impl IndexerDriver for PgStore {
    fn put_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()> {
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

    fn manifests_named(&self, names: &[String]) -> Result<Vec<Digest>> {
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

    fn name_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
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

    fn v1_layers_named(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        let query = format!("{} = ANY($1)) ORDER BY name", sql::V1_LAYERS_WITH_PACKAGE);
        self.run(|c| {
            c.query(&query, &[&names])?
                .iter()
                .map(v1_layer_from_row)
                .collect()
        })
    }
}
