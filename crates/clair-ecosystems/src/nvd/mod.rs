//! NVD: CVSS scores as enrichments, from NVD's CVE JSON 2.0 data (the yearly
//! `nvdcve-2.0-YYYY.json.gz` feeds, or CVE API 2.0 pages — the same format).
//!
//! One record per CVE, tagged with its id: the CVSS data of the preferred metric (v3.1, then
//! v3.0, then v2; NVD's own "Primary" score before a CNA's). Also read: single CVE items
//! (`{"cve": …}` or a bare CVE object, as mirrors such as vuln-list store them) and the legacy
//! 1.x feeds (`CVE_Items` with `impact.baseMetricV3`).

use std::fmt;
use std::path::Path;

use clair_matcher::{
    Emit, FetchOutcome, FetchedFile, Http, Record, Updater, UpdaterError, fetch_urls,
};
use clair_types::{EnrichmentRecord, OpKind};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::feed::{Parsed, files_under, json_error, named, open, parse_each};

/// Default feed directory.
pub const DEFAULT_BASE: &str = "https://nvd.nist.gov/feeds/json/cve/2.0/";
/// First year with a feed.
pub const FIRST_YEAR: i16 = 2002;

/// The NVD CVSS enricher.
#[derive(Debug, Clone)]
pub struct NvdUpdater {
    /// Feed directory (a mirror may replace it).
    pub base: String,
    /// Years to fetch; empty: 2002 through this year.
    pub years: Vec<i16>,
}

impl Updater for NvdUpdater {
    fn name(&self) -> &str {
        "nvd"
    }

    fn kind(&self) -> OpKind {
        OpKind::Enrichment
    }

    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        let years: Vec<i16> = if self.years.is_empty() {
            (FIRST_YEAR..=jiff::Zoned::now().year()).collect()
        } else {
            self.years.clone()
        };
        let files = named(years.iter().map(|y| format!("nvdcve-2.0-{y}.json.gz")));
        fetch_urls(
            self.name(),
            http,
            dir,
            prior,
            &files_under(&self.base, files),
        )
    }

    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        parse_each(self.name(), files, emit, parse_nvd)
    }
}

#[derive(Debug, Deserialize)]
struct Item {
    cve: Cve,
}

