//! `clair scan` and `clair explain` end to end: feeds from a real HTTP server on 127.0.0.1,
//! an image assembled from a real Alpine package database, snapshots of every output format,
//! and the exit codes CI gating relies on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Output;

use clair_test::http::TestServer;
use clair_test::oci::{Layer, write_layout};
use clair_test::tar::{Member, build};
use common::*;

mod common;

struct Env {
    dir: tempfile::TempDir,
    image: String,
    _server: TestServer,
}

impl Env {
    fn db(&self) -> PathBuf {
        self.dir.path().join("clair.db")
    }

    fn clair(&self, args: &[&str]) -> Output {
        clair_with_db(args, &self.db())
    }

    /// `clair scan FLAGS --exit-code 4 -f json IMAGE`, which must exit 4; its report.
    fn scan_failing_json(&self, flags: &[&str]) -> serde_json::Value {
        let mut args = vec!["scan"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--exit-code", "4", "-f", "json", &self.image]);
        let o = self.clair(&args);
        assert_eq!(o.status.code(), Some(4));
        serde_json::from_str(&out(&o)).unwrap()
    }

    /// Replace the temporary directory in output with a stable name.
    fn redact(&self, s: &str) -> String {
        s.replace(&self.dir.path().display().to_string(), "[TMP]")
    }
}

fn clair_with_db(args: &[&str], db: &Path) -> Output {
    clair(db, Path::new(NO_HOME)).args(args).output().unwrap()
}

/// An Alpine 3.4 image with the 2016 apk database of the corpus, the Alpine v3.4 secdb and
/// NVD CVSS data for two busybox CVEs, loaded with `clair update`.
fn setup(load: bool) -> Env {
    let server = alpine_nvd_feeds();
    let dir = tempfile::tempdir().unwrap();
    let image = alpine_image(&dir.path().join("image"), "alpine", |db| db);
    let env = Env {
        image,
        dir,
        _server: server,
    };
    if load {
        let cfg =
            clair_test::config_file!(env.dir.path(), "{}", alpine_nvd_config(env._server.url()));
        let o = env.clair(&["--config", cfg.to_str().unwrap(), "update"]);
        assert!(o.status.success(), "{}{}", out(&o), err(&o));
    }
    env
}

#[test]
fn outputs_match_snapshots() {
    let env = setup(true);
    let o = env.clair(&["scan", &env.image]);
    assert!(o.status.success(), "{}", err(&o));
    insta::assert_snapshot!("scan_table", env.redact(&out(&o)));
    let o = env.clair(&["scan", "--format", "json", &env.image]);
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    // Clair v4 VulnerabilityReport: the fields Quay's schema requires.
    for k in [
        "manifest_hash",
        "packages",
        "distributions",
        "environments",
        "vulnerabilities",
        "package_vulnerabilities",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    insta::assert_snapshot!("scan_json", env.redact(&out(&o)));
    let o = env.clair(&["scan", "--format", "sarif", &env.image]);
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["version"], "2.1.0");
    insta::assert_snapshot!("scan_sarif", env.redact(&out(&o)));
    let o = env.clair(&["scan", "--format", "cyclonedx", &env.image]);
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["bomFormat"], "CycloneDX");
    // 13 packages and the operating system (what `scan sbom:` reads the distribution from).
    let components = v["components"].as_array().unwrap();
    assert_eq!(components.len(), 14);
    let os: Vec<_> = components
        .iter()
        .filter(|c| c["type"] == "operating-system")
        .collect();
    assert_eq!(
        (os.len(), &os[0]["name"], &os[0]["version"]),
        (1, &"alpine".into(), &"3.4.6".into())
    );
    let busybox = clair_test::find(&v["components"], "name", "busybox");
    assert_eq!(
        busybox["purl"],
        "pkg:apk/alpine/busybox@1.21.1-r2?arch=x86_64&distro=alpine-3.4.6"
    );
}

