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
}

impl fmt::Display for PackageDbKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PackageDbKind::Dpkg => "dpkg",
            PackageDbKind::Rpm => "rpm",
            PackageDbKind::Apk => "apk",
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
