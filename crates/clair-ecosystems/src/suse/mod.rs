//! SUSE and openSUSE: OVAL per product (`https://ftp.suse.com/pub/projects/security/oval/`).
//!
//! Records are per CVE and package, named by the bare CVE id as claircore names them (see
//! `record_names`), in a namespace named like the product's os-release:
//! "openSUSE Leap 15.2" → `opensuse-leap:15.2`, "SUSE Linux Enterprise Server 15 SP1" →
//! `sles:15.1`, "SUSE Linux Enterprise Micro 5.3" → `sle-micro:5.3`.

use clair_matcher::{Emit, FetchedFile};

use crate::feed::{Parsed, parse_oval, rpm_oval_records};
use crate::oval::{Definition, Index, Leaf, Stopped};

/// Default base URL.
pub const DEFAULT_BASE: &str = "https://ftp.suse.com/pub/projects/security/oval/";
/// Files fetched by default.
pub const DEFAULT_FILES: [&str; 3] = [
    "opensuse.leap.15.6.xml.gz",
    "suse.linux.enterprise.server.15.xml.gz",
    "suse.linux.enterprise.micro.5.xml.gz",
];

/// The namespace of a SUSE image's advisories, as [`product_namespace`] names products:
/// `sles:15.1`, `opensuse-leap:15.5`, `sle-micro:5.3`, `opensuse-tumbleweed`.
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    let id = d.did.as_str();
    match id {
        "opensuse-tumbleweed" => Some(id.into()),
        "sles" | "sled" | "sles_sap" | "sle-micro" | "opensuse-leap" | "opensuse-leap-micro"
            if !d.version_id.is_empty() =>
        {
            Some(format!("{id}:{}", d.version_id))
        }
        _ => None,
    }
}

/// `(os-release id, version)` for a SUSE product name.
pub fn product_namespace(product: &str) -> Option<String> {
    let p = product.trim();
    let table = [
        ("openSUSE Leap Micro ", "opensuse-leap-micro"),
        ("openSUSE Leap ", "opensuse-leap"),
        ("openSUSE Tumbleweed", "opensuse-tumbleweed"),
        (
            "SUSE Linux Enterprise Server for SAP Applications ",
            "sles_sap",
        ),
        ("SUSE Linux Enterprise Server ", "sles"),
        ("SUSE Linux Enterprise Desktop ", "sled"),
        ("SUSE Linux Enterprise Micro ", "sle-micro"),
    ];
    for (prefix, id) in table {
        let Some(rest) = p.strip_prefix(prefix.trim_end()) else {
            continue;
        };
        let rest = rest.trim();
        // "15 SP1" → 15.1; "15.2" stays; "12-LTSS" → 12.
        let mut words = rest.split_whitespace();
        let major = words
            .next()
            .unwrap_or("")
            .split('-')
            .next()
            .unwrap_or("")
            .to_string();
        let sp = words
            .find_map(|w| w.strip_prefix("SP"))
            .filter(|s| s.chars().all(|c| c.is_ascii_digit()));
        let version = match sp {
            Some(s) => format!("{major}.{s}"),
            None => major,
        };
        return Some(if version.is_empty() {
            format!("{id}:")
        } else {
            format!("{id}:{version}")
        })
        .map(|s| s.trim_end_matches(':').to_string());
    }
    None
}

/// Version of the records this parser writes: 2 names records by the definition's title (the
/// bare CVE id) and keeps the lower of two bounds of one package.
pub const PARSER_VERSION: u32 = 2;

