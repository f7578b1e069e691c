//! Record names, per feed family: every record stored from a family's real feed files is named
//! by the id upstream uses (claircore's name where it is an id: the CVE for Debian, Alpine, SUSE
//! and Red Hat VEX, the OSV id, the ALAS id; the advisory id Clair v2 used where claircore
//! names a record by a prose title: RHSA, ELSA, PHSA; the CVE for Ubuntu, whose titles read
//! "CVE-… on Ubuntu 16.04 LTS (xenial) - medium."), and NVD's CVSS enrichment, stored by the
//! real NVD parser, attaches to it in a report: by the name for records named by a CVE, by
//! the CVEs their links name otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clair_ecosystems::{alpine, aws, debian, nvd, oracle, osv, photon, rhel, suse, ubuntu};
use clair_matcher::matching::{CVSS_ENRICHMENT_KIND, reported};
use clair_matcher::{Emit, FetchedFile, Record, UpdaterError, Validators};
use clair_service::add_cvss;
use clair_store::{EnrichmentRecord, FeedError};
use clair_types::{Vulnerability, VulnerabilityReport};

type Parser = fn(&str, &FetchedFile, &mut Emit<'_>) -> Result<(), UpdaterError>;

/// `CVE-2021-20199`.
fn is_cve(s: &str) -> bool {
    let mut p = s.splitn(3, '-');
    matches!(
        (p.next(), p.next(), p.next()),
        (Some("CVE"), Some(y), Some(n)) if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())
            && n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit())
    )
}

/// `PREFIX` then `-` or `:`-separated numbers (`RHSA-2020:1980`, `ALAS2-2018-939`).
fn is_advisory(prefixes: &[&str], s: &str) -> bool {
    prefixes.iter().any(|p| {
        s.strip_prefix(p).is_some_and(|rest| {
            rest.starts_with('-')
                && rest.len() > 1
                && rest[1..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'-' || b == b':')
        })
    })
}

/// The CVE ids a text mentions (this test's own reading, not the matcher's).
fn cves_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .flat_map(|w| w.match_indices("CVE-").map(move |(i, _)| &w[i..]))
        .map(|w| {
            let mut parts = w.splitn(3, '-');
            let (_, y, n) = (
                parts.next(),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let n: String = n.chars().take_while(char::is_ascii_digit).collect();
            format!("CVE-{y}-{n}")
        })
        .filter(|c| is_cve(c))
        .collect()
}

struct Family {
    updater: &'static str,
    parse: Parser,
    /// Corpus files (`feeds/…`) or this crate's test data (`testdata/…`).
    files: &'static [&'static str],
    /// Whether a name is the id upstream uses.
    is_name: fn(&Vulnerability) -> bool,
    /// Records named by a CVE (the rest are named by an advisory).
    cve_named: fn(&Vulnerability) -> bool,
}

fn path_of(rel: &str) -> PathBuf {
    if rel.starts_with("testdata/") {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../clair-ecosystems")).join(rel)
    } else {
        clair_test::corpus(rel)
    }
}

