//! OSV: vulnerabilities of language packages (PyPI, npm, Go, Maven, crates.io, RubyGems) in the
//! OSV schema, from the per-ecosystem `all.zip` archives (or plain JSON records).
//!
//! Records are in namespace `<ecosystem>` (lower case: `pypi`, `npm`, `go`, `maven`,
//! `crates.io`, `rubygems`), with the ecosystem's version scheme, named by the OSV id. They say
//! what the specification's evaluation says (`clair_version::osv`): per affected package,
//! - every `ECOSYSTEM` or `SEMVER` range's events are sorted in the scheme's order and walked;
//!   each interval of affected versions becomes one record (`[introduced, fixed)` with its
//!   fixed version, or `[introduced, last_affected]`), bounded by the range's `limit`;
//! - a range whose versions the scheme rejects becomes one record carrying its events, which
//!   the matcher cannot order either: undecided, never silently affected or not;
//! - `affected[].versions` entries no interval covers (all of them for packages with only
//!   `GIT` ranges, which name commits and are not evaluated) become one more record, matched
//!   by version equality.
//!
//! No two records of one package overlap, so a report lists an affected version once.

use std::io::Read;

use clair_matcher::matching::osv_event;
use clair_matcher::{Emit, FetchedFile, Record};
use clair_types::{PackageKind, RangeEvent, VersionRange, Vulnerability};
use clair_version::Scheme;
use clair_version::osv::Event;
use serde::Deserialize;

use crate::cvss;
use crate::feed::{Parsed, io_error, json_error, parse_error};

/// Default archive location.
pub const DEFAULT_BASE: &str = "https://osv-vulnerabilities.storage.googleapis.com/";
/// Ecosystems fetched by default (OSV's spelling).
pub const ECOSYSTEMS: [&str; 6] = ["PyPI", "npm", "Go", "Maven", "crates.io", "RubyGems"];
/// Largest single record or archive member read.
const MAX_RECORD: u64 = 16 << 20;
/// Most version comparisons spent deciding which listed versions the ranges already cover.
const MAX_COVERAGE_CHECKS: usize = 1 << 20;

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

/// Version of the records this parser writes: 2 sorts events, evaluates `limit` and
/// `versions` (records stored by version 1 are refetched and rewritten).
pub const PARSER_VERSION: u32 = 2;

/// `(name, path under the base URL)` of an ecosystem's archive.
pub fn file_of(ecosystem: &str) -> (String, String) {
    (format!("{ecosystem}.zip"), format!("{ecosystem}/all.zip"))
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
    /// Strings only; anything else in the list is ignored.
    #[serde(default)]
    versions: Vec<serde_json::Value>,
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
pub fn parse_osv_file(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    let io = io_error(updater, f);
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
            let rec: Osv =
                serde_json::from_slice(&data).map_err(|e| json_error(updater, f, &name, e))?;
            records(updater, rec, emit).map_err(|_| parse_error(updater, f, name, "stopped"))?;
        }
        return Ok(());
    }
    let data = crate::feed::read_all(updater, f, 1 << 30)?;
    let value: serde_json::Value =
        serde_json::from_slice(&data).map_err(|e| json_error(updater, f, "", e))?;
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
        let Some((namespace, scheme_name)) = ecosystem(&pkg.ecosystem) else {
            continue;
        };
        let proto = Vulnerability {
            updater: updater.to_string(),
            name: rec.id.clone(),
            namespace: namespace.to_string(),
            package_name: pkg.name.clone(),
            package_kind: PackageKind::Binary,
            version_scheme: scheme_name.to_string(),
            severity: vendor_severity.clone(),
            normalized_severity: normalized,
            description: description.clone(),
            links: links.clone(),
            issued: rec.published.clone(),
            ..Vulnerability::default()
        };
        let versions: Vec<&str> = a.versions.iter().filter_map(|v| v.as_str()).collect();
        let Ok(scheme) = scheme_name.parse::<Scheme>() else {
            continue;
        };
        for (range, versions) in affected_records(scheme, &a.ranges, &versions) {
            let v = Vulnerability {
                fixed_in_version: range.as_ref().map(|r| r.fixed.clone()).unwrap_or_default(),
                range,
                versions,
                ..proto.clone()
            };
            emit(Record::Vulnerability(v)).map_err(|_| ())?;
        }
    }
    Ok(())
}

