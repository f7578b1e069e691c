//! Debian: the Security Tracker's JSON (`https://security-tracker.debian.org/tracker/data/json`).
//!
//! Keyed by source package, then CVE, then release code name. Records are per (CVE, source
//! package, release) in namespace `debian:<number>` (`debian:unstable` for sid); open and
//! undetermined issues are unfixed, resolved ones carry the fixed version, and resolved with
//! version "0" (never affected) produces no record. Urgency maps to severity.
//!
//! The file is large (tens of MB): it is parsed as a stream, one package at a time.

use std::collections::BTreeMap;
use std::fmt;

use clair_matcher::{Emit, FetchedFile, Record};
use clair_types::{PackageKind, Vulnerability};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::feed::{Parsed, json_error, open};

/// Default tracker URL.
pub const DEFAULT_URL: &str = "https://security-tracker.debian.org/tracker/data/json";

/// Debian release code names and numbers.
pub const RELEASES: [(&str, &str); 14] = [
    ("buzz", "1"),
    ("hamm", "2"),
    ("woody", "3"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
];

/// The namespace of a Debian image's advisories: `debian:<major>` from `VERSION_ID`, or from the
/// code name for testing and unstable, which have no `VERSION_ID`.
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    let major = d.version_id.split('.').next().unwrap_or("");
    if !major.is_empty() {
        return Some(format!("debian:{major}"));
    }
    // "trixie/sid" style code names from debian_version.
    let codename = d.version_code_name.split('/').next().unwrap_or("");
    (!codename.is_empty()).then(|| namespace(codename))
}

/// `debian:<number>` for a code name (`debian:unstable` for sid, `debian:<name>` if unknown).
pub fn namespace(codename: &str) -> String {
    match RELEASES.iter().find(|(c, _)| *c == codename) {
        Some((_, n)) => format!("debian:{n}"),
        None if codename == "sid" => "debian:unstable".into(),
        None => format!("debian:{codename}"),
    }
}

#[derive(Debug, Deserialize)]
struct Issue {
    #[serde(default)]
    description: String,
    #[serde(default)]
    releases: BTreeMap<String, Release>,
}

#[derive(Debug, Deserialize)]
struct Release {
    #[serde(default)]
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: String,
}

/// Records of one source package's entry.
fn records(
    updater: &str,
    package: &str,
    issues: BTreeMap<String, Issue>,
    emit: &mut Emit<'_>,
) -> Result<(), Stopped> {
    for (name, issue) in issues {
        for (codename, rel) in issue.releases {
            let fixed = match rel.status.as_str() {
                "resolved" => match rel.fixed_version.as_deref().map(str::trim) {
                    // Never affected.
                    Some("0") => continue,
                    Some(v) if !v.is_empty() => v.to_string(),
                    _ => continue,
                },
                // open, undetermined: affected, no fix yet.
                "open" | "undetermined" => String::new(),
                _ => continue,
            };
            let v = Vulnerability {
                updater: updater.to_string(),
                name: name.clone(),
                namespace: namespace(&codename),
                package_name: package.to_string(),
                package_kind: PackageKind::Source,
                version_scheme: "dpkg".into(),
                fixed_in_version: fixed,
                severity: rel.urgency.clone(),
                normalized_severity: severity(&rel.urgency),
                description: issue.description.clone(),
                links: format!("https://security-tracker.debian.org/tracker/{name}"),
                ..Vulnerability::default()
            };
            emit(Record::Vulnerability(v)).map_err(|_| Stopped)?;
        }
    }
    Ok(())
}

#[derive(Debug)]
struct Stopped;

/// Parse the tracker JSON as a stream: `{ "<package>": { "<CVE>": { ... } } }`.
pub fn parse_tracker(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    struct Top<'a, 'b> {
        updater: &'a str,
        emit: &'a mut Emit<'b>,
        stopped: bool,
    }
    impl<'de> Visitor<'de> for &mut Top<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of source packages")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(package) = map.next_key::<String>()? {
                let issues: BTreeMap<String, Issue> = map.next_value()?;
                if records(self.updater, &package, issues, self.emit).is_err() {
                    self.stopped = true;
                    return Ok(());
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for &mut Top<'_, '_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }
    let reader = open(updater, f)?;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut top = Top {
        updater,
        emit,
        stopped: false,
    };
    let res = (&mut top).deserialize(&mut de);
    let json_err = |e| json_error(updater, f, "", e);
    res.map_err(json_err)?;
    if !top.stopped {
        de.end().map_err(json_err)?;
    }
    Ok(())
}

