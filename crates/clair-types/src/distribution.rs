//! The operating system an image is built from.

use serde::{Deserialize, Serialize};

/// A normalised distribution, with Clair v4's field names.
///
/// `did` is the os-release `ID` (`debian`, `ubuntu`, `rhel`, `alpine`, ...), `version_id` the
/// machine-readable release (`12`, `22.04`, `3.18`), `version_code_name` the code name where the
/// distribution has one (`bookworm`, `jammy`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Distribution {
    /// os-release `ID`.
    pub did: String,
    /// os-release `NAME`.
    pub name: String,
    /// os-release `VERSION` (human readable).
    pub version: String,
    /// os-release `VERSION_CODENAME` (or derived).
    pub version_code_name: String,
    /// os-release `VERSION_ID`.
    pub version_id: String,
    /// Architecture, when the release file says.
    pub arch: String,
    /// os-release `CPE_NAME` (or derived), CPE 2.3 formatted string binding or 2.2 URI.
    pub cpe: String,
    /// os-release `PRETTY_NAME`.
    pub pretty_name: String,
}

impl Distribution {
    /// True when nothing identifies the distribution.
    pub fn is_empty(&self) -> bool {
        self.did.is_empty() && self.name.is_empty() && self.version_id.is_empty()
    }
}
