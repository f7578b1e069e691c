//! What the `clair` binary's end-to-end tests share: the binary run with a private database,
//! its output as text, and an Alpine image with the Alpine and NVD feeds that cover it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use clair_test::corpus;
use clair_test::http::TestServer;
use clair_test::oci::{Layer, write_layout};
use clair_test::tar::{Member, build, gzip};

/// A HOME that does not exist: no Docker credentials, no user config.
pub const NO_HOME: &str = "/nonexistent-home-for-tests";

/// `clair` with its database at `db` (`CLAIR_DATABASE_SOURCE`), `home` as HOME, no `CLAIR_LOG`.
pub fn clair(db: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clair"));
    c.env_remove("CLAIR_LOG")
        .env("CLAIR_DATABASE_SOURCE", db)
        .env("HOME", home);
    c
}

/// Its stdout as text.
pub fn out(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Its stderr as text.
pub fn err(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// The Alpine v3.4 secdb and NVD's 2016 CVSS for busybox (`testdata/nvd-busybox.json`), served
/// from 127.0.0.1 where [`alpine_nvd_config`] points the updaters.
pub fn alpine_nvd_feeds() -> TestServer {
    let server = TestServer::start();
    server.put(
        "/alpine/v3.4/main.json",
        std::fs::read(corpus("feeds/alpine/clair2-v34-main.yaml")).unwrap(),
    );
    let nvd = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/nvd-busybox.json");
    server.put(
        "/nvd/nvdcve-2.0-2016.json.gz",
        gzip(&std::fs::read(nvd).unwrap()),
    );
    server
}

/// A config whose updaters read the feeds of [`alpine_nvd_feeds`] at `url`.
pub fn alpine_nvd_config(url: &str) -> String {
    format!(
        "updaters:\n  sets: [alpine, nvd]\n  config:\n    alpine:\n      url: {url}/alpine/\n      releases: [v3.4]\n    nvd:\n      url: {url}/nvd/\n      years: [2016]\n"
    )
}

/// An Alpine 3.4 image, one layer, whose apk database is the corpus's (snyk-alpine-2.6.6)
/// edited by `edit`, written as the OCI layout `layout` under the name `name`; its reference.
pub fn alpine_image(layout: &Path, name: &str, edit: impl Fn(String) -> String) -> String {
    let db = std::fs::read_to_string(corpus("pkgdb/apk/snyk-alpine-2.6.6/installed")).unwrap();
    let tar = build(&[
        Member::file(
            "etc/os-release",
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.4.6\nPRETTY_NAME=\"Alpine Linux v3.4\"\n",
        ),
        Member::file("lib/apk/db/installed", edit(db)),
    ]);
    write_layout(layout, name, &[Layer::plain(&tar)]);
    format!("oci:{}:{name}", layout.display())
}

/// A test's working directory (with an empty `home/` for HOME) and the feed server its
/// `config.yaml` points the updaters at.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub server: TestServer,
}

impl Env {
    /// A fresh directory whose `config.yaml` is `config(server URL)`.
    pub fn new(server: TestServer, config: impl FnOnce(&str) -> String) -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
            server,
        };
        std::fs::create_dir_all(env.path("home")).unwrap();
        std::fs::write(env.path("config.yaml"), config(env.server.url())).unwrap();
        env
    }

    /// `rel` in the working directory.
    pub fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }
}
