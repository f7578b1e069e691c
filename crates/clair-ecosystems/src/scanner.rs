//! What every package scanner of this crate shares: its description as data ([`DbScanner`]),
//! and the scan of metadata files that each describe one package (Python distributions, npm
//! manifests, gemspecs).

use clair_indexer::{DbScan, PackageScanner};
use clair_layer::{FileSelector, FileView};
use clair_types::{Package, PackageDbKind};

/// A package scanner: its persisted name and output version (bump it when results change, so
/// cached layer results are recomputed), the database kind, the files it selects and the
/// function reading them. Each format's module defines its `SCANNER`; [`crate::package_scanners`]
/// lists them.
#[derive(Clone, Copy)]
pub struct DbScanner {
    name: &'static str,
    version: &'static str,
    kind: PackageDbKind,
    select: fn(&mut FileSelector),
    scan: fn(&dyn FileView) -> Vec<DbScan>,
}

impl DbScanner {
    /// A scanner from its parts.
    pub const fn new(
        name: &'static str,
        version: &'static str,
        kind: PackageDbKind,
        select: fn(&mut FileSelector),
        scan: fn(&dyn FileView) -> Vec<DbScan>,
    ) -> DbScanner {
        DbScanner {
            name,
            version,
            kind,
            select,
            scan,
        }
    }
}

impl std::fmt::Debug for DbScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbScanner({} {})", self.name, self.version)
    }
}

impl PackageScanner for DbScanner {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> &'static str {
        self.version
    }
    fn kind(&self) -> PackageDbKind {
        self.kind
    }
    fn select(&self, selector: &mut FileSelector) {
        (self.select)(selector)
    }
    fn scan(&self, files: &dyn FileView) -> Vec<DbScan> {
        (self.scan)(files)
    }
}

/// One scan per metadata file of `files` that `wanted` accepts by path, each of one package
/// (`parse` gives its name and version from the path and contents) or of a warning naming the
/// file when it could not be read.
pub(crate) fn scan_metadata_files(
    files: &dyn FileView,
    scanner: &str,
    kind: PackageDbKind,
    wanted: impl Fn(&str) -> bool,
    parse: impl Fn(&str, &[u8]) -> Result<(String, String), String>,
) -> Vec<DbScan> {
    let mut out = Vec::new();
    for path in files.paths() {
        if !wanted(&path) {
            continue;
        }
        let Some(f) = files.open(&path) else { continue };
        out.push(one_package_scan(
            scanner,
            f.path,
            kind,
            parse(&path, f.data),
        ));
    }
    out
}

/// The scan of a metadata file describing one package: the package, or a warning naming the
/// file when it could not be read.
fn one_package_scan(
    scanner: &str,
    path: &str,
    kind: PackageDbKind,
    parsed: Result<(String, String), String>,
) -> DbScan {
    match parsed {
        Ok((name, version)) => DbScan {
            path: path.to_string(),
            packages: vec![Package {
                name,
                version,
                arch: String::new(),
                source: None,
                db_kind: kind,
                package_db: path.to_string(),
                module: None,
            }],
            warnings: Vec::new(),
        },
        Err(e) => DbScan {
            path: path.to_string(),
            packages: Vec::new(),
            warnings: vec![format!("{scanner}: {path}: {e}")],
        },
    }
}
