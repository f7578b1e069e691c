//! `clair index` straight from a real registry: Debian's `docker-registry` (the CNCF
//! distribution registry) started on 127.0.0.1, images from ../shared/images pushed with
//! `skopeo`. Anonymous and htpasswd (basic) registries; wrong password, missing tag, tampered
//! blob, cached layers not fetched again, an image index with two platforms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use clair_test::process::wait_for_port;
use clair_test::registry::{Registry, tools};

const LAYERED: &str = "sha256:fe5c5314bcf84e2b6cc30d63a6e284af7efa42d9f352b5b55bf04225069fd9ac";
const MINBASE: &str = "sha256:03817131159b1518eb99e24e8e9a311d567e2704948efc608368a45728edac96";

/// A registry, anonymous or with one htpasswd (basic auth) user; `None` when the tools are
/// missing (and `CI` is not `true`).
fn registry(htpasswd: Option<(&str, &str)>) -> Option<Registry> {
    if !tools() {
        return None;
    }
    Some(Registry::start(|dir| {
        let Some((u, p)) = htpasswd else {
            return Default::default();
        };
        let file = dir.join("htpasswd");
        let o = Command::new("htpasswd")
            .args(["-Bbc"])
            .arg(&file)
            .args([u, p])
            .output()
            .unwrap();
        assert!(o.status.success());
        let auth = format!(
            "auth:\n  htpasswd:\n    realm: clair-test\n    path: {}\n",
            file.display()
        );
        (String::new(), auth)
    }))
}

/// An anonymous registry holding bookworm-layered as test/layered:1, and a temporary directory.
fn layered_registry() -> Option<(Registry, tempfile::TempDir)> {
    let reg = registry(None)?;
    reg.push("bookworm-layered", "test/layered:1", None);
    Some((reg, tempfile::tempdir().unwrap()))
}

/// `clair index --insecure REFERENCE` with the database `db`.
fn index_insecure(reference: &str, db: &Path) -> Output {
    clair(&["index", "--insecure", reference], db, &[])
}

/// clair's registry credentials variables for the user `clair` with `password`.
fn registry_login(password: &str) -> [(&str, &str); 2] {
    [
        ("CLAIR_REGISTRY_USERNAME", "clair"),
        ("CLAIR_REGISTRY_PASSWORD", password),
    ]
}

/// The command failed: its stderr.
fn failed(o: &Output) -> String {
    assert!(!o.status.success());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn clair(args: &[&str], db: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clair"));
    c.args(args)
        .env_remove("CLAIR_LOG")
        .env_remove("CLAIR_REGISTRY_USERNAME")
        .env_remove("CLAIR_REGISTRY_PASSWORD")
        .env_remove("DOCKER_USER")
        .env_remove("DOCKER_PASSWORD")
        .env_remove("DOCKER_TOKEN")
        .env("CLAIR_DATABASE_SOURCE", db)
        .env("HOME", "/nonexistent-home-for-tests");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn index_json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "clair failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn anonymous_registry_cached_layers_and_tampering() {
    let Some((reg, tmp)) = layered_registry() else {
        return;
    };
    let db = tmp.path().join("clair.db");
    let reference = format!("{}/test/layered:1", reg.addr);
    let v = index_json(&clair(
        &["index", "--insecure", "-f", "json", &reference],
        &db,
        &[],
    ));
    assert_eq!(v["manifest_hash"], LAYERED, "the manifest digest as pushed");
    assert_eq!(v["packages"].as_object().unwrap().len(), 105);

    // The same image by digest with its blobs gone from the registry: nothing is downloaded
    // (the layers are cached by digest), so it still works.
    for d in clair_test::image_layers(LAYERED) {
        std::fs::remove_file(reg.blob_file(&d)).unwrap();
    }
    let by_digest = format!("{}/test/layered@{LAYERED}", reg.addr);
    let v = index_json(&clair(
        &["index", "--insecure", "-f", "json", &by_digest],
        &db,
        &[],
    ));
    assert_eq!(v["packages"].as_object().unwrap().len(), 105);

    // A missing tag: a clear 404.
    let err = failed(&index_insecure(
        &format!("{}/test/layered:nope", reg.addr),
        &db,
    ));
    assert!(
        err.contains("not found (404)") && err.contains("nope"),
        "{err}"
    );

    // A tampered blob, with an empty cache: refused, naming the digest.
    reg.push("bookworm-minbase", "test/minbase:1", None);
    let base = &clair_test::image_layers(MINBASE)[0];
    let f = reg.blob_file(base);
    let mut bytes = std::fs::read(&f).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&f, bytes).unwrap();
    let fresh = tmp.path().join("fresh.db");
    let err = failed(&index_insecure(
        &format!("{}/test/minbase:1", reg.addr),
        &fresh,
    ));
    assert!(
        err.contains("downloaded content has digest") && err.contains(base),
        "{err}"
    );
}