/// The names of a definition's records. claircore names a SUSE record by the definition's
/// title, which in the vulnerability files is the CVE id (`CVE-2021-20199`; their CVE reference
/// says `Mitre CVE-2021-20199`). Patch files title a definition in prose ("Security update for
/// dpkg (Low)"): one record per CVE it fixes then, by the CVE id in each CVE reference; else
/// its SUSE advisory id; else the title.
fn record_names(d: &Definition) -> Vec<String> {
    let title = d.title.trim();
    if !title.is_empty() && !title.contains(char::is_whitespace) {
        return vec![title.to_string()];
    }
    let mut names: Vec<String> = d
        .references
        .iter()
        .filter(|r| r.source == "CVE")
        .filter_map(|r| {
            r.ref_id
                .split_whitespace()
                .find(|w| w.starts_with("CVE-"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        names.push(
            d.references
                .iter()
                .find(|r| r.source.ends_with("SUSE-SU"))
                .map(|r| r.ref_id.clone())
                .unwrap_or_else(|| title.to_string()),
        );
    }
    names
}

/// Parse one SUSE OVAL file.
pub fn parse_suse_oval(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    parse_oval(updater, f, emit, records)
}

fn records(updater: &str, idx: &Index, d: &Definition, emit: &mut Emit<'_>) -> Result<(), Stopped> {
    let names = record_names(d);
    let product = |clause: &[Leaf]| {
        clause
            .iter()
            .filter_map(|l| l.comment.strip_suffix(" is installed"))
            .find_map(product_namespace)
            .or_else(|| d.platforms.iter().find_map(|p| product_namespace(p)))
    };
    rpm_oval_records(updater, (idx, d), &names, product, severity, emit)
}

/// The normalized severity of a SUSE OVAL advisory's severity, exactly as Clair v4 (claircore
/// `suse/normalizeseverity.go`); `None` and anything else Unknown.
pub(crate) fn severity(advisory: &str) -> clair_types::Severity {
    crate::feed::severity_in(advisory, &["", "Low", "Moderate", "Important", "Critical"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::testing::vulns;
    use std::collections::BTreeSet;

    fn parse(rel: &str) -> Vec<clair_types::Vulnerability> {
        vulns(rel, |f, e| parse_suse_oval("suse", f, e))
    }

    #[test]
    fn products() {
        for (product, namespace) in [
            ("openSUSE Leap 42.1", "opensuse-leap:42.1"),
            ("SUSE Linux Enterprise Server 15 SP1", "sles:15.1"),
            ("SUSE Linux Enterprise Server 12-LTSS", "sles:12"),
            ("SUSE Linux Enterprise Micro 5.3", "sle-micro:5.3"),
            ("openSUSE Tumbleweed", "opensuse-tumbleweed"),
        ] {
            let got = product_namespace(product);
            assert_eq!(got.as_deref(), Some(namespace), "{product}");
        }
        assert_eq!(product_namespace("Fedora 36"), None);
    }

    #[test]
    fn opensuse_sample() {
        let v = parse("feeds/suse/clair3-opensuse-oval.xml");
        assert_eq!(v.len(), 2, "{v:#?}");
        let x = v.iter().find(|v| v.package_name == "xfsprogs").unwrap();
        assert_eq!(
            (x.name.as_str(), x.namespace.as_str()),
            ("CVE-2012-2150", "opensuse-leap:42.1")
        );
        assert_eq!(x.fixed_in_version, "0:3.2.1-5.1");
        assert!(!v.iter().any(|v| v.package_name == "openSUSE-release"));
    }

    /// SUSE's current vulnerability files reference "Mitre CVE-2021-20199"; the record is named
    /// as claircore names it, by the definition's title: the bare CVE id.
    #[test]
    fn current_files_name_records_by_cve_id() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/suse/opensuse.leap.micro.5.3.xml");
        let text = std::fs::read_to_string(path).unwrap();
        let v = crate::feed::testing::vulns_of_text(&text, |f, e| parse_suse_oval("suse", f, e));
        let names: BTreeSet<&str> = v.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["CVE-2021-20199", "CVE-2022-1664"]));
        assert_eq!(v.len(), 3, "{v:#?}");
        let podman = v.iter().find(|v| v.package_name == "podman").unwrap();
        assert_eq!(
            (podman.namespace.as_str(), podman.fixed_in_version.as_str()),
            ("opensuse-leap-micro:5.3", "0:4.2.0-150400.4.11.1")
        );
        assert!(
            podman
                .links
                .contains("https://www.suse.com/security/cve/CVE-2021-20199")
        );
    }

    #[test]
    fn larger_samples() {
        let micro = parse("feeds/suse/vulnerablecode-opensuse.leap.micro.5.3-patch.xml");
        assert!(!micro.is_empty());
        assert!(
            micro
                .iter()
                .all(|v| !v.namespace.is_empty() && !v.fixed_in_version.is_empty()),
            "patch definitions carry fixes"
        );
        let _ = parse("feeds/suse/vulnerablecode-suse-oval.xml");
        // A patch without CVE references is named by its advisory id, not its title.
        let ca: Vec<_> = micro
            .iter()
            .filter(|v| v.package_name == "ca-certificates-mozilla")
            .collect();
        assert!(!ca.is_empty());
        assert!(
            ca.iter().all(|v| v.name == "SUSE-SU-2023:0037-1"),
            "{ca:#?}"
        );
        // A patch fixing several CVEs gives one record per CVE and package.
        let curl: BTreeSet<&str> = micro
            .iter()
            .filter(|v| v.package_name == "libcurl4")
            .map(|v| v.name.as_str())
            .collect();
        assert!(
            curl.len() > 1 && curl.iter().all(|n| n.starts_with("CVE-")),
            "{curl:?}"
        );
    }
}
