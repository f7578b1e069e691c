//! Signed feed bundles: `clair update keygen`, `export --sign`, and `import` refusing what no
//! trusted key signed, end to end with the binary and feeds served from 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

use clair_test::corpus;
use clair_test::http::TestServer;
use common::*;

mod common;

impl Env {
    fn clair(&self, db: &str, args: &[&str], envs: &[(&str, &Path)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clair"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("CLAIR_LOG")
            .env_remove("CLAIR_BUNDLE_TRUSTED_KEYS")
            .env_remove("XDG_CONFIG_HOME")
            .env("CLAIR_DATABASE_SOURCE", self.path(db))
            .env("HOME", self.path("home"));
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.clair("online.db", args, &[]);
        assert!(o.status.success(), "clair {args:?}: {}{}", out(&o), err(&o));
        out(&o)
    }

    /// Rewrite the bundle `from` as `to` (both in the work directory), see [`rewrite`].
    fn rewrite(&self, from: &str, to: &str, edit: impl Fn(&str, &mut Vec<u8>)) {
        rewrite(&self.path(from), &self.path(to), edit)
    }

    /// Import `bundle` into a fresh database `db` trusting the key `key`.
    fn import_trusting(&self, db: &str, bundle: &str, key: &str) -> Output {
        self.import(db, &[bundle, "--trusted-key", key], &[])
    }

    /// `import_trusting` that must be refused (exit 1); its stderr.
    fn refused(&self, db: &str, bundle: &str, key: &str) -> String {
        let o = self.import_trusting(db, bundle, key);
        assert_eq!(o.status.code(), Some(1));
        err(&o)
    }

    /// Import into a fresh database (a new air-gapped machine).
    fn import(&self, db: &str, args: &[&str], envs: &[(&str, &Path)]) -> Output {
        let mut a = vec!["update", "import"];
        a.extend_from_slice(args);
        self.clair(db, &a, envs)
    }
}

fn setup() -> Env {
    let server = TestServer::start();
    server.put(
        "/alpine/v3.4/main.json",
        std::fs::read(corpus("feeds/alpine/clair2-v34-main.yaml")).unwrap(),
    );
    Env::new(server, |url| {
        format!(
            "updaters:\n  sets: [alpine]\n  config:\n    alpine:\n      url: {url}/alpine/\n      releases: [v3.4]\n"
        )
    })
}

/// Rewrite a bundle with `edit` applied to each member's (name, bytes).
fn rewrite(from: &Path, to: &Path, edit: impl Fn(&str, &mut Vec<u8>)) {
    let dec = zstd::stream::read::Decoder::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut a = tar::Archive::new(dec);
    let enc = zstd::stream::write::Encoder::new(std::fs::File::create(to).unwrap(), 3).unwrap();
    let mut b = tar::Builder::new(enc);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        edit(&name, &mut data);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, &name, &data[..]).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

#[test]
fn signed_bundles_are_verified_on_import() {
    let env = setup();
    let keygen = env.ok(&["update", "keygen", "release.key"]);
    assert!(keygen.contains("release.key.pub (key id "), "{keygen}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("release.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is private");
    }
    let o = env.clair("online.db", &["update", "keygen", "release.key"], &[]);
    assert_eq!(o.status.code(), Some(1), "no overwriting without --force");
    let key_id = keygen.split("key id ").nth(1).unwrap()[..16].to_string();

    let exported = env.ok(&[
        "--config",
        "config.yaml",
        "update",
        "export",
        "feeds.bundle",
        "--sign",
        "release.key",
    ]);
    assert!(
        exported.contains(&format!("(signed, key id {key_id})")),
        "{exported}"
    );

    // No trusted key: refused, and nothing is loaded.
    let o = env.import("a.db", &["feeds.bundle"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let e = err(&o);
    assert!(
        e.contains(&format!(
            "refused: it is signed by key {key_id}, which is not trusted (no key is trusted)"
        )),
        "{e}"
    );
    // Trusted by flag, by environment, by the trusted-keys directory.
    let o = env.import_trusting("b.db", "feeds.bundle", "release.key.pub");
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("alpine"), "{}", out(&o));
    assert_eq!(err(&o), "", "quiet when verified");
    let o = env.import(
        "c.db",
        &["feeds.bundle"],
        &[("CLAIR_BUNDLE_TRUSTED_KEYS", &env.path("release.key.pub"))],
    );
    assert!(o.status.success(), "{}", err(&o));
    let dir = env.path("home/.config/clair/trusted-keys");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(env.path("release.key.pub"), dir.join("release.pub")).unwrap();
    let o = env.import("d.db", &["feeds.bundle"], &[]);
    assert!(o.status.success(), "{}", err(&o));
    std::fs::remove_file(dir.join("release.pub")).unwrap();

    // Another key is not trusted.
    env.ok(&["update", "keygen", "other.key"]);
    let e = env.refused("e.db", "feeds.bundle", "other.key.pub");
    assert!(e.contains("which is not trusted (trusted: "), "{e}");

    // Tampered data: a feed file changed after signing.
    env.rewrite("feeds.bundle", "tampered.bundle", |name, data| {
        if name.starts_with("files/") {
            data.extend_from_slice(b"\n");
        }
    });
    let e = env.refused("f.db", "tampered.bundle", "release.key.pub");
    assert!(e.contains("does not match the manifest"), "{e}");
    // Tampered manifest (a digest replaced to match): the signature no longer verifies.
    env.rewrite("feeds.bundle", "forged.bundle", |name, data| {
        if name == "manifest.json" {
            let s = String::from_utf8(data.clone())
                .unwrap()
                .replace("\"format\": 1", "\"format\":  1");
            *data = s.into_bytes();
        }
    });
    let e = env.refused("g.db", "forged.bundle", "release.key.pub");
    assert!(
        e.contains("does not verify: the manifest was changed"),
        "{e}"
    );

    // Unsigned: refused unless --allow-unsigned, which says what it loads.
    env.ok(&[
        "--config",
        "config.yaml",
        "update",
        "export",
        "plain.bundle",
    ]);
    let o = env.import_trusting("h.db", "plain.bundle", "release.key.pub");
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("refused: it is not signed"), "{}", err(&o));
    let o = env.import("i.db", &["plain.bundle", "--allow-unsigned"], &[]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains("loaded without a trusted signature (--allow-unsigned): it is not signed"),
        "{}",
        err(&o)
    );
    // A bad key file is named.
    std::fs::write(env.path("junk.pub"), "not a key").unwrap();
    let o = env.import("j.db", &["feeds.bundle", "--trusted-key", "junk.pub"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("junk.pub"), "{}", err(&o));
}

#[test]
fn openssl_keys_work() {
    if !clair_test::certs::openssl_available() {
        return;
    }
    let env = setup();
    for args in [
        &["genpkey", "-algorithm", "ed25519", "-out", "o.key"][..],
        &["pkey", "-in", "o.key", "-pubout", "-out", "o.pub"][..],
    ] {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(env.dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "openssl {args:?}: {}", err(&o));
    }
    env.ok(&[
        "--config",
        "config.yaml",
        "update",
        "export",
        "o.bundle",
        "--sign",
        "o.key",
    ]);
    let o = env.import("o.db", &["o.bundle", "--trusted-key", "o.pub"], &[]);
    assert!(o.status.success(), "{}", err(&o));
}
