//! Debian's `docker-registry` (the CNCF distribution registry) on 127.0.0.1, filled from
//! ../shared/images with `skopeo`, for tests that pull images as `clair` does in production.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::{KillOnDrop, wait_for_port, write_file};

/// Whether `docker-registry`, `skopeo`, `htpasswd` and `openssl` are installed. With `CI=true`
/// a missing one fails the test (scripts/test.sh installs them); elsewhere the test is skipped.
pub fn tools() -> bool {
    let have = |t: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let ok = have("docker-registry") && have("skopeo") && have("htpasswd") && have("openssl");
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: docker-registry, skopeo and htpasswd (apache2-utils) must be installed (scripts/test.sh does)"
        );
        eprintln!("skipping: docker-registry, skopeo or htpasswd missing");
    }
    ok
}

/// A running registry, stopped when dropped.
#[derive(Debug)]
pub struct Registry {
    _child: KillOnDrop,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its storage directory (`docker/registry/v2/...` below it).
    pub root: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Start a registry on a free port with its storage in a fresh directory. `config` gets that
    /// directory (for files the registry reads: htpasswd, certificates) and returns the YAML
    /// lines to add under `http:` (indented, such as a `tls:` block) and at the top level (such
    /// as an `auth:` block).
    pub fn start(config: impl FnOnce(&Path) -> (String, String)) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("storage");
        let addr = format!("127.0.0.1:{}", crate::free_port());
        let (http, top) = config(dir.path());
        let cfg = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{http}{top}",
            root.display()
        );
        let cfg_path = write_file(dir.path(), "config.yml", &cfg);
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = KillOnDrop(child);
        wait_for_port(&addr, Duration::from_secs(20), "registry did not start");
        Registry {
            _child: child,
            addr,
            root,
            _dir: dir,
        }
    }

    /// `skopeo copy` the OCI layout `image` of ../shared/images/oci to `repo` (`name:tag`),
    /// with `creds` (`user:password`) when given.
    pub fn push(&self, image: &str, repo: &str, creds: Option<&str>) {
        let mut c = Command::new("skopeo");
        c.args(["copy", "-q", "--dest-tls-verify=false"]);
        if let Some(cr) = creds {
            c.args(["--dest-creds", cr]);
        }
        let o = c
            .arg(format!("oci:{}:{image}", crate::images("oci").display()))
            .arg(format!("docker://{}/{repo}", self.addr))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Where the registry keeps the blob `digest` (`sha256:...`).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = &digest[7..];
        self.root
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}