#[test]
fn basic_auth_registry() {
    let Some(reg) = registry(Some(("clair", "s3cret"))) else {
        return;
    };
    reg.push("bookworm-minbase", "test/minbase:1", Some("clair:s3cret"));
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("clair.db");
    let reference = format!("{}/test/minbase:1", reg.addr);
    let args = ["index", "--insecure", "-f", "json", reference.as_str()];

    let err = failed(&clair(&args, &db, &[]));
    assert!(err.contains("user name and password"), "{err}");

    let err = failed(&clair(&args, &db, &registry_login("wrong")));
    assert!(
        err.contains("401") && err.contains("wrong user name or password"),
        "{err}"
    );

    let v = index_json(&clair(&args, &db, &registry_login("s3cret")));
    assert_eq!(v["manifest_hash"], MINBASE);
    assert_eq!(v["packages"].as_object().unwrap().len(), 88);

    // klar's variables work too, and so does ~/.docker/config.json.
    let fresh = tmp.path().join("klar.db");
    let v = index_json(&clair(
        &args,
        &fresh,
        &[("DOCKER_USER", "clair"), ("DOCKER_PASSWORD", "s3cret")],
    ));
    assert_eq!(v["packages"].as_object().unwrap().len(), 88);
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::write(
        home.join(".docker/config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "Y2xhaXI6czNjcmV0"}}}}}}"#,
            reg.addr
        ),
    )
    .unwrap();
    let v = index_json(&clair(
        &args,
        &tmp.path().join("home.db"),
        &[("HOME", home.to_str().unwrap())],
    ));
    assert_eq!(v["packages"].as_object().unwrap().len(), 88);
}

