//! CISA KEV: the Known Exploited Vulnerabilities catalog, as enrichments tagged by CVE (the
//! catalog entry as published).

use clair_matcher::{Emit, FetchedFile, Record};
use clair_types::EnrichmentRecord;
use serde::Deserialize;

use crate::feed::{Parsed, json_error, parse_error, read_all};

/// Default URL.
pub const DEFAULT_URL: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";

#[derive(Debug, Deserialize)]
struct Catalog {
    vulnerabilities: Vec<serde_json::Value>,
}

/// Parse the catalog: one enrichment per entry, tagged by its `cveID`.
pub fn parse_kev(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    let data = read_all(updater, f, 256 << 20)?;
    let c: Catalog = serde_json::from_slice(&data).map_err(|e| json_error(updater, f, "", e))?;
    for (i, v) in c.vulnerabilities.into_iter().enumerate() {
        let Some(cve) = v.get("cveID").and_then(|c| c.as_str()).map(str::to_string) else {
            return Err(parse_error(updater, f, format!("entry {i}"), "no cveID"));
        };
        emit(Record::Enrichment(EnrichmentRecord {
            tags: vec![cve],
            data: v,
        }))
        .map_err(|_| parse_error(updater, f, format!("entry {i}"), "stopped"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::testing::enrichments;

    #[test]
    fn catalog_sample() {
        let rel = "feeds/kev/claircore-known_exploited_vulnerabilities.json";
        let out = enrichments(rel, "kev", parse_kev);
        assert_eq!(out.len(), 2, "catalog count is 2");
        assert_eq!(out[0].tags, vec!["CVE-2017-3066"]);
        assert_eq!(out[0].data["vendorProject"], "Adobe");
    }
}
