//! OSV: vulnerabilities of language packages (PyPI, npm, Go, Maven, crates.io, RubyGems) in the
//! OSV schema, from the per-ecosystem `all.zip` archives (or plain JSON records).
//!
//! One record per affected package and version range, in namespace `<ecosystem>` (lower case:
//! `pypi`, `npm`, `go`, `maven`, `crates.io`, `rubygems`), with the ecosystem's version scheme.
//! Ranges come from `ECOSYSTEM` and `SEMVER` events (`GIT` ranges name commits and are skipped).

use std::io::Read;
use std::path::Path;

use clair_matcher::{
    Emit, FetchOutcome, FetchedFile, Http, Record, Updater, UpdaterError, fetch_urls,
};
use clair_types::{PackageKind, VersionRange, Vulnerability};
use serde::Deserialize;

use crate::cvss;
use crate::feed::parse_error;

/// Default archive location.
pub const DEFAULT_BASE: &str = "https://osv-vulnerabilities.storage.googleapis.com/";
/// Ecosystems fetched by default (OSV's spelling).
pub const ECOSYSTEMS: [&str; 6] = ["PyPI", "npm", "Go", "Maven", "crates.io", "RubyGems"];
/// Largest single record or archive member read.
const MAX_RECORD: u64 = 16 << 20;

/// (namespace, version scheme) for an OSV ecosystem name; `None` when not handled.
pub fn ecosystem(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "PyPI" => ("pypi", "pep440"),
        "npm" => ("npm", "semver"),
        "Go" => ("go", "go"),
        "Maven" => ("maven", "maven"),
        "crates.io" => ("crates.io", "semver"),
        "RubyGems" => ("rubygems", "gem"),
        _ => return None,
    })
}

/// The OSV updater.
#[derive(Debug, Clone)]
pub struct OsvUpdater {
    /// Archive base URL (a mirror may replace it).
    pub base: String,
    /// Ecosystems to fetch (OSV spelling).
    pub ecosystems: Vec<String>,
}

