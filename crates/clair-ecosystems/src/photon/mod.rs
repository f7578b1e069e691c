//! VMware Photon OS: PHSA advisories as OVAL (`com.vmware.phsa-photon3.xml.gz`), namespace
//! `photon:<major>`.

use std::path::Path;

use clair_matcher::{Emit, FetchOutcome, FetchedFile, Http, Updater, UpdaterError, fetch_urls};
use clair_types::{PackageKind, Vulnerability};

use crate::feed::{each_oval_definition, send};
use crate::oval::{self, Definition, Index, Stopped, clauses, facts};

/// Default base URL.
pub const DEFAULT_BASE: &str = "https://packages.vmware.com/photon/photon_oval_definitions/";
/// Releases fetched by default.
pub const DEFAULT_RELEASES: [&str; 3] = ["3", "4", "5"];

/// The Photon updater.
#[derive(Debug, Clone)]
pub struct PhotonUpdater {
    /// Base URL.
    pub base: String,
    /// Major releases.
    pub releases: Vec<String>,
}

impl Default for PhotonUpdater {
    fn default() -> Self {
        PhotonUpdater {
            base: DEFAULT_BASE.into(),
            releases: DEFAULT_RELEASES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Updater for PhotonUpdater {
    fn name(&self) -> &str {
        "photon"
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
                let f = format!("com.vmware.phsa-photon{r}.xml.gz");
                (f.clone(), format!("{base}{f}"))
            })
            .collect();
        fetch_urls(self.name(), http, dir, prior, &urls)
    }
    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        for f in files {
            parse_photon_oval(self.name(), f, emit)?;
        }
        Ok(())
    }
}

/// The namespace of a Photon OS image's advisories: `photon:<major>` (`3.0` → `photon:3`).
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    crate::namespaces::major(&d.version_id).map(|m| format!("photon:{m}"))
}

/// Parse one Photon OVAL file.
pub fn parse_photon_oval(
    updater: &str,
    f: &FetchedFile,
    emit: &mut Emit<'_>,
) -> Result<(), UpdaterError> {
    each_oval_definition(updater, f, |idx, d| records(updater, idx, &d, emit))
}

fn records(updater: &str, idx: &Index, d: &Definition, emit: &mut Emit<'_>) -> Result<(), Stopped> {
    let Some(criteria) = &d.criteria else {
        return Ok(());
    };
    let name = d.title.split_whitespace().next().unwrap_or("").to_string();
    let mut seen = std::collections::BTreeSet::new();
    for clause in clauses(criteria) {
        let comments = clause.iter().map(|l| l.comment.as_str());
        let Some(major) = oval::number_after(comments, "Photon OS ")
            .or_else(|| oval::number_after(d.platforms.iter().map(String::as_str), "Photon "))
        else {
            continue;
        };
        for fact in facts(idx, &clause, &["rpminfo_test"]) {
            if !seen.insert((major.clone(), fact.clone())) {
                continue;
            }
            send(
                emit,
                Vulnerability {
                    updater: updater.to_string(),
                    name: name.clone(),
                    namespace: format!("photon:{major}"),
                    package_name: fact.name,
                    package_kind: PackageKind::Binary,
                    version_scheme: "rpm".into(),
                    fixed_in_version: fact.fixed,
                    arch: fact.arch,
                    severity: d.severity.clone(),
                    normalized_severity: severity(&d.severity),
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

/// The normalized severity of a Photon advisory's severity, exactly as Clair v4 (claircore
/// `photon/normalizeseverity.go`).
fn severity(advisory: &str) -> clair_types::Severity {
    use clair_types::Severity;
    crate::feed::severity_in(
        advisory,
        &[
            ("Low", Severity::Low),
            ("Moderate", Severity::Medium),
            ("Important", Severity::High),
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
                ("Low", S::Low),
                ("Moderate", S::Medium),
                ("Important", S::High),
                ("Critical", S::Critical),
                ("important", S::Unknown),
                ("", S::Unknown),
            ],
        );
    }

    use super::*;
    use crate::feed::testing::vulns;

    #[test]
    fn photon3_file() {
        let v = vulns(
            "feeds/photon/claircore-com.vmware.phsa-photon3.xml.gz",
            |f, e| parse_photon_oval("photon", f, e),
        );
        // Independent count: distinct (definition, "X is earlier than V") criteria in the file.
        let text = {
            let mut s = String::new();
            let f = std::fs::File::open(crate::test_corpus::corpus(
                "feeds/photon/claircore-com.vmware.phsa-photon3.xml.gz",
            ))
            .unwrap();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(f), &mut s).unwrap();
            s
        };
        let mut expected = 0;
        for def in text.split("<definition ").skip(1) {
            let def = def.split("</definition>").next().unwrap();
            let mut set = std::collections::BTreeSet::new();
            for part in def.split("comment=\"").skip(1) {
                let c = part.split('"').next().unwrap();
                if c.contains(" is earlier than ") {
                    set.insert(c);
                }
            }
            expected += set.len();
        }
        assert_eq!(v.len(), expected);
        let s = v
            .iter()
            .find(|v| v.package_name == "sqlite" && v.name == "PHSA-2020:00001")
            .unwrap();
        assert_eq!(
            (s.namespace.as_str(), s.fixed_in_version.as_str()),
            ("photon:3", "0:3.27.2-5.ph3")
        );
        assert_eq!(s.normalized_severity, Severity::High);
    }
}
