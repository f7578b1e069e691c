//! claircore's JSON for the intra-service API (`update_operation`, `update_diff`,
//! `affected_manifest`), exactly as Clair's Go client encodes and decodes it, so a clair-rs
//! service can stand in for a Clair v4 one and the other way round.
//!
//! What Go's decoder needs, and what these types therefore always write: `issued` and `date` as
//! RFC 3339 (the zero time `0001-01-01T00:00:00Z` when unknown; an empty string fails),
//! `normalized_severity` as its name, `package.kind` as `binary`/`source`, `arch_op` as
//! `equals`/`pattern match`, no `range` unless it holds claircore's normalised versions (raw
//! versions with a `:` fail to decode), and arrays, never `null`.
//!
//! A clair-rs record says more than claircore's `Vulnerability` can carry (its namespace,
//! version scheme, OSV-style range and repository), and matching needs all of it, so each
//! vulnerability written here carries a `clair_rs` member with those; Go ignores unknown
//! members. A vulnerability without it (from a Clair v4 matcher) is read as well as claircore's
//! fields allow: the namespace from its distribution or language repository, the scheme from
//! the namespace, an ecosystem range from a `fixed_in_version` such as
//! `introduced=1.0&fixed=1.2` (claircore's OSV encoding).

use std::collections::BTreeMap;

use clair_matcher::Namespaces;
use clair_service::affected::AffectedManifests;
use clair_store::{OpKind, UpdateDiff, UpdateOperation};
use clair_types::{
    Digest, PackageKind, ReportDistribution, ReportVulnerability, Repository, Severity,
    VersionRange, Vulnerability, VulnerablePackage,
};
use serde::{Deserialize, Serialize};

/// A `$ty` with the package fields a report's vulnerability and claircore's have in common
/// copied from `$p` (the others from `$rest`, e.g. `..Default::default()`).
macro_rules! package_fields {
    ($ty:ident, $p:expr $(, $($rest:tt)*)?) => {
        $ty {
            id: $p.id.clone(),
            name: $p.name.clone(),
            version: $p.version.clone(),
            kind: $p.kind.clone(),
            normalized_version: $p.normalized_version.clone(),
            cpe: $p.cpe.clone(),
            $($($rest)*)?
        }
    };
}

/// Go's zero `time.Time`, what claircore writes for an unknown date.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A claircore `UpdateOperation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The operation's id.
    #[serde(rename = "ref")]
    pub reference: uuid::Uuid,
    /// The updater.
    #[serde(default)]
    pub updater: String,
    /// The updater's marker of what it fetched.
    #[serde(default)]
    pub fingerprint: String,
    /// When it ran (RFC 3339).
    #[serde(default = "zero_time")]
    pub date: String,
    /// `vulnerability` or `enrichment` (empty in a zero operation).
    #[serde(default)]
    pub kind: String,
}

fn zero_time() -> String {
    ZERO_TIME.into()
}

impl Operation {
    /// From the store's operation.
    pub fn from_store(op: &UpdateOperation) -> Operation {
        Operation {
            reference: op.id,
            updater: op.updater.clone(),
            fingerprint: op.fingerprint.clone(),
            date: op.date.to_string(),
            kind: op.kind.as_str().into(),
        }
    }

    /// Go's zero operation (what `update_diff` writes for a missing `prev`).
    pub fn zero() -> Operation {
        Operation {
            reference: uuid::Uuid::nil(),
            updater: String::new(),
            fingerprint: String::new(),
            date: ZERO_TIME.into(),
            kind: String::new(),
        }
    }

    /// To the store's operation; `None` for the zero operation.
    pub fn to_store(&self) -> Result<Option<UpdateOperation>, String> {
        if self.reference.is_nil() {
            return Ok(None);
        }
        let kind = match self.kind.as_str() {
            "vulnerability" | "" => OpKind::Vulnerability,
            "enrichment" => OpKind::Enrichment,
            other => {
                return Err(format!(
                    "update operation {}: kind {other:?}",
                    self.reference
                ));
            }
        };
        let date = self.date.parse::<jiff::Timestamp>().map_err(|e| {
            format!(
                "update operation {}: date {:?}: {e}",
                self.reference, self.date
            )
        })?;
        Ok(Some(UpdateOperation {
            id: self.reference,
            updater: self.updater.clone(),
            kind,
            fingerprint: self.fingerprint.clone(),
            date,
        }))
    }
}

