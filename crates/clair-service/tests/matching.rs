//! Matching end to end, on SQLite and PostgreSQL: feeds served by a real HTTP server on
//! 127.0.0.1 and stored by the real updaters; images assembled from real package databases
//! (`../shared/corpus/pkgdb`) or the real Debian images (`../shared/images`), indexed by the
//! real scanners; then matched. Each case checks that known-vulnerable packages are reported
//! with the right fixed-in version and that fixed packages are not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use clair_ecosystems::EcosystemNamespaces;
use clair_indexer::NoProgress;
use clair_layer::source::{self, OpenOptions};
use clair_matcher::matching::report_namespaces;
use clair_service::{NoUpdateProgress, Outcome, UpdateManager};
use clair_store::Store;
use clair_test::http::TestServer;
use clair_test::oci::{Layer, write_layout};
use clair_test::tar::{Member, build};
use clair_test::{corpus, images, truth_installed};
use clair_types::{IndexReport, VulnerabilityReport};
use common::*;

/// Serve the corpus feeds, plus what the matching cases add: the Alpine v3.4 secdb (YAML, as
/// old mirrors serve it), openSUSE Leap Micro 5.3, Red Hat's unpatched OVAL, and the
/// hand-written bookworm tracker.
fn feed_server() -> TestServer {
    let s = TestServer::start();
    serve_feeds(&s);
    let f = |rel: &str| std::fs::read(corpus(rel)).unwrap();
    s.put(
        "/alpine/",
        "<a href=\"v3.4/\">v3.4/</a> <a href=\"v3.10/\">v3.10/</a> <a href=\"v3.11/\">v3.11/</a>",
    );
    s.put(
        "/alpine/v3.4/main.json",
        f("feeds/alpine/clair2-v34-main.yaml"),
    );
    s.put(
        "/suse/leap-micro-5.3.xml",
        f("feeds/suse/vulnerablecode-opensuse.leap.micro.5.3-patch.xml"),
    );
    s.put(
        "/rhel/RHEL8/rhel-8-unpatched.oval.xml.bz2",
        bz2(&f("feeds/rhel/claircore-rhel-8-rpm-unpatched.xml")),
    );
    let tracker = std::fs::read(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../clair-ecosystems"))
            .join("testdata/match/debian-bookworm-tracker.json"),
    )
    .unwrap();
    s.put("/debian/json", tracker);
    s.put(
        "/osv/Go/all.zip",
        zip_of(&["feeds/osv/grype-GO-2022-0969.json"]),
    );
    s.put(
        "/osv/npm/all.zip",
        zip_of(&["feeds/osv/vulnerablecode-ghsa-osv-1.json"]),
    );
    s
}

/// Load every updater's data into `store` from the feed server.
fn load_feeds(store: &Arc<dyn Store>, s: &TestServer) {
    let mut cfg = config(s);
    cfg.insert(
        "suse".into(),
        serde_json::json!({"url": format!("{}/suse/", s.url()), "files": ["opensuse.xml", "leap-micro-5.3.xml"]}),
    );
    cfg.insert(
        "rhel".into(),
        serde_json::json!({"url": format!("{}/rhel/", s.url()),
            "files": ["RHEL8/rhel-8.oval.xml.bz2", "RHEL8/rhel-8-unpatched.oval.xml.bz2"]}),
    );
    cfg.insert(
        "osv".into(),
        serde_json::json!({"url": format!("{}/osv/", s.url()), "ecosystems": ["PyPI", "Go", "npm"]}),
    );
    let names: Vec<String> = clair_ecosystems::UPDATERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let m = UpdateManager::new(
        store.clone(),
        clair_ecosystems::updaters(Some(&names), &cfg).unwrap(),
    )
    .with_http(quick_http());
    for r in m.run(None, &NoUpdateProgress) {
        assert!(
            matches!(r.outcome, Outcome::Updated { .. }),
            "{}: {:?}",
            r.updater,
            r.outcome
        );
    }
}

/// An image of one plain layer: an os-release file and a package database.
fn image(dir: &std::path::Path, os_release: &str, db_path: &str, db_rel: &str) -> String {
    let tar = build(&[
        Member::file("etc/os-release", os_release),
        Member::file(db_path, std::fs::read(corpus(db_rel)).unwrap()),
    ]);
    write_layout(dir, "test", &[Layer::plain(&tar)]);
    format!("oci:{}:test", dir.display())
}

