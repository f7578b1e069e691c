//! Matching: the packages of an index report against the vulnerability records of the store.
//!
//! A [`MatchIndex`] holds the latest records in memory, keyed by namespace and package name, so
//! a report is a hash lookup per package plus a version comparison per candidate record; no
//! query per package. [`LiveIndex`] swaps in a new index when an update operation lands.
//!
//! Rules, per candidate record (same namespace, same package name):
//! - records keyed by *source* package (Debian, Ubuntu tracker, Alpine origins, Red Hat VEX
//!   source components) match a binary through its source name; Debian source records compare
//!   the source version, rpm and apk records the binary's own version (an rpm source package
//!   has no epoch, its binaries do);
//! - a record's architectures (`x86_64|aarch64`) must include the package's (packages with no
//!   or a `noarch`/`all` architecture match any); its RPM module stream must equal the
//!   package's (both empty included);
//! - then the version: inside the record's range when it has one (an interval of an OSV range
//!   walk, see `clair_version::osv`), else below the fixed version, else (no fix yet) affected;
//!   or one of the versions the record lists (OSV `affected[].versions`), by string or by the
//!   scheme's equality.
//!
//! A version the scheme cannot read makes the record *undecided*: it is counted and reported
//! in [`MatchStats`], never silently dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use clair_types::{
    IndexReport, PackageKind, RangeEvent, ReportDistribution, ReportPackage, ReportVulnerability,
    Repository, Vulnerability, VulnerabilityReport, VulnerablePackage,
};
use clair_version::{Range, Scheme, osv};

/// The enrichment kind Clair v4 (and Quay) use for CVSS data.
pub const CVSS_ENRICHMENT_KIND: &str = "message/vnd.clair.map.vulnerability; enricher=clair.cvss schema=https://csrc.nist.gov/schema/nvd/feed/1.1/cvss-v3.x.json";

/// Which record namespaces apply to what an index report found. Implemented by each
/// ecosystem's knowledge (`clair-ecosystems`).
pub trait Namespaces: Send + Sync + fmt::Debug {
    /// The namespaces of a distribution's advisories (`debian:12`, `rhel:9`); empty when no
    /// feed covers the distribution.
    fn distribution(&self, d: &ReportDistribution) -> Vec<String>;
    /// The ecosystem namespace (`pypi`, `npm`, …) of a language package repository, if any.
    fn repository(&self, r: &Repository) -> Option<String>;
}

#[derive(Debug)]
struct Entry {
    vuln: Vulnerability,
    scheme: Option<Scheme>,
    /// [`report_id`], computed once when the index is built (a digest of the whole record).
    id: u64,
}

/// The verdict on one candidate record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The package is affected.
    Affected,
    /// The record does not apply (fixed, out of range, other architecture or module).
    NotAffected,
    /// The record could not be decided (unknown scheme, unreadable version).
    Undecided,
}

/// Why a record applies or not, for `clair explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// The installed version that was compared (the source version for Debian source records).
    pub installed: String,
    /// Human-readable reason, e.g. `dpkg: 3.0.9-1 < 3.0.11-1~deb12u1 (fixed)`.
    pub reason: String,
}

/// One record looked at for one package.
#[derive(Debug)]
pub struct Candidate<'a> {
    /// The package's id in the index report.
    pub package_id: &'a str,
    /// The record.
    pub record: &'a Vulnerability,
    /// The record's [`report_id`], as a number.
    pub record_id: u64,
    /// The decision.
    pub decision: Decision,
    /// The distribution whose namespace matched, if it was a distribution's advisory.
    pub distribution: Option<&'a ReportDistribution>,
    /// The repository whose ecosystem matched, if it was a language advisory.
    pub repository: Option<&'a Repository>,
}

/// Counts of a matching run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchStats {
    /// Packages in the report.
    pub packages: usize,
    /// Packages with at least one namespace that the index has records for.
    pub packages_covered: usize,
    /// Candidate records looked at.
    pub candidates: usize,
    /// Affected (package, record) pairs.
    pub affected: usize,
    /// Records that could not be decided, with the reason (first 20).
    pub undecided: Vec<String>,
    /// How many records were undecided in all.
    pub undecided_count: usize,
    /// The namespaces the report asked for that the index has no record in.
    pub missing_namespaces: Vec<String>,
}

/// The latest vulnerability records in memory, keyed for matching.
#[derive(Debug)]
pub struct MatchIndex {
    entries: Vec<Entry>,
    by_package: HashMap<(String, String), Vec<u32>>,
    namespaces: BTreeMap<String, usize>,
    generation: String,
}

