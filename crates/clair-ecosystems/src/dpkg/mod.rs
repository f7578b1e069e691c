//! dpkg: Debian's package database (`var/lib/dpkg/status`) and distroless images'
//! `var/lib/dpkg/status.d/*` (one control file per package, no Status field).
//!
//! Shared by Debian, Ubuntu and their derivatives; distribution knowledge lives elsewhere.

mod control;

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView};
use clair_types::{Package, PackageDbKind, SourcePackage};

pub use control::{Paragraph, parse_paragraphs};

use crate::scanner::DbScanner;

/// The dpkg status database.
pub const STATUS: &str = "var/lib/dpkg/status";
/// Distroless per-package status files.
pub const STATUS_D: &str = "var/lib/dpkg/status.d";

/// Finds packages in dpkg databases.
pub const SCANNER: DbScanner = DbScanner::new("dpkg", "1", PackageDbKind::Dpkg, select, scan);

fn select(selector: &mut FileSelector) {
    selector.file(STATUS).dir_children(STATUS_D);
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    let mut out = Vec::new();
    if let Some(f) = files.open(STATUS) {
        let (packages, warnings) = parse_status(f.data, f.path, StatusMode::Status);
        out.push(DbScan {
            path: f.path.to_string(),
            packages,
            warnings,
        });
    }
    for path in files.list_dir(STATUS_D) {
        // Checksum lists sit beside the control files in distroless images.
        if path.ends_with(".md5sums") {
            continue;
        }
        let Some(f) = files.open(&path) else { continue };
        let (packages, warnings) = parse_status(f.data, f.path, StatusMode::StatusD);
        out.push(DbScan {
            path: f.path.to_string(),
            packages,
            warnings,
        });
    }
    out
}

/// Which rules decide that a paragraph is an installed package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMode {
    /// `var/lib/dpkg/status`: `Status:` must say `ok installed` (so `rc`, half-installed and
    /// purged entries are not reported).
    Status,
    /// distroless `status.d`: there is no meaningful `Status:`; every paragraph with a name and a
    /// version is a package.
    StatusD,
}

/// The installed packages of a dpkg status file at `path`, and warnings about skipped entries.
///
/// A package listed twice with the same name and version is reported once (the first), as
/// claircore does: Multi-Arch "same" packages installed for two architectures share their version
/// and source, so one entry carries everything a matcher needs.
pub fn parse_status(data: &[u8], path: &str, mode: StatusMode) -> (Vec<Package>, Vec<String>) {
    let (paragraphs, mut warnings) = parse_paragraphs(data);
    for w in &mut warnings {
        *w = format!("dpkg: {path}: {w}");
    }
    let mut out: Vec<Package> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in &paragraphs {
        let name = p.get("Package").unwrap_or("").trim();
        let version = p.get("Version").unwrap_or("").trim();
        if name.is_empty() {
            warnings.push(format!(
                "dpkg: {path}: paragraph at line {}: no Package field, skipped",
                p.line
            ));
            continue;
        }
        if mode == StatusMode::Status && !is_installed(p.get("Status").unwrap_or("")) {
            continue;
        }
        if version.is_empty() {
            // Virtual and feature paragraphs (vcpkg, syft fixtures) have no version: not packages.
            continue;
        }
        let arch = p.get("Architecture").unwrap_or("").trim().to_string();
        if !seen.insert((name.to_string(), version.to_string())) {
            warnings.push(format!(
                "dpkg: {path}: paragraph at line {}: {name} {version} ({arch}) listed again, skipped",
                p.line
            ));
            continue;
        }
        let source = p.get("Source").map(str::trim).filter(|s| !s.is_empty());
        let source = match source {
            Some(s) => parse_source(s, version),
            None => SourcePackage {
                name: name.to_string(),
                version: version.to_string(),
            },
        };
        out.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            arch,
            source: Some(source),
            db_kind: PackageDbKind::Dpkg,
            package_db: path.to_string(),
            module: None,
        });
    }
    (out, warnings)
}

/// `Status: want flag status` — installed means flag `ok` and status `installed`.
fn is_installed(status: &str) -> bool {
    let t: Vec<&str> = status.split_whitespace().collect();
    matches!(t.as_slice(), [_, "ok", "installed"])
}

/// `Source: name` or `Source: name (version)`; the version defaults to the binary's.
fn parse_source(s: &str, binary_version: &str) -> SourcePackage {
    match s.split_once('(') {
        Some((n, rest)) => {
            let v = rest.split_once(')').map_or(rest, |(v, _)| v).trim();
            SourcePackage {
                name: n.trim().to_string(),
                version: if v.is_empty() { binary_version } else { v }.to_string(),
            }
        }
        None => SourcePackage {
            name: s.to_string(),
            version: binary_version.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
