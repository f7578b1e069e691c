//! The indexer's role on SQLite: layers, manifests and their reports, Clair v2 layers.

use clair_types::{Digest, IndexReport};
use rusqlite::params;

use super::SqliteStore;
use crate::codec::{encode, micros};
use crate::error::Result;
use crate::model::*;
use crate::sql::driver::{Arg, Driver};
use crate::sql::indexer::IndexerDriver;
use crate::sql::{self, Row, lite, v1_layer_from_row};

impl IndexerDriver for SqliteStore {
    fn put_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()> {
        let blob = encode(report)?;
        let m = report.manifest_hash.as_str();
        self.write(|tx| {
            tx.execute(
                lite!(sql::MANIFEST_PUT),
                params![m, state, blob, micros(jiff::Timestamp::now())],
            )?;
            tx.execute(lite!(sql::MANIFEST_LAYERS_CLEAR), [m])?;
            let mut ins = tx.prepare(lite!(sql::MANIFEST_LAYER_ADD))?;
            for (i, l) in layers.iter().enumerate() {
                ins.execute(params![m, i as i64, l.as_str()])?;
            }
            tx.execute(lite!(sql::MANIFEST_PACKAGES_CLEAR), [m])?;
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO manifest_package (manifest, name) VALUES (?1, ?2)",
            )?;
            for name in crate::package_names(report) {
                ins.execute(params![m, name])?;
            }
            Ok(())
        })
    }

    fn manifests_named(&self, names: &[String]) -> Result<Vec<Digest>> {
        let mut out = std::collections::BTreeSet::new();
        for chunk in names.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql =
                format!("SELECT DISTINCT manifest FROM manifest_package WHERE name IN ({marks})");
            let args: Vec<Arg<'_>> = chunk.iter().map(|n| Arg::Text(n)).collect();
            let rows = self.rows(&sql, &args, |r| r.text("manifest"))?;
            out.extend(rows.iter().filter_map(|d| d.parse::<Digest>().ok()));
        }
        Ok(out.into_iter().collect())
    }

    fn name_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
        self.write(|tx| {
            tx.execute(lite!(sql::V1_LAYER_PACKAGES_CLEAR), [layer])?;
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO v1_layer_package (layer, name)
                 SELECT name, ?2 FROM v1_layer WHERE name = ?1",
            )?;
            for n in names {
                ins.execute(params![layer, n])?;
            }
            tx.execute(lite!(sql::V1_LAYER_INDEXED), [layer])?;
            Ok(())
        })
    }

    fn v1_layers_named(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        let mut out = std::collections::BTreeMap::new();
        for chunk in names.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "{} IN ({marks})) ORDER BY name",
                sql::V1_LAYERS_WITH_PACKAGE
            );
            let args: Vec<Arg<'_>> = chunk.iter().map(|n| Arg::Text(n)).collect();
            for l in self.rows(&sql, &args, |r| v1_layer_from_row(r))? {
                out.insert(l.name.clone(), l);
            }
        }
        Ok(out.into_values().collect())
    }
}