fn index(reference: &str) -> IndexReport {
    let img = source::open(reference, &OpenOptions::default()).unwrap();
    clair_ecosystems::default_indexer()
        .index(&img, &NoProgress)
        .unwrap()
        .report
}

fn matched(store: &dyn Store, report: &IndexReport) -> VulnerabilityReport {
    let ns = EcosystemNamespaces;
    let idx = clair_service::load_index(store, Some(&report_namespaces(report, &ns))).unwrap();
    let (vr, stats) = idx.report(report, &ns);
    assert!(
        stats.missing_namespaces.is_empty(),
        "no data for {:?}",
        stats.missing_namespaces
    );
    assert_eq!(stats.undecided_count, 0, "{:?}", stats.undecided);
    vr
}

/// (package name, advisory) → fixed-in versions reported.
fn findings(vr: &VulnerabilityReport) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (pid, ids) in &vr.package_vulnerabilities {
        let p = &vr.packages[pid];
        for id in ids {
            let v = &vr.vulnerabilities[id];
            out.entry((p.name.clone(), v.name.clone()))
                .or_default()
                .insert(v.fixed_in_version.clone());
        }
    }
    out
}

fn fixed<'a>(
    f: &'a BTreeMap<(String, String), BTreeSet<String>>,
    pkg: &str,
    vuln: &str,
) -> Option<Vec<&'a str>> {
    f.get(&(pkg.to_string(), vuln.to_string()))
        .map(|s| s.iter().map(String::as_str).collect())
}

const ALPINE_3_4: &str =
    "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.4.6\nPRETTY_NAME=\"Alpine Linux v3.4\"\n";
const ALPINE_3_11: &str =
    "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.11.13\nPRETTY_NAME=\"Alpine Linux v3.11\"\n";

struct Case<'a> {
    dir: &'a std::path::Path,
    store: &'a dyn Store,
}

impl Case<'_> {
    /// Index an image of `db_rel` at `db_path` under `os_release`, and match it.
    fn scan(&self, n: &str, os_release: &str, db_path: &str, db_rel: &str) -> Findings {
        let r = index(&image(&self.dir.join(n), os_release, db_path, db_rel));
        findings(&matched(self.store, &r))
    }
}

type Findings = BTreeMap<(String, String), BTreeSet<String>>;

fn check(f: &Findings, pkg: &str, vuln: &str, want: &[&str]) {
    assert_eq!(
        fixed(f, pkg, vuln),
        Some(want.to_vec()),
        "{pkg} {vuln}: reported fixed-in versions; all findings: {f:#?}"
    );
}

fn absent(f: &Findings, pkg: &str, vuln: &str) {
    assert_eq!(
        fixed(f, pkg, vuln),
        None,
        "{pkg} must not be reported for {vuln}"
    );
}

const SLES12_DB: &str = "pkgdb/rpm-bdb/fossa-sles12sp4/Packages";

