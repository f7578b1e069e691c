//! SBOM and VEX in, SPDX and HTML out, `clair diff`, quiet output: end to end with the
//! binary, an Alpine image built from the corpus's apk database, and the Alpine secdb and NVD
//! data served from 127.0.0.1. Third-party SBOMs are hand-written fixtures in the formats Syft
//! and Trivy write, and — where the tools are installed (scripts/test.sh installs them) — the
//! real output of Syft and Trivy run offline on the same image.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

mod common;

impl Env {
    fn clair(&self, args: &[&str]) -> Output {
        self.clair_in(self.dir.path(), args)
    }

    fn clair_in(&self, cwd: &Path, args: &[&str]) -> Output {
        clair(&self.path("clair.db"), &self.path("home"))
            .args(args)
            .current_dir(cwd)
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap()
    }

    /// `clair ARGS` that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.clair(args);
        assert!(o.status.success(), "clair {args:?}: {}", err(&o));
        out(&o)
    }

    /// An Alpine 3.4 image whose apk database is the corpus's, edited by `edit`.
    fn image(&self, name: &str, edit: impl Fn(String) -> String) -> String {
        alpine_image(&self.path(name), name, edit)
    }
}

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// The Alpine v3.4 secdb and NVD's 2016 CVSS for busybox, loaded with `clair update`.
fn setup() -> Env {
    let env = Env::new(alpine_nvd_feeds(), alpine_nvd_config);
    env.ok(&["--config", "config.yaml", "update"]);
    env
}

/// (package, vulnerability) pairs of a `scan --format json` report.
fn findings(json: &str) -> BTreeSet<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut out = BTreeSet::new();
    for (pid, ids) in v["package_vulnerabilities"].as_object().unwrap() {
        for id in ids.as_array().unwrap() {
            out.insert((
                v["packages"][pid]["name"].as_str().unwrap().to_string(),
                v["vulnerabilities"][id.as_str().unwrap()]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ));
        }
    }
    out
}

/// (name, version, source name) of an index report's packages; a source package of the same
/// name is no source (purls name only a different one).
fn packages(json: &str) -> BTreeSet<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["packages"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| {
            let text = |field: &str| p[field].as_str().unwrap().to_string();
            (
                text("name"),
                text("version"),
                p["source"]["name"]
                    .as_str()
                    .filter(|s| *s != p["name"])
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

/// A tool on PATH (or in the Python virtual environment scripts/test.sh makes); with
/// `CI=true` its absence is a failure.
fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(v) = std::env::var_os("CLAIR_TEST_VENV") {
        dirs.insert(0, PathBuf::from(v).join("bin"));
    }
    let found = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is required in CI (scripts/test.sh installs it)"
        );
        eprintln!("skipped: {name} is not installed (scripts/test.sh installs it)");
    }
    found
}

#[test]
fn own_sboms_read_back_with_the_same_findings() {
    let env = setup();
    let image = env.image("alpine", |db| db);
    let want = findings(&env.ok(&["scan", "-f", "json", &image]));
    assert_eq!(want.len(), 18, "{want:?}");
    // CycloneDX, as `clair scan` writes it.
    std::fs::write(
        env.path("own.cdx.json"),
        env.ok(&["scan", "-f", "cyclonedx", &image]),
    )
    .unwrap();
    let got = findings(&env.ok(&["scan", "-f", "json", "sbom:own.cdx.json"]));
    assert_eq!(got, want, "CycloneDX round trip");
    // SPDX, as `clair index` and `clair scan` write it.
    for cmd in ["index", "scan"] {
        std::fs::write(
            env.path("own.spdx.json"),
            env.ok(&[cmd, "-f", "spdx", &image]),
        )
        .unwrap();
        let got = findings(&env.ok(&["scan", "-f", "json", "sbom:own.spdx.json"]));
        assert_eq!(got, want, "SPDX round trip of {cmd}");
    }
    // The packages too: names, versions, source packages.
    assert_eq!(
        packages(&env.ok(&["index", "-f", "json", "sbom:own.spdx.json"])),
        packages(&env.ok(&["index", "-f", "json", &image]))
    );
    // Quiet: nothing on stderr for a normal SBOM.
    let o = env.clair(&["scan", "sbom:own.spdx.json"]);
    assert!(o.status.success());
    assert_eq!(err(&o), "", "a normal scan prints no warnings");
    let table = out(&o);
    assert!(
        table.starts_with("Image:        sbom:own.spdx.json (sbom)\n"),
        "{table}"
    );
    assert!(
        table.contains("Distribution: alpine 3.4.6 (id alpine, version 3.4.6)"),
        "{table}"
    );
}

