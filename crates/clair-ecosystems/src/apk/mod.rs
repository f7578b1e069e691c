//! apk: Alpine's (and Wolfi's, Chainguard's) package database, `lib/apk/db/installed`.
//!
//! The file is a list of records separated by blank lines; each line is `K:value` with a
//! one-letter key (`P` name, `V` version, `A` arch, `o` origin = source package, ...).

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView};
use clair_types::{Package, PackageDbKind, SourcePackage};

use crate::scanner::DbScanner;

/// The installed-packages database.
pub const INSTALLED: &str = "lib/apk/db/installed";

/// Finds packages in apk databases.
pub const SCANNER: DbScanner = DbScanner::new("apk", "1", PackageDbKind::Apk, select, scan);

fn select(selector: &mut FileSelector) {
    selector.file(INSTALLED);
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    let Some(f) = files.open(INSTALLED) else {
        return Vec::new();
    };
    let (packages, warnings) = parse_installed(f.data, f.path);
    vec![DbScan {
        path: f.path.to_string(),
        packages,
        warnings,
    }]
}

/// The packages of an apk `installed` database at `path`, and warnings about skipped lines.
pub fn parse_installed(data: &[u8], path: &str) -> (Vec<Package>, Vec<String>) {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut rec = Record::default();
    let finish = |rec: &mut Record, out: &mut Vec<Package>, warnings: &mut Vec<String>| {
        let r = std::mem::take(rec);
        match r.name {
            None if r.line == 0 => {}
            Some(name) if !name.is_empty() => {
                // A record without a version is still an installed package (apk lists it); it is
                // kept, with a warning, so the inventory is complete.
                let version = r.version.unwrap_or_default();
                if version.is_empty() {
                    warnings.push(format!(
                        "apk: {path}: record at line {}: package {name} has no version",
                        r.line
                    ));
                }
                let source = SourcePackage {
                    name: r
                        .origin
                        .filter(|o| !o.is_empty())
                        .unwrap_or_else(|| name.clone()),
                    version: version.clone(),
                };
                out.push(Package {
                    name,
                    version,
                    arch: r.arch.unwrap_or_default(),
                    source: Some(source),
                    db_kind: PackageDbKind::Apk,
                    package_db: path.to_string(),
                    module: None,
                });
            }
            _ => warnings.push(format!(
                "apk: {path}: record at line {}: no package name, skipped",
                r.line
            )),
        }
    };
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            finish(&mut rec, &mut out, &mut warnings);
            continue;
        }
        let Some((k, v)) = line.split_once(':').filter(|(k, _)| k.len() == 1) else {
            warnings.push(format!(
                "apk: {path}: line {}: not a \"K:value\" line, ignored",
                i + 1
            ));
            continue;
        };
        if rec.line == 0 {
            rec.line = i + 1;
        }
        match k {
            "P" => rec.name = Some(v.to_string()),
            "V" => rec.version = Some(v.to_string()),
            "A" => rec.arch = Some(v.to_string()),
            "o" => rec.origin = Some(v.to_string()),
            _ => {}
        }
    }
    finish(&mut rec, &mut out, &mut warnings);
    (out, warnings)
}

#[derive(Debug, Default)]
struct Record {
    line: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_corpus::{assert_has_examples, corpus};

    #[test]
    fn corpus_matches_expected() {
        let cases = [
            ("pkgdb/apk/clair2/installed", 12),
            ("pkgdb/apk/scalibr-different-arch/installed", 1),
            ("pkgdb/apk/snyk-alpine-2.6.6/installed", 13),
            ("pkgdb/apk/syft-corrupt/installed", 1),
            ("pkgdb/apk/syft-multiple-1/installed", 4),
            ("pkgdb/apk/syft-multiple-2/installed", 14),
        ];
        for (rel, want) in cases {
            let data = std::fs::read(corpus(rel)).unwrap();
            let (pkgs, _) = parse_installed(&data, INSTALLED);
            assert_eq!(pkgs.len(), want, "{rel}: package count");
            assert_has_examples(rel, rel, &pkgs.iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn origin_arch_and_corrupt_lines() {
        let data = std::fs::read(corpus("pkgdb/apk/syft-corrupt/installed")).unwrap();
        let (pkgs, warnings) = parse_installed(&data, INSTALLED);
        assert_eq!(pkgs[0].arch, "x86_64");
        assert_eq!(
            pkgs[0].source,
            Some(SourcePackage {
                name: "alpine-baselayout".into(),
                version: "3.2.0-r22".into()
            })
        );
        assert!(warnings[0].contains("line 1"), "{warnings:?}");
        let (pkgs, warnings) = parse_installed(
            b"P:noversion\nA:x86\n\nV:2\nA:x86\n\nP:ok\nV:1-r0\n",
            INSTALLED,
        );
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[0].version, "");
        assert_eq!(pkgs[1].source.as_ref().unwrap().name, "ok");
        assert!(warnings[0].contains("has no version"), "{warnings:?}");
        assert!(warnings[1].contains("no package name"), "{warnings:?}");
        for i in 0..data.len().min(2000) {
            let _ = parse_installed(&data[..i], INSTALLED);
        }
    }
}
