//! Oracle Linux: ELSA advisories as OVAL (`com.oracle.elsa-all.xml.bz2`), namespace
//! `oracle:<major>`.

use std::path::Path;

use clair_matcher::{Emit, FetchOutcome, FetchedFile, Http, Updater, UpdaterError, fetch_urls};
use clair_types::{PackageKind, Vulnerability};

use crate::feed::{each_oval_definition, send};
use crate::oval::{self, Definition, Index, Stopped, clauses, facts};

/// Default feed URL.
pub const DEFAULT_URL: &str = "https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2";

/// The Oracle Linux updater.
#[derive(Debug, Clone)]
pub struct OracleUpdater {
    /// Feed URL (a mirror may replace it).
    pub url: String,
}

impl Default for OracleUpdater {
    fn default() -> Self {
        OracleUpdater {
            url: DEFAULT_URL.into(),
        }
    }
}

impl Updater for OracleUpdater {
    fn name(&self) -> &str {
        "oracle"
    }

    /// 2: a clause bounding a package twice keeps the lower fix (`oval::facts`).
    fn version(&self) -> u32 {
        2
    }

    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        fetch_urls(
            self.name(),
            http,
            dir,
            prior,
            &[("elsa.oval.xml".into(), self.url.clone())],
        )
    }

    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        for f in files {
            parse_oracle_oval(self.name(), f, emit)?;
        }
        Ok(())
    }
}

/// The namespace of an Oracle Linux image's advisories: `oracle:<major>`.
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    crate::namespaces::major(&d.version_id).map(|m| format!("oracle:{m}"))
}

/// Parse an ELSA OVAL file.
pub fn parse_oracle_oval(
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
    let name = d
        .references
        .iter()
        .find(|r| r.source.eq_ignore_ascii_case("elsa"))
        .map(|r| r.ref_id.clone())
        .unwrap_or_else(|| d.title.split(':').next().unwrap_or("").trim().to_string());
    let mut seen = std::collections::BTreeSet::new();
    for clause in clauses(criteria) {
        let comments: Vec<&str> = clause.iter().map(|l| l.comment.as_str()).collect();
        let Some(major) =
            oval::number_after(comments.iter().copied(), "Oracle Linux ").or_else(|| {
                oval::number_after(d.platforms.iter().map(String::as_str), "Oracle Linux ")
            })
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
                    namespace: format!("oracle:{major}"),
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

/// The normalized severity of an ELSA's severity, exactly as Clair v4 (claircore
/// `oracle/normalizeseverity.go`): the upper-case words Oracle writes; `N/A` and anything else
/// Unknown.
fn severity(elsa: &str) -> clair_types::Severity {
    use clair_types::Severity;
    crate::feed::severity_in(
        elsa,
        &[
            ("LOW", Severity::Low),
            ("MODERATE", Severity::Medium),
            ("IMPORTANT", Severity::High),
            ("CRITICAL", Severity::Critical),
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
                ("LOW", S::Low),
                ("MODERATE", S::Medium),
                ("IMPORTANT", S::High),
                ("CRITICAL", S::Critical),
                ("N/A", S::Unknown),
                ("moderate", S::Unknown),
            ],
        );
    }

    use super::*;
    use crate::feed::testing::vulns;

    #[test]
    fn elsa_sample() {
        let v = vulns("feeds/oracle/clair2-elsa-oval-1.xml", |f, e| {
            parse_oracle_oval("oracle", f, e)
        });
        assert_eq!(v.len(), 3);
        let x = v.iter().find(|v| v.package_name == "xerces-c").unwrap();
        assert_eq!(x.name, "ELSA-2015-1193");
        assert_eq!(x.namespace, "oracle:7");
        assert_eq!(x.fixed_in_version, "0:3.1.1-7.el7_1");
        assert_eq!(x.normalized_severity, Severity::Medium);
        assert!(x.links.contains("CVE-2015-0252"));
        assert!(
            !v.iter().any(|v| v.package_name.contains("release")),
            "release tests are context"
        );
    }
}
