//! EPSS: FIRST's exploit prediction scores (`epss_scores-current.csv.gz`), as enrichments
//! tagged by CVE: `{"cve", "epss", "percentile", "model_version", "score_date"}`.

use std::io::BufRead;

use clair_matcher::{Emit, FetchedFile, Record};
use clair_types::EnrichmentRecord;

use crate::feed::{Parsed, open, parse_error};

/// Default URL.
pub const DEFAULT_URL: &str = "https://epss.cyentia.com/epss_scores-current.csv.gz";

/// Parse an EPSS CSV (`#model_version:…,score_date:…` line, header, `cve,epss,percentile` rows).
pub fn parse_epss(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    let mut model = String::new();
    let mut date = String::new();
    let mut header_seen = false;
    for (i, line) in open(updater, f)?.lines().enumerate() {
        let line =
            line.map_err(|e| parse_error(updater, f, format!("line {}", i + 1), e.to_string()))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(meta) = line.strip_prefix('#') {
            for kv in meta.split(',') {
                match kv.split_once(':') {
                    Some(("model_version", v)) => model = v.to_string(),
                    Some(("score_date", v)) => date = v.to_string(),
                    _ => {}
                }
            }
            continue;
        }
        if !header_seen {
            if line != "cve,epss,percentile" {
                return Err(parse_error(
                    updater,
                    f,
                    format!("line {}", i + 1),
                    format!("unexpected header {line:?}"),
                ));
            }
            header_seen = true;
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        let (Some(cve), Some(epss), Some(pct)) = (cols.first(), cols.get(1), cols.get(2)) else {
            return Err(parse_error(
                updater,
                f,
                format!("line {}", i + 1),
                "want 3 columns",
            ));
        };
        let (Ok(epss), Ok(pct)) = (epss.parse::<f64>(), pct.parse::<f64>()) else {
            return Err(parse_error(
                updater,
                f,
                format!("line {}", i + 1),
                "scores are not numbers",
            ));
        };
        let rec = EnrichmentRecord {
            tags: vec![cve.to_string()],
            data: serde_json::json!({"cve": cve, "epss": epss, "percentile": pct,
                                     "model_version": model, "score_date": date}),
        };
        emit(Record::Enrichment(rec))
            .map_err(|_| parse_error(updater, f, format!("line {}", i + 1), "stopped"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::testing::enrichments;

    #[test]
    fn csv_sample() {
        let out = enrichments("feeds/epss/claircore-epss.csv", "epss", parse_epss);
        let rows =
            std::fs::read_to_string(crate::test_corpus::corpus("feeds/epss/claircore-epss.csv"))
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("CVE-"))
                .count();
        assert_eq!(out.len(), rows);
        assert_eq!(out[0].tags, vec!["CVE-1999-0005"]);
        assert_eq!(out[0].data["epss"], 0.91963);
        assert_eq!(out[0].data["model_version"], "v2023.03.01");
    }
}