#[test]
fn third_party_sbom_formats() {
    let env = setup();
    let image = env.image("alpine", |db| db);
    let want = findings(&env.ok(&["scan", "-f", "json", &image]));
    for f in [
        "sbom/trivy-alpine.cdx.json",
        "sbom/syft-alpine.spdx.json",
        "sbom/cyclonedx-1.4-nested.json",
    ] {
        let path = testdata(f);
        let got = findings(&env.ok(&["scan", "-f", "json", &format!("sbom:{}", path.display())]));
        assert_eq!(got, want, "{f}");
    }
    // Garbage is refused with the file named.
    std::fs::write(
        env.path("bad.json"),
        "{\"bomFormat\":\"CycloneDX\",\"specVersion\":1}",
    )
    .unwrap();
    let o = env.clair(&["scan", "sbom:bad.json"]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(e.contains("bad.json") && e.contains("CycloneDX"), "{e}");
}

#[test]
fn syft_and_trivy_sboms() {
    let env = setup();
    let image = env.image("alpine", |db| db);
    let want = findings(&env.ok(&["scan", "-f", "json", &image]));
    let layout = env.path("alpine");
    if let Some(syft) = tool("syft") {
        for (fmt, file) in [
            ("cyclonedx-json", "syft.cdx.json"),
            ("spdx-json", "syft.spdx.json"),
        ] {
            let o = Command::new(&syft)
                .args(["scan", &format!("oci-dir:{}", layout.display()), "-q", "-o"])
                .arg(format!("{fmt}={}", env.path(file).display()))
                .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
                .output()
                .unwrap();
            assert!(o.status.success(), "syft: {}", err(&o));
            let got = findings(&env.ok(&["scan", "-f", "json", &format!("sbom:{file}")]));
            assert_eq!(got, want, "{file}");
        }
    }
    if let Some(trivy) = tool("trivy") {
        for (fmt, file) in [
            ("cyclonedx", "trivy.cdx.json"),
            ("spdx-json", "trivy.spdx.json"),
        ] {
            let o = Command::new(&trivy)
                .args(["image", "--quiet", "--skip-db-update", "--offline-scan"])
                .args(["--scanners", "license", "--cache-dir"])
                .arg(env.path("trivy-cache"))
                .arg("--input")
                .arg(&layout)
                .args(["--format", fmt, "--output"])
                .arg(env.path(file))
                .output()
                .unwrap();
            assert!(o.status.success(), "trivy: {}{}", out(&o), err(&o));
            let got = findings(&env.ok(&["scan", "-f", "json", &format!("sbom:{file}")]));
            assert_eq!(got, want, "{file}");
        }
    }
}

#[test]
fn vex_and_ignore_file_suppress_with_reasons() {
    let env = setup();
    let image = env.image("alpine", |db| db);
    let vex = testdata("vex/alpine.openvex.json");
    let csaf = testdata("vex/alpine.csaf.json");
    let (vex, csaf) = (vex.to_str().unwrap(), csaf.to_str().unwrap());
    std::fs::write(
        env.path(".clairignore"),
        "# accepted\nCVE-2016-2107 libcrypto1.0 exp:2099-12-31 # padding oracle: no AES-NI here\n\
         CVE-2016-2109 exp:2020-01-01 # ASN.1 BIO: looked at in 2019\n",
    )
    .unwrap();
    let json = env.ok(&["scan", "-f", "json", "--vex", vex, "--vex", csaf, &image]);
    let got = findings(&json);
    assert_eq!(got.len(), 18 - 3, "three suppressed: {got:?}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sup: Vec<(String, String, String)> = v["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["vulnerability"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
                s["justification"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sup,
        vec![
            (
                "CVE-2016-2148".to_string(),
                "not_affected".to_string(),
                "vulnerable_code_not_in_execute_path: the image runs no DHCP client".to_string()
            ),
            (
                "CVE-2016-2105".to_string(),
                "fixed".to_string(),
                String::new()
            ),
            (
                "CVE-2016-2107".to_string(),
                "ignored".to_string(),
                "padding oracle: no AES-NI here".to_string()
            ),
        ]
    );
    // The expired entry is reported and no longer applies.
    assert!(got.contains(&("libcrypto1.0".into(), "CVE-2016-2109".into())));
    assert_eq!(
        v["expired_ignores"][0],
        ".clairignore line 3: CVE-2016-2109 expired on 2020-01-01; it no longer applies (reason was: ASN.1 BIO: looked at in 2019)"
    );
    let o = env.clair(&["scan", "--vex", vex, "--vex", csaf, &image]);
    assert!(o.status.success());
    assert!(
        err(&o).contains("warning: .clairignore line 3: CVE-2016-2109 expired"),
        "{}",
        err(&o)
    );
    let table = out(&o);
    assert!(
        table.contains("15 vulnerabilities in 2 packages"),
        "{table}"
    );
    assert!(table.contains("Suppressed (3):"), "{table}");
    assert!(
        table.contains("vulnerable_code_not_in_execute_path: the image runs no DHCP client (OpenVEX https://example.com/vex/alpine-2016-1)"),
        "{table}"
    );
    // SARIF marks them as suppressed results.
    let sarif: serde_json::Value =
        serde_json::from_str(&env.ok(&["scan", "-f", "sarif", "--vex", vex, &image])).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let suppressed: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(
        suppressed.len(),
        2,
        "busybox's CVE-2016-2148 and the ignored CVE-2016-2107"
    );
    assert_eq!(suppressed[0]["suppressions"][0]["status"], "accepted");
    // An explicit ignore file that does not exist is an error naming it.
    let o = env.clair(&["scan", "--ignore-file", "nope", &image]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("nope"), "{}", err(&o));
}

#[test]
fn spdx_output_is_valid_spdx_2_3() {
    let env = setup();
    let image = env.image("alpine", |db| db);
    let Some(pyspdxtools) = tool("pyspdxtools") else {
        return;
    };
    for cmd in ["index", "scan"] {
        let file = env.path(&format!("{cmd}.spdx.json"));
        std::fs::write(&file, env.ok(&[cmd, "-f", "spdx", &image])).unwrap();
        // The SPDX project's own tools: parse, then validate against the 2.3 specification.
        let o = Command::new(&pyspdxtools)
            .arg("-i")
            .arg(&file)
            .arg("--version")
            .arg("SPDX-2.3")
            .output()
            .unwrap();
        assert!(
            o.status.success() && !out(&o).contains("validation"),
            "{cmd}: {}{}",
            out(&o),
            err(&o)
        );
    }
}

#[test]
fn diff_between_builds_and_stored_reports() {
    let env = setup();
    // Old: busybox already fixed, libcrypto1.0 as in the corpus. New: the old busybox back,
    // libcrypto1.0 gone.
    let fixed_busybox = |db: String| db.replace("V:1.21.1-r2", "V:1.24.2-r0");
    let old = env.image("old", fixed_busybox);
    let new = env.image("new", |db: String| {
        db.split("\n\n")
            .filter(|s| !s.contains("P:libcrypto1.0\n"))
            .collect::<Vec<_>>()
            .join("\n\n")
    });
    let o = env.clair(&["diff", &old, &new]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let table = out(&o);
    assert!(table.contains("Introduced (2):"), "{table}");
    assert!(table.contains("Fixed (16):"), "{table}");
    assert!(
        table.contains("busybox  1.21.1-r2  CVE-2016-2148  Critical  1.24.2-r0  1"),
        "{table}"
    );
    assert!(table.contains("Unchanged: 0"), "{table}");
    // CI gate: something at or above High was introduced.
    let o = env.clair(&["diff", "--fail-on", "high", "--exit-code", "9", &old, &new]);
    assert_eq!(o.status.code(), Some(9), "{}", err(&o));
    assert!(
        err(&o).contains("2 introduced vulnerabilities at or above High"),
        "{}",
        err(&o)
    );
    let o = env.clair(&["diff", "--fail-on", "critical", &new, &old]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "nothing introduced going back: {}",
        err(&o)
    );
    // Stored reports, and JSON.
    std::fs::write(env.path("old.json"), env.ok(&["scan", "-f", "json", &old])).unwrap();
    std::fs::write(env.path("new.json"), env.ok(&["scan", "-f", "json", &new])).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["diff", "-f", "json", "old.json", "new.json"])).unwrap();
    assert_eq!(v["introduced"].as_array().unwrap().len(), 2);
    assert_eq!(v["fixed"].as_array().unwrap().len(), 16);
    assert_eq!(
        v["summary"]["introduced"],
        serde_json::json!({"Critical": 1, "High": 1})
    );
    assert_eq!(v["old"]["reference"], "old.json");
    assert!(
        v["introduced"][0]["layer_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{v}"
    );
    // Unchanged findings: the same image twice.
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["diff", "-f", "json", "old.json", &old])).unwrap();
    assert_eq!(v["unchanged"].as_array().unwrap().len(), 16);
    assert!(v["introduced"].as_array().unwrap().is_empty());
}

#[test]
fn unknown_transports_say_so() {
    let env = setup();
    for r in ["docker-daemon:alpine:3.4", "foo:/tmp/x"] {
        let o = env.clair(&["index", r]);
        assert_eq!(o.status.code(), Some(1));
        let e = err(&o);
        assert!(
            e.contains("unknown image transport") && !e.contains("not supported yet"),
            "{r}: {e}"
        );
    }
}

/// Headless Chromium, as the brief of the HTML report asks: no network, a fresh profile.
fn chromium(env: &Env, args: &[&str]) -> Option<Output> {
    let bin = tool("chromium")?;
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new("timeout")
        .arg("120")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "chromium {args:?}: {}", err(&o));
    Some(o)
}

