//! Red Hat Enterprise Linux: security data from Red Hat (OVAL v2 per RHEL major; CSAF/VEX).
//!
//! Records are per RHSA (patch definitions) or per CVE (unpatched definitions), one per
//! affected package, in namespace `rhel:<major>`, with the module stream when the criteria
//! name one ("Module nodejs:18 is enabled") and the advisory's CPEs in `repository`.

pub mod oval;
pub mod vex;

pub use oval::parse_rhel_oval;
pub use vex::{RhelVexUpdater, parse_vex_file};

/// The namespace of Red Hat's advisories for an image: `rhel:<major>`, for RHEL and for the
/// rebuilds that track it package for package (CentOS, Rocky Linux, AlmaLinux), as grype and
/// Clair do.
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    match d.did.as_str() {
        "rhel" | "centos" | "rocky" | "almalinux" => {
            crate::namespaces::major(&d.version_id).map(|m| format!("rhel:{m}"))
        }
        _ => None,
    }
}

/// The normalized severity of a Red Hat impact rating (OVAL `severity`, a VEX product's
/// `impact` threat), exactly as Clair v4 (claircore `rhel/internal/common`): `low`,
/// `moderate`, `important`, `critical` in any case; `none` and anything else Unknown.
pub(crate) fn severity(impact: &str) -> clair_types::Severity {
    use clair_types::Severity;
    match impact.to_ascii_lowercase().as_str() {
        "low" => Severity::Low,
        "moderate" => Severity::Medium,
        "important" => Severity::High,
        "critical" => Severity::Critical,
        _ => Severity::Unknown,
    }
}