fn all_cases(store: Arc<dyn Store>) {
    let s = feed_server();
    load_feeds(&store, &s);
    let dir = tempfile::tempdir().unwrap();
    let c = Case {
        dir: dir.path(),
        store: store.as_ref(),
    };
    let apk = "lib/apk/db/installed";

    // Alpine v3.4 secdb (YAML), keyed by origin: a 2016 database is vulnerable...
    let f = c.scan(
        "a1",
        ALPINE_3_4,
        apk,
        "pkgdb/apk/snyk-alpine-2.6.6/installed",
    );
    check(&f, "busybox", "CVE-2016-2147", &["1.24.2-r0"]);
    check(&f, "busybox", "CVE-2016-2148", &["1.24.2-r0"]);
    // libcrypto1.0's origin is openssl.
    check(&f, "libcrypto1.0", "CVE-2016-2107", &["1.0.2h-r0"]);
    check(&f, "libcrypto1.0", "CVE-2016-2177", &["1.0.2h-r1"]);
    check(&f, "libcrypto1.0", "CVE-2016-6304", &["1.0.2i-r0"]);
    assert_eq!(f.len(), 18, "{f:#?}");
    // ... a later one has the busybox fix (1.24.2-r9 >= 1.24.2-r0) and openssl 1.0.2h-r1,
    // which fixes CVE-2016-2177 (fixed in exactly 1.0.2h-r1) but not CVE-2016-2179 (-r3).
    let f = c.scan("a2", ALPINE_3_4, apk, "pkgdb/apk/clair2/installed");
    absent(&f, "busybox", "CVE-2016-2147");
    absent(&f, "libcrypto1.0", "CVE-2016-2177");
    check(&f, "libcrypto1.0", "CVE-2016-2179", &["1.0.2h-r3"]);
    check(&f, "libssl1.0", "CVE-2016-6304", &["1.0.2i-r0"]);
    assert_eq!(f.len(), 18, "{f:#?}");

    // Alpine v3.11 (JSON): apk-tools 2.6.7-r0 < 2.7.2-r0; 2.12.9-r3 is fixed.
    let f = c.scan("a3", ALPINE_3_11, apk, "pkgdb/apk/clair2/installed");
    check(&f, "apk-tools", "CVE-2017-9669", &["2.7.2-r0"]);
    check(&f, "apk-tools", "CVE-2017-9671", &["2.7.2-r0"]);
    assert_eq!(f.len(), 2, "{f:#?}");
    let f = c.scan(
        "a4",
        ALPINE_3_11,
        apk,
        "pkgdb/apk/syft-multiple-2/installed",
    );
    assert!(f.is_empty(), "apk-tools 2.12.9-r3 is fixed: {f:#?}");

    // The real SLES 12 SP4 rpm database (BerkeleyDB) against SUSE, Red Hat and Photon data:
    // the same rpm EVR rules, each distribution's own namespace.
    let rpmdb = "var/lib/rpm/Packages";
    let f = c.scan(
        "s1",
        "ID=\"opensuse-leap-micro\"\nVERSION_ID=\"5.3\"\n",
        rpmdb,
        SLES12_DB,
    );
    check(&f, "libksba8", "CVE-2022-47629", &["0:1.3.5-150000.4.6.1"]);
    check(
        &f,
        "libcurl4",
        "CVE-2022-43551",
        &["0:7.79.1-150400.5.12.1"],
    );
    // Two patches fixed CVE-2022-4415 in systemd; both apply to 228-150.108.2.
    check(
        &f,
        "libudev1",
        "CVE-2022-4415",
        &["0:249.12-150400.8.16.1", "0:249.14-150400.8.19.1"],
    );
    assert_eq!(f.len(), 7, "{f:#?}");

    let f = c.scan("r1", "ID=\"rhel\"\nVERSION_ID=\"8.1\"\n", rpmdb, SLES12_DB);
    check(&f, "glibc", "RHSA-2019:3513", &["0:2.28-72.el8"]);
    // Epoch 1 beats the installed epoch-less 1.0.2p.
    check(&f, "openssl", "RHSA-2019:3700", &["1:1.1.1c-2.el8"]);
    // Red Hat's unpatched OVAL and VEX "known affected": reported without a fix.
    check(&f, "rpm", "CVE-2021-35937", &[""]);
    check(&f, "openssl", "CVE-2024-0727", &[""]);
    assert_eq!(f.len(), 4, "{f:#?}");

    let f = c.scan("p1", "ID=photon\nVERSION_ID=3.0\n", rpmdb, SLES12_DB);
    check(&f, "bash", "PHSA-2020:00140", &["0:4.4.18-2.ph3"]);
    check(&f, "openssl", "PHSA-2020:00196", &["0:1.0.2t-1.ph3"]);
    check(&f, "openssl", "PHSA-2020:00197", &["0:1.0.2u-1.ph3"]);
    assert_eq!(f.len(), 6, "{f:#?}");

    // The real bookworm image against the hand-written tracker (testdata/match): source
    // packages, source versions, open issues, "0" and other releases.
    let r = index(&format!("oci:{}:bookworm-minbase", images("oci").display()));
    let f = findings(&matched(c.store, &r));
    check(&f, "libc6", "CVE-2099-0001", &["2.36-9+deb12u15"]);
    check(&f, "libc-bin", "CVE-2099-0001", &["2.36-9+deb12u15"]);
    check(&f, "libsystemd0", "CVE-2099-0003", &[""]);
    check(&f, "libudev1", "CVE-2099-0003", &[""]);
    check(&f, "zlib1g", "CVE-2099-0009", &["1:1.2.13.dfsg-1+deb12u1"]);
    check(&f, "libcap2", "CVE-2099-0008", &["1:2.66-4+deb12u3+b1"]);
    let truth = truth_installed(&images("truth/bookworm-minbase.dpkg.tsv"));
    let e2fs: BTreeSet<String> = truth
        .iter()
        .filter(|t| t.source == "e2fsprogs")
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(e2fs.len(), 5, "e2fsprogs builds five installed binaries");
    for b in &e2fs {
        check(&f, b, "CVE-2099-0006", &["1.47.0-3"]);
        absent(&f, b, "CVE-2099-0005");
    }
    let names: BTreeSet<&str> = f.keys().map(|(_, v)| v.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "CVE-2099-0001",
            "CVE-2099-0003",
            "CVE-2099-0006",
            "CVE-2099-0008",
            "CVE-2099-0009"
        ]),
        "CVE-2099-0002 (fixed earlier), -0004 (fixed_version 0), -0005 (fixed in the installed version) and -0007 (bullseye only) are not reported"
    );
    assert_eq!(f.len(), 11, "{f:#?}");

    // Language packages against OSV ranges: a real Go binary (go1.15.2), Python metadata
    // (name normalised as PEP 503 says), npm packages installed twice at two versions.
    let meta = |name: &str, version: &str| {
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA description.\n")
    };
    let site = "usr/lib/python3/dist-packages";
    let tar = build(&[
        Member::executable(
            "usr/local/bin/app",
            std::fs::read(corpus("lang/go/trivy-test.elf")).unwrap(),
        ),
        Member::file(
            &format!("{site}/aiohttp-3.8.4.dist-info/METADATA"),
            meta("aiohttp", "3.8.4"),
        ),
        Member::file(
            &format!("{site}/QuteBrowser-1.4.0.dist-info/METADATA"),
            meta("QuteBrowser", "1.4.0"),
        ),
        Member::file(
            &format!("{site}/qutebrowser-1.4.1.dist-info/METADATA"),
            meta("qutebrowser", "1.4.1"),
        ),
        Member::file(
            "srv/app/node_modules/ms/package.json",
            r#"{"name": "ms", "version": "0.7.0"}"#,
        ),
        Member::file(
            "srv/app/node_modules/debug/node_modules/ms/package.json",
            r#"{"name": "ms", "version": "0.7.1"}"#,
        ),
    ]);
    let lang = c.dir.join("lang");
    write_layout(&lang, "test", &[Layer::plain(&tar)]);
    let r = index(&format!("oci:{}:test", lang.display()));
    let repos: BTreeSet<&str> = r.repository.values().map(|r| r.name.as_str()).collect();
    assert_eq!(repos, BTreeSet::from(["go", "npm", "pypi"]));
    let vr = matched(c.store, &r);
    let mut got: Vec<(String, String, String, String)> = vr
        .package_vulnerabilities
        .iter()
        .flat_map(|(pid, ids)| {
            let p = &vr.packages[pid];
            ids.iter().map(|id| {
                let v = &vr.vulnerabilities[id];
                (
                    p.name.clone(),
                    p.version.clone(),
                    v.name.clone(),
                    v.fixed_in_version.clone(),
                )
            })
        })
        .collect();
    got.sort();
    let want = [
        ("QuteBrowser", "1.4.0", "PYSEC-2018-27", "1.4.1"),
        ("aiohttp", "3.8.4", "PYSEC-2023-120", ""),
        ("ms", "0.7.0", "GHSA-3fx5-fwvr-xrjg", "0.7.1"),
        ("stdlib", "1.15.2", "GO-2022-0969", "1.18.6"),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want, "qutebrowser 1.4.1 and ms 0.7.1 are fixed");
}

#[test]
fn sqlite_backend() {
    all_cases(sqlite());
}

#[test]
fn postgres_backend() {
    if let Some(s) = postgres() {
        all_cases(s);
    }
}