/// Names as an ecosystem compares them (PyPI: PEP 503 normalisation, the store's reverse-index
/// spelling).
fn key_name(namespace: &str, name: &str) -> String {
    if namespace == "pypi" {
        clair_types::package_name_key(name)
    } else {
        name.to_string()
    }
}

impl MatchIndex {
    /// Build an index from records; `generation` says what they are (see `clair_service::store_generation`).
    pub fn new(records: impl IntoIterator<Item = Vulnerability>, generation: String) -> MatchIndex {
        let mut idx = MatchIndex {
            entries: Vec::new(),
            by_package: HashMap::new(),
            namespaces: BTreeMap::new(),
            generation,
        };
        for v in records {
            idx.push(v);
        }
        idx
    }

    fn push(&mut self, v: Vulnerability) {
        let Ok(n) = u32::try_from(self.entries.len()) else {
            return;
        };
        *self.namespaces.entry(v.namespace.clone()).or_default() += 1;
        self.by_package
            .entry((v.namespace.clone(), key_name(&v.namespace, &v.package_name)))
            .or_default()
            .push(n);
        let scheme = v.version_scheme.parse().ok();
        let id = report_id_bits(&v);
        self.entries.push(Entry {
            vuln: v,
            scheme,
            id,
        });
    }

    /// Build an index from the records `fill` pushes (a store's streaming read: the records
    /// are never held twice); `generation` says what they are.
    pub fn build<E>(
        generation: String,
        fill: impl FnOnce(&mut dyn FnMut(Vulnerability)) -> Result<(), E>,
    ) -> Result<MatchIndex, E> {
        let mut idx = MatchIndex::new(Vec::new(), generation);
        fill(&mut |v| idx.push(v))?;
        idx.entries.shrink_to_fit();
        Ok(idx)
    }

    /// What the index was built from.
    pub fn generation(&self) -> &str {
        &self.generation
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no record at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Record counts per namespace.
    pub fn namespaces(&self) -> &BTreeMap<String, usize> {
        &self.namespaces
    }

    /// Every record looked at for every package of `report`, with its decision and the reason
    /// for it.
    pub fn candidates<'a>(
        &'a self,
        report: &'a IndexReport,
        ns: &dyn Namespaces,
    ) -> (Vec<Candidate<'a>>, MatchStats) {
        self.collect(report, ns, true)
    }

