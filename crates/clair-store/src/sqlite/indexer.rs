//! The indexer's role on SQLite: layers, manifests and their reports, Clair v2 layers.

use clair_indexer::LayerResult;
use clair_types::{Digest, IndexReport};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::IndexerStore;
use crate::codec::{encode, micros};
use crate::error::Result;
use crate::model::*;
use crate::sql::{self, lite, v1_layer_from_row};

impl SqliteStore {
    /// The v1 layers a query selects (columns name, digest, parent, path, format).
    fn v1_layers_where(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<V1Layer>> {
        self.read(|c| {
            let mut st = c.prepare(sql).map_err(self.err())?;
            st.query_map(params, |r| v1_layer_from_row(r))
                .map_err(self.err())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.err())
        })
    }

    /// The strings a query selects (one column).
    fn strings(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare(sql).map_err(self.err())?;
            st.query_map(params, |r| r.get(0))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())
        })
    }
}

impl IndexerStore for SqliteStore {
    fn get_layer(&self, layer: &Digest) -> Result<Option<LayerResult>> {
        let blob: Option<Vec<u8>> = self.read(|c| {
            c.query_row(lite!(sql::LAYER_GET), [layer.as_str()], |r| r.get(0))
                .optional()
                .map_err(self.err())
        })?;
        sql::layer_result(layer, blob)
    }

    fn put_layer(&self, layer: &Digest, result: &LayerResult) -> Result<()> {
        let blob = encode(result)?;
        self.write(|tx| {
            tx.execute(
                lite!(sql::LAYER_PUT),
                params![layer.as_str(), blob, micros(jiff::Timestamp::now())],
            )
            .map(|_| ())
        })
    }

    fn put_index_report(&self, report: &IndexReport, layers: &[Digest], state: &str) -> Result<()> {
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

    fn get_index_report(&self, manifest: &Digest) -> Result<Option<StoredReport>> {
        let row: Option<(String, Vec<u8>)> = self.read(|c| {
            c.query_row(lite!(sql::MANIFEST_GET), [manifest.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.err())
        })?;
        let Some((state, blob)) = row else {
            return Ok(None);
        };
        let layers = self.strings(lite!(sql::MANIFEST_LAYERS), [manifest.as_str()])?;
        sql::stored_report(manifest, state, &blob, layers).map(Some)
    }

    fn index_report_version(&self, manifest: &Digest) -> Result<Option<String>> {
        self.read(|c| {
            c.prepare_cached(lite!(sql::MANIFEST_VERSION))
                .and_then(|mut st| {
                    st.query_row([manifest.as_str()], |r| {
                        Ok(format!(
                            "{}@{}",
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?
                        ))
                    })
                    .optional()
                })
                .map_err(self.err())
        })
    }

    fn delete_manifests(&self, manifests: &[Digest]) -> Result<Vec<Digest>> {
        self.write(|tx| {
            let mut deleted = Vec::new();
            let mut del = tx.prepare(lite!(sql::MANIFEST_DELETE))?;
            for m in manifests {
                if del.execute([m.as_str()])? > 0 {
                    deleted.push(m.clone());
                }
            }
            Ok(deleted)
        })
    }

    fn manifests_with_packages(&self, names: &[String]) -> Result<Vec<Digest>> {
        let mut out = std::collections::BTreeSet::new();
        for chunk in names.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql =
                format!("SELECT DISTINCT manifest FROM manifest_package WHERE name IN ({marks})");
            let rows = self.strings(&sql, rusqlite::params_from_iter(chunk.iter()))?;
            out.extend(rows.iter().filter_map(|d| d.parse::<Digest>().ok()));
        }
        Ok(out.into_iter().collect())
    }

    fn manifests(&self) -> Result<Vec<Digest>> {
        let all = self.strings(sql::MANIFESTS, [])?;
        Ok(all.iter().filter_map(|d| d.parse().ok()).collect())
    }

    fn put_v1_layer(&self, layer: &V1Layer) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                lite!(sql::V1_LAYER_PUT),
                params![
                    layer.name,
                    layer.digest.as_str(),
                    layer.parent,
                    layer.path,
                    layer.format,
                    micros(jiff::Timestamp::now())
                ],
            )
            .map(|_| ())
        })
    }

    fn get_v1_layer(&self, name: &str) -> Result<Option<V1Layer>> {
        Ok(self
            .v1_layers_where(lite!(sql::V1_LAYER_GET), [name])?
            .pop())
    }

    fn v1_layers(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(sql::V1_LAYERS, [])
    }

    fn delete_v1_layer(&self, name: &str) -> Result<usize> {
        self.write(|tx| tx.execute(lite!(sql::V1_LAYER_DELETE), [name]))
    }

    fn set_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
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

    fn v1_layers_with_packages(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        let mut out = std::collections::BTreeMap::new();
        for chunk in names.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "{} IN ({marks})) ORDER BY name",
                sql::V1_LAYERS_WITH_PACKAGE
            );
            for l in self.v1_layers_where(&sql, rusqlite::params_from_iter(chunk.iter()))? {
                out.insert(l.name.clone(), l);
            }
        }
        Ok(out.into_values().collect())
    }

    fn v1_layers_unindexed(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(sql::V1_LAYERS_UNINDEXED, [])
    }
}