// The shapes below mirror clair-types' report types on purpose rather than reuse them: they
// decode what Go writes (members it omits when empty, `null`s) and must not change when the
// report types' own JSON does.

/// A claircore `Package` as vulnerabilities name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Package {
    /// Id (empty or `"0"`: not an entry of a report).
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Version (empty in vulnerabilities).
    #[serde(default)]
    pub version: String,
    /// `binary` or `source` (claircore omits an unknown kind).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Normalised version (claircore's `kind:n.n…`), empty here.
    #[serde(default)]
    pub normalized_version: String,
    /// RPM module.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub module: String,
    /// Architecture (a pattern with `arch_op: pattern match`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// CPE.
    #[serde(default)]
    pub cpe: String,
}

/// A claircore `Distribution`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[allow(missing_docs)]
pub struct Distribution {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub did: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub version_code_name: String,
    #[serde(default)]
    pub version_id: String,
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub cpe: String,
    #[serde(default)]
    pub pretty_name: String,
}

/// A claircore `Repository` (strings omitted when empty, `cpe` always written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[allow(missing_docs)]
pub struct Repo {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    #[serde(default)]
    pub cpe: String,
}

/// What a clair-rs record holds beyond claircore's fields (member `clair_rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Native {
    /// The record's namespace (`debian:12`, `pypi`).
    pub namespace: String,
    /// Its version scheme (`dpkg`, `rpm`, `semver`, …).
    pub version_scheme: String,
    /// Its repository or product, when the feed named one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repository: String,
    /// Its OSV-style range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<VersionRange>,
    /// Versions it names as affected (OSV `affected[].versions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Its issue date as the feed wrote it, when that is not RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<String>,
}

/// A claircore `Vulnerability`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Vuln {
    /// Id, unique in the document.
    #[serde(default)]
    pub id: String,
    /// Updater.
    #[serde(default)]
    pub updater: String,
    /// Advisory name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Issue date, RFC 3339 ([`ZERO_TIME`] when unknown).
    #[serde(default = "zero_time")]
    pub issued: String,
    /// Space-separated links.
    #[serde(default)]
    pub links: String,
    /// Severity as the vendor writes it.
    #[serde(default)]
    pub severity: String,
    /// `Unknown` … `Critical`.
    #[serde(default)]
    pub normalized_severity: String,
    /// The affected package.
    #[serde(default)]
    pub package: Option<Package>,
    /// The distribution it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
    /// The repository it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Repo>,
    /// First fixed version, or claircore's encoded ecosystem range.
    #[serde(default)]
    pub fixed_in_version: String,
    /// claircore's normalised range (read, never written).
    #[serde(default, skip_serializing)]
    pub range: Option<serde_json::Value>,
    /// How `package.arch` compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_op: Option<String>,
    /// The clair-rs record's other fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clair_rs: Option<Native>,
}

/// `issued` as Go's `time.Time` reads it: an RFC 3339 timestamp, a bare date at midnight UTC,
/// or the zero time.
fn go_time(s: &str) -> String {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return t.to_string();
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return format!("{d}T00:00:00Z");
    }
    ZERO_TIME.into()
}

fn from_go_time(s: &str) -> String {
    if s == ZERO_TIME || s.trim().is_empty() {
        String::new()
    } else {
        s.to_string()
    }
}

fn arch_op(arch: &str) -> &'static str {
    if arch.contains(['|', '^', '$', '(', '[', '*', '?', '+']) {
        "pattern match"
    } else {
        "equals"
    }
}

fn kind_name(k: PackageKind) -> &'static str {
    match k {
        PackageKind::Binary => "binary",
        PackageKind::Source => "source",
    }
}

