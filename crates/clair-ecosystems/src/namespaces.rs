//! Which advisories apply to an image: the namespaces of its distribution and of its language
//! package repositories, each decided by its ecosystem's module.

use clair_matcher::Namespaces;
use clair_types::{ReportDistribution, Repository};

/// The language ecosystems with advisories (OSV's, under these namespaces).
pub const LANGUAGE_NAMESPACES: [&str; 6] = ["pypi", "npm", "go", "maven", "crates.io", "rubygems"];

/// The namespaces of every ecosystem this build knows.
#[derive(Debug, Clone, Copy, Default)]
pub struct EcosystemNamespaces;

impl Namespaces for EcosystemNamespaces {
    fn distribution(&self, d: &ReportDistribution) -> Vec<String> {
        let ns = match d.did.as_str() {
            "debian" => crate::debian::distribution_namespace(d),
            "ubuntu" => crate::ubuntu::distribution_namespace(d),
            "alpine" => crate::alpine::distribution_namespace(d),
            "ol" => crate::oracle::distribution_namespace(d),
            "photon" => crate::photon::distribution_namespace(d),
            "amzn" => crate::aws::distribution_namespace(d),
            "rhel" | "centos" | "rocky" | "almalinux" => crate::rhel::distribution_namespace(d),
            _ => crate::suse::distribution_namespace(d),
        };
        ns.into_iter().collect()
    }

    fn repository(&self, r: &Repository) -> Option<String> {
        LANGUAGE_NAMESPACES
            .iter()
            .find(|n| **n == r.name)
            .map(|n| n.to_string())
    }
}

/// The major version of a `VERSION_ID` (`8.9` → `8`), if it starts with digits.
pub(crate) fn major(version_id: &str) -> Option<String> {
    let m: String = version_id
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!m.is_empty()).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(did: &str, version_id: &str, codename: &str) -> ReportDistribution {
        ReportDistribution {
            id: "1".into(),
            did: did.into(),
            name: String::new(),
            version: String::new(),
            version_code_name: codename.into(),
            version_id: version_id.into(),
            arch: String::new(),
            cpe: String::new(),
            pretty_name: String::new(),
        }
    }

    #[test]
    fn namespaces_per_distribution() {
        let n = EcosystemNamespaces;
        for (did, vid, code, want) in [
            ("debian", "12", "bookworm", Some("debian:12")),
            ("debian", "", "trixie", Some("debian:13")),
            ("debian", "", "sid", Some("debian:unstable")),
            ("ubuntu", "22.04", "jammy", Some("ubuntu:22.04")),
            ("ubuntu", "", "jammy", Some("ubuntu:22.04")),
            ("alpine", "3.18.4", "", Some("alpine:v3.18")),
            ("alpine", "3.19_alpha20230901", "", Some("alpine:edge")),
            ("rhel", "9.0", "", Some("rhel:9")),
            ("centos", "7", "", Some("rhel:7")),
            ("rocky", "8.4", "", Some("rhel:8")),
            ("almalinux", "8.10", "", Some("rhel:8")),
            ("ol", "8.9", "", Some("oracle:8")),
            ("amzn", "2", "", Some("amzn:2")),
            ("amzn", "2023", "", Some("amzn:2023")),
            ("amzn", "2018.03", "", Some("amzn:2018.03")),
            ("photon", "3.0", "", Some("photon:3")),
            ("sles", "15.1", "", Some("sles:15.1")),
            ("opensuse-leap", "15.5", "", Some("opensuse-leap:15.5")),
            (
                "opensuse-tumbleweed",
                "20240101",
                "",
                Some("opensuse-tumbleweed"),
            ),
            ("fedora", "36", "", None),
            ("arch", "", "", None),
        ] {
            let got = n.distribution(&dist(did, vid, code));
            assert_eq!(got.first().map(String::as_str), want, "{did} {vid} {code}");
        }
    }

    #[test]
    fn language_repositories() {
        let r = |name: &str| Repository {
            id: "1".into(),
            name: name.into(),
            key: String::new(),
            uri: String::new(),
            cpe: String::new(),
        };
        assert_eq!(
            EcosystemNamespaces.repository(&r("pypi")).as_deref(),
            Some("pypi")
        );
        assert_eq!(EcosystemNamespaces.repository(&r("cpe:/o:redhat")), None);
    }
}