    /// [`Self::candidates`]; without `explain`, reasons are only written for undecided records
    /// (the report needs verdicts, not prose).
    fn collect<'a>(
        &'a self,
        report: &'a IndexReport,
        ns: &dyn Namespaces,
        explain: bool,
    ) -> (Vec<Candidate<'a>>, MatchStats) {
        let mut out = Vec::new();
        let mut stats = MatchStats {
            packages: report.packages.len(),
            ..MatchStats::default()
        };
        let mut missing = BTreeSet::new();
        for (id, pkg) in &report.packages {
            let targets = package_namespaces(report, id, ns);
            let mut covered = false;
            for (namespace, dist, repo) in &targets {
                if self.namespaces.contains_key(namespace) {
                    covered = true;
                } else {
                    missing.insert(namespace.clone());
                }
                let source_name = pkg.source.as_ref().map_or(pkg.name.as_str(), |s| &s.name);
                for (kind, name) in [
                    (PackageKind::Binary, pkg.name.as_str()),
                    (PackageKind::Source, source_name),
                ] {
                    let key = (namespace.clone(), key_name(namespace, name));
                    let Some(hits) = self.by_package.get(&key) else {
                        continue;
                    };
                    for &n in hits {
                        let e = &self.entries[n as usize];
                        if e.vuln.package_kind != kind {
                            continue;
                        }
                        let decision = decide(e, pkg, explain);
                        stats.candidates += 1;
                        match decision.verdict {
                            Verdict::Affected => stats.affected += 1,
                            Verdict::Undecided => {
                                stats.undecided_count += 1;
                                if stats.undecided.len() < 20 {
                                    stats.undecided.push(format!(
                                        "{} {} ({}): {}",
                                        pkg.name, e.vuln.name, e.vuln.namespace, decision.reason
                                    ));
                                }
                            }
                            Verdict::NotAffected => {}
                        }
                        out.push(Candidate {
                            package_id: id,
                            record: &e.vuln,
                            record_id: e.id,
                            decision,
                            distribution: *dist,
                            repository: *repo,
                        });
                    }
                }
            }
            if covered {
                stats.packages_covered += 1;
            }
        }
        stats.missing_namespaces = missing.into_iter().collect();
        (out, stats)
    }

    /// Match an index report: Clair's `VulnerabilityReport`.
    pub fn report(
        &self,
        report: &IndexReport,
        ns: &dyn Namespaces,
    ) -> (VulnerabilityReport, MatchStats) {
        let (candidates, stats) = self.collect(report, ns, false);
        let mut vr = VulnerabilityReport {
            manifest_hash: report.manifest_hash.clone(),
            packages: report.packages.clone(),
            distributions: report.distributions.clone(),
            repository: report.repository.clone(),
            environments: report.environments.clone(),
            vulnerabilities: BTreeMap::new(),
            package_vulnerabilities: BTreeMap::new(),
            enrichments: BTreeMap::new(),
        };
        // Each record once, as its first affected candidate reports it; lists per package
        // by record id (the same order as the ids' fixed-width hex), each id formatted once
        // a list. Collected first and built in order: per-candidate map inserts and `format!`
        // were the largest entries of a first-time report's profile.
        let mut first: BTreeMap<u64, &Candidate<'_>> = BTreeMap::new();
        let mut by_package: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for c in candidates
            .iter()
            .filter(|c| c.decision.verdict == Verdict::Affected)
        {
            first.entry(c.record_id).or_insert(c);
            by_package
                .entry(c.package_id)
                .or_default()
                .push(c.record_id);
        }
        vr.vulnerabilities = first
            .into_iter()
            .map(|(record, c)| {
                let id = format!("{record:016x}");
                let v = report_vulnerability(&id, c);
                (id, v)
            })
            .collect();
        vr.package_vulnerabilities = by_package
            .into_iter()
            .map(|(package, mut records)| {
                records.sort_unstable();
                records.dedup();
                let ids = records.iter().map(|r| format!("{r:016x}")).collect();
                (package.to_string(), ids)
            })
            .collect();
        (vr, stats)
    }
}

/// A stable id for a record: the start of its content digest, the same on every instance.
pub fn report_id(v: &Vulnerability) -> String {
    format!("{:016x}", report_id_bits(v))
}

fn report_id_bits(v: &Vulnerability) -> u64 {
    let fp = v.fingerprint();
    fp.hex()
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_default()
}

fn report_vulnerability(id: &str, c: &Candidate<'_>) -> ReportVulnerability {
    let mut r = reported(id, c.record);
    r.distribution = c.distribution.cloned();
    if let Some(repo) = c.repository {
        r.repository = Some(repo.clone());
    }
    r
}

/// A record as a report lists it (Clair v4 `Vulnerability`) under `id`: its repository the
/// record's own (a CPE or name), no distribution; matching adds what the package matched.
pub fn reported(id: &str, v: &Vulnerability) -> ReportVulnerability {
    let repository = (!v.repository.is_empty()).then(|| Repository {
        id: String::new(),
        name: v.repository.clone(),
        key: String::new(),
        uri: String::new(),
        cpe: if v.repository.starts_with("cpe:") {
            v.repository.clone()
        } else {
            String::new()
        },
    });
    ReportVulnerability {
        id: id.to_string(),
        updater: v.updater.clone(),
        name: v.name.clone(),
        description: v.description.clone(),
        issued: v.issued.clone(),
        links: v.links.clone(),
        severity: v.severity.clone(),
        normalized_severity: v.normalized_severity,
        package: Some(VulnerablePackage {
            id: "0".into(),
            name: v.package_name.clone(),
            version: String::new(),
            kind: match v.package_kind {
                PackageKind::Binary => "binary".into(),
                PackageKind::Source => "source".into(),
            },
            normalized_version: String::new(),
            cpe: String::new(),
        }),
        distribution: None,
        repository,
        fixed_in_version: v.fixed_in_version.clone(),
    }
}

