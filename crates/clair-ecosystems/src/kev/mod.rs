//! CISA KEV: the Known Exploited Vulnerabilities catalog, as enrichments tagged by CVE (the
//! catalog entry as published).

use std::path::Path;

use clair_matcher::{
    Emit, FetchOutcome, FetchedFile, Http, Record, Updater, UpdaterError, fetch_urls,
};
use clair_types::{EnrichmentRecord, OpKind};
use serde::Deserialize;

use crate::feed::{parse_error, read_all};

/// Default URL.
pub const DEFAULT_URL: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";

/// The KEV enricher.
#[derive(Debug, Clone)]
pub struct KevUpdater {
    /// Catalog URL.
    pub url: String,
}

impl Default for KevUpdater {
    fn default() -> Self {
        KevUpdater {
            url: DEFAULT_URL.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Catalog {
    vulnerabilities: Vec<serde_json::Value>,
}

impl Updater for KevUpdater {
    fn name(&self) -> &str {
        "kev"
    }
    fn kind(&self) -> OpKind {
        OpKind::Enrichment
    }
    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        fetch_urls(
            self.name(),
            http,
            dir,
            prior,
            &[("kev.json".into(), self.url.clone())],
        )
    }
    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        for f in files {
            let data = read_all(self.name(), f, 256 << 20)?;
            let c: Catalog = serde_json::from_slice(&data).map_err(|e| {
                parse_error(
                    self.name(),
                    f,
                    format!("line {} column {}", e.line(), e.column()),
                    e.to_string(),
                )
            })?;
            for (i, v) in c.vulnerabilities.into_iter().enumerate() {
                let Some(cve) = v.get("cveID").and_then(|c| c.as_str()).map(str::to_string) else {
                    return Err(parse_error(
                        self.name(),
                        f,
                        format!("entry {i}"),
                        "no cveID",
                    ));
                };
                emit(Record::Enrichment(EnrichmentRecord {
                    tags: vec![cve],
                    data: v,
                }))
                .map_err(|_| parse_error(self.name(), f, format!("entry {i}"), "stopped"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::testing::fetched;

    #[test]
    fn catalog_sample() {
        let mut out = Vec::new();
        KevUpdater::default()
            .parse(
                &[fetched(
                    "feeds/kev/claircore-known_exploited_vulnerabilities.json",
                )],
                &mut |r| {
                    if let Record::Enrichment(e) = r {
                        out.push(e);
                    }
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(out.len(), 2, "catalog count is 2");
        assert_eq!(out[0].tags, vec!["CVE-2017-3066"]);
        assert_eq!(out[0].data["vendorProject"], "Adobe");
    }
}