#[test]
fn image_index_with_two_platforms() {
    let Some(reg) = registry(None) else {
        return;
    };
    reg.push("bookworm-minbase", "test/multi:amd64", None);
    reg.push("bookworm-layered", "test/multi:arm64", None);
    let size = |m: &str| {
        std::fs::metadata(clair_test::images("oci").join("blobs/sha256").join(&m[7..]))
            .unwrap()
            .len()
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": MINBASE, "size": size(MINBASE),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": LAYERED, "size": size(LAYERED),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
        ]
    });
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let r = agent
        .put(&format!("http://{}/v2/test/multi/manifests/both", reg.addr))
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .send(index.to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("clair.db");
    let reference = format!("{}/test/multi:both", reg.addr);
    // `clair index --insecure [FLAGS] --platform PLATFORM` of the image index.
    let on_platform = |platform: &str, flags: &[&str]| {
        let mut args = vec!["index", "--insecure"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--platform", platform, &reference]);
        clair(&args, &db, &[])
    };
    let v = index_json(&on_platform("linux/amd64", &["-f", "json"]));
    assert_eq!(v["manifest_hash"], MINBASE);
    let v = index_json(&on_platform("linux/arm64/v8", &["-f", "json"]));
    assert_eq!(v["manifest_hash"], LAYERED);
    let err = failed(&on_platform("linux/s390x", &[]));
    assert!(
        err.contains("no linux/s390x image") && err.contains("linux/arm64/v8"),
        "{err}"
    );
}

/// `clair report` against a running `clair serve` (v4 and v1 APIs), the image in a real
/// registry, vulnerability data from the hand-written bookworm tracker; klar's variables.
#[test]
fn report_from_a_running_server() {
    let Some((reg, tmp)) = layered_registry() else {
        return;
    };
    let db = tmp.path().join("clair.db");

    // Data: the Debian updater against a local copy of the tracker.
    let feeds = clair_test::http::TestServer::start();
    feeds.put(
        "/debian/json",
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../clair-ecosystems/testdata/match/debian-bookworm-tracker.json"),
        )
        .unwrap(),
    );
    let cfg = clair_test::config_file!(
        tmp.path(),
        "http_listen_addr: 127.0.0.1:0\nupdaters:\n  sets: [debian]\n  config:\n    debian:\n      json_url: {}/debian/json\n",
        feeds.url()
    );
    let o = clair(&["-config", cfg.to_str().unwrap(), "update"], &db, &[]);
    clair_test::process::assert_success(&o);

    let port = clair_test::free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_clair"))
        .args([
            "serve",
            "--no-updaters",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--health-addr",
            &format!("127.0.0.1:{}", clair_test::free_port()),
        ])
        .env("CLAIR_DATABASE_SOURCE", &db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    wait_for_port(&addr, Duration::from_secs(30), "clair serve did not start");
    let reference = format!("{}/test/layered:1", reg.addr);
    let names = |o: &Output| -> std::collections::BTreeSet<String> {
        let v = index_json(o);
        clair_test::fields(&v["vulnerabilities"], "name")
            .map(str::to_string)
            .collect()
    };
    let other_db = tmp.path().join("client.db");
    for api in ["v4", "v1"] {
        let o = clair(
            &[
                "report",
                "--server",
                &format!("127.0.0.1:{port}"),
                "--api",
                api,
                "--insecure",
                "-f",
                "json",
                &reference,
            ],
            &other_db,
            &[],
        );
        let found = names(&o);
        assert!(found.contains("CVE-2099-0001"), "{api}: {found:?}");
        assert!(
            !found.contains("CVE-2099-0002"),
            "{api}: fixed earlier: {found:?}"
        );
    }
    // klar's environment: address without scheme, JSON output, threshold exit code.
    // `clair report` with klar's variables `env`, which must exit with `code`.
    let klar = |env: &[(&str, &str)], code: i32| {
        let o = clair(&["report", "--insecure", &reference], &other_db, env);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    let o = klar(
        &[
            ("CLAIR_ADDR", &format!("127.0.0.1:{port}")),
            ("JSON_OUTPUT", "true"),
            ("CLAIR_THRESHOLD", "0"),
        ],
        1,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!v["vulnerabilities"].as_object().unwrap().is_empty());
    klar(
        &[
            ("CLAIR_ADDR", &format!("http://127.0.0.1:{port}")),
            ("CLAIR_THRESHOLD", "1000"),
        ],
        0,
    );
    let _ = server.kill();
    let _ = server.wait();
}

/// A token server as Docker's distribution registry expects one: Basic credentials in, an
/// RS256 JWT out (signed with `openssl`, certificate in the `x5c` header, trusted by the
/// registry's `rootcertbundle`).
struct TokenServer {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn token_server(dir: &Path, user: &str, password: &str) -> (TokenServer, PathBuf) {
    let clair_test::certs::Pair { cert, key } = clair_test::certs::ca(dir, "clair-test-token");
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .output()
        .unwrap()
        .stdout;
    let x5c = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&der)
    };
    let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!("http://{}/token", server.server_addr().to_ip().unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let want = {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let (key2, stop2) = (key.clone(), stop.clone());
    std::thread::spawn(move || {
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(50)) else {
                continue;
            };
            let authed = req.headers().iter().any(|h| {
                h.field
                    .as_str()
                    .as_str()
                    .eq_ignore_ascii_case("authorization")
                    && h.value.as_str() == want
            });
            if !authed {
                let _ = req.respond(tiny_http::Response::empty(401));
                continue;
            }
            let query = req.url().split_once('?').map_or("", |(_, q)| q).to_string();
            let mut access = Vec::new();
            for kv in query.split('&') {
                if let Some(scope) = kv.strip_prefix("scope=") {
                    let scope = scope
                        .replace("%3A", ":")
                        .replace("%2C", ",")
                        .replace("%2F", "/");
                    let parts: Vec<&str> = scope.split(':').collect();
                    if parts.len() == 3 {
                        access.push(serde_json::json!({"type": parts[0], "name": parts[1],
                            "actions": parts[2].split(',').collect::<Vec<_>>()}));
                    }
                }
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
            let claims = serde_json::json!({"iss": "clair-test-issuer", "sub": "clair", "aud": "clair-test-registry",
                "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()), "access": access});
            let signing = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let mut child = Command::new("openssl")
                .args(["dgst", "-sha256", "-sign"])
                .arg(&key2)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), signing.as_bytes())
                .unwrap();
            let sig = child.wait_with_output().unwrap().stdout;
            let token = format!("{signing}.{}", b64url(&sig));
            let body =
                serde_json::json!({"token": token, "access_token": token, "expires_in": 300});
            let _ = req.respond(tiny_http::Response::from_string(body.to_string()));
        }
    });
    (TokenServer { url, stop }, cert)
}

#[test]
fn token_auth_registry() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (tokens, cert) = token_server(dir.path(), "clair", "s3cret");
    let reg = Registry::start(|_| {
        let auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: clair-test-registry\n    issuer: clair-test-issuer\n    rootcertbundle: {}\n",
            tokens.url,
            cert.display()
        );
        (String::new(), auth)
    });
    reg.push("bookworm-minbase", "test/minbase:1", Some("clair:s3cret"));
    let db = dir.path().join("clair.db");
    let reference = format!("{}/test/minbase:1", reg.addr);
    let args = ["index", "--insecure", "-f", "json", reference.as_str()];
    let v = index_json(&clair(&args, &db, &registry_login("s3cret")));
    assert_eq!(v["manifest_hash"], MINBASE);
    assert_eq!(v["packages"].as_object().unwrap().len(), 88);
    let err = failed(&clair(
        &args,
        &dir.path().join("other.db"),
        &registry_login("wrong"),
    ));
    assert!(
        err.contains("token service") && err.contains("401"),
        "{err}"
    );
}

/// A registry over TLS with a private CA: refused without it, trusted with `--ca-file`.
#[test]
fn tls_registry_with_a_private_ca() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = clair_test::certs::ca(d, "ca");
    let srv = clair_test::certs::leaf(d, &ca, "srv", "127.0.0.1", false);
    let reg = Registry::start(|_| {
        let tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            srv.cert.display(),
            srv.key.display()
        );
        (tls, String::new())
    });
    reg.push("bookworm-minbase", "test/minbase:1", None);
    let reference = format!("{}/test/minbase:1", reg.addr);
    let o = clair(&["index", "-f", "json", &reference], &d.join("a.db"), &[]);
    assert!(!o.status.success(), "an unknown CA must not be trusted");
    let ca = ca.cert;
    let v = index_json(&clair(
        &[
            "index",
            "-f",
            "json",
            "--ca-file",
            ca.to_str().unwrap(),
            &reference,
        ],
        &d.join("b.db"),
        &[],
    ));
    assert_eq!(v["manifest_hash"], MINBASE);
    assert_eq!(v["packages"].as_object().unwrap().len(), 88);
}
