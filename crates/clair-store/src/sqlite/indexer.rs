//! The indexer's role on SQLite: layers, manifests and their reports, Clair v2 layers.

use clair_indexer::LayerResult;
use clair_types::{Digest, IndexReport};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::IndexerStore;
use crate::codec::{decode, encode, micros};
use crate::error::{Error, Result};
use crate::model::*;

impl SqliteStore {
    /// The v1 layers a query selects (columns name, digest, parent, path, format).
    fn v1_layers_where(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<V1Layer>> {
        let rows: Vec<(String, String, Option<String>, String, String)> = self.read(|c| {
            let mut st = c.prepare(sql).map_err(self.err())?;
            st.query_map(params, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())
        })?;
        rows.into_iter()
            .map(|(name, digest, parent, path, format)| {
                Ok(V1Layer {
                    digest: digest.parse().map_err(|e: clair_types::DigestError| {
                        Error::Decode {
                            what: format!("v1 layer {name}"),
                            message: e.to_string(),
                        }
                    })?,
                    name,
                    parent,
                    path,
                    format,
                })
            })
            .collect()
    }
}

impl IndexerStore for SqliteStore {
    fn get_layer(&self, layer: &Digest) -> Result<Option<LayerResult>> {
        let blob: Option<Vec<u8>> = self.read(|c| {
            c.query_row(
                "SELECT result FROM layer WHERE digest = ?1",
                [layer.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
        })?;
        blob.map(|b| decode(&format!("layer {layer}"), &b))
            .transpose()
    }

    fn put_layer(&self, layer: &Digest, result: &LayerResult) -> Result<()> {
        let blob = encode(result)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO layer (digest, result, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT (digest) DO UPDATE SET result = excluded.result",
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
                "INSERT INTO manifest (digest, state, report, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (digest) DO UPDATE SET state = excluded.state,
                   report = excluded.report, updated = excluded.updated",
                params![m, state, blob, micros(jiff::Timestamp::now())],
            )?;
            tx.execute("DELETE FROM manifest_layer WHERE manifest = ?1", [m])?;
            let mut ins = tx
                .prepare("INSERT INTO manifest_layer (manifest, idx, layer) VALUES (?1, ?2, ?3)")?;
            for (i, l) in layers.iter().enumerate() {
                ins.execute(params![m, i as i64, l.as_str()])?;
            }
            tx.execute("DELETE FROM manifest_package WHERE manifest = ?1", [m])?;
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO manifest_package (manifest, name) VALUES (?1, ?2)",
            )?;
            for name in crate::index::package_names(report) {
                ins.execute(params![m, name])?;
            }
            Ok(())
        })
    }

    fn get_index_report(&self, manifest: &Digest) -> Result<Option<StoredReport>> {
        self.read(|c| {
            let row: Option<(String, Vec<u8>)> = c
                .query_row(
                    "SELECT state, report FROM manifest WHERE digest = ?1",
                    [manifest.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.err())?;
            let Some((state, blob)) = row else {
                return Ok(None);
            };
            let report: IndexReport = decode(&format!("index report {manifest}"), &blob)?;
            let mut st = c
                .prepare("SELECT layer FROM manifest_layer WHERE manifest = ?1 ORDER BY idx")
                .map_err(self.err())?;
            let layers: Vec<String> = st
                .query_map([manifest.as_str()], |r| r.get(0))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())?;
            let layers = layers
                .iter()
                .map(|l| {
                    l.parse()
                        .map_err(|e: clair_types::DigestError| Error::Decode {
                            what: format!("layers of {manifest}"),
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<Digest>>>()?;
            Ok(Some(StoredReport {
                report,
                layers,
                state,
            }))
        })
    }

    fn index_report_version(&self, manifest: &Digest) -> Result<Option<String>> {
        self.read(|c| {
            c.prepare_cached("SELECT state, updated FROM manifest WHERE digest = ?1")
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
            let mut del = tx.prepare("DELETE FROM manifest WHERE digest = ?1")?;
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
        self.read(|c| {
            for chunk in names.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let mut st = c
                    .prepare(&format!(
                        "SELECT DISTINCT manifest FROM manifest_package WHERE name IN ({marks})"
                    ))
                    .map_err(self.err())?;
                let rows = st
                    .query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
                        r.get::<_, String>(0)
                    })
                    .map_err(self.err())?;
                for r in rows {
                    if let Ok(d) = r.map_err(self.err())?.parse() {
                        out.insert(d);
                    }
                }
            }
            Ok(())
        })?;
        Ok(out.into_iter().collect())
    }

    fn manifests(&self) -> Result<Vec<Digest>> {
        let all: Vec<String> = self.read(|c| {
            let mut st = c
                .prepare("SELECT digest FROM manifest ORDER BY digest")
                .map_err(self.err())?;
            st.query_map([], |r| r.get(0))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())
        })?;
        Ok(all.iter().filter_map(|d| d.parse().ok()).collect())
    }

    fn put_v1_layer(&self, layer: &V1Layer) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO v1_layer (name, digest, parent, path, format, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, parent = excluded.parent,
                   path = excluded.path, format = excluded.format",
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
            .v1_layers_where(
                "SELECT name, digest, parent, path, format FROM v1_layer WHERE name = ?1",
                [name],
            )?
            .pop())
    }

    fn v1_layers(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer ORDER BY name",
            [],
        )
    }

    fn delete_v1_layer(&self, name: &str) -> Result<usize> {
        self.write(|tx| {
            tx.execute(
                "WITH RECURSIVE doomed(name) AS (
                     SELECT name FROM v1_layer WHERE name = ?1
                     UNION SELECT l.name FROM v1_layer l JOIN doomed d ON l.parent = d.name)
                 DELETE FROM v1_layer WHERE name IN (SELECT name FROM doomed)",
                [name],
            )
        })
    }

    fn set_v1_layer_packages(&self, layer: &str, names: &[String]) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM v1_layer_package WHERE layer = ?1", [layer])?;
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO v1_layer_package (layer, name)
                 SELECT name, ?2 FROM v1_layer WHERE name = ?1",
            )?;
            for n in names {
                ins.execute(params![layer, n])?;
            }
            tx.execute(
                "UPDATE v1_layer SET packages_indexed = 1 WHERE name = ?1",
                [layer],
            )?;
            Ok(())
        })
    }

    fn v1_layers_with_packages(&self, names: &[String]) -> Result<Vec<V1Layer>> {
        let mut out = std::collections::BTreeMap::new();
        for chunk in names.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT DISTINCT l.name, l.digest, l.parent, l.path, l.format FROM v1_layer l
                 JOIN v1_layer_package p ON p.layer = l.name WHERE p.name IN ({marks})"
            );
            for l in self.v1_layers_where(&sql, rusqlite::params_from_iter(chunk.iter()))? {
                out.insert(l.name.clone(), l);
            }
        }
        Ok(out.into_values().collect())
    }

    fn v1_layers_unindexed(&self) -> Result<Vec<V1Layer>> {
        self.v1_layers_where(
            "SELECT name, digest, parent, path, format FROM v1_layer WHERE packages_indexed = 0
             ORDER BY name",
            [],
        )
    }
}
