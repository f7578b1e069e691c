//! Certificates for TLS tests, made by the `openssl` program in a temporary directory: a CA,
//! and server or client certificates it signs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The certificate.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Whether `openssl` can run; with `CI=true` its absence is a failure.
pub fn openssl_available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openssl is required in CI (scripts/test.sh installs it)"
        );
        eprintln!("skipping: openssl is not installed");
    }
    ok
}

fn run(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A self-signed CA named `name` in `dir`.
pub fn ca(dir: &Path, name: &str) -> Pair {
    let (cert, key) = (format!("{name}.crt"), format!("{name}.key"));
    run(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &key,
            "-out",
            &cert,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    Pair {
        cert: dir.join(cert),
        key: dir.join(key),
    }
}

/// A certificate for `cn` signed by `ca`: a server certificate for 127.0.0.1 and localhost,
/// or (with `client`) a client certificate.
pub fn leaf(dir: &Path, ca: &Pair, name: &str, cn: &str, client: bool) -> Pair {
    let (cert, key, csr, ext) = (
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
    );
    run(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    let ext_text = if client {
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
            .to_string()
    } else {
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n".to_string()
    };
    std::fs::write(dir.join(&ext), ext_text).expect("writing the extensions file");
    let (ca_cert, ca_key) = (ca.cert.display().to_string(), ca.key.display().to_string());
    run(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_cert,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &cert,
            "-extfile",
            &ext,
        ],
    );
    Pair {
        cert: dir.join(cert),
        key: dir.join(key),
    }
}

fn pem_items(path: &Path) -> Vec<ureq::tls::PemItem<'static>> {
    // Leaked: the items borrow the bytes, and a test process is short-lived.
    let bytes: &'static [u8] = Box::leak(
        std::fs::read(path)
            .expect("reading a PEM file")
            .into_boxed_slice(),
    );
    ureq::tls::parse_pem(bytes)
        .map(|i| i.expect("a PEM item"))
        .collect()
}

fn certificates(path: &Path) -> Vec<ureq::tls::Certificate<'static>> {
    pem_items(path)
        .into_iter()
        .filter_map(|i| match i {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// An HTTPS client (statuses are not errors, 5 s timeout) trusting only `ca`, presenting
/// `client` when given.
pub fn https_agent(ca: &Pair, client: Option<&Pair>) -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(
        &certificates(&ca.cert),
    ));
    if let Some(c) = client {
        let key = pem_items(&c.key)
            .into_iter()
            .find_map(|i| match i {
                ureq::tls::PemItem::PrivateKey(k) => Some(k),
                _ => None,
            })
            .expect("a private key");
        tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(
            &certificates(&c.cert),
            key,
        )));
    }
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .tls_config(tls.build())
            .build(),
    )
}

/// How a TLS test starts: a temporary directory holding a CA named `ca_name` and a server
/// certificate `server_name` for `cn` (and 127.0.0.1, localhost) it signs; `None`, the test
/// skipped, when `openssl` is missing outside CI.
pub fn ca_and_server(
    ca_name: &str,
    server_name: &str,
    cn: &str,
) -> Option<(tempfile::TempDir, Pair, Pair)> {
    if !openssl_available() {
        return None;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = ca(dir.path(), ca_name);
    let server = leaf(dir.path(), &ca, server_name, cn, false);
    Some((dir, ca, server))
}