impl Vuln {
    /// A stored record as claircore writes it, with id `id`.
    pub fn from_record(id: &str, v: &Vulnerability) -> Vuln {
        let issued = go_time(&v.issued);
        let (distribution, repository) = match v.namespace.split_once(':') {
            Some((did, version_id)) => (
                Some(Distribution {
                    did: did.into(),
                    version_id: version_id.into(),
                    ..Distribution::default()
                }),
                None,
            ),
            None if !v.namespace.is_empty() => (
                None,
                Some(Repo {
                    name: v.namespace.clone(),
                    ..Repo::default()
                }),
            ),
            None => (None, None),
        };
        let repository = if v.repository.is_empty() {
            repository
        } else {
            Some(Repo {
                name: v.repository.clone(),
                cpe: if v.repository.starts_with("cpe:") {
                    v.repository.clone()
                } else {
                    String::new()
                },
                ..Repo::default()
            })
        };
        Vuln {
            id: id.into(),
            updater: v.updater.clone(),
            name: v.name.clone(),
            description: v.description.clone(),
            issued: issued.clone(),
            links: v.links.clone(),
            severity: v.severity.clone(),
            normalized_severity: v.normalized_severity.as_str().into(),
            package: Some(Package {
                name: v.package_name.clone(),
                kind: kind_name(v.package_kind).into(),
                module: v.module.clone(),
                arch: v.arch.clone(),
                ..Package::default()
            }),
            distribution,
            repository,
            fixed_in_version: v.fixed_in_version.clone(),
            range: None,
            arch_op: Some(arch_op(&v.arch).into()),
            clair_rs: Some(Native {
                namespace: v.namespace.clone(),
                version_scheme: v.version_scheme.clone(),
                repository: v.repository.clone(),
                range: v.range.clone(),
                versions: v.versions.clone(),
                issued: (!v.issued.is_empty() && issued != v.issued).then(|| v.issued.clone()),
            }),
        }
    }

    /// The record this describes, and its id. Without a `clair_rs` member (a Clair v4
    /// matcher's record), the namespace comes from the distribution or the language
    /// repository through `ns`.
    pub fn to_record(&self, ns: &dyn Namespaces) -> (String, Vulnerability) {
        let pkg = self.package.clone().unwrap_or_default();
        let mut v = Vulnerability {
            updater: self.updater.clone(),
            name: self.name.clone(),
            namespace: String::new(),
            package_name: pkg.name,
            package_kind: if pkg.kind.eq_ignore_ascii_case("source") {
                PackageKind::Source
            } else {
                PackageKind::Binary
            },
            version_scheme: String::new(),
            fixed_in_version: self.fixed_in_version.clone(),
            range: None,
            versions: Vec::new(),
            arch: pkg.arch,
            module: pkg.module,
            repository: String::new(),
            severity: self.severity.clone(),
            normalized_severity: self
                .normalized_severity
                .parse()
                .unwrap_or(Severity::Unknown),
            description: self.description.clone(),
            links: self.links.clone(),
            issued: from_go_time(&self.issued),
        };
        match &self.clair_rs {
            Some(n) => {
                v.namespace = n.namespace.clone();
                v.version_scheme = n.version_scheme.clone();
                v.repository = n.repository.clone();
                v.range = n.range.clone();
                v.versions = n.versions.clone();
                if let Some(i) = &n.issued {
                    v.issued = i.clone();
                }
            }
            None => {
                let repo = self.repository.as_ref().map(Repo::to_report);
                let language = repo.as_ref().and_then(|r| ns.repository(r));
                v.namespace = match (&language, &self.distribution) {
                    (Some(l), _) => l.clone(),
                    (None, Some(d)) => ns
                        .distribution(&d.to_report())
                        .into_iter()
                        .next()
                        .unwrap_or_default(),
                    (None, None) => String::new(),
                };
                if language.is_none()
                    && let Some(r) = &repo
                {
                    v.repository = if r.cpe.is_empty() {
                        r.name.clone()
                    } else {
                        r.cpe.clone()
                    };
                }
                v.version_scheme = scheme_of(&v.namespace).into();
                if let Some(r) = ecosystem_range(&self.fixed_in_version) {
                    v.fixed_in_version = r.fixed.clone();
                    v.range = Some(r);
                }
            }
        }
        (self.id.clone(), v)
    }

