//! Red Hat Enterprise Linux: security data from Red Hat (OVAL v2 per RHEL major; CSAF/VEX).
//!
//! Records are per RHSA (patch definitions) or per CVE (unpatched definitions), one per
//! affected package, in namespace `rhel:<major>`, with the module stream when the criteria
//! name one ("Module nodejs:18 is enabled") and the advisory's CPEs in `repository`.

pub mod oval;
pub mod vex;

pub use oval::{RhelOvalUpdater, parse_rhel_oval};
pub use vex::{RhelVexUpdater, parse_vex_file};