#[test]
fn severity_threshold_and_exit_codes() {
    let env = setup(true);
    // NVD's CVSS gives the busybox CVEs (no Alpine severity) High (7.5) and Critical (9.8).
    let o = env.clair(&[
        "scan",
        "--severity-threshold",
        "high",
        "--exit-code",
        "4",
        &env.image,
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    let table = out(&o);
    assert!(
        table.contains("CVE-2016-2147") && table.contains("CVE-2016-2148"),
        "{table}"
    );
    assert!(
        !table.contains("CVE-2016-2107"),
        "below the threshold: {table}"
    );
    assert!(
        table.contains("2 vulnerabilities in 1 packages: 1 Critical, 1 High"),
        "{table}"
    );
    let v = env.scan_failing_json(&["--severity-threshold", "critical"]);
    let names: Vec<&str> = clair_test::fields(&v["vulnerabilities"], "name").collect();
    assert_eq!(names, vec!["CVE-2016-2148"]);
    // Without --exit-code, findings do not fail the command.
    let o = env.clair(&["scan", "--severity-threshold", "critical", &env.image]);
    assert_eq!(o.status.code(), Some(0));
    // Nothing at or above the threshold... there is no such level above Critical, so filter
    // everything out with --ignore-unfixed on a threshold nothing reaches instead: all of
    // these have fixes, so --ignore-unfixed keeps them.
    let v = env.scan_failing_json(&["--ignore-unfixed"]);
    assert_eq!(v["vulnerabilities"].as_object().unwrap().len(), 18);
}

#[test]
fn no_data_is_never_a_clean_report() {
    let env = setup(false);
    let o = env.clair(&["scan", &env.image]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).is_empty(), "no report printed: {}", out(&o));
    let e = err(&o);
    assert!(
        e.contains("no vulnerability data covers this image")
            && e.contains("alpine:v3.4")
            && e.contains("clair update"),
        "{e}"
    );
    let o = env.clair(&["scan", "--allow-missing-data", &env.image]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let table = out(&o);
    assert!(table.contains("Not covered:  alpine:v3.4"), "{table}");
}

#[test]
fn explain_shows_layer_database_record_and_comparison() {
    let env = setup(true);
    let o = env.clair(&["explain", &env.image, "CVE-2016-2147"]);
    assert!(o.status.success(), "{}", err(&o));
    insta::assert_snapshot!("explain_affected", env.redact(&out(&o)));
    let o = env.clair(&["explain", &env.image, "CVE-1999-0001"]);
    assert!(o.status.success());
    assert!(
        out(&o).contains("No record of CVE-1999-0001 applies"),
        "{}",
        out(&o)
    );
}

/// An image with two installs of Flask (`Flask_Login` 4.18.0 and 4.17.0 in two virtualenvs),
/// and the OSV record of issue 14: a range out of order and a versions list.
#[test]
fn explain_says_which_osv_rule_decided() {
    let server = TestServer::start();
    server.put(
        "/osv/PyPI/all.zip",
        r#"[{"id": "PYSEC-2099-14", "summary": "flask-login: generated for clair-rs' tests",
            "aliases": ["CVE-2099-0014"],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "flask-login"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "4.17.0rc3"}, {"introduced": "0"},
                {"fixed": "4.17.1"}, {"introduced": "4.17.0rc4"}]},
                {"type": "GIT", "repo": "https://example.com/flask-login", "events": [{"introduced": "0"}]}],
              "versions": ["4.17.0", "4.18.0"]}]}]"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let metadata = |name: &str, version: &str| {
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    };
    let tar = build(&[
        Member::file(
            "app/a/lib/python3.11/site-packages/Flask_Login-4.18.0.dist-info/METADATA",
            metadata("Flask_Login", "4.18.0"),
        ),
        Member::file(
            "app/b/lib/python3.11/site-packages/flask_login-4.17.0rc3.dist-info/METADATA",
            metadata("flask-login", "4.17.0rc3"),
        ),
        Member::file(
            "app/c/lib/python3.11/site-packages/flask_login-4.17.0rc5.dist-info/METADATA",
            metadata("flask-login", "4.17.0rc5"),
        ),
    ]);
    let layout = dir.path().join("image");
    write_layout(&layout, "flask", &[Layer::plain(&tar)]);
    let image = format!("oci:{}:flask", layout.display());
    let db = dir.path().join("clair.db");
    let cfg = clair_test::config_file!(
        dir.path(),
        "updaters:\n  sets: [osv]\n  config:\n    osv:\n      url: {}/osv/\n      ecosystems: [PyPI]\n",
        server.url()
    );
    let o = clair_with_db(&["--config", cfg.to_str().unwrap(), "update"], &db);
    assert!(o.status.success(), "{}{}", out(&o), err(&o));
    let o = clair_with_db(&["explain", &image, "PYSEC-2099-14"], &db);
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    let decisions: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("decision:"))
        .map(str::trim)
        .collect();
    // 4.18.0: listed; 4.17.0rc5: in the sorted range [4.17.0rc4, 4.17.1); 4.17.0rc3: fixed
    // there (in file order it paired with introduced 0 and looked affected).
    assert!(
        decisions.contains(&"pep440: 4.18.0 is affected: listed in the record's versions"),
        "{text}"
    );
    assert!(
        decisions.contains(
            &"pep440: 4.17.0rc5 is affected: range walk over the sorted events: >= 4.17.0rc4, < 4.17.1"
        ),
        "{text}"
    );
    assert!(
        decisions.contains(
            &"pep440: 4.17.0rc3 is not affected: range walk over the sorted events: >= 4.17.0rc4, < 4.17.1"
        ),
        "{text}"
    );
    assert!(
        text.contains("2 of"),
        "4.18.0 and 4.17.0rc5 are affected, 4.17.0rc3 is not: {text}"
    );
}
