//! Ubuntu: Canonical's CVE OVAL per release (`com.ubuntu.<codename>.cve.oval.xml.bz2`),
//! namespace `ubuntu:<version>`; one record per CVE and binary package.

use std::path::Path;

use clair_matcher::{Emit, FetchOutcome, FetchedFile, Http, Updater, UpdaterError, fetch_urls};
use clair_types::{PackageKind, Vulnerability};

use crate::feed::{each_oval_definition, send};
use crate::oval::{self, Definition, Index, Stopped, clauses, facts};

/// Default base URL of the OVAL files.
pub const DEFAULT_BASE: &str = "https://security-metadata.canonical.com/oval/";
/// Releases fetched by default.
pub const DEFAULT_RELEASES: [&str; 5] = ["xenial", "bionic", "focal", "jammy", "noble"];

/// Ubuntu code names and versions.
pub const RELEASES: [(&str, &str); 20] = [
    ("trusty", "14.04"),
    ("xenial", "16.04"),
    ("yakkety", "16.10"),
    ("zesty", "17.04"),
    ("artful", "17.10"),
    ("bionic", "18.04"),
    ("cosmic", "18.10"),
    ("disco", "19.04"),
    ("eoan", "19.10"),
    ("focal", "20.04"),
    ("groovy", "20.10"),
    ("hirsute", "21.04"),
    ("impish", "21.10"),
    ("jammy", "22.04"),
    ("kinetic", "22.10"),
    ("lunar", "23.04"),
    ("mantic", "23.10"),
    ("noble", "24.04"),
    ("oracular", "24.10"),
    ("plucky", "25.04"),
];

/// The namespace of an Ubuntu image's advisories: `ubuntu:<VERSION_ID>` (`ubuntu:22.04`), from
/// the code name when `VERSION_ID` is missing.
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    let v: String = d
        .version_id
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    if !v.is_empty() {
        return Some(format!("ubuntu:{v}"));
    }
    version_of(&d.version_code_name).map(|v| format!("ubuntu:{v}"))
}

/// The version of a code name.
pub fn version_of(codename: &str) -> Option<&'static str> {
    RELEASES
        .iter()
        .find(|(c, _)| *c == codename)
        .map(|(_, v)| *v)
}

/// The Ubuntu updater.
#[derive(Debug, Clone)]
pub struct UbuntuUpdater {
    /// Base URL (a mirror may replace it).
    pub base: String,
    /// Code names to fetch.
    pub releases: Vec<String>,
}

