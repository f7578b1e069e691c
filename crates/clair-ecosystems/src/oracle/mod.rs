//! Oracle Linux: ELSA advisories as OVAL (`com.oracle.elsa-all.xml.bz2`), namespace
//! `oracle:<major>`.

use clair_matcher::{Emit, FetchedFile};

use crate::feed::{Parsed, parse_oval, rpm_oval_records};
use crate::oval::{self, Definition, Index, Leaf, Stopped};

/// Default feed URL.
pub const DEFAULT_URL: &str = "https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2";

/// Version of the records [`parse_oracle_oval`] writes: 2 keeps the lower fix of a clause
/// bounding a package twice (`oval::facts`).
pub const PARSER_VERSION: u32 = 2;

/// The namespace of an Oracle Linux image's advisories: `oracle:<major>`.
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    crate::namespaces::major(&d.version_id).map(|m| format!("oracle:{m}"))
}

/// Parse an ELSA OVAL file.
pub fn parse_oracle_oval(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    parse_oval(updater, f, emit, records)
}

fn records(updater: &str, idx: &Index, d: &Definition, emit: &mut Emit<'_>) -> Result<(), Stopped> {
    let name = d
        .references
        .iter()
        .find(|r| r.source.eq_ignore_ascii_case("elsa"))
        .map(|r| r.ref_id.clone())
        .unwrap_or_else(|| d.title.split(':').next().unwrap_or("").trim().to_string());
    let namespace = |clause: &[Leaf]| {
        oval::release_of(clause, d, "Oracle Linux ", "Oracle Linux ").map(|m| format!("oracle:{m}"))
    };
    rpm_oval_records(updater, (idx, d), &[name], namespace, severity, emit)
}

/// The normalized severity of an ELSA's severity, exactly as Clair v4 (claircore
/// `oracle/normalizeseverity.go`): the upper-case words Oracle writes; `N/A` and anything else
/// Unknown.
pub(crate) fn severity(elsa: &str) -> clair_types::Severity {
    crate::feed::severity_in(elsa, &["", "LOW", "MODERATE", "IMPORTANT", "CRITICAL"])
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

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