impl Default for OsvUpdater {
    fn default() -> Self {
        OsvUpdater {
            base: DEFAULT_BASE.into(),
            ecosystems: ECOSYSTEMS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Updater for OsvUpdater {
    fn name(&self) -> &str {
        "osv"
    }

    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        let base = if self.base.ends_with('/') {
            self.base.clone()
        } else {
            format!("{}/", self.base)
        };
        let urls: Vec<(String, String)> = self
            .ecosystems
            .iter()
            .map(|e| (format!("{e}.zip"), format!("{base}{e}/all.zip")))
            .collect();
        fetch_urls(self.name(), http, dir, prior, &urls)
    }

    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        for f in files {
            parse_osv_file(self.name(), f, emit)?;
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct Osv {
    id: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    published: String,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<Affected>,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    score: String,
}

#[derive(Debug, Deserialize)]
struct Affected {
    package: Option<Package>,
    #[serde(default)]
    ranges: Vec<Range>,
}

#[derive(Debug, Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Range {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    #[serde(default)]
    url: String,
}

/// Parse an OSV `all.zip`, a single record, or a JSON list of records.
pub fn parse_osv_file(
    updater: &str,
    f: &FetchedFile,
    emit: &mut Emit<'_>,
) -> Result<(), UpdaterError> {
    let io = |source| UpdaterError::Io {
        updater: updater.to_string(),
        file: f.url.clone(),
        source,
    };
    let mut head = [0u8; 4];
    let n = std::fs::File::open(&f.path)
        .and_then(|mut r| r.read(&mut head))
        .map_err(io)?;
    if head[..n].starts_with(b"PK\x03\x04") {
        let file = std::fs::File::open(&f.path).map_err(io)?;
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| parse_error(updater, f, "zip directory", e.to_string()))?;
        for i in 0..zip.len() {
            let mut m = zip
                .by_index(i)
                .map_err(|e| parse_error(updater, f, format!("zip member {i}"), e.to_string()))?;
            let name = m
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| format!("member {i}"));
            if !m.is_file() || !name.ends_with(".json") {
                continue;
            }
            if m.size() > MAX_RECORD {
                return Err(parse_error(updater, f, name, "record larger than 16 MiB"));
            }
            let mut data = Vec::new();
            (&mut m)
                .take(MAX_RECORD)
                .read_to_end(&mut data)
                .map_err(io)?;
            let rec: Osv = serde_json::from_slice(&data).map_err(|e| {
                parse_error(
                    updater,
                    f,
                    format!("{name} line {} column {}", e.line(), e.column()),
                    e.to_string(),
                )
            })?;
            records(updater, rec, emit).map_err(|_| parse_error(updater, f, name, "stopped"))?;
        }
        return Ok(());
    }
    let data = crate::feed::read_all(updater, f, 1 << 30)?;
    let value: serde_json::Value = serde_json::from_slice(&data).map_err(|e| {
        parse_error(
            updater,
            f,
            format!("line {} column {}", e.line(), e.column()),
            e.to_string(),
        )
    })?;
    let list = match value {
        serde_json::Value::Array(a) => a,
        v => vec![v],
    };
    for (i, v) in list.into_iter().enumerate() {
        let rec: Osv = serde_json::from_value(v)
            .map_err(|e| parse_error(updater, f, format!("record {i}"), e.to_string()))?;
        records(updater, rec, emit)
            .map_err(|_| parse_error(updater, f, format!("record {i}"), "stopped"))?;
    }
    Ok(())
}

fn records(updater: &str, rec: Osv, emit: &mut Emit<'_>) -> Result<(), ()> {
    if rec.withdrawn.is_some() {
        return Ok(());
    }
    let vendor_severity = rec
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_string();
    let normalized = normalized_severity(&rec.severity, &vendor_severity);
    let mut links: Vec<String> = rec
        .references
        .iter()
        .map(|r| r.url.clone())
        .filter(|u| !u.is_empty())
        .collect();
    for a in rec.aliases.iter().filter(|a| a.starts_with("CVE-")) {
        links.push(format!("https://nvd.nist.gov/vuln/detail/{a}"));
    }
    let links = links.join(" ");
    let description = if rec.summary.is_empty() {
        rec.details.clone()
    } else {
        rec.summary.clone()
    };
    for a in &rec.affected {
        let Some(pkg) = &a.package else { continue };
        let Some((namespace, scheme)) = ecosystem(&pkg.ecosystem) else {
            continue;
        };
        for r in a
            .ranges
            .iter()
            .filter(|r| r.kind == "ECOSYSTEM" || r.kind == "SEMVER")
        {
            for range in ranges(&r.events) {
                let v = Vulnerability {
                    updater: updater.to_string(),
                    name: rec.id.clone(),
                    namespace: namespace.to_string(),
                    package_name: pkg.name.clone(),
                    package_kind: PackageKind::Binary,
                    version_scheme: scheme.to_string(),
                    fixed_in_version: range.fixed.clone(),
                    range: Some(range),
                    severity: vendor_severity.clone(),
                    normalized_severity: normalized,
                    description: description.clone(),
                    links: links.clone(),
                    issued: rec.published.clone(),
                    ..Vulnerability::default()
                };
                emit(Record::Vulnerability(v)).map_err(|_| ())?;
            }
        }
    }
    Ok(())
}

/// Turn OSV events into ranges: each `introduced` opens one, `fixed` or `last_affected` closes
/// it; a range still open at the end is unfixed. `introduced: "0"` means from the beginning.
fn ranges(events: &[serde_json::Map<String, serde_json::Value>]) -> Vec<VersionRange> {
    let mut out = Vec::new();
    let mut open: Option<String> = None;
    for e in events {
        let get = |k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if let Some(i) = get("introduced") {
            if let Some(prev) = open.take() {
                out.push(VersionRange {
                    introduced: prev,
                    ..VersionRange::default()
                });
            }
            open = Some(if i == "0" { String::new() } else { i });
        } else if let Some(fx) = get("fixed") {
            out.push(VersionRange {
                introduced: open.take().unwrap_or_default(),
                fixed: fx,
                last_affected: String::new(),
            });
        } else if let Some(la) = get("last_affected") {
            out.push(VersionRange {
                introduced: open.take().unwrap_or_default(),
                fixed: String::new(),
                last_affected: la,
            });
        }
    }
    if let Some(prev) = open {
        out.push(VersionRange {
            introduced: prev,
            ..VersionRange::default()
        });
    }
    out
}

/// The normalized severity of an OSV record exactly as Clair v4 computes it (claircore
/// `updater/osv`): each `CVSS_V4`, `CVSS_V3` and `CVSS_V2` entry in order, the last one that
/// parses giving the qualitative rating of its score; with no CVSS entry at all, the
/// `database_specific.severity` word (GitHub's `MODERATE` is Medium); else Unknown.
fn normalized_severity(entries: &[OsvSeverity], database_severity: &str) -> clair_types::Severity {
    use clair_types::Severity;
    let mut cvss_given = false;
    let mut normalized = Severity::Unknown;
    for s in entries {
        if !matches!(s.kind.as_str(), "CVSS_V4" | "CVSS_V3" | "CVSS_V2") {
            continue;
        }
        cvss_given = true;
        if let Some(sev) = cvss::severity(&s.score) {
            normalized = sev;
        }
    }
    if cvss_given {
        return normalized;
    }
    match database_severity.to_ascii_lowercase().as_str() {
        "negligible" => Severity::Negligible,
        "low" => Severity::Low,
        "moderate" | "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => Severity::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

    use super::*;
    use crate::feed::testing::vulns;

    /// As claircore: the last CVSS entry that parses decides (a v4 vector after a v3 one wins);
    /// a CVSS entry that does not parse still stops the database word from being used.
    #[test]
    fn severity_as_clair_v4_normalizes_it() {
        use clair_types::Severity as S;
        let e = |kind: &str, score: &str| OsvSeverity {
            kind: kind.into(),
            score: score.into(),
        };
        let v3 = e("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N");
        let v4 = e(
            "CVSS_V4",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        );
        assert_eq!(normalized_severity(&[v3, v4], "LOW"), S::Critical);
        let v3 = e("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N");
        assert_eq!(normalized_severity(&[v3], "CRITICAL"), S::High);
        assert_eq!(
            normalized_severity(&[e("CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C")], ""),
            S::Critical
        );
        assert_eq!(
            normalized_severity(&[e("CVSS_V3", "garbage")], "HIGH"),
            S::Unknown
        );
        assert_eq!(
            normalized_severity(&[e("Ubuntu", "high")], "MODERATE"),
            S::Medium
        );
        assert_eq!(normalized_severity(&[], "moderate"), S::Medium);
        assert_eq!(normalized_severity(&[], "whatever"), S::Unknown);
    }

    fn parse(rel: &str) -> Vec<Vulnerability> {
        vulns(rel, |f, e| parse_osv_file("osv", f, e))
    }

    #[test]
    fn corpus_records() {
        let go = parse("feeds/osv/grype-GO-2022-0969.json");
        assert_eq!(go.len(), 3, "stdlib has two ranges, x/net one");
        let std2 = go
            .iter()
            .find(|v| v.package_name == "stdlib" && v.fixed_in_version == "1.19.1")
            .unwrap();
        assert_eq!(std2.range.as_ref().unwrap().introduced, "1.19.0-0");
        assert_eq!(
            (std2.namespace.as_str(), std2.version_scheme.as_str()),
            ("go", "go")
        );
        assert_eq!(parse("feeds/osv/grype-GO-2024-2826.json").len(), 3);
        let q = parse("feeds/osv/trivydb-PYSEC-2018-27.json");
        assert_eq!(q.len(), 1, "the GIT range is skipped");
        assert_eq!(
            (q[0].namespace.as_str(), q[0].fixed_in_version.as_str()),
            ("pypi", "1.4.1")
        );
        let a = parse("feeds/osv/trivydb-PYSEC-2023-120.json");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].range.as_ref().unwrap().last_affected, "3.8.4");
        assert_eq!(a[0].fixed_in_version, "", "last_affected: no fix known");
        let ms = parse("feeds/osv/vulnerablecode-ghsa-osv-1.json");
        assert_eq!(ms.len(), 1);
        assert_eq!(
            (ms[0].namespace.as_str(), ms[0].package_name.as_str()),
            ("npm", "ms")
        );
        assert_eq!(
            ms[0].normalized_severity,
            Severity::High,
            "CVSS:3.0 .../A:H scores 7.5"
        );
        // Distribution and other ecosystems are not language packages of this updater.
        for f in [
            "feeds/osv/grype-ALSA-2021-4156.json",
            "feeds/osv/grype-BIT-node-2020-8201.json",
            "feeds/osv/grype-CGA-224q-ccj5-2p53.json",
            "feeds/osv/vulnerablecode-ghsa-osv-7.json",
        ] {
            assert!(parse(f).is_empty(), "{f}");
        }
    }