    /// A vulnerability report's entry as claircore writes it.
    pub fn from_report(v: &ReportVulnerability) -> Vuln {
        Vuln {
            id: v.id.clone(),
            updater: v.updater.clone(),
            name: v.name.clone(),
            description: v.description.clone(),
            issued: go_time(&v.issued),
            links: v.links.clone(),
            severity: v.severity.clone(),
            normalized_severity: v.normalized_severity.as_str().into(),
            package: v
                .package
                .as_ref()
                .map(|p| package_fields!(Package, p, ..Package::default())),
            distribution: v.distribution.as_ref().map(|d| Distribution {
                id: d.id.clone(),
                did: d.did.clone(),
                name: d.name.clone(),
                version: d.version.clone(),
                version_code_name: d.version_code_name.clone(),
                version_id: d.version_id.clone(),
                arch: d.arch.clone(),
                cpe: d.cpe.clone(),
                pretty_name: d.pretty_name.clone(),
            }),
            repository: v.repository.as_ref().map(|r| Repo {
                id: r.id.clone(),
                name: r.name.clone(),
                key: r.key.clone(),
                uri: r.uri.clone(),
                cpe: r.cpe.clone(),
            }),
            fixed_in_version: v.fixed_in_version.clone(),
            range: None,
            arch_op: v.package.as_ref().map(|_| "equals".into()),
            clair_rs: None,
        }
    }

    /// As a vulnerability report's entry (what a notification summarises).
    pub fn to_report(&self) -> ReportVulnerability {
        ReportVulnerability {
            id: self.id.clone(),
            updater: self.updater.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            issued: from_go_time(&self.issued),
            links: self.links.clone(),
            severity: self.severity.clone(),
            normalized_severity: self
                .normalized_severity
                .parse()
                .unwrap_or(Severity::Unknown),
            package: self
                .package
                .as_ref()
                .map(|p| package_fields!(VulnerablePackage, p)),
            distribution: self.distribution.as_ref().map(Distribution::to_report),
            repository: self.repository.as_ref().map(Repo::to_report),
            fixed_in_version: self.fixed_in_version.clone(),
        }
    }
}

impl Distribution {
    fn to_report(&self) -> ReportDistribution {
        ReportDistribution {
            id: self.id.clone(),
            did: self.did.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            version_code_name: self.version_code_name.clone(),
            version_id: self.version_id.clone(),
            arch: self.arch.clone(),
            cpe: self.cpe.clone(),
            pretty_name: self.pretty_name.clone(),
        }
    }
}

impl Repo {
    fn to_report(&self) -> Repository {
        Repository {
            id: self.id.clone(),
            name: self.name.clone(),
            key: self.key.clone(),
            uri: self.uri.clone(),
            cpe: self.cpe.clone(),
        }
    }
}

/// The version scheme of a namespace's records (for records from a Clair v4 matcher, which
/// does not say).
pub fn scheme_of(namespace: &str) -> &'static str {
    let family = namespace.split(':').next().unwrap_or("");
    match family {
        "debian" | "ubuntu" => "dpkg",
        "alpine" => "apk",
        "rhel" | "oracle" | "suse" | "opensuse" | "sles" | "photon" | "amzn" | "aws" => "rpm",
        "pypi" => "pep440",
        "npm" | "crates.io" => "semver",
        "go" => "go",
        "maven" => "maven",
        "rubygems" => "gem",
        _ => "",
    }
}

/// claircore's OSV ecosystem range in `fixed_in_version` (`introduced=1.0&fixed=1.2`,
/// `lastAffected=…`), if it is one.
fn ecosystem_range(s: &str) -> Option<VersionRange> {
    if !s.contains('=') {
        return None;
    }
    let mut r = VersionRange::default();
    for (k, v) in url::form_urlencoded::parse(s.as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "introduced" => r.introduced = v,
            "fixed" => r.fixed = v,
            "lastAffected" => r.last_affected = v,
            _ => return None,
        }
    }
    Some(r)
}