fn parse_files(updater: &str, parse: Parser, files: &[&str]) -> Vec<Vulnerability> {
    let mut out = Vec::new();
    for rel in files {
        let f = FetchedFile {
            name: rel.rsplit('/').next().unwrap().to_string(),
            url: format!("file://{rel}"),
            path: path_of(rel),
            validators: Validators::default(),
        };
        parse(updater, &f, &mut |r| {
            if let Record::Vulnerability(v) = r {
                out.push(v);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
    out
}

/// A distinct CVSS base score per CVE, so a test can tell which record got which.
fn score(cve: &str) -> f64 {
    let n: u64 = cve.bytes().map(u64::from).sum();
    1.0 + (n % 90) as f64 / 10.0
}

/// NVD's CVE API 2.0 document for these CVEs, as the NVD updater reads it.
fn nvd_document(cves: &BTreeSet<String>) -> String {
    let items: Vec<serde_json::Value> = cves
        .iter()
        .map(|id| {
            serde_json::json!({"cve": {"id": id, "metrics": {"cvssMetricV31": [{
                "source": "nvd@nist.gov", "type": "Primary",
                "cvssData": {"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": score(id)}
            }]}}})
        })
        .collect();
    serde_json::json!({"format": "NVD_CVE", "version": "2.0", "vulnerabilities": items}).to_string()
}

fn check(family: &Family) {
    let records = parse_files(family.updater, family.parse, family.files);
    assert!(!records.is_empty(), "{}", family.updater);
    let bad: Vec<&str> = records
        .iter()
        .filter(|v| !(family.is_name)(v))
        .map(|v| v.name.as_str())
        .collect();
    assert!(
        bad.is_empty(),
        "{}: names upstream does not use: {bad:?}",
        family.updater
    );

    // Stored and read back: what reports and notifications see.
    let store = common::sqlite();
    let mut it = records.iter().cloned().map(Ok::<_, FeedError>);
    store
        .update_vulnerabilities(family.updater, "fp", &mut it)
        .unwrap();
    let mut stored = Vec::new();
    store
        .for_each_latest_vulnerability(None, &mut |v| stored.push(v))
        .unwrap();
    assert_eq!(stored.len(), records.iter().collect::<BTreeSet<_>>().len());

    // NVD's CVSS for every CVE the records mention, through the real NVD parser.
    let cves: BTreeSet<String> = stored
        .iter()
        .flat_map(|v| cves_in(&format!("{} {}", v.name, v.links)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nvd.json");
    std::fs::write(&path, nvd_document(&cves)).unwrap();
    let nvd_file = FetchedFile {
        name: "nvd.json".into(),
        url: "file://nvd.json".into(),
        path,
        validators: Validators::default(),
    };
    let mut enrichments: Vec<EnrichmentRecord> = Vec::new();
    nvd::parse_nvd("nvd", &nvd_file, &mut |r| {
        if let Record::Enrichment(e) = r {
            enrichments.push(e);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(enrichments.len(), cves.len());
    let mut it = enrichments.into_iter().map(Ok::<_, FeedError>);
    store.update_enrichments("nvd", "fp", &mut it).unwrap();

    // A report listing every record, as the matcher writes them.
    let mut report: VulnerabilityReport = serde_json::from_value(serde_json::json!({
        "manifest_hash": clair_types::Digest::sha256_of(b"m"),
        "packages": {}, "distributions": {}, "repository": {}, "environments": {},
        "vulnerabilities": {}, "package_vulnerabilities": {}, "enrichments": {}
    }))
    .unwrap();
    for (i, v) in stored.iter().enumerate() {
        let id = i.to_string();
        report.vulnerabilities.insert(id.clone(), reported(&id, v));
    }
    add_cvss(&mut report, store.as_ref()).unwrap();
    let attached: BTreeMap<String, Vec<f64>> = report
        .enrichments
        .get(CVSS_ENRICHMENT_KIND)
        .and_then(|list| list.first())
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .map(|(id, list)| {
                    let scores = list
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|d| d["baseScore"].as_f64())
                        .collect();
                    (id.clone(), scores)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut cve_named = 0;
    for (i, v) in stored.iter().enumerate() {
        let got = attached.get(&i.to_string());
        if (family.cve_named)(v) {
            cve_named += 1;
            assert!(
                got.is_some_and(|s| s.contains(&score(&v.name))),
                "{}: {} gets NVD's CVSS for its name: {got:?}",
                family.updater,
                v.name
            );
        } else if !cves_in(&v.links).is_empty() {
            assert!(
                got.is_some_and(|s| !s.is_empty()),
                "{}: {} gets NVD's CVSS for the CVEs it links",
                family.updater,
                v.name
            );
        }
    }
    eprintln!(
        "{}: {} records, {} named by a CVE, {} CVEs with CVSS",
        family.updater,
        stored.len(),
        cve_named,
        cves.len()
    );
}

fn cve(v: &Vulnerability) -> bool {
    is_cve(&v.name)
}

fn not_cve(_: &Vulnerability) -> bool {
    false
}

#[test]
fn debian_names_records_by_cve() {
    check(&Family {
        updater: "debian",
        parse: debian::parse_tracker,
        files: &["feeds/debian/clair2-security-tracker.json"],
        is_name: cve,
        cve_named: cve,
    });
}

#[test]
fn alpine_names_records_by_cve_or_the_vendor_id() {
    check(&Family {
        updater: "alpine",
        parse: alpine::parse_secdb,
        files: &[
            "feeds/alpine/claircore-v3.10-community.json",
            "feeds/alpine/clair2-v34-main.yaml",
            "feeds/alpine/vulnerablecode-v3.11-main.json",
        ],
        // A secfixes line naming no CVE is named by its own id (XSA-248, ZBX-11023).
        is_name: |v| cve(v) || is_advisory(&["XSA", "ZBX"], &v.name),
        cve_named: cve,
    });
}

#[test]
fn ubuntu_names_records_by_cve() {
    check(&Family {
        updater: "ubuntu",
        parse: ubuntu::parse_ubuntu_oval,
        files: &["feeds/ubuntu/clair3-xenial-cve.oval.xml"],
        is_name: cve,
        cve_named: cve,
    });
}

#[test]
fn suse_names_records_by_bare_cve() {
    check(&Family {
        updater: "suse",
        parse: suse::parse_suse_oval,
        files: &[
            "testdata/suse/opensuse.leap.micro.5.3.xml",
            "feeds/suse/vulnerablecode-suse-oval.xml",
            "feeds/suse/clair3-opensuse-oval.xml",
        ],
        is_name: cve,
        cve_named: cve,
    });
    // Patch files: by the CVEs each fixes, else by the SUSE advisory.
    check(&Family {
        updater: "suse",
        parse: suse::parse_suse_oval,
        files: &["feeds/suse/vulnerablecode-opensuse.leap.micro.5.3-patch.xml"],
        is_name: |v| cve(v) || v.name.starts_with("SUSE-SU-"),
        cve_named: cve,
    });
}

#[test]
fn red_hat_oval_names_records_by_advisory_or_cve() {
    check(&Family {
        updater: "rhel",
        parse: rhel::parse_rhel_oval,
        files: &[
            "feeds/rhel/claircore-com.redhat.rhsa-RHEL8.xml.gz",
            "feeds/rhel/clair3-rhel-8.oval_abbreviated.xml",
            "feeds/rhel/claircore-rhel-8-rpm-unpatched.xml",
        ],
        // Patch definitions by their advisory; unpatched ones by their CVE.
        is_name: |v| cve(v) || is_advisory(&["RHSA", "RHBA", "RHEA"], &v.name),
        cve_named: cve,
    });
}

#[test]
fn red_hat_vex_names_records_by_cve_or_advisory() {
    check(&Family {
        updater: "rhel-vex",
        parse: rhel::parse_vex_file,
        files: &[
            "feeds/rhel-csaf/claircore-cve-2024-0727-openssl.json",
            "feeds/rhel-csaf/claircore-cve-2023-38545.json",
            "feeds/rhel-csaf/claircore-cve-2024-24786-illegal-module.json",
            "feeds/rhel-csaf/claircore-rhsa-2022-0011.json",
        ],
        is_name: |v| cve(v) || is_advisory(&["RHSA"], &v.name),
        cve_named: cve,
    });
}

#[test]
fn oracle_names_records_by_elsa() {
    check(&Family {
        updater: "oracle",
        parse: oracle::parse_oracle_oval,
        files: &["feeds/oracle/clair2-elsa-oval-1.xml"],
        is_name: |v| is_advisory(&["ELSA"], &v.name),
        cve_named: not_cve,
    });
}

#[test]
fn photon_names_records_by_phsa() {
    check(&Family {
        updater: "photon",
        parse: photon::parse_photon_oval,
        files: &["feeds/photon/claircore-com.vmware.phsa-photon3.xml.gz"],
        is_name: |v| is_advisory(&["PHSA"], &v.name),
        cve_named: not_cve,
    });
}

#[test]
fn amazon_names_records_by_alas() {
    check(&Family {
        updater: "aws",
        parse: aws::parse_updateinfo,
        files: &["feeds/amazon/clair2-amazon_linux_2_updateinfo.xml"],
        is_name: |v| is_advisory(&["ALAS", "ALAS2", "ALAS2023"], &v.name),
        cve_named: not_cve,
    });
}

#[test]
fn osv_names_records_by_osv_id() {
    check(&Family {
        updater: "osv",
        parse: osv::parse_osv_file,
        files: &[
            "feeds/osv/grype-GO-2022-0969.json",
            "feeds/osv/grype-GO-2024-2826.json",
            "feeds/osv/trivydb-PYSEC-2018-27.json",
            "feeds/osv/trivydb-PYSEC-2023-120.json",
            "feeds/osv/vulnerablecode-ghsa-osv-1.json",
        ],
        is_name: |v| {
            ["GO-", "PYSEC-", "GHSA-"]
                .iter()
                .any(|p| v.name.starts_with(p))
                && v.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        },
        cve_named: not_cve,
    });
}
