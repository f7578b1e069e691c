//! Helpers shared by the integration tests: stores on both backends, a feed server with the
//! corpus feeds laid out as upstream lays them out, updater configuration pointing at it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clair_matcher::{Http, HttpOptions};
use clair_service::UpdateManager;
use clair_store::{Store, StoreOptions};
use clair_test::corpus;
use clair_test::http::TestServer;
use clair_types::Vulnerability;

pub fn sqlite() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().unwrap().keep();
    clair_store::open(&StoreOptions {
        source: dir.join("clair.db").display().to_string(),
        ..StoreOptions::default()
    })
    .unwrap()
}

pub fn postgres() -> Option<Arc<dyn Store>> {
    let pg = clair_test::postgres::skip_or_fail()?;
    Some(
        clair_store::open(&StoreOptions {
            source: pg.create_database(),
            ..StoreOptions::default()
        })
        .unwrap(),
    )
}

pub fn quick_http() -> Http {
    Http::new(HttpOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(800),
        request_timeout: Duration::from_secs(3),
        attempts: 2,
        backoff: Duration::from_millis(20),
        max_body: 64 << 20,
    })
}

/// Serve every corpus feed the updaters read, laid out as upstream lays them out.
pub fn serve_feeds(s: &TestServer) {
    let f = |rel: &str| std::fs::read(corpus(rel)).unwrap();
    s.put(
        "/debian/json",
        f("feeds/debian/clair2-security-tracker.json"),
    );
    s.put(
        "/alpine/",
        "<a href=\"v3.10/\">v3.10/</a> <a href=\"v3.11/\">v3.11/</a>",
    );
    s.put(
        "/alpine/v3.10/main.json",
        r#"{"distroversion": "v3.10", "reponame": "main", "packages": []}"#,
    );
    s.put(
        "/alpine/v3.10/community.json",
        f("feeds/alpine/claircore-v3.10-community.json"),
    );
    s.put(
        "/alpine/v3.11/main.json",
        f("feeds/alpine/vulnerablecode-v3.11-main.json"),
    );
    s.put(
        "/rhel/RHEL8/rhel-8.oval.xml.bz2",
        bz2(&gunzip(&f(
            "feeds/rhel/claircore-com.redhat.rhsa-RHEL8.xml.gz",
        ))),
    );
    s.put(
        "/ubuntu/com.ubuntu.xenial.cve.oval.xml.bz2",
        bz2(&f("feeds/ubuntu/clair3-xenial-cve.oval.xml")),
    );
    s.put(
        "/oracle/elsa.xml.bz2",
        bz2(&f("feeds/oracle/clair2-elsa-oval-1.xml")),
    );
    s.put(
        "/osv/PyPI/all.zip",
        zip_of(&[
            "feeds/osv/trivydb-PYSEC-2018-27.json",
            "feeds/osv/trivydb-PYSEC-2023-120.json",
        ]),
    );
    s.put(
        "/nvd/nvdcve-2.0-2016.json.gz",
        gzip(&f("feeds/nvd/claircore-nvd-api2-feed.json")),
    );
    s.put("/epss.csv.gz", gzip(&f("feeds/epss/claircore-epss.csv")));
    s.put(
        "/kev.json",
        f("feeds/kev/claircore-known_exploited_vulnerabilities.json"),
    );
    s.put(
        "/suse/opensuse.xml",
        f("feeds/suse/clair3-opensuse-oval.xml"),
    );
    s.put(
        "/photon/com.vmware.phsa-photon3.xml.gz",
        f("feeds/photon/claircore-com.vmware.phsa-photon3.xml.gz"),
    );
    // Amazon: mirror.list → repository → repodata/repomd.xml → updateinfo.
    s.put("/aws/2/mirror.list", format!("{}/aws/2/repo/\n", s.url()));
    s.put(
        "/aws/2/repo/repodata/repomd.xml",
        r#"<repomd><data type="updateinfo"><location href="repodata/updateinfo.xml.gz"/></data></repomd>"#,
    );
    s.put(
        "/aws/2/repo/repodata/updateinfo.xml.gz",
        gzip(&f("feeds/amazon/clair2-amazon_linux_2_updateinfo.xml")),
    );
    // Red Hat VEX: archive_latest.txt names a tar.zst of documents.
    s.put("/vex/archive_latest.txt", "csaf_vex_2024-06-23.tar.zst");
    s.put("/vex/csaf_vex_2024-06-23.tar.zst", vex_archive());
}

pub fn vex_archive() -> Vec<u8> {
    let docs = [
        "claircore-cve-2024-0727-openssl.json",
        "claircore-cve-2024-24786-illegal-module.json",
    ];
    let members: Vec<clair_test::tar::Member> = docs
        .iter()
        .map(|d| {
            clair_test::tar::Member::file(
                &format!("2024/{d}"),
                std::fs::read(corpus(&format!("feeds/rhel-csaf/{d}"))).unwrap(),
            )
        })
        .collect();
    zstd::encode_all(&clair_test::tar::build(&members)[..], 3).unwrap()
}

pub fn config(s: &TestServer) -> BTreeMap<String, serde_json::Value> {
    let u = s.url();
    let all = serde_json::json!({
        "debian": {"json_url": format!("{u}/debian/json")},
        "alpine": {"url": format!("{u}/alpine/")},
        "rhel": {"url": format!("{u}/rhel/"), "files": ["RHEL8/rhel-8.oval.xml.bz2"]},
        "rhel-vex": {"url": format!("{u}/vex/")},
        "ubuntu": {"url": format!("{u}/ubuntu"), "releases": ["xenial"]},
        "oracle": {"url": format!("{u}/oracle/elsa.xml.bz2")},
        "osv": {"url": format!("{u}/osv/"), "ecosystems": ["PyPI"]},
        "suse": {"url": format!("{u}/suse/"), "files": ["opensuse.xml"]},
        "photon": {"url": format!("{u}/photon/"), "releases": ["3"]},
        "aws": {"mirrors": {"2": format!("{u}/aws/2/mirror.list")}},
        "nvd": {"url": format!("{u}/nvd/"), "years": [2016]},
        "epss": {"url": format!("{u}/epss.csv.gz")},
        "kev": {"url": format!("{u}/kev.json")},
    });
    serde_json::from_value(all).unwrap()
}

/// The updaters named in `only`, or every updater there is.
pub fn manager(store: Arc<dyn Store>, s: &TestServer, only: &[&str]) -> UpdateManager {
    let names: &[&str] = if only.is_empty() {
        &clair_ecosystems::UPDATERS
    } else {
        only
    };
    let sets: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let ups = clair_ecosystems::updaters(Some(&sets), &config(s)).unwrap();
    UpdateManager::new(store, ups).with_http(quick_http())
}

pub fn latest(store: &dyn Store) -> Vec<Vulnerability> {
    let mut v = Vec::new();
    store
        .for_each_latest_vulnerability(None, &mut |x| v.push(x))
        .unwrap();
    v.sort();
    v
}

pub fn gzip(d: &[u8]) -> Vec<u8> {
    clair_test::tar::gzip(d)
}

pub fn gunzip(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(d), &mut out).unwrap();
    out
}

pub fn bz2(d: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    std::io::Write::write_all(&mut e, d).unwrap();
    e.finish().unwrap()
}

pub fn zip_of(rels: &[&str]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for r in rels {
            z.start_file(
                r.rsplit('/').next().unwrap(),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            std::io::Write::write_all(&mut z, &std::fs::read(corpus(r)).unwrap()).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}
