//! RPM: the package database of Red Hat, CentOS, Fedora, Oracle, SUSE, Amazon, Photon, Mariner...
//!
//! Three on-disk formats, all read natively:
//! - BerkeleyDB hash `Packages` (RHEL ≤ 8, SLES ≤ 15.2) — [`bdb`];
//! - SQLite `rpmdb.sqlite` (RHEL 9, Fedora ≥ 33) — [`sqlite`];
//! - NDB `Packages.db` (SUSE ≥ 15.3) — [`ndb`].
//!
//! Each holds one [`header`] blob per installed package. The databases live in `var/lib/rpm/` or
//! `usr/lib/sysimage/rpm/` (often one is a symlink to the other; the canonical path is reported
//! once). When a directory holds several formats, the one rpm itself would use is read:
//! `rpmdb.sqlite`, then `Packages.db`, then `Packages` — a leftover BerkeleyDB file from before a
//! `rpmdb --rebuilddb` conversion is stale.

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;
pub mod sqlite_file;

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView};
use clair_types::{Package, PackageDbKind, SourcePackage};

pub use header::{HeaderInfo, parse_header};

use crate::scanner::DbScanner;

/// Directories holding rpm databases.
pub const DB_DIRS: [&str; 2] = ["var/lib/rpm", "usr/lib/sysimage/rpm"];
/// Database files, in the order rpm prefers them.
pub const DB_FILES: [&str; 3] = ["rpmdb.sqlite", "Packages.db", "Packages"];

/// Errors reading rpm databases.
#[derive(Debug, thiserror::Error)]
pub enum RpmError {
    /// A header blob is malformed.
    #[error("rpm header: {0}")]
    Header(String),
    /// A BerkeleyDB file is malformed.
    #[error("rpm bdb: {0}")]
    Bdb(String),
    /// An NDB file is malformed.
    #[error("rpm ndb: {0}")]
    Ndb(String),
    /// A SQLite file could not be read.
    #[error("rpm sqlite: {0}")]
    Sqlite(String),
    /// The bytes are no rpm database format.
    #[error("not an rpm database (no BerkeleyDB, NDB or SQLite signature)")]
    Unknown,
}

/// The header blobs of a database in any of the three formats (detected from its bytes).
pub fn header_blobs(data: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<String>), RpmError> {
    if sqlite::is_sqlite(data) {
        Ok((sqlite::parse_sqlite(data)?, Vec::new()))
    } else if ndb::is_ndb(data) {
        ndb::parse_ndb(data)
    } else if bdb::is_bdb(data) {
        bdb::parse_bdb(data)
    } else {
        Err(RpmError::Unknown)
    }
}

/// The installed packages of the database `data` found at `path`, and warnings about what was
/// skipped. Never fails: an unreadable database is no packages and a warning.
pub fn packages_from_db(data: &[u8], path: &str) -> (Vec<Package>, Vec<String>) {
    let (blobs, mut warnings) = match header_blobs(data) {
        Ok(x) => x,
        Err(e) => return (Vec::new(), vec![format!("rpm: {path}: {e}")]),
    };
    for w in &mut warnings {
        *w = format!("{path}: {w}");
    }
    let mut out = Vec::with_capacity(blobs.len());
    for (i, blob) in blobs.iter().enumerate() {
        match parse_header(blob) {
            Ok(h) => out.push(to_package(&h, path)),
            Err(e) => warnings.push(format!("rpm: {path}: package {i}: {e}, skipped")),
        }
    }
    (out, warnings)
}

fn to_package(h: &HeaderInfo, path: &str) -> Package {
    Package {
        name: h.name.clone(),
        version: h.evr(),
        arch: h.arch.clone(),
        source: h
            .source()
            .map(|(name, version)| SourcePackage { name, version }),
        db_kind: PackageDbKind::Rpm,
        package_db: path.to_string(),
        module: h.module_stream(),
    }
}

/// Finds packages in rpm databases.
pub const SCANNER: DbScanner = DbScanner::new("rpm", "1", PackageDbKind::Rpm, select, scan);

fn select(selector: &mut FileSelector) {
    for d in DB_DIRS {
        for f in DB_FILES {
            selector.file(&format!("{d}/{f}"));
        }
    }
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    let mut out: Vec<DbScan> = Vec::new();
    for d in DB_DIRS {
        let Some(f) = DB_FILES
            .iter()
            .find_map(|f| files.open(&format!("{d}/{f}")))
        else {
            continue;
        };
        if out.iter().any(|s| s.path == f.path) {
            continue; // the same database through a symlinked directory
        }
        let (packages, warnings) = packages_from_db(f.data, f.path);
        out.push(DbScan {
            path: f.path.to_string(),
            packages,
            warnings,
        });
    }
    out
}

#[cfg(test)]
mod tests;
