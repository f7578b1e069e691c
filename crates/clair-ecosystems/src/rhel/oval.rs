//! Red Hat OVAL v2 (`https://access.redhat.com/security/data/oval/v2/RHEL8/rhel-8.oval.xml.bz2`).

use clair_matcher::{Emit, FetchedFile};
use clair_types::Vulnerability;

use super::severity;
use crate::feed::{Parsed, oval_vulnerability, parse_oval, send};
use crate::oval::{self, Definition, Index, Leaf, Stopped, each_fact};

/// Default location of Red Hat's OVAL v2 files.
pub const DEFAULT_BASE: &str = "https://access.redhat.com/security/data/oval/v2/";
/// Default files (relative to the base): RHEL 7, 8 and 9.
pub const DEFAULT_FILES: [&str; 3] = [
    "RHEL7/rhel-7.oval.xml.bz2",
    "RHEL8/rhel-8.oval.xml.bz2",
    "RHEL9/rhel-9.oval.xml.bz2",
];

/// Version of the records [`parse_rhel_oval`] writes: 2 keeps the lower fix of a clause
/// bounding a package twice (`oval::facts`).
pub const PARSER_VERSION: u32 = 2;

/// Parse one Red Hat OVAL file into vulnerabilities.
pub fn parse_rhel_oval(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    parse_oval(updater, f, emit, records)
}

fn records(updater: &str, idx: &Index, d: &Definition, emit: &mut Emit<'_>) -> Result<(), Stopped> {
    if d.class == "inventory" {
        return Ok(());
    }
    let name = d
        .references
        .iter()
        .find(|r| matches!(r.source.as_str(), "RHSA" | "RHBA" | "RHEA"))
        .or_else(|| d.references.iter().find(|r| r.source == "CVE"))
        .map(|r| r.ref_id.clone())
        .unwrap_or_else(|| {
            d.title
                .split(':')
                .next()
                .unwrap_or(&d.title)
                .trim()
                .to_string()
        });
    // A clause is about a release and, when it names one, a module stream.
    let release_and_module = |clause: &[Leaf]| {
        const RHEL: &str = "Red Hat Enterprise Linux ";
        let major = oval::release_of(clause, d, RHEL, RHEL).or_else(|| {
            oval::number_after(d.cpes.iter().map(String::as_str), ":enterprise_linux:")
        })?;
        let module = clause
            .iter()
            .find_map(|l| {
                l.comment
                    .strip_prefix("Module ")
                    .and_then(|r| r.strip_suffix(" is enabled"))
            })
            .unwrap_or("")
            .to_string();
        Some((major, module))
    };
    let repository = d.cpes.join(" ");
    each_fact(
        idx,
        d,
        &["rpminfo_test"],
        release_and_module,
        |(major, module), fact| {
            let sev = (d.severity.as_str(), severity(&d.severity));
            let v = oval_vulnerability(
                updater,
                &name,
                format!("rhel:{major}"),
                "rpm",
                (d, fact),
                sev,
            );
            send(
                emit,
                Vulnerability {
                    module: module.clone(),
                    repository: repository.clone(),
                    ..v
                },
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

    use super::*;
    use crate::feed::testing::{fetched, vulns};

    fn parse(rel: &str) -> Vec<Vulnerability> {
        vulns(rel, |f, e| parse_rhel_oval("rhel", f, e))
    }

    #[test]
    fn rhsa_definition() {
        let v = parse("feeds/rhel/claircore-com.redhat.rhsa-20201980.xml");
        assert_eq!(v.len(), 15, "one record per 'is earlier than' package");
        let git = v.iter().find(|v| v.package_name == "git").unwrap();
        assert_eq!(git.name, "RHSA-2020:1980");
        assert_eq!(git.namespace, "rhel:8");
        assert_eq!(git.fixed_in_version, "0:2.18.4-2.el8_2");
        assert_eq!(git.version_scheme, "rpm");
        assert_eq!(
            (git.severity.as_str(), git.normalized_severity),
            ("Important", Severity::High)
        );
        assert_eq!(git.issued, "2020-04-30T00:00:00Z");
        assert!(
            git.links
                .contains("https://access.redhat.com/errata/RHSA-2020:1980")
        );
        assert!(git.links.contains("CVE-2020-11008"));
        assert!(
            git.repository
                .contains("cpe:/a:redhat:enterprise_linux:8::appstream")
        );
        assert!(
            git.description
                .starts_with("Git is a distributed revision control system")
        );
    }

    #[test]
    fn other_samples() {
        // Four "is earlier than" criteria, but the fourth ("xerces-c-x ... invalid version")
        // points at the same test as xerces-c-doc: tests, not comments, are authoritative.
        let old = parse("feeds/rhel/clair2-oval-1.xml");
        assert_eq!(old.len(), 3, "{old:#?}");
        assert!(
            old.iter().all(|v| v.namespace == "rhel:7"),
            "'7 Client is installed'"
        );
        let ab = parse("feeds/rhel/clair3-rhel-8.oval_abbreviated.xml");
        assert_eq!(ab.len(), 39);
        let soft = ab.iter().find(|v| v.package_name == "softhsm").unwrap();
        assert_eq!(soft.module, "idm:DL1");
        assert_eq!(soft.name, "RHBA-2019:4268");
        // Unpatched definitions: every listed package, no fixed version, named by CVE.
        let un = parse("feeds/rhel/claircore-rhel-8-rpm-unpatched.xml");
        assert_eq!(un.len(), 16);
        assert!(
            un.iter()
                .all(|v| v.fixed_in_version.is_empty() && v.name == "CVE-2021-35937")
        );
        assert!(un.iter().any(|v| v.package_name == "rpm-build-libs"));
        let ansible = parse("feeds/rhel/clair3-ansible-2.8.oval.xml.bz2");
        assert_eq!(ansible.len(), 5, "bz2 is decompressed");
    }

    #[test]
    fn full_rhel8_file() {
        let v = parse("feeds/rhel/claircore-com.redhat.rhsa-RHEL8.xml.gz");
        let defs: std::collections::BTreeSet<&str> = v.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(defs.len(), 129, "every definition yields records");
        // 2110 distinct (definition, package comment) pairs; module streams add more.
        assert!(v.len() >= 2110, "{}", v.len());
        // Two definitions of this RHEL 8 file also carry "Red Hat Enterprise Linux 7 is installed".
        assert!(
            v.iter()
                .all(|v| v.namespace == "rhel:8" || v.namespace == "rhel:7")
        );
        assert!(v.iter().filter(|v| v.namespace == "rhel:8").count() > 2000);
        assert!(v.iter().all(|v| !v.fixed_in_version.is_empty()));
    }

    #[test]
    fn malformed_file_names_position() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.xml");
        std::fs::write(
            &p,
            "<oval_definitions><definitions><definition id='x'><metadata><title>t</title>",
        )
        .unwrap();
        let mut f = fetched("feeds/rhel/clair2-oval-1.xml");
        f.path = p;
        let err = parse_rhel_oval("rhel", &f, &mut |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("rhel: file://feeds/rhel/clair2-oval-1.xml: byte "),
            "{err}"
        );
    }
}
