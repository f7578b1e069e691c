//! The `clair` binary end to end: output formats, exit codes, error messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use clair_test::images;

/// Run clair with a private database (never the user's own).
fn clair(args: &[&str]) -> Output {
    let db = tempfile::tempdir().unwrap();
    clair_db(args, &db.path().join("clair.db"))
}

fn clair_db(args: &[&str], db: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(args)
        .env_remove("CLAIR_LOG")
        .env_remove("CLAIR_DATABASE_SOURCE")
        .env("CLAIR_DATABASE_SOURCE", db)
        .env("HOME", "/nonexistent-home-for-tests")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn index_json_is_a_clair_v4_index_report() {
    let r = format!("oci:{}:bookworm-minbase", images("oci").display());
    let o = clair(&["index", "--format", "json", &r]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["manifest_hash"],
        "sha256:03817131159b1518eb99e24e8e9a311d567e2704948efc608368a45728edac96"
    );
    assert_eq!(v["state"], "IndexFinished");
    assert_eq!(v["success"], true);
    let packages = v["packages"].as_object().unwrap();
    assert_eq!(packages.len(), 88);
    let (id, bash) = packages.iter().find(|(_, p)| p["name"] == "bash").unwrap();
    assert_eq!(bash["id"], id.as_str());
    assert_eq!(bash["kind"], "binary");
    assert_eq!(bash["source"]["name"], "bash");
    assert_eq!(bash["source"]["version"], "5.2.15-2");
    assert_eq!(bash["source"]["kind"], "source");
    let env = &v["environments"][id][0];
    assert_eq!(env["package_db"], "var/lib/dpkg/status");
    assert_eq!(
        env["introduced_in"],
        "sha256:7cc8b9a1595b7bb1506fa1161c194bcc95174bc68c33e9c76aa9e8268f29760a"
    );
    for key in ["distributions", "repository", "err"] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn index_table_lists_packages_with_their_layer() {
    let r = format!("oci:{}:bookworm-layered", images("oci").display());
    let o = clair(&["index", &r]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Packages:     105"), "{out}");
    let curl = out.lines().find(|l| l.starts_with("curl ")).unwrap();
    let cols: Vec<&str> = curl.split_whitespace().collect();
    assert_eq!(cols[1], "7.88.1-10+deb12u15");
    assert_eq!(cols[cols.len() - 2], "2", "curl comes from layer 2: {curl}");
}

#[test]
fn errors_name_what_is_at_fault_and_exit_1() {
    let o = clair(&["index", "/nonexistent/image.tar"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("/nonexistent/image.tar"), "{err}");
    assert!(err.contains("no such file"), "{err}");

    let o = clair(&["index", &format!("oci:{}", images("oci").display())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bookworm-layered"), "{}", stderr(&o));

    let o = clair(&["index", "--platform", "linux", "dir:/"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("os/arch"), "{}", stderr(&o));

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, vec![0x42u8; 4096]).unwrap();
    let o = clair(&["index", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("junk.bin"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2_and_help_documents_image_references() {
    let o = clair(&["index"]);
    assert_eq!(o.status.code(), Some(2));
    let o = clair(&["index", "--help"]);
    assert!(o.status.success());
    let help = stdout(&o);
    for r in [
        "oci:PATH[:REF]",
        "docker-archive:PATH",
        "dir:PATH",
        "--format",
        "--platform",
    ] {
        assert!(help.contains(r), "help lacks {r}");
    }
}

#[test]
fn indexes_a_root_filesystem_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\n",
    )
    .unwrap();
    let o = clair(&["index", "-f", "json", &format!("dir:{}", root.display())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let p = v["packages"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(
        (p["name"].as_str(), p["version"].as_str()),
        (Some("hello"), Some("2.10-3"))
    );
}

#[test]
fn second_index_of_an_image_reads_no_layer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("clair.db");
    let r = format!("oci:{}:bookworm-layered", images("oci").display());
    let first = clair_db(&["index", "-v", "-f", "json", &r], &db);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("layers_read=4"),
        "{}",
        stderr(&first)
    );
    let second = clair_db(&["index", "-v", "-f", "json", &r], &db);
    assert!(second.status.success());
    let log = stderr(&second);
    assert!(
        log.contains("layers_read=0") && log.contains("origin=Stored"),
        "{log}"
    );
    assert_eq!(stdout(&first), stdout(&second), "same report");
    // A different image sharing the base layer reads only its own layers (none here).
    let base = format!("oci:{}:bookworm-minbase", images("oci").display());
    let third = clair_db(&["index", "-v", &base], &db);
    let log = stderr(&third);
    assert!(
        log.contains("layers_read=0") && log.contains("layers_cached=1"),
        "{log}"
    );
    assert!(db.is_file());
}

#[test]
fn database_source_comes_from_a_clair_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-config.db");
    let cfg = clair_test::config_file!(
        dir.path(),
        "clair:\n  database:\n    type: pgsql\n    options:\n      source: {}\n",
        db.display()
    );
    let o = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args([
            "-config",
            cfg.to_str().unwrap(),
            "index",
            &format!("dir:{}", dir.path().display()),
        ])
        .env_remove("CLAIR_DATABASE_SOURCE")
        .env("HOME", "/nonexistent-home-for-tests")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(db.is_file(), "the config's database was used");
    let o = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args(["--config", "/nonexistent/config.yaml", "index", "dir:/"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent/config.yaml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn update_runs_reports_and_moves_offline() {
    let server = clair_test::http::TestServer::start();
    server.put(
        "/debian.json",
        std::fs::read(clair_test::corpus(
            "feeds/debian/clair2-security-tracker.json",
        ))
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = clair_test::config_file!(
        dir.path(),
        "updaters:\n  sets: [debian]\n  config:\n    debian:\n      json_url: {}/debian.json\n",
        server.url()
    );
    let db = dir.path().join("clair.db");
    let run = |args: &[&str]| {
        let mut a = vec!["--config", cfg.to_str().unwrap()];
        a.extend_from_slice(args);
        clair_db(&a, &db)
    };
    let o = run(&["update", "-f", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["updater"], "debian");
    assert_eq!(v[0]["outcome"], "updated");
    assert_eq!(v[0]["records"], 5);
    let o = run(&["update"]);
    assert!(stdout(&o).contains("unchanged"), "{}", stdout(&o));
    let o = run(&["update", "--status"]);
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with("debian") && l.contains(" 5 ")),
        "{}",
        stdout(&o)
    );
    // Export, then import into another database with no server at all.
    let bundle = dir.path().join("feeds.bundle");
    let o = run(&["update", "export", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    drop(server);
    let other = dir.path().join("offline.db");
    // Unsigned: refused unless asked for.
    let o = clair_db(&["update", "import", bundle.to_str().unwrap()], &other);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refused: it is not signed"),
        "{}",
        stderr(&o)
    );
    let o = clair_db(
        &[
            "update",
            "import",
            "--allow-unsigned",
            bundle.to_str().unwrap(),
        ],
        &other,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("updated"));
    // A failing feed: exit code 1 and the error in the summary.
    let o = run(&["update", "--attempts", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("FAILED") && stdout(&o).contains("debian.json"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn config_check_applies_env_overrides_and_redacts_secrets() {
    let cfg = clair_test::shared().join("spec/configs/clair-v4-combo.yaml");
    let run = |key: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clair"));
        c.args(["config", "check", "-f", "json"])
            .arg(&cfg)
            .env_remove("CLAIR_API_PAGINATIONKEY")
            .env(
                "CLAIR_DATABASE_SOURCE",
                "postgresql://clair:s3cret@db.example:5432/clair",
            );
        if let Some(k) = key {
            c.env("CLAIR_API_PAGINATIONKEY", k);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let plain: serde_json::Value = serde_json::from_str(&run(None)).unwrap();
    assert!(plain["config"]["pagination_key"].is_null());
    assert_eq!(
        plain["config"]["database"],
        "postgresql://clair:<redacted>@db.example:5432/clair"
    );
    let key = "XxoPtCUzrUv4JV5dS+yQ+MdW7yLEJnRMwigVY/bpgtQ=";
    let out = run(Some(key));
    let with: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(with["config"]["pagination_key"], "<redacted>");
    assert!(!out.contains(key) && !out.contains("s3cret"), "{out}");
    assert_eq!(with["config"]["psk"]["key"], "<redacted>");
    // Exactly the Clair settings clair-rs does not use (the database is not one of them:
    // the variable overrides it, the file still names it).
    let warned: Vec<&str> = with["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["key"].as_str().unwrap())
        .collect();
    assert_eq!(warned.len(), 8, "{warned:?}");
    assert!(warned.contains(&"indexer.migrations"), "{warned:?}");
    assert!(
        !warned.iter().any(|k| k.ends_with("connstring")),
        "{warned:?}"
    );
}

/// `clair --version` names the commit it was built from (git here; CLAIR_BUILD_COMMIT or
/// build-commit elsewhere, see build.rs), its features and target; `-V` is one line.
#[test]
fn version_names_the_commit() {
    let long = stdout(&clair(&["--version"]));
    assert!(
        long.starts_with(&format!("clair {}\n", env!("CARGO_PKG_VERSION"))),
        "{long}"
    );
    for field in ["commit:", "features:", "target:", "profile:", "rustc:"] {
        assert!(long.contains(&format!("\n{field}")), "no {field} in {long}");
    }
    let head = Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(head) = head {
        assert!(
            long.contains(&format!("\ncommit:   {head} (")),
            "{long} is not at {head}"
        );
    }
    let short = stdout(&clair(&["-V"]));
    assert_eq!(short.lines().count(), 1, "{short}");
    assert!(short.contains(" ("), "{short}");
}