/// claircore's `UpdateDiff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// The older operation (the zero operation when there is none).
    pub prev: Operation,
    /// The newer operation.
    pub cur: Operation,
    /// Records in `cur` only (Go may write `null`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub added: Vec<Vuln>,
    /// Records in `prev` only.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub removed: Vec<Vuln>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Diff {
    /// From the store's diff.
    pub fn from_store(d: &UpdateDiff) -> Diff {
        let vulns = |list: &[Vulnerability]| {
            list.iter()
                .map(|v| Vuln::from_record(&clair_matcher::matching::report_id(v), v))
                .collect()
        };
        Diff {
            prev: d
                .prev
                .as_ref()
                .map_or_else(Operation::zero, Operation::from_store),
            cur: Operation::from_store(&d.cur),
            added: vulns(&d.added),
            removed: vulns(&d.removed),
        }
    }

    /// To the store's diff.
    pub fn to_store(&self, ns: &dyn Namespaces) -> Result<UpdateDiff, String> {
        let cur = self
            .cur
            .to_store()?
            .ok_or("update diff: cur is the zero operation")?;
        Ok(UpdateDiff {
            prev: self.prev.to_store()?,
            cur,
            added: self.added.iter().map(|v| v.to_record(ns).1).collect(),
            removed: self.removed.iter().map(|v| v.to_record(ns).1).collect(),
        })
    }
}

/// The body of `POST /indexer/api/v1/internal/affected_manifest/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedRequest {
    /// The records to look up (Go may write `null`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub vulnerabilities: Vec<Vuln>,
}

/// claircore's `AffectedManifests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// Records by id.
    #[serde(default)]
    pub vulnerabilities: BTreeMap<String, Vuln>,
    /// Manifest digest → record ids, most severe first.
    #[serde(default)]
    pub vulnerable_manifests: BTreeMap<String, Vec<String>>,
}

impl Affected {
    /// From the computed answer.
    pub fn from_matcher(a: &AffectedManifests) -> Affected {
        Affected {
            vulnerabilities: a
                .vulnerabilities
                .iter()
                .map(|(id, v)| (id.clone(), Vuln::from_report(v)))
                .collect(),
            vulnerable_manifests: a
                .vulnerable_manifests
                .iter()
                .map(|(d, ids)| (d.to_string(), ids.clone()))
                .collect(),
        }
    }

    /// To the notifier's form; every manifest must be a digest and every id listed.
    pub fn to_matcher(&self) -> Result<AffectedManifests, String> {
        let mut out = AffectedManifests {
            vulnerabilities: self
                .vulnerabilities
                .iter()
                .map(|(id, v)| {
                    let mut r = v.to_report();
                    r.id = id.clone();
                    (id.clone(), r)
                })
                .collect(),
            vulnerable_manifests: BTreeMap::new(),
        };
        for (m, ids) in &self.vulnerable_manifests {
            let d: Digest = m
                .parse()
                .map_err(|e| format!("affected manifests: {m:?}: {e}"))?;
            if let Some(missing) = ids.iter().find(|i| !out.vulnerabilities.contains_key(*i)) {
                return Err(format!(
                    "affected manifests: {m} names vulnerability {missing:?}, which is not in the answer"
                ));
            }
            out.vulnerable_manifests.insert(d, ids.clone());
        }
        Ok(out)
    }
}

