//! Ubuntu: Canonical's CVE OVAL per release (`com.ubuntu.<codename>.cve.oval.xml.bz2`),
//! namespace `ubuntu:<version>`; one record per CVE and binary package.

use clair_matcher::{Emit, FetchedFile};
use clair_types::Vulnerability;

use crate::feed::{Parsed, oval_vulnerability, parse_oval, send};
use crate::oval::{Definition, Index, Stopped, each_fact};

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

/// Version of the records [`parse_ubuntu_oval`] writes: 2 keeps the lower fix of a clause
/// bounding a package twice (`oval::facts`).
pub const PARSER_VERSION: u32 = 2;

/// The OVAL file of a release under the base URL.
pub fn file_name(codename: &str) -> String {
    format!("com.ubuntu.{codename}.cve.oval.xml.bz2")
}

/// Parse one Ubuntu CVE OVAL file.
pub fn parse_ubuntu_oval(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    parse_oval(updater, f, emit, records)
}

/// `oval:com.ubuntu.xenial:def:…` → xenial.
fn codename(id: &str) -> Option<&str> {
    id.strip_prefix("oval:com.ubuntu.")?.split(':').next()
}

fn records(updater: &str, idx: &Index, d: &Definition, emit: &mut Emit<'_>) -> Result<(), Stopped> {
    if d.class != "vulnerability" {
        return Ok(());
    }
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
    let namespace = format!("ubuntu:{version}");
    each_fact(
        idx,
        d,
        &["dpkginfo_test"],
        |_| Some(()),
        |_, fact| {
            let v = oval_vulnerability(
                updater,
                &name,
                namespace.clone(),
                "dpkg",
                (d, fact),
                (&sev, severity(&sev)),
            );
            // Ubuntu records carry no architecture, whatever a state says.
            send(
                emit,
                Vulnerability {
                    arch: String::new(),
                    ..v
                },
            )
        },
    )
}

/// The normalized severity of an Ubuntu OVAL advisory's severity, exactly as Clair v4
/// (claircore `ubuntu/updater.go`): the five words as Ubuntu writes them, anything else
/// (`Untriaged`, none) Unknown.
pub(crate) fn severity(advisory: &str) -> clair_types::Severity {
    crate::feed::severity_in(
        advisory,
        &["Negligible", "Low", "Medium", "High", "Critical"],
    )
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

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