/// The namespaces that apply to a package: its language repositories' ecosystems when it has
/// any, else its distributions'.
fn package_namespaces<'a>(
    report: &'a IndexReport,
    id: &str,
    ns: &dyn Namespaces,
) -> Vec<(
    String,
    Option<&'a ReportDistribution>,
    Option<&'a Repository>,
)> {
    let mut langs = Vec::new();
    let mut dists = Vec::new();
    for env in report
        .environments
        .get(id)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        for rid in &env.repository_ids {
            if let Some(r) = report.repository.get(rid)
                && let Some(n) = ns.repository(r)
            {
                langs.push((n, None, Some(r)));
            }
        }
        if let Some(d) = report.distributions.get(&env.distribution_id) {
            for n in ns.distribution(d) {
                dists.push((n, Some(d), None));
            }
        }
    }
    let mut out = if langs.is_empty() { dists } else { langs };
    let mut seen = BTreeSet::new();
    out.retain(|(n, _, _)| seen.insert(n.clone()));
    out
}

/// The namespaces an index report needs: what `clair_service::load_index` should read for it.
pub fn report_namespaces(report: &IndexReport, ns: &dyn Namespaces) -> Vec<String> {
    let mut all = BTreeSet::new();
    for id in report.packages.keys() {
        for (n, _, _) in package_namespaces(report, id, ns) {
            all.insert(n);
        }
    }
    all.into_iter().collect()
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn arch_matches(pattern: &str, arch: &str) -> bool {
    if arch.is_empty() || arch == "noarch" || arch == "all" {
        return true;
    }
    pattern
        .split('|')
        .map(|a| a.trim_matches(|c: char| matches!(c, '^' | '$' | '(' | ')') || c.is_whitespace()))
        .any(|a| a == arch)
}

fn decide(e: &Entry, pkg: &ReportPackage, explain: bool) -> Decision {
    let v = &e.vuln;
    // Debian-style source records carry source versions; rpm and apk source names share the
    // binary's version (and an rpm binary has the epoch its source lacks).
    let installed = match (v.package_kind, e.scheme) {
        (PackageKind::Source, Some(Scheme::Dpkg)) => pkg
            .source
            .as_ref()
            .map(|s| s.version.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(&pkg.version),
        _ => &pkg.version,
    };
    let verdict = |verdict, reason: &dyn Fn() -> String| Decision {
        verdict,
        installed: if explain {
            installed.to_string()
        } else {
            String::new()
        },
        reason: if explain || verdict == Verdict::Undecided {
            reason()
        } else {
            String::new()
        },
    };
    if !v.arch.is_empty() && !arch_matches(&v.arch, &pkg.arch) {
        return verdict(Verdict::NotAffected, &|| {
            format!("architecture {} is not one of {}", pkg.arch, v.arch)
        });
    }
    if v.module != pkg.module {
        let show = |m: &str| {
            if m.is_empty() {
                "(none)".to_string()
            } else {
                m.to_string()
            }
        };
        return verdict(Verdict::NotAffected, &|| {
            format!(
                "module stream {} is not the record's {}",
                show(&pkg.module),
                show(&v.module)
            )
        });
    }
    let Some(scheme) = e.scheme else {
        return verdict(Verdict::Undecided, &|| {
            format!("unknown version scheme {:?}", v.version_scheme)
        });
    };
    if let Some(r) = v.range.as_ref().filter(|r| !r.events.is_empty()) {
        // An OSV range the parser could not order: the specification's walk, which reads
        // every version too, decides (or says why it cannot).
        let events: Vec<osv::Event<'_>> = r.events.iter().map(osv_event).collect();
        return match osv::walk(scheme, installed, &events) {
            Ok(true) => verdict(Verdict::Affected, &|| {
                format!("{scheme}: {installed} is affected: range walk over the feed's events")
            }),
            Ok(false) => listed_or(e, installed, scheme, explain, || {
                verdict(Verdict::NotAffected, &|| {
                    format!(
                        "{scheme}: {installed} is not affected: range walk over the feed's events"
                    )
                })
            }),
            Err(err) => listed_or(e, installed, scheme, explain, || {
                verdict(Verdict::Undecided, &|| {
                    format!("cannot order the range's events: {err}")
                })
            }),
        };
    }
    if v.range.is_none() && !v.versions.is_empty() {
        return listed_or(e, installed, scheme, explain, || {
            verdict(Verdict::NotAffected, &|| {
                format!(
                    "{scheme}: {installed} is not affected: not one of the {} versions the record lists",
                    v.versions.len()
                )
            })
        });
    }
    let range = match &v.range {
        Some(r) => Range {
            introduced: opt(&r.introduced),
            fixed: opt(&r.fixed),
            last_affected: opt(&r.last_affected),
            limit: opt(&r.limit),
        },
        None => Range {
            fixed: opt(&v.fixed_in_version),
            ..Range::default()
        },
    };
    let described = || match &v.range {
        Some(_) => {
            let mut parts = Vec::new();
            if let Some(i) = range.introduced {
                parts.push(format!(">= {i}"));
            }
            if let Some(f) = range.fixed {
                parts.push(format!("< {f}"));
            }
            if let Some(l) = range.last_affected {
                parts.push(format!("<= {l}"));
            }
            if let Some(l) = range.limit {
                parts.push(format!("< {l} (limit)"));
            }
            let text = if parts.is_empty() {
                "every version".to_string()
            } else {
                parts.join(", ")
            };
            format!("range walk over the sorted events: {text}")
        }
        None => match range.fixed {
            Some(f) => format!("fixed in {f}"),
            None => "no fixed version yet".to_string(),
        },
    };
    match scheme.in_range(installed, &range) {
        Ok(true) => verdict(Verdict::Affected, &|| {
            format!("{scheme}: {installed} is affected: {}", described())
        }),
        Ok(false) => listed_or(e, installed, scheme, explain, || {
            verdict(Verdict::NotAffected, &|| {
                format!("{scheme}: {installed} is not affected: {}", described())
            })
        }),
        Err(err) => listed_or(e, installed, scheme, explain, || {
            verdict(Verdict::Undecided, &|| format!("cannot compare: {err}"))
        }),
    }
}

/// Affected when the record lists `installed` among its versions (OSV `affected[].versions`:
/// the same string, or equal in the scheme's order); otherwise the range's decision.
fn listed_or(
    e: &Entry,
    installed: &str,
    scheme: Scheme,
    explain: bool,
    otherwise: impl FnOnce() -> Decision,
) -> Decision {
    let Some(listed) = e
        .vuln
        .versions
        .iter()
        .find(|l| scheme.same_version(installed, l))
    else {
        return otherwise();
    };
    Decision {
        verdict: Verdict::Affected,
        installed: if explain {
            installed.to_string()
        } else {
            String::new()
        },
        reason: if explain {
            let how = if listed == installed {
                String::new()
            } else {
                format!(" (as {listed}, an equal version)")
            };
            format!("{scheme}: {installed} is affected: listed in the record's versions{how}")
        } else {
            String::new()
        },
    }
}

/// A stored OSV range event as `clair_version::osv` reads it.
pub fn osv_event(e: &RangeEvent) -> osv::Event<'_> {
    let (kind, version) = match e {
        RangeEvent::Introduced(v) => (osv::EventKind::Introduced, v),
        RangeEvent::Fixed(v) => (osv::EventKind::Fixed, v),
        RangeEvent::LastAffected(v) => (osv::EventKind::LastAffected, v),
        RangeEvent::Limit(v) => (osv::EventKind::Limit, v),
    };
    osv::Event { kind, version }
}

/// CVE ids a record refers to: its name and any in its links.
pub fn cve_ids(v: &ReportVulnerability) -> Vec<String> {
    cve_ids_in(&v.name, &v.links)
}

/// CVE ids in a record's name and links.
pub fn cve_ids_in(name: &str, links: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    for text in [name, links] {
        let b = text.as_bytes();
        let mut i = 0;
        while let Some(p) = text[i..].find("CVE-") {
            let start = i + p;
            let mut j = start + 4;
            let year = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
            j += year;
            if year == 4 && b.get(j) == Some(&b'-') {
                let num = b[j + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if num >= 4 {
                    out.insert(text[start..j + 1 + num].to_string());
                }
            }
            i = start + 4;
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clair_types::Severity;

    #[test]
    fn pypi_names_normalise() {
        assert_eq!(
            key_name("pypi", "Django_REST.framework"),
            "django-rest-framework"
        );
        assert_eq!(key_name("npm", "Foo_Bar"), "Foo_Bar");
    }

    #[derive(Debug)]
    struct Languages;

    impl Namespaces for Languages {
        fn distribution(&self, _: &ReportDistribution) -> Vec<String> {
            Vec::new()
        }
        fn repository(&self, r: &Repository) -> Option<String> {
            Some(r.name.clone())
        }
    }

    /// A range of those bounds (empty: none).
    fn bounds(introduced: &str, fixed: &str, limit: &str) -> clair_types::VersionRange {
        clair_types::VersionRange {
            introduced: introduced.into(),
            fixed: fixed.into(),
            limit: limit.into(),
            ..Default::default()
        }
    }

    fn osv_record(range: Option<clair_types::VersionRange>, versions: &[&str]) -> Vulnerability {
        Vulnerability {
            updater: "osv".into(),
            name: "PYSEC-2099-1".into(),
            namespace: "pypi".into(),
            package_name: "Flask".into(),
            version_scheme: "pep440".into(),
            fixed_in_version: range.as_ref().map(|r| r.fixed.clone()).unwrap_or_default(),
            range,
            versions: versions.iter().map(|v| v.to_string()).collect(),
            ..Vulnerability::default()
        }
    }

    /// (verdict, reason) of every record for each installed version of `flask`.
    fn explain(records: Vec<Vulnerability>, installed: &[&str]) -> Vec<Vec<(Verdict, String)>> {
        let idx = MatchIndex::new(records, String::new());
        let pkgs: Vec<(&str, &str)> = installed.iter().map(|v| ("flask", *v)).collect();
        let report = clair_test::reports::language_report("pypi", &pkgs);
        let (candidates, _) = idx.candidates(&report, &Languages);
        (0..installed.len())
            .map(|i| {
                candidates
                    .iter()
                    .filter(|c| c.package_id == i.to_string())
                    .map(|c| (c.decision.verdict, c.decision.reason.clone()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn osv_decisions_say_which_rule_decided() {
        let interval = osv_record(Some(bounds("1.0", "4.18.0rc2", "")), &[]);
        let listed = osv_record(None, &["4.18.0", "5"]);
        let got = explain(vec![interval, listed], &["2.0", "4.18", "5.0.0", "4.18.1"]);
        assert_eq!(
            got[0],
            vec![
                (
                    Verdict::Affected,
                    "pep440: 2.0 is affected: range walk over the sorted events: >= 1.0, < 4.18.0rc2".into()
                ),
                (
                    Verdict::NotAffected,
                    "pep440: 2.0 is not affected: not one of the 2 versions the record lists".into()
                )
            ]
        );
        assert_eq!(got[1][0].0, Verdict::NotAffected, "{:?}", got[1]);
        assert_eq!(
            got[1][1],
            (
                Verdict::Affected,
                "pep440: 4.18 is affected: listed in the record's versions (as 4.18.0, an equal version)".into()
            )
        );
        assert_eq!(got[2][1].0, Verdict::Affected, "5.0.0 == 5");
        assert!(
            got[3].iter().all(|(v, _)| *v == Verdict::NotAffected),
            "{:?}",
            got[3]
        );
    }

    #[test]
    fn osv_limits_and_unorderable_events() {
        let capped = osv_record(Some(bounds("1.0", "", "2.0")), &[]);
        let got = explain(vec![capped], &["1.5", "2.0"]);
        assert_eq!(got[0][0].0, Verdict::Affected);
        assert!(
            got[0][0].1.ends_with(">= 1.0, < 2.0 (limit)"),
            "{}",
            got[0][0].1
        );
        assert_eq!(got[1][0].0, Verdict::NotAffected);
        let unordered = osv_record(
            Some(clair_types::VersionRange {
                events: vec![
                    RangeEvent::Introduced("0".into()),
                    RangeEvent::Fixed("1.0-not-pep440".into()),
                ],
                ..Default::default()
            }),
            &[],
        );
        let got = explain(vec![unordered], &["0.5"]);
        assert_eq!(got[0][0].0, Verdict::Undecided);
        assert!(
            got[0][0].1.starts_with(
                "cannot order the range's events: pep440: invalid version \"1.0-not-pep440\""
            ),
            "{}",
            got[0][0].1
        );
    }

    #[test]
    fn arch_patterns() {
        assert!(arch_matches("aarch64|ppc64le|s390x|x86_64", "x86_64"));
        assert!(!arch_matches("aarch64|ppc64le", "x86_64"));
        assert!(arch_matches("^(x86_64|i686)$", "i686"));
        assert!(arch_matches("x86_64", "noarch"));
    }

    #[test]
    fn cve_ids_from_names_and_links() {
        let v = ReportVulnerability {
            id: "1".into(),
            updater: "rhel".into(),
            name: "RHSA-2023:1234".into(),
            description: String::new(),
            issued: String::new(),
            links: "https://access.redhat.com/security/cve/CVE-2023-0286 https://x/CVE-2022-4304.html CVE-12-1".into(),
            severity: String::new(),
            normalized_severity: Severity::Unknown,
            package: None,
            distribution: None,
            repository: None,
            fixed_in_version: String::new(),
        };
        assert_eq!(cve_ids(&v), vec!["CVE-2022-4304", "CVE-2023-0286"]);
    }
}