/// Run the parsers of this module on `data`, for fuzzing. Never panics.
pub fn parse_untrusted(data: &[u8]) {
    let ns = clair_ecosystems::EcosystemNamespaces;
    if let Ok(r) = serde_json::from_slice::<AffectedRequest>(data) {
        for v in &r.vulnerabilities {
            let _ = v.to_record(&ns);
        }
    }
    if let Ok(d) = serde_json::from_slice::<Diff>(data) {
        let _ = d.to_store(&ns);
    }
    if let Ok(a) = serde_json::from_slice::<Affected>(data) {
        let _ = a.to_matcher();
    }
    if let Ok(ops) = serde_json::from_slice::<BTreeMap<String, Vec<Operation>>>(data) {
        for op in ops.values().flatten() {
            let _ = op.to_store();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clair_ecosystems::EcosystemNamespaces;

    fn record() -> Vulnerability {
        Vulnerability {
            updater: "osv/pypi".into(),
            name: "GHSA-1234".into(),
            namespace: "pypi".into(),
            package_name: "Django".into(),
            package_kind: PackageKind::Binary,
            version_scheme: "pep440".into(),
            fixed_in_version: "4.2.1".into(),
            range: Some(VersionRange {
                introduced: "4.0".into(),
                fixed: "4.2.1".into(),
                limit: "5".into(),
                ..VersionRange::default()
            }),
            versions: vec!["4.1.0".into()],
            arch: String::new(),
            module: String::new(),
            repository: String::new(),
            severity: "HIGH".into(),
            normalized_severity: Severity::High,
            description: "d".into(),
            links: "https://osv.dev/GHSA-1234".into(),
            issued: "2023-05-01".into(),
        }
    }

    #[test]
    fn records_round_trip_with_the_native_member() {
        let mut debian = record();
        debian.namespace = "debian:12".into();
        debian.version_scheme = "dpkg".into();
        debian.package_kind = PackageKind::Source;
        debian.range = None;
        debian.issued = "2023-05-01T10:00:00Z".into();
        let mut rhel = record();
        rhel.namespace = "rhel:9".into();
        rhel.arch = "aarch64|x86_64".into();
        rhel.module = "nodejs:18".into();
        rhel.repository = "cpe:/a:redhat:enterprise_linux:9::appstream".into();
        for v in [record(), debian, rhel] {
            let json = serde_json::to_string(&Vuln::from_record("7", &v)).unwrap();
            let back: Vuln = serde_json::from_str(&json).unwrap();
            assert_eq!(
                back.to_record(&EcosystemNamespaces),
                ("7".into(), v),
                "{json}"
            );
        }
    }

    #[test]
    fn written_as_go_decodes_it() {
        let j = serde_json::to_value(Vuln::from_record("7", &record())).unwrap();
        // A bare date becomes midnight UTC; the feed's spelling travels in clair_rs.
        assert_eq!(j["issued"], "2023-05-01T00:00:00Z");
        assert_eq!(j["clair_rs"]["issued"], "2023-05-01");
        assert_eq!(j["normalized_severity"], "High");
        assert_eq!(j["package"]["kind"], "binary");
        assert_eq!(j["arch_op"], "equals");
        assert_eq!(j["repository"]["name"], "pypi");
        assert!(j.get("range").is_none(), "raw versions fail Go's decoder");
        assert!(j.get("distribution").is_none());
        let mut unknown = record();
        unknown.issued = "yesterday".into();
        let j = serde_json::to_value(Vuln::from_record("7", &unknown)).unwrap();
        assert_eq!(j["issued"], ZERO_TIME);
        let mut rhel = record();
        rhel.namespace = "rhel:9".into();
        rhel.arch = "aarch64|x86_64".into();
        let j = serde_json::to_value(Vuln::from_record("7", &rhel)).unwrap();
        assert_eq!(j["arch_op"], "pattern match");
        assert_eq!(j["distribution"]["did"], "rhel");
        assert_eq!(j["distribution"]["version_id"], "9");
    }

    /// Records as a Clair v4 matcher writes them (no `clair_rs` member).
    #[test]
    fn claircore_records_are_read() {
        let debian: Vuln = serde_json::from_value(serde_json::json!({
            "id": "356835", "updater": "debian/updater/bookworm", "name": "CVE-2023-1234",
            "description": "d", "issued": "0001-01-01T00:00:00Z", "links": "", "severity": "low",
            "normalized_severity": "Low",
            "package": {"id": "", "name": "glibc", "version": "", "kind": "source",
                        "normalized_version": "", "cpe": "", "detector": null},
            "distribution": {"id": "", "did": "debian", "name": "Debian GNU/Linux",
                             "version": "12 (bookworm)", "version_code_name": "bookworm",
                             "version_id": "12", "arch": "", "cpe": "", "pretty_name": ""},
            "repository": {"cpe": ""},
            "fixed_in_version": "2.36-9+deb12u4", "range": null,
            "Self": {"space": "", "name": ""}, "Aliases": null, "Invert": false
        }))
        .unwrap();
        let (id, v) = debian.to_record(&EcosystemNamespaces);
        assert_eq!(id, "356835");
        assert_eq!(
            (
                v.namespace.as_str(),
                v.version_scheme.as_str(),
                v.package_kind,
                v.issued.as_str(),
                v.normalized_severity
            ),
            ("debian:12", "dpkg", PackageKind::Source, "", Severity::Low)
        );
        let pypi: Vuln = serde_json::from_value(serde_json::json!({
            "id": "9", "updater": "osv/pypi", "name": "GHSA-x", "normalized_severity": "High",
            "package": {"name": "django", "kind": "binary"},
            "repository": {"name": "pypi", "uri": "https://pypi.org/simple", "cpe": ""},
            "fixed_in_version": "introduced=4.0&fixed=4.2.1"
        }))
        .unwrap();
        let (_, v) = pypi.to_record(&EcosystemNamespaces);
        assert_eq!(
            (
                v.namespace.as_str(),
                v.version_scheme.as_str(),
                v.fixed_in_version.as_str()
            ),
            ("pypi", "pep440", "4.2.1")
        );
        assert_eq!(v.range.unwrap().introduced, "4.0");
    }

    #[test]
    fn diffs_and_operations() {
        let op = UpdateOperation {
            id: uuid::Uuid::new_v4(),
            updater: "debian".into(),
            kind: OpKind::Vulnerability,
            fingerprint: "etag".into(),
            date: "2024-05-01T12:00:00.123456Z".parse().unwrap(),
        };
        let d = UpdateDiff {
            prev: None,
            cur: op.clone(),
            added: vec![record()],
            removed: vec![],
        };
        let j = serde_json::to_value(Diff::from_store(&d)).unwrap();
        assert_eq!(j["prev"]["ref"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(j["prev"]["date"], ZERO_TIME);
        assert_eq!(j["cur"]["kind"], "vulnerability");
        assert_eq!(j["removed"], serde_json::json!([]));
        let back: Diff = serde_json::from_value(j).unwrap();
        assert_eq!(back.to_store(&EcosystemNamespaces).unwrap(), d);
        // Go writes a nil slice as null, and a date with an offset.
        let go: Diff = serde_json::from_value(serde_json::json!({
            "prev": {"ref": op.id, "updater": "debian", "fingerprint": "", "date": "2024-05-01T14:00:00+02:00", "kind": "vulnerability"},
            "cur": {"ref": op.id, "updater": "debian", "fingerprint": "", "date": "2024-05-01T12:00:00Z", "kind": "vulnerability"},
            "added": null, "removed": null
        }))
        .unwrap();
        let s = go.to_store(&EcosystemNamespaces).unwrap();
        assert_eq!(s.prev.unwrap().date, s.cur.date);
        assert!(s.added.is_empty());
        let bad: Diff = serde_json::from_value(serde_json::json!({
            "prev": {"ref": op.id, "date": "soon", "kind": "vulnerability"},
            "cur": {"ref": op.id, "kind": "vulnerability"}, "added": [], "removed": []
        }))
        .unwrap();
        assert!(
            bad.to_store(&EcosystemNamespaces)
                .unwrap_err()
                .contains("soon")
        );
    }

    #[test]
    fn affected_manifests_are_checked() {
        let a: Affected = serde_json::from_value(serde_json::json!({
            "vulnerabilities": {},
            "vulnerable_manifests": {"sha256:0000000000000000000000000000000000000000000000000000000000000000": ["1"]}
        }))
        .unwrap();
        assert!(a.to_matcher().unwrap_err().contains("\"1\""));
        let a: Affected = serde_json::from_value(serde_json::json!({
            "vulnerabilities": {}, "vulnerable_manifests": {"nope": []}
        }))
        .unwrap();
        assert!(a.to_matcher().unwrap_err().contains("nope"));
    }
}
