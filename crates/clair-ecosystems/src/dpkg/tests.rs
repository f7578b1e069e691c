use std::collections::BTreeMap;
use std::sync::Arc;

use clair_indexer::PackageScanner;
use clair_layer::LayerContents;

use super::*;
use crate::test_corpus::{assert_has_examples, corpus, expected_examples};

fn status(rel: &str, mode: StatusMode) -> (Vec<Package>, Vec<String>) {
    let path = corpus(rel);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_status(&data, STATUS, mode)
}

fn by_name(p: &[Package]) -> BTreeMap<&str, &Package> {
    p.iter().map(|p| (p.name.as_str(), p)).collect()
}

/// Counts and examples from ../shared/corpus/EXPECTED.md ("installed" column).
#[test]
fn corpus_status_files_match_expected() {
    let cases = [
        ("pkgdb/dpkg/clair3-valid/status", 89),
        ("pkgdb/dpkg/claircore-debian-only/status", 1),
        ("pkgdb/dpkg/claircore-postgresql/status", 3),
        ("pkgdb/dpkg/claircore-texlive/status", 357),
        ("pkgdb/dpkg/claircore-vcpkg/status", 14),
        ("pkgdb/dpkg/scalibr-transitional/status", 1),
        ("pkgdb/dpkg/scalibr-valid/status", 7),
        ("pkgdb/dpkg/syft-pkg-coverage/status", 1),
    ];
    for (rel, want) in cases {
        let (pkgs, _) = status(rel, StatusMode::Status);
        assert_eq!(pkgs.len(), want, "{rel}: package count");
        let names = by_name(&pkgs);
        let examples = expected_examples(rel);
        assert!(
            !examples.is_empty(),
            "{rel}: no examples found in EXPECTED.md"
        );
        for (n, v) in examples {
            let p = names
                .get(n.as_str())
                .unwrap_or_else(|| panic!("{rel}: {n} missing"));
            assert_eq!(p.version, v, "{rel}: version of {n}");
        }
    }
}

#[test]
fn source_packages() {
    let (pkgs, _) = status("pkgdb/dpkg/clair3-valid/status", StatusMode::Status);
    let names = by_name(&pkgs);
    // "Source: util-linux" without a version: the binary's version.
    let fdisk = names["fdisk"];
    assert_eq!(
        fdisk.source,
        Some(SourcePackage {
            name: "util-linux".into(),
            version: "2.31.1-0.4ubuntu3.1".into()
        })
    );
    assert_eq!(fdisk.arch, "amd64");
    assert_eq!(
        parse_source("bash (5.2.15-2)", "5.2.15-2+b13"),
        SourcePackage {
            name: "bash".into(),
            version: "5.2.15-2".into()
        }
    );
    assert_eq!(parse_source("gcc-12 ()", "1").version, "1");
}

#[test]
fn status_d_corpus_matches_expected() {
    let cases = [
        ("pkgdb/dpkg-statusd/scalibr-foo", 2),
        ("pkgdb/dpkg-statusd/syft-deinstall", 2),
        ("pkgdb/dpkg-statusd/syft-installed-size-4KB", 1),
        ("pkgdb/dpkg-statusd/syft-libpam-runtime", 1),
        ("pkgdb/dpkg-statusd/syft-multiple", 2),
        ("pkgdb/dpkg-statusd/syft-pkg-coverage", 1),
    ];
    for (rel, want) in cases {
        let dir = corpus(rel).join(STATUS_D);
        let mut layer = LayerContents::default();
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let data = std::fs::read(e.path()).unwrap();
            layer.add_file(format!("{STATUS_D}/{name}"), Arc::from(data));
        }
        let scans = SCANNER.scan(&layer);
        let pkgs: Vec<&Package> = scans.iter().flat_map(|s| &s.packages).collect();
        assert_eq!(pkgs.len(), want, "{rel}: package count");
        for s in &scans {
            assert!(!s.path.ends_with(".md5sums"));
            for p in &s.packages {
                assert_eq!(p.package_db, s.path);
            }
        }
        assert_has_examples(&format!("{rel}/ (status.d dir)"), rel, &pkgs);
    }
}

#[test]
fn only_installed_packages_are_reported() {
    let data = b"Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n\
Package: e2fsprogs\nStatus: deinstall ok config-files\nVersion: 1.47.0-2\n\n\
Package: half\nStatus: install reinstreq half-installed\nVersion: 2\n\n\
Package: held\nStatus: hold ok installed\nVersion: 3\n\n\
Package: nover\nStatus: install ok installed\n";
    let (pkgs, _) = parse_status(data, STATUS, StatusMode::Status);
    let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "held"]);
}

#[test]
fn malformed_input_warns_and_keeps_going() {
    let data = b"garbage line\n Package: cont\nPackage: ok\nStatus: install ok installed\r\nVersion: 1.0\r\n\
Description: multi\n line\n .\n more\n\nStatus: install ok installed\nVersion: 2\n\n\
Package: ok\nStatus: install ok installed\nVersion: 1.0\n\n\xff\xfe: x\n";
    let (pkgs, warnings) = parse_status(data, STATUS, StatusMode::Status);
    assert_eq!(pkgs.len(), 1);
    assert_eq!(pkgs[0].version, "1.0");
    assert!(
        warnings.iter().any(|w| w.contains("line 1")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("no Package field")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("listed again")),
        "{warnings:?}"
    );
    // Truncated anywhere: never panics.
    for i in 0..data.len() {
        let _ = parse_status(&data[..i], STATUS, StatusMode::Status);
    }
}

#[test]
fn multiarch_same_version_is_one_package() {
    let data =
        b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n\n\
Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 2.36-9\n";
    let (pkgs, w) = parse_status(data, STATUS, StatusMode::Status);
    assert_eq!(pkgs.len(), 1, "{w:?}");
    assert_eq!(pkgs[0].arch, "amd64");
    assert_eq!(w.len(), 1);
}