/// An event in the feed's spelling: the first of `introduced`, `fixed`, `last_affected`,
/// `limit` that the object holds as a string (the specification allows exactly one).
fn event(e: &serde_json::Map<String, serde_json::Value>) -> Option<RangeEvent> {
    let get = |k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_string);
    get("introduced")
        .map(RangeEvent::Introduced)
        .or_else(|| get("fixed").map(RangeEvent::Fixed))
        .or_else(|| get("last_affected").map(RangeEvent::LastAffected))
        .or_else(|| get("limit").map(RangeEvent::Limit))
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The (range, versions) of each record of one affected package: one per interval of its
/// `ECOSYSTEM` and `SEMVER` ranges, one per range the scheme cannot order (its events kept),
/// and one with the listed versions that no interval covers.
fn affected_records(
    scheme: Scheme,
    ranges: &[Range],
    versions: &[&str],
) -> Vec<(Option<VersionRange>, Vec<String>)> {
    let mut ordered: Vec<VersionRange> = Vec::new();
    let mut distinct = std::collections::HashSet::new();
    let mut unordered: Vec<VersionRange> = Vec::new();
    for r in ranges
        .iter()
        .filter(|r| r.kind == "ECOSYSTEM" || r.kind == "SEMVER")
    {
        let events: Vec<RangeEvent> = r.events.iter().filter_map(event).collect();
        let parts: Vec<Event<'_>> = events.iter().map(osv_event).collect();
        match clair_version::osv::intervals(scheme, &parts) {
            Ok(list) => {
                for i in list {
                    let own = |b: Option<&str>| b.unwrap_or_default().to_string();
                    let range = VersionRange {
                        introduced: own(i.introduced),
                        fixed: own(i.fixed),
                        last_affected: own(i.last_affected),
                        limit: own(i.limit),
                        events: Vec::new(),
                    };
                    if distinct.insert(range.clone()) {
                        ordered.push(range);
                    }
                }
            }
            Err(_) => unordered.push(VersionRange {
                events,
                ..VersionRange::default()
            }),
        }
    }
    // Listed versions an interval already covers would only repeat its finding. Checking costs
    // intervals × versions comparisons: past a budget (hostile sizes), every listed version is
    // kept, which repeats findings but changes no verdict.
    let check =
        unordered.is_empty() && ordered.len().saturating_mul(versions.len()) <= MAX_COVERAGE_CHECKS;
    let covered = |v: &str| {
        check
            && ordered.iter().any(|r| {
                let range = clair_version::Range {
                    introduced: nonempty(&r.introduced),
                    fixed: nonempty(&r.fixed),
                    last_affected: nonempty(&r.last_affected),
                    limit: nonempty(&r.limit),
                };
                scheme.in_range(v, &range).unwrap_or(false)
            })
    };
    let mut listed: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for v in versions {
        if seen.insert(*v) && !covered(v) {
            listed.push(v.to_string());
        }
    }
    let mut out: Vec<(Option<VersionRange>, Vec<String>)> = ordered
        .into_iter()
        .chain(unordered)
        .map(|r| (Some(r), Vec::new()))
        .collect();
    if !listed.is_empty() {
        out.push((None, listed));
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

    fn range(kind: &str, events: &str) -> Range {
        Range {
            kind: kind.into(),
            events: serde_json::from_str(events).unwrap(),
        }
    }

    #[test]
    fn event_ranges() {
        let r = affected_records(
            Scheme::Pep440,
            &[range(
                "ECOSYSTEM",
                r#"[{"introduced":"0"},{"fixed":"1.0"},{"introduced":"2.0"}]"#,
            )],
            &[],
        );
        assert_eq!(r.len(), 2);
        let b = |i: usize| r[i].0.as_ref().unwrap();
        assert_eq!((b(0).introduced.as_str(), b(0).fixed.as_str()), ("", "1.0"));
        assert_eq!((b(1).introduced.as_str(), b(1).fixed.as_str()), ("2.0", ""));
    }

    #[test]
    fn unsorted_events_are_sorted_before_the_walk() {
        // The issue's false finding: paired in file order, [fixed 3.18.11rc3, introduced 0]
        // and [fixed 3.19, introduced 3.18.11rc4] made 3.18.11rc3 affected.
        let r = affected_records(
            Scheme::Pep440,
            &[range(
                "ECOSYSTEM",
                r#"[{"fixed":"3.18.11rc3"},{"introduced":"0"},{"fixed":"3.19"},{"introduced":"3.18.11rc4"}]"#,
            )],
            &[],
        );
        let bounds: Vec<(&str, &str)> = r
            .iter()
            .map(|(x, _)| {
                let x = x.as_ref().unwrap();
                (x.introduced.as_str(), x.fixed.as_str())
            })
            .collect();
        assert_eq!(bounds, vec![("", "3.18.11rc3"), ("3.18.11rc4", "3.19")]);
    }

    #[test]
    fn versions_lists_and_git_ranges() {
        // Flask in the issue: 4.18.0 is listed and outside the range; it must be matched.
        let r = affected_records(
            Scheme::Pep440,
            &[
                range("ECOSYSTEM", r#"[{"introduced":"0"},{"fixed":"4.18.0rc2"}]"#),
                range("GIT", r#"[{"introduced":"abc123"},{"fixed":"def456"}]"#),
            ],
            &["4.17.0", "4.18.0", "4.18", "not-pep440", "4.18.0"],
        );
        assert_eq!(r.len(), 2, "{r:#?}");
        assert_eq!(r[0].0.as_ref().unwrap().fixed, "4.18.0rc2");
        assert!(r[0].1.is_empty());
        assert_eq!(r[1].0, None);
        assert_eq!(
            r[1].1,
            vec!["4.18.0", "4.18", "not-pep440"],
            "4.17.0 is in the range; duplicates dropped; unreadable ones kept"
        );
        // GIT only: the listed versions are all there is.
        let git = affected_records(
            Scheme::Pep440,
            &[range("GIT", r#"[{"introduced":"abc"}]"#)],
            &["1.0", "1.1"],
        );
        assert_eq!(git, vec![(None, vec!["1.0".into(), "1.1".into()])]);
    }

    #[test]
    fn unorderable_ranges_keep_their_events() {
        let r = affected_records(
            Scheme::Semver,
            &[range(
                "SEMVER",
                r#"[{"introduced":"0"},{"fixed":"one point two"}]"#,
            )],
            &["1.0.0"],
        );
        assert_eq!(r.len(), 2);
        let kept = r[0].0.as_ref().unwrap();
        assert_eq!(
            kept.events,
            vec![
                RangeEvent::Introduced("0".into()),
                RangeEvent::Fixed("one point two".into())
            ]
        );
        assert!(kept.fixed.is_empty() && kept.introduced.is_empty());
        assert_eq!(
            r[1].1,
            vec!["1.0.0"],
            "coverage unknown: every listed version kept"
        );
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
