//! SBOM and VEX documents, the outside descriptions of an image that `clair scan` takes besides
//! images themselves.
//!
//! - [`parse`] reads a CycloneDX (1.4–1.6) or SPDX 2.3 JSON document, whichever it is, into the
//!   packages and distribution an image scan would have found: each component's purl
//!   ([`purl::to_package`]) names the package, the SBOM's operating-system component or the
//!   purls' `distro` qualifier the distribution. The binary turns that into an `IndexReport` with
//!   the indexer's own report builder, so the same matchers run.
//! - [`vex`] reads OpenVEX and CSAF VEX statements and [`ignore`] `.clairignore` files; both say
//!   which findings to set aside, and why.
//! - [`purl`] writes the purls of clair-rs's own CycloneDX and SPDX output, so what clair-rs
//!   writes it reads back.
//!
//! Everything here is a pure function over bytes; callers bound the size they read.
//!
//! ```
//! let sbom = clair_sbom::parse(br#"{"bomFormat":"CycloneDX","specVersion":"1.5",
//!   "components":[{"type":"library","name":"requests","version":"2.19.0",
//!                  "purl":"pkg:pypi/requests@2.19.0"}]}"#).unwrap();
//! assert_eq!(sbom.format.to_string(), "CycloneDX 1.5");
//! assert_eq!(sbom.packages[0].name, "requests");
//! ```
#![forbid(unsafe_code)]

mod cyclonedx;
pub mod ignore;
pub mod purl;
mod spdx;
pub mod vex;

use std::fmt;

use clair_types::{Distribution, Package};

/// Errors of SBOM, VEX and ignore-file reading.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not JSON, or JSON of the wrong shape.
    #[error("{format}: {source}")]
    Json {
        /// The format being read.
        format: &'static str,
        /// Cause (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A JSON document that is none of the formats read here.
    #[error("{0}")]
    Unrecognised(String),
    /// A purl that does not parse, or lacks what matching needs.
    #[error("purl {purl:?}: {message}")]
    Purl {
        /// The purl.
        purl: String,
        /// What is wrong.
        message: String,
    },
    /// A malformed line of an ignore file.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Which SBOM format a document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// CycloneDX JSON, with its `specVersion`.
    CycloneDx(String),
    /// SPDX JSON, with its `spdxVersion` number.
    Spdx(String),
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::CycloneDx(v) => write!(f, "CycloneDX {v}"),
            Format::Spdx(v) => write!(f, "SPDX {v}"),
        }
    }
}

/// What an SBOM says is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sbom {
    /// Its format and version.
    pub format: Format,
    /// What it describes (the metadata component or the document name), when it says.
    pub subject: String,
    /// Packages of the ecosystems clair matches, each once.
    pub packages: Vec<Package>,
    /// The operating system: the SBOM's OS component, else the first `distro` qualifier.
    pub distribution: Option<Distribution>,
    /// Components left out: their purl's type has no matcher (`pkg:github/…`), or they have
    /// no purl at all.
    pub unsupported: usize,
    /// Components whose purl could not be read, each with the reason.
    pub warnings: Vec<String>,
}

/// Read a CycloneDX or SPDX JSON document, detected from its contents.
pub fn parse(data: &[u8]) -> Result<Sbom, Error> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "bomFormat")]
        bom_format: Option<String>,
        #[serde(rename = "spdxVersion")]
        spdx_version: Option<String>,
    }
    let probe: Probe = from_json(data, "SBOM")?;
    match (probe.bom_format.as_deref(), probe.spdx_version.as_deref()) {
        (Some("CycloneDX"), _) => cyclonedx::parse(data),
        (_, Some(v)) if v.starts_with("SPDX-2.") => spdx::parse(data),
        (_, Some(v)) => Err(Error::Unrecognised(format!(
            "{v}: only SPDX 2.x JSON is read"
        ))),
        (Some(other), None) => Err(Error::Unrecognised(format!(
            "bomFormat {other:?}: not CycloneDX"
        ))),
        (None, None) => Err(Error::Unrecognised(
            "neither CycloneDX (no bomFormat) nor SPDX (no spdxVersion) JSON".into(),
        )),
    }
}

/// Collects packages from purls, keeping the first of duplicates and the first distribution.
#[derive(Default)]
struct Collector {
    packages: Vec<Package>,
    seen: std::collections::HashSet<(String, String, String, clair_types::PackageDbKind)>,
    distro: Option<Distribution>,
    unsupported: usize,
    warnings: Vec<String>,
}

impl Collector {
    /// Add the package a component's purl names; `source` overrides the purl's `upstream`.
    fn add(&mut self, what: &str, purl: Option<&str>, source: Option<clair_types::SourcePackage>) {
        let Some(purl) = purl.filter(|p| !p.is_empty()) else {
            self.unsupported += 1;
            return;
        };
        match purl::to_package(purl) {
            Ok(Some(mut p)) => {
                if let Some(s) = source {
                    p.package.source = Some(s);
                }
                if self.distro.is_none() {
                    self.distro = p.distribution;
                }
                let k = &p.package;
                if self
                    .seen
                    .insert((k.name.clone(), k.version.clone(), k.arch.clone(), k.db_kind))
                {
                    self.packages.push(p.package);
                }
            }
            Ok(None) => self.unsupported += 1,
            Err(e) => self.warnings.push(format!("{what}: {e}")),
        }
    }

    fn finish(self, format: Format, subject: String, os: Option<Distribution>) -> Sbom {
        Sbom {
            format,
            subject,
            packages: self.packages,
            distribution: os.or(self.distro),
            unsupported: self.unsupported,
            warnings: self.warnings,
        }
    }
}

/// A JSON document of `format`, its syntax and shape errors named so.
pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(
    data: &'a [u8],
    format: &'static str,
) -> Result<T, Error> {
    serde_json::from_slice(data).map_err(|source| Error::Json { format, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_format() {
        let e = parse(br#"{"spdxVersion":"SPDX-3.0"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SPDX-3.0"), "{e}");
        let e = parse(br#"{"bomFormat":"Other"}"#).unwrap_err().to_string();
        assert!(e.contains("not CycloneDX"), "{e}");
        let e = parse(br#"{"a":1}"#).unwrap_err().to_string();
        assert!(e.contains("neither CycloneDX"), "{e}");
        let e = parse(b"<xml/>").unwrap_err().to_string();
        assert!(e.contains("line 1 column 1"), "{e}");
    }
}