/// The rows of table `id` in a dumped DOM: (visible, total).
fn rows(dom: &str, id: &str) -> (usize, usize) {
    let start = dom
        .find(&format!("<table class=\"findings\" id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id}"));
    let table = &dom[start..];
    let table = &table[..table.find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr data-severity").skip(1).collect();
    let visible = rows
        .iter()
        .filter(|r| !r[..r.find('>').unwrap()].contains("hidden"))
        .count();
    (visible, rows.len())
}

#[test]
fn html_report_in_a_browser() {
    let env = setup();
    let image = env.image("alpine", |db| db);
    let vex = testdata("vex/alpine.openvex.json");
    let html = env.ok(&["scan", "-f", "html", "--vex", vex.to_str().unwrap(), &image]);
    assert!(
        !html.contains("<link") && !html.contains(" src="),
        "self-contained: nothing loaded"
    );
    let page = env.path("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());
    let Some(o) = chromium(&env, &["--dump-dom", &url]) else {
        return;
    };
    let dom = out(&o);
    assert_eq!(rows(&dom, "findings"), (17, 17), "every finding shown");
    assert_eq!(rows(&dom, "suppressed"), (1, 1));
    for (want, what) in [
        ("id=\"findings-shown\">17 of 17 shown", "the script ran"),
        ("<b id=\"count-fixable\">17</b>", "summary"),
        ("data-severity-row=\"High\"", "summary by severity"),
        ("<table id=\"by-layer\">", "summary by layer"),
    ] {
        assert!(dom.contains(want), "{what}");
    }
    // Each finding with what `clair explain` says: the record and the comparison.
    assert!(
        dom.contains("feed record:    alpine CVE-2016-2147 [alpine:v3.4] source package")
            && dom.contains("decision:       apk: 1.21.1-r2 is affected: fixed in 1.24.2-r0"),
        "explanations"
    );
    // Filters, applied by the page's script from the URL fragment.
    for (fragment, want) in [
        ("q=busybox", 1),
        ("q=cve-2016-21", 13),
        ("severity=4", 1),
        ("severity=4&q=libcrypto", 0),
        ("fixable=1", 17),
    ] {
        let o = chromium(&env, &["--dump-dom", &format!("{url}#{fragment}")]).unwrap();
        let dom = out(&o);
        assert_eq!(rows(&dom, "findings").0, want, "#{fragment}");
        assert!(
            dom.contains(&format!("id=\"findings-shown\">{want} of 17 shown")),
            "#{fragment}"
        );
    }
    // Sorting (a click on a heading, here from the fragment): by vulnerability, both ways.
    let first_row = |dom: &str| {
        let t = &dom[dom
            .find("<table class=\"findings\" id=\"findings\">")
            .unwrap()..];
        let r = &t[t.find("<tr data-severity").unwrap()..];
        r[..r.find("</tr>").unwrap()].to_string()
    };
    assert!(first_row(&dom).contains("busybox"), "most severe first");
    let o = chromium(&env, &["--dump-dom", &format!("{url}#sort=2")]).unwrap();
    assert!(first_row(&out(&o)).contains(">CVE-2016-2105<"), "ascending");
    let o = chromium(&env, &["--dump-dom", &format!("{url}#sort=2&desc=1")]).unwrap();
    assert!(
        first_row(&out(&o)).contains(">CVE-2016-6306<"),
        "descending"
    );
    // A screenshot renders (docs/html-report.png was taken the same way).
    let shot = env.path("shot.png");
    chromium(
        &env,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
            "--hide-scrollbars",
            &url,
        ],
    )
    .unwrap();
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    // clair diff renders the same way.
    let new = env.image("new", |db: String| db.replace("V:1.21.1-r2", "V:1.24.2-r0"));
    std::fs::write(
        env.path("diff.html"),
        env.ok(&["diff", "-f", "html", &image, &new]),
    )
    .unwrap();
    let o = chromium(
        &env,
        &[
            "--dump-dom",
            &format!("file://{}", env.path("diff.html").display()),
        ],
    )
    .unwrap();
    let dom = out(&o);
    assert_eq!(rows(&dom, "fixed"), (2, 2));
    assert_eq!(rows(&dom, "introduced"), (0, 0));
    assert_eq!(rows(&dom, "unchanged"), (16, 16));
}
