//! Installed packages as scanners find them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The package database format a package was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageDbKind {
    /// Debian's dpkg (`var/lib/dpkg/status`, distroless `status.d`).
    Dpkg,
    /// RPM (BerkeleyDB, SQLite or NDB rpmdb).
    Rpm,
    /// Alpine's apk (`lib/apk/db/installed`).
    Apk,
    /// Python distributions (`*.dist-info/METADATA`, `*.egg-info`, eggs).
    Python,
    /// npm packages (`node_modules/**/package.json`).
    Npm,
    /// Java archives (`pom.properties` in jars, wars, ears).
    Java,
    /// Go modules compiled into binaries (build info).
    Go,
    /// Rust crates compiled into binaries (cargo-auditable).
    Rust,
    /// Ruby gems (`specifications/*.gemspec`).
    Ruby,
}

impl PackageDbKind {
    /// The advisory namespace (and repository name) of a language ecosystem; `None` for
    /// distribution package managers.
    pub fn ecosystem(self) -> Option<&'static str> {
        match self {
            PackageDbKind::Dpkg | PackageDbKind::Rpm | PackageDbKind::Apk => None,
            PackageDbKind::Python => Some("pypi"),
            PackageDbKind::Npm => Some("npm"),
            PackageDbKind::Java => Some("maven"),
            PackageDbKind::Go => Some("go"),
            PackageDbKind::Rust => Some("crates.io"),
            PackageDbKind::Ruby => Some("rubygems"),
        }
    }

    /// The ecosystem's package registry, as Clair names language repositories.
    pub fn registry_uri(self) -> Option<&'static str> {
        match self {
            PackageDbKind::Dpkg | PackageDbKind::Rpm | PackageDbKind::Apk => None,
            PackageDbKind::Python => Some("https://pypi.org/simple"),
            PackageDbKind::Npm => Some("https://registry.npmjs.org/"),
            PackageDbKind::Java => Some("https://repo1.maven.apache.org/maven2"),
            PackageDbKind::Go => Some("https://proxy.golang.org"),
            PackageDbKind::Rust => Some("https://crates.io"),
            PackageDbKind::Ruby => Some("https://rubygems.org/gems/"),
        }
    }
}

impl fmt::Display for PackageDbKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PackageDbKind::Dpkg => "dpkg",
            PackageDbKind::Rpm => "rpm",
            PackageDbKind::Apk => "apk",
            PackageDbKind::Python => "python",
            PackageDbKind::Npm => "npm",
            PackageDbKind::Java => "java",
            PackageDbKind::Go => "go",
            PackageDbKind::Rust => "rust",
            PackageDbKind::Ruby => "ruby",
        })
    }
}

/// The source package a binary package was built from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourcePackage {
    /// Source package name (dpkg `Source:`, rpm SOURCERPM name, apk origin).
    pub name: String,
    /// Source version; the binary version when the database does not say.
    pub version: String,
}

/// One installed (binary) package in one package database.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Package {
    /// Package name.
    pub name: String,
    /// Version as the package manager writes it (rpm: `[epoch:]version-release`).
    pub version: String,
    /// Architecture (`amd64`, `x86_64`, `noarch`, `all`, ...); empty when unknown.
    pub arch: String,
    /// Source package, when known.
    pub source: Option<SourcePackage>,
    /// Database format.
    pub db_kind: PackageDbKind,
    /// Path of the database inside the image, without a leading `/`.
    pub package_db: String,
    /// RPM module stream (`name:stream`), when the package belongs to one.
    pub module: Option<String>,
}

impl Package {
    /// The identity used to follow a package through layers: same name, version and arch.
    pub fn key(&self) -> (&str, &str, &str) {
        (&self.name, &self.version, &self.arch)
    }
}

/// How the reverse index spells a package name: lower case, and (for PyPI's sake) runs of
/// `-`, `_` and `.` as one `-`.
pub fn package_name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The reverse-index keys of a report: every package and source package name, lower case and
/// normalised (as [`package_name_key`] spells them).
pub fn package_names(report: &crate::IndexReport) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for p in report.packages.values() {
        out.insert(package_name_key(&p.name));
        if let Some(s) = &p.source {
            out.insert(package_name_key(&s.name));
        }
    }
    out
}