    #[test]
    fn event_ranges() {
        let ev = |s: &str| -> Vec<serde_json::Map<String, serde_json::Value>> {
            serde_json::from_str(s).unwrap()
        };
        let r = ranges(&ev(
            r#"[{"introduced":"0"},{"fixed":"1.0"},{"introduced":"2.0"}]"#,
        ));
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].introduced.as_str(), r[0].fixed.as_str()), ("", "1.0"));
        assert_eq!((r[1].introduced.as_str(), r[1].fixed.as_str()), ("2.0", ""));
    }

    #[test]
    fn zip_archives() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("all.zip");
        {
            let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
            let opts = zip::write::SimpleFileOptions::default();
            for f in ["trivydb-PYSEC-2018-27.json", "trivydb-PYSEC-2023-120.json"] {
                z.start_file(f, opts).unwrap();
                let data =
                    std::fs::read(crate::test_corpus::corpus(&format!("feeds/osv/{f}"))).unwrap();
                std::io::Write::write_all(&mut z, &data).unwrap();
            }
            z.finish().unwrap();
        }
        let mut f = crate::feed::testing::fetched("feeds/osv/trivydb-PYSEC-2018-27.json");
        f.path = p;
        let mut n = 0;
        parse_osv_file("osv", &f, &mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 3);
    }
}
