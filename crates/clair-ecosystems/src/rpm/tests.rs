use std::collections::BTreeSet;
use std::sync::Arc;

use clair_indexer::PackageScanner;
use clair_layer::LayerContents;

use super::*;
use crate::test_corpus::{corpus, expected_examples};

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn check(rel: &str, count: usize) -> Vec<Package> {
    let (pkgs, warnings) = packages_from_db(&read(rel), "var/lib/rpm/Packages");
    assert_eq!(
        pkgs.len(),
        count,
        "{rel}: package count (warnings: {warnings:?})"
    );
    for (n, v) in expected_examples(rel) {
        assert!(
            pkgs.iter().any(|p| p.name == n && p.version == v),
            "{rel}: {n} {v} missing"
        );
    }
    pkgs
}

/// Counts and examples from ../shared/corpus/EXPECTED.md.
#[test]
fn bdb_corpus() {
    let sles = check("pkgdb/rpm-bdb/fossa-sles12sp4/Packages", 108);
    assert_eq!(sles.iter().filter(|p| p.name == "gpg-pubkey").count(), 2);
    assert!(!expected_examples("pkgdb/rpm-bdb/fossa-sles12sp4/Packages").is_empty());
    let uuid = check("pkgdb/rpm-bdb/gorpmdb-libuuid/Packages", 1);
    assert_eq!(uuid[0].arch, "x86_64");
    assert_eq!(
        uuid[0].source,
        Some(SourcePackage {
            name: "util-linux".into(),
            version: "2.32.1-42.el8_8".into()
        })
    );
    check("pkgdb/rpm-bdb/snyk-rpm4-empty/Packages", 0);
    check("pkgdb/rpm-bdb/syft-grype/Packages", 1);
}

#[test]
fn sqlite_corpus() {
    check("pkgdb/rpm-sqlite/converted-sle15-bci/rpmdb.sqlite", 35);
    let rocky = check("pkgdb/rpm-sqlite/osvscanner-rocky9/rpmdb.sqlite", 1);
    assert_eq!(rocky[0].name, "htop");
    let (pkgs, warnings) = packages_from_db(
        &read("pkgdb/rpm-sqlite/claircore-no-packages/rpmdb.sqlite"),
        "var/lib/rpm/rpmdb.sqlite",
    );
    assert!(pkgs.is_empty());
    assert!(warnings[0].contains("no Packages table"), "{warnings:?}");
}

#[test]
fn ndb_corpus_matches_sqlite_conversion() {
    let ndb = check("pkgdb/rpm-ndb/gorpmdb-sle15-bci/Packages.db", 35);
    let sql = check("pkgdb/rpm-sqlite/converted-sle15-bci/rpmdb.sqlite", 35);
    let set = |v: &[Package]| -> BTreeSet<(String, String, String)> {
        v.iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.arch.clone()))
            .collect()
    };
    assert_eq!(set(&ndb), set(&sql));
}

#[test]
fn header_blobs_corpus() {
    for (rel, name, version) in [
        (
            "pkgdb/rpm-header/claircore-package.header",
            "crypto-policies",
            "20210213-1.git5c710c0.fc34",
        ),
        (
            "pkgdb/rpm-header/fossa-centos7-javapackages-tools.blob.bin",
            "javapackages-tools",
            "3.4.1-11.el7",
        ),
        (
            "pkgdb/rpm-header/gorpmdb-blob.bin",
            "publicsuffix-list-dafsa",
            "20210518-2.fc35",
        ),
    ] {
        let h = parse_header(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(
            (h.name.as_str(), h.evr().as_str(), h.arch.as_str()),
            (name, version, "noarch"),
            "{rel}"
        );
        assert_eq!(
            expected_examples(rel),
            vec![(name.to_string(), version.to_string())]
        );
    }
}

#[test]
fn epochs_and_sources() {
    let h = HeaderInfo {
        name: "tcl".into(),
        version: "8.6.10".into(),
        release: "7.el9".into(),
        epoch: Some(1),
        arch: "x86_64".into(),
        source_rpm: "tcl-8.6.10-7.el9.src.rpm".into(),
        module: "nodejs:18:8090020231019152822:a75119d5".into(),
    };
    assert_eq!(h.evr(), "1:8.6.10-7.el9");
    assert_eq!(h.source(), Some(("tcl".into(), "1:8.6.10-7.el9".into())));
    assert_eq!(h.module_stream().as_deref(), Some("nodejs:18"));
    let none = HeaderInfo {
        source_rpm: "weird.rpm".into(),
        ..HeaderInfo::default()
    };
    assert_eq!(none.source(), None);
    assert_eq!(
        HeaderInfo {
            epoch: Some(0),
            version: "1".into(),
            release: "2".into(),
            ..HeaderInfo::default()
        }
        .evr(),
        "1-2"
    );
}

#[test]
fn scanner_dedupes_symlinked_directories() {
    let mut l = LayerContents::default();
    l.add_file(
        "usr/lib/sysimage/rpm/rpmdb.sqlite".into(),
        Arc::from(read("pkgdb/rpm-sqlite/osvscanner-rocky9/rpmdb.sqlite")),
    );
    l.add_symlink("var/lib/rpm".into(), "../../usr/lib/sysimage/rpm".into());
    let scans = SCANNER.scan(&l);
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0].path, "usr/lib/sysimage/rpm/rpmdb.sqlite");
    assert_eq!(
        scans[0].packages[0].package_db,
        "usr/lib/sysimage/rpm/rpmdb.sqlite"
    );
    // rpm's preference: sqlite over a stale BerkeleyDB file in the same directory.
    l.add_file(
        "usr/lib/sysimage/rpm/Packages".into(),
        Arc::from(read("pkgdb/rpm-bdb/gorpmdb-libuuid/Packages")),
    );
    let scans = SCANNER.scan(&l);
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0].packages[0].name, "htop");
}

/// Truncations and corruptions of real databases: never a panic, never a hang.
#[test]
fn hostile_bytes() {
    for rel in [
        "pkgdb/rpm-bdb/gorpmdb-libuuid/Packages",
        "pkgdb/rpm-ndb/gorpmdb-sle15-bci/Packages.db",
        "pkgdb/rpm-sqlite/osvscanner-rocky9/rpmdb.sqlite",
        "pkgdb/rpm-header/gorpmdb-blob.bin",
    ] {
        let data = read(rel);
        let step = (data.len() / 200).max(1);
        for cut in (0..data.len()).step_by(step) {
            let _ = packages_from_db(&data[..cut], "x");
            let _ = parse_header(&data[..cut]);
        }
        let mut x: u32 = 7;
        for _ in 0..200 {
            let mut d = data.clone();
            for _ in 0..8 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let at = (x as usize >> 3) % d.len();
                d[at] ^= (x >> 24) as u8 | 1;
            }
            let _ = packages_from_db(&d, "x");
            let _ = parse_header(&d);
        }
    }
    assert!(matches!(header_blobs(b"garbage"), Err(RpmError::Unknown)));
    assert!(parse_header(&[0, 0, 0, 1, 0, 0, 0, 0]).is_err());
    // An entry count that would need gigabytes is refused up front.
    assert!(parse_header(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
}