impl Default for UbuntuUpdater {
    fn default() -> Self {
        UbuntuUpdater {
            base: DEFAULT_BASE.into(),
            releases: DEFAULT_RELEASES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Updater for UbuntuUpdater {
    fn name(&self) -> &str {
        "ubuntu"
    }

    /// 2: a clause bounding a package twice keeps the lower fix (`oval::facts`).
    fn version(&self) -> u32 {
        2
    }

    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        let base = if self.base.ends_with('/') {
            self.base.clone()
        } else {
            format!("{}/", self.base)
        };
        let urls: Vec<(String, String)> = self
            .releases
            .iter()
            .map(|r| {
                let f = format!("com.ubuntu.{r}.cve.oval.xml.bz2");
                (f.clone(), format!("{base}{f}"))
            })
            .collect();
        fetch_urls(self.name(), http, dir, prior, &urls)
    }

    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        for f in files {
            parse_ubuntu_oval(self.name(), f, emit)?;
        }
        Ok(())
    }
}

/// Parse one Ubuntu CVE OVAL file.
pub fn parse_ubuntu_oval(
    updater: &str,
    f: &FetchedFile,
    emit: &mut Emit<'_>,
) -> Result<(), UpdaterError> {
    each_oval_definition(updater, f, |idx, d| records(updater, idx, &d, emit))
}

/// `oval:com.ubuntu.xenial:def:…` → xenial.
fn codename(id: &str) -> Option<&str> {
    id.strip_prefix("oval:com.ubuntu.")?.split(':').next()
}

fn records(updater: &str, idx: &Index, d: &Definition, emit: &mut Emit<'_>) -> Result<(), Stopped> {
    if d.class != "vulnerability" {
        return Ok(());
    }
    let Some(criteria) = &d.criteria else {
        return Ok(());
    };
    let version = d
        .platforms
        .iter()
        .find_map(|p| p.strip_prefix("Ubuntu "))
        .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        .filter(|v| !v.is_empty())
        .or_else(|| codename(&d.id).and_then(version_of).map(str::to_string));
    let Some(version) = version else {
        return Ok(());
    };
    let name = d
        .references
        .iter()
        .find(|r| r.source == "CVE")
        .map(|r| r.ref_id.clone())
        .unwrap_or_else(|| d.title.split_whitespace().next().unwrap_or("").to_string());
    // Severity: the advisory's, else the title's " - medium." suffix.
    let sev = if d.severity.is_empty() {
        d.title
            .rsplit(" - ")
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_string()
    } else {
        d.severity.clone()
    };
    let mut seen = std::collections::BTreeSet::new();
    for clause in clauses(criteria) {
        for fact in facts(idx, &clause, &["dpkginfo_test"]) {
            if !seen.insert(fact.clone()) {
                continue;
            }
            send(
                emit,
                Vulnerability {
                    updater: updater.to_string(),
                    name: name.clone(),
                    namespace: format!("ubuntu:{version}"),
                    package_name: fact.name,
                    package_kind: PackageKind::Binary,
                    version_scheme: "dpkg".into(),
                    fixed_in_version: fact.fixed,
                    severity: sev.clone(),
                    normalized_severity: severity(&sev),
                    description: d.description.clone(),
                    links: oval::links(d),
                    issued: oval::issued(&d.issued),
                    ..Vulnerability::default()
                },
            )?;
        }
    }
    Ok(())
}

/// The normalized severity of an Ubuntu OVAL advisory's severity, exactly as Clair v4
/// (claircore `ubuntu/updater.go`): the five words as Ubuntu writes them, anything else
/// (`Untriaged`, none) Unknown.
fn severity(advisory: &str) -> clair_types::Severity {
    use clair_types::Severity;
    crate::feed::severity_in(
        advisory,
        &[
            ("Negligible", Severity::Negligible),
            ("Low", Severity::Low),
            ("Medium", Severity::Medium),
            ("High", Severity::High),
            ("Critical", Severity::Critical),
        ],
    )
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

    #[test]
    fn severity_as_clair_v4_normalizes_it() {
        use clair_types::Severity as S;
        crate::feed::testing::check_severities(
            severity,
            &[
                ("Negligible", S::Negligible),
                ("Low", S::Low),
                ("Medium", S::Medium),
                ("High", S::High),
                ("Critical", S::Critical),
                ("Untriaged", S::Unknown),
                ("medium", S::Unknown),
                ("", S::Unknown),
            ],
        );
    }

    use super::*;
    use crate::feed::testing::vulns;

    #[test]
    fn xenial_sample() {
        let v = vulns("feeds/ubuntu/clair3-xenial-cve.oval.xml", |f, e| {
            parse_ubuntu_oval("ubuntu", f, e)
        });
        assert_eq!(v.len(), 2, "{v:#?}");
        let fixed = v.iter().find(|v| v.package_name == "libmspack0").unwrap();
        assert_eq!(fixed.name, "CVE-2015-4471");
        assert_eq!(fixed.namespace, "ubuntu:16.04");
        assert_eq!(fixed.fixed_in_version, "0.4-3");
        assert_eq!(fixed.normalized_severity, Severity::Medium);
        assert_eq!(fixed.issued, "2015-06-11T00:00:00Z");
        let open = v.iter().find(|v| v.package_name == "cabextract").unwrap();
        assert_eq!(
            open.fixed_in_version, "",
            "affected and needs fixing: unfixed"
        );
    }
}