#[derive(Debug, Deserialize)]
struct Cve {
    id: String,
    #[serde(default)]
    metrics: Metrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    cvss_metric_v31: Vec<Metric>,
    #[serde(default)]
    cvss_metric_v30: Vec<Metric>,
    #[serde(default)]
    cvss_metric_v2: Vec<Metric>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    #[serde(default, rename = "type")]
    kind: String,
    cvss_data: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyItem {
    cve: LegacyCve,
    #[serde(default)]
    impact: LegacyImpact,
}

#[derive(Debug, Deserialize)]
struct LegacyCve {
    #[serde(rename = "CVE_data_meta")]
    meta: LegacyMeta,
}

#[derive(Debug, Deserialize)]
struct LegacyMeta {
    #[serde(rename = "ID")]
    id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyImpact {
    #[serde(default)]
    base_metric_v3: Option<LegacyMetric>,
    #[serde(default)]
    base_metric_v2: Option<LegacyMetric>,
}

#[derive(Debug, Deserialize)]
struct LegacyMetric {
    #[serde(default, rename = "cvssV3")]
    v3: Option<serde_json::Value>,
    #[serde(default, rename = "cvssV2")]
    v2: Option<serde_json::Value>,
}

fn pick_legacy(i: &LegacyImpact) -> Option<&serde_json::Value> {
    i.base_metric_v3
        .as_ref()
        .and_then(|m| m.v3.as_ref())
        .or_else(|| i.base_metric_v2.as_ref().and_then(|m| m.v2.as_ref()))
}

fn pick(m: &Metrics) -> Option<&serde_json::Value> {
    for list in [&m.cvss_metric_v31, &m.cvss_metric_v30, &m.cvss_metric_v2] {
        if let Some(x) = list
            .iter()
            .find(|x| x.kind == "Primary")
            .or_else(|| list.first())
        {
            return Some(&x.cvss_data);
        }
    }
    None
}

/// Parse an NVD CVE JSON 2.0 document as a stream (`{"vulnerabilities": [{"cve": …}, …]}`).
pub fn parse_nvd(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    struct Top<'a, 'b> {
        emit: &'a mut Emit<'b>,
        stopped: bool,
    }
    struct Items<'x, 'a, 'b>(&'x mut Top<'a, 'b>);
    impl<'de> Visitor<'de> for Items<'_, '_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of CVE items")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(item) = seq.next_element::<Item>()? {
                if self.0.stopped {
                    continue;
                }
                let Some(data) = pick(&item.cve.metrics) else {
                    continue;
                };
                let rec = EnrichmentRecord {
                    tags: vec![item.cve.id],
                    data: data.clone(),
                };
                if (self.0.emit)(Record::Enrichment(rec)).is_err() {
                    self.0.stopped = true;
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Items<'_, '_, '_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    struct Legacy<'x, 'a, 'b>(&'x mut Top<'a, 'b>);
    impl<'de> Visitor<'de> for Legacy<'_, '_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of CVE_Items")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(item) = seq.next_element::<LegacyItem>()? {
                if let Some(data) = pick_legacy(&item.impact) {
                    self.0.send(item.cve.meta.id, data.clone());
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Legacy<'_, '_, '_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl Top<'_, '_> {
        fn send(&mut self, id: String, data: serde_json::Value) {
            if !self.stopped
                && (self.emit)(Record::Enrichment(EnrichmentRecord {
                    tags: vec![id],
                    data,
                }))
                .is_err()
            {
                self.stopped = true;
            }
        }
    }
    impl<'de> Visitor<'de> for &mut Top<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an NVD CVE JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            // A bare CVE object has "id" and "metrics" at the top.
            let mut id: Option<String> = None;
            let mut metrics: Option<Metrics> = None;
            while let Some(k) = map.next_key::<String>()? {
                match k.as_str() {
                    "vulnerabilities" => map.next_value_seed(Items(&mut *self))?,
                    "CVE_Items" => map.next_value_seed(Legacy(&mut *self))?,
                    "cve" => {
                        let c: Cve = map.next_value()?;
                        if let Some(data) = pick(&c.metrics) {
                            let data = data.clone();
                            self.send(c.id, data);
                        }
                    }
                    "id" => id = Some(map.next_value()?),
                    "metrics" => metrics = Some(map.next_value()?),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            if let (Some(id), Some(m)) = (id, metrics)
                && let Some(data) = pick(&m)
            {
                let data = data.clone();
                self.send(id, data);
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_reader(open(updater, f)?);
    let mut top = Top {
        emit,
        stopped: false,
    };
    let json_err = |e| json_error(updater, f, "", e);
    de.deserialize_map(&mut top).map_err(json_err)?;
    de.end().map_err(json_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(rel: &str) -> Vec<EnrichmentRecord> {
        crate::feed::testing::enrichments(rel, "nvd", parse_nvd)
    }

    #[test]
    fn api2_feed() {
        let r = records("feeds/nvd/claircore-nvd-api2-feed.json");
        // Three CVEs; CVE-2016-3197 is rejected and has no metrics.
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].tags, vec!["CVE-2016-3674"]);
        // The first CVE has a v3.1 (CNA, secondary) and a v3.0 (NVD, primary) score: v3.1 wins.
        assert_eq!(r[0].data["version"], "3.1");
        assert_eq!(r[0].data["baseScore"], 4.6);
        assert!(
            r.iter()
                .all(|e| e.tags.len() == 1 && e.tags[0].starts_with("CVE-"))
        );
    }
}
