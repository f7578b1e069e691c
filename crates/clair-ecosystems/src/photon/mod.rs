//! VMware Photon OS: PHSA advisories as OVAL (`com.vmware.phsa-photon3.xml.gz`), namespace
//! `photon:<major>`.

use clair_matcher::{Emit, FetchedFile};

use crate::feed::{Parsed, parse_oval, rpm_oval_records};
use crate::oval::{self, Definition, Index, Leaf, Stopped};

/// Default base URL.
pub const DEFAULT_BASE: &str = "https://packages.vmware.com/photon/photon_oval_definitions/";
/// Releases fetched by default.
pub const DEFAULT_RELEASES: [&str; 3] = ["3", "4", "5"];

/// Version of the records [`parse_photon_oval`] writes: 2 keeps the lower fix of a clause
/// bounding a package twice (`oval::facts`).
pub const PARSER_VERSION: u32 = 2;

/// The OVAL file of a major release under the base URL.
pub fn file_name(release: &str) -> String {
    format!("com.vmware.phsa-photon{release}.xml.gz")
}

/// The namespace of a Photon OS image's advisories: `photon:<major>` (`3.0` → `photon:3`).
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    crate::namespaces::major(&d.version_id).map(|m| format!("photon:{m}"))
}

/// Parse one Photon OVAL file.
pub fn parse_photon_oval(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    parse_oval(updater, f, emit, records)
}

fn records(updater: &str, idx: &Index, d: &Definition, emit: &mut Emit<'_>) -> Result<(), Stopped> {
    let name = d.title.split_whitespace().next().unwrap_or("").to_string();
    let namespace = |clause: &[Leaf]| {
        oval::release_of(clause, d, "Photon OS ", "Photon ").map(|m| format!("photon:{m}"))
    };
    rpm_oval_records(updater, (idx, d), &[name], namespace, severity, emit)
}

/// The normalized severity of a Photon advisory's severity, exactly as Clair v4 (claircore
/// `photon/normalizeseverity.go`).
pub(crate) fn severity(advisory: &str) -> clair_types::Severity {
    crate::feed::severity_in(advisory, &["", "Low", "Moderate", "Important", "Critical"])
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

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