/// The normalized severity of a Debian urgency, exactly as Clair v4 (claircore
/// `debian/severity.go`) computes it: one level above the word (Debian's "low" is a real but
/// minor issue), and no urgency (`not yet assigned`, `end-of-life`, `low**`) is Unknown.
pub(crate) fn severity(urgency: &str) -> clair_types::Severity {
    use clair_types::Severity;
    match urgency.to_ascii_lowercase().as_str() {
        "unimportant" => Severity::Low,
        "low" => Severity::Medium,
        "medium" => Severity::High,
        "high" => Severity::Critical,
        _ => Severity::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

    use super::*;
    use crate::feed::testing::{fetched, vulns};

    #[test]
    fn tracker_sample() {
        let v = vulns("feeds/debian/clair2-security-tracker.json", |f, e| {
            parse_tracker("debian", f, e)
        });
        // aptdaemon CVE-2015-1323: wheezy resolved without fixed_version (skipped), jessie open,
        // sid fixed; aptdaemon CVE-2003-0779: jessie and sid fixed; asterisk CVE-2013-2685:
        // fixed "0" (not affected, skipped); asterisk CVE-2003-0779: jessie fixed.
        assert_eq!(v.len(), 5, "{v:#?}");
        let open = v
            .iter()
            .find(|v| v.name == "CVE-2015-1323" && v.namespace == "debian:8")
            .unwrap();
        assert_eq!(open.fixed_in_version, "");
        assert_eq!(open.package_name, "aptdaemon");
        assert_eq!(open.package_kind, PackageKind::Source);
        // The tracker's "low**" (an urgency taken from NVD) is no urgency Clair v4 knows.
        assert_eq!(open.severity, "low**");
        assert_eq!(open.normalized_severity, Severity::Unknown);
        let sid = v
            .iter()
            .find(|v| v.name == "CVE-2015-1323" && v.namespace == "debian:unstable")
            .unwrap();
        assert_eq!(sid.fixed_in_version, "1.1.1+bzr982-1");
        assert_eq!(
            sid.normalized_severity,
            Severity::Unknown,
            "not yet assigned"
        );
        assert!(
            !v.iter().any(|v| v.name == "CVE-2013-2685"),
            "fixed in 0: never affected"
        );
        let ast = v.iter().find(|v| v.package_name == "asterisk").unwrap();
        // Urgency "high" is Critical in Clair v4.
        assert_eq!(
            (
                ast.fixed_in_version.as_str(),
                ast.severity.as_str(),
                ast.normalized_severity
            ),
            ("0.5.56", "high", Severity::Critical)
        );
        assert_eq!(
            ast.links,
            "https://security-tracker.debian.org/tracker/CVE-2003-0779"
        );
    }

    /// Packages, issues and releases in any order give the same records.
    #[test]
    fn tracker_in_any_order() {
        let (asis, reordered) = crate::feed::testing::records_both_ways(
            "feeds/debian/clair2-security-tracker.json",
            "debian",
            parse_tracker,
            |t| crate::feed::testing::reverse_json(t, &[]),
        );
        assert_eq!(reordered, asis);
        assert_eq!(asis.len(), 5);
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        std::fs::write(&p, "{\"pkg\": {\"CVE-1\": {\"releases\": {\"sid\": {\"status\": \"open\"}}}},\n \"bad\": [1,").unwrap();
        let mut f = fetched("feeds/debian/clair2-security-tracker.json");
        f.path = p;
        let mut n = 0;
        let err = parse_tracker("debian", &f, &mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2 column"), "{err}");
        assert_eq!(
            n, 1,
            "records before the error were streamed (the store discards them)"
        );
    }
}
