//! The live matcher index: rebuilt and swapped when an update operation lands, while readers
//! keep the index they already hold; matching a report is a lookup in it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use clair_matcher::Namespaces;
use clair_service::LiveIndex;
use clair_store::{FeedError, Store, StoreOptions};
use clair_types::{
    Digest, Environment, IndexReport, IndexState, PackageKind, ReportDistribution, ReportPackage,
    Repository, Severity, Vulnerability,
};

#[derive(Debug)]
struct Debian;

impl Namespaces for Debian {
    fn distribution(&self, d: &ReportDistribution) -> Vec<String> {
        vec![format!("{}:{}", d.did, d.version_id)]
    }
    fn repository(&self, _: &Repository) -> Option<String> {
        None
    }
}

fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let s = clair_store::open(&StoreOptions {
        source: dir.path().join("clair.db").display().to_string(),
        ..StoreOptions::default()
    })
    .unwrap();
    (dir, s)
}

fn vuln(name: &str, fixed: &str) -> Vulnerability {
    Vulnerability {
        updater: "debian".into(),
        name: name.into(),
        namespace: "debian:12".into(),
        package_name: "openssl".into(),
        package_kind: PackageKind::Source,
        version_scheme: "dpkg".into(),
        fixed_in_version: fixed.into(),
        severity: "high".into(),
        normalized_severity: Severity::High,
        ..Vulnerability::default()
    }
}

fn update(s: &dyn Store, v: Vec<Vulnerability>) {
    let mut feed = v.into_iter().map(Ok::<_, FeedError>);
    s.update_vulnerabilities("debian", "fp", &mut feed).unwrap();
}

fn package(id: &str, name: &str, kind: &str) -> ReportPackage {
    ReportPackage {
        id: id.into(),
        name: name.into(),
        version: "3.0.11-1~deb12u2".into(),
        kind: kind.into(),
        source: None,
        normalized_version: String::new(),
        module: String::new(),
        arch: String::new(),
        cpe: String::new(),
    }
}

fn report() -> IndexReport {
    let mut pkg = package("1", "libssl3", "binary");
    pkg.source = Some(Box::new(package("2", "openssl", "source")));
    IndexReport {
        manifest_hash: Digest::sha256_of(b"image"),
        state: IndexState::IndexFinished,
        packages: BTreeMap::from([("1".into(), pkg)]),
        distributions: BTreeMap::from([(
            "1".into(),
            ReportDistribution {
                id: "1".into(),
                did: "debian".into(),
                name: "Debian GNU/Linux".into(),
                version: "12 (bookworm)".into(),
                version_code_name: "bookworm".into(),
                version_id: "12".into(),
                arch: String::new(),
                cpe: String::new(),
                pretty_name: String::new(),
            },
        )]),
        repository: BTreeMap::new(),
        environments: BTreeMap::from([(
            "1".into(),
            vec![Environment {
                package_db: "var/lib/dpkg/status".into(),
                introduced_in: Digest::sha256_of(b"layer"),
                distribution_id: "1".into(),
                repository_ids: Vec::new(),
            }],
        )]),
        success: true,
        err: String::new(),
    }
}

fn names(idx: &clair_matcher::MatchIndex) -> Vec<String> {
    let (vr, _) = idx.report(&report(), &Debian);
    let mut n: Vec<String> = vr
        .vulnerabilities
        .values()
        .map(|v| v.name.clone())
        .collect();
    n.sort();
    n
}

#[test]
fn a_new_operation_swaps_the_index_readers_keep_theirs() {
    let (_dir, s) = store();
    update(
        s.as_ref(),
        vec![vuln("CVE-1", "3.0.13-1~deb12u1"), vuln("CVE-2", "3.0.9-1")],
    );
    let live = LiveIndex::new(s.clone()).unwrap();
    let before = live.current();
    assert_eq!(
        names(&before),
        vec!["CVE-1"],
        "CVE-2 is fixed in an older version"
    );
    assert!(!live.refresh().unwrap(), "nothing changed: no rebuild");
    assert!(Arc::ptr_eq(&before, &live.current()));

    // A new operation: CVE-3 appears, CVE-1 is gone.
    update(
        s.as_ref(),
        vec![vuln("CVE-3", ""), vuln("CVE-2", "3.0.9-1")],
    );
    assert!(live.refresh().unwrap(), "a new operation: rebuilt");
    let after = live.current();
    assert!(!Arc::ptr_eq(&before, &after));
    assert_eq!(names(&after), vec!["CVE-3"]);
    // A reader holding the old index still sees the old data, whole.
    assert_eq!(names(&before), vec!["CVE-1"]);
    assert_ne!(before.generation(), after.generation());
}

#[test]
fn concurrent_readers_see_whole_indexes_during_swaps() {
    let (_dir, s) = store();
    update(s.as_ref(), vec![vuln("CVE-1", "3.0.13-1~deb12u1")]);
    let live = Arc::new(LiveIndex::new(s.clone()).unwrap());
    std::thread::scope(|sc| {
        for _ in 0..4 {
            let live = live.clone();
            sc.spawn(move || {
                for _ in 0..200 {
                    // Every report comes from one whole index: one of the two sets, never a mix.
                    let n = names(&live.current());
                    assert!(n == vec!["CVE-1"] || n == vec!["CVE-1", "CVE-4"], "{n:?}");
                }
            });
        }
        for i in 0..6 {
            let v = if i % 2 == 0 {
                vec![vuln("CVE-1", "3.0.13-1~deb12u1"), vuln("CVE-4", "")]
            } else {
                vec![vuln("CVE-1", "3.0.13-1~deb12u1")]
            };
            update(s.as_ref(), v);
            assert!(live.refresh().unwrap());
        }
    });
}
