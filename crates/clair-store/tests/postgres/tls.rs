//! TLS to PostgreSQL: a cluster of its own with `ssl=on`, a certificate from a test CA, and
//! `pg_hba.conf` rules that tell TLS and plain connections apart:
//!
//! | user | plain | TLS |
//! |---|---|---|
//! | `plainonly` | trust | reject |
//! | `tlsonly` | reject | trust |
//! | `certuser` | reject | client certificate (`cert`: its CN must be the user name) |
//!
//! so a store that opens as `tlsonly` proves the connection is encrypted, and one refused as
//! `plainonly` proves it was. Every `sslmode`, in URLs and libpq key=value strings.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clair_store::StoreOptions;
use clair_test::certs::{self, Pair};
use clair_test::postgres::{ServerTls, TestPostgres};

struct Fixture {
    pg: TestPostgres,
    /// The CA that signed the server's and `certuser`'s certificates.
    ca: Pair,
    /// A CA nobody uses.
    other_ca: Pair,
    /// `certuser`'s client certificate.
    client: Pair,
    /// A client certificate for `certuser` from the other CA.
    stranger: Pair,
    _dir: tempfile::TempDir,
}

/// The TLS cluster, or None when skipping (no PostgreSQL or openssl outside CI).
fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        clair_test::postgres::skip_or_fail()?;
        let (dir, ca, server) = certs::ca_and_server("pg-ca", "server", "127.0.0.1")?;
        let other_ca = certs::ca(dir.path(), "other-ca");
        let client = certs::leaf(dir.path(), &ca, "certuser", "certuser", true);
        let stranger = certs::leaf(dir.path(), &other_ca, "stranger", "certuser", true);
        let pg = TestPostgres::start_tls(&ServerTls {
            cert: server.cert.clone(),
            key: server.key.clone(),
            client_ca: ca.cert.clone(),
            hba: [
                "hostssl all certuser 127.0.0.1/32 cert",
                "hostnossl all certuser 127.0.0.1/32 reject",
                "hostssl all tlsonly 127.0.0.1/32 trust",
                "hostnossl all tlsonly 127.0.0.1/32 reject",
                "hostnossl all plainonly 127.0.0.1/32 trust",
                "hostssl all plainonly 127.0.0.1/32 reject",
            ]
            .map(String::from)
            .to_vec(),
        })
        .unwrap_or_else(|e| panic!("PostgreSQL with TLS: {e}"));
        let mut admin = pg.admin();
        admin
            .batch_execute(
                "CREATE ROLE certuser LOGIN SUPERUSER; CREATE ROLE tlsonly LOGIN SUPERUSER;
                 CREATE ROLE plainonly LOGIN SUPERUSER",
            )
            .unwrap();
        admin.batch_execute("CREATE DATABASE clair").unwrap();
        Some(Fixture {
            pg,
            ca,
            other_ca,
            client,
            stranger,
            _dir: dir,
        })
    })
    .as_ref()
}

fn open(source: &str) -> Result<(), String> {
    clair_store::open(&StoreOptions {
        source: source.to_string(),
        connect_timeout: std::time::Duration::from_secs(5),
        ..StoreOptions::default()
    })
    .map(|s| {
        s.manifests().unwrap();
    })
    .map_err(|e| e.to_string())
}

fn opens(source: &str) {
    if let Err(e) = open(source) {
        panic!("{source}: {e}");
    }
}

fn refused(source: &str, why: &str) {
    match open(source) {
        Ok(()) => panic!("{source}: connected"),
        Err(e) => assert!(e.contains(why), "{source}: {e}"),
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn kv(f: &Fixture, user: &str, extra: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user={user} dbname=clair {extra}",
        f.pg.port()
    )
}

fn url(f: &Fixture, user: &str, query: &str) -> String {
    format!(
        "postgresql://{user}@127.0.0.1:{}/clair?{query}",
        f.pg.port()
    )
}

/// pg_hba's answer to a connection it rejects.
const HBA_REJECT: &str = "pg_hba.conf rejects connection";

/// `sslmode=MODE` with the other CA as root: the server's chain is refused.
fn refused_for_another_ca(f: &Fixture, mode: &str) {
    refused(
        &kv(
            f,
            "tlsonly",
            &format!("sslmode={mode} sslrootcert={}", p(&f.other_ca.cert)),
        ),
        "UnknownIssuer",
    );
}

#[test]
fn disable_is_plain() {
    let Some(f) = fixture() else { return };
    opens(&kv(f, "plainonly", "sslmode=disable"));
    refused(&kv(f, "tlsonly", "sslmode=disable"), HBA_REJECT);
}

#[test]
fn prefer_and_allow_use_tls_when_offered() {
    let Some(f) = fixture() else { return };
    // prefer is libpq's default: no sslmode at all.
    opens(&kv(f, "tlsonly", ""));
    opens(&url(f, "tlsonly", "sslmode=prefer"));
    opens(&kv(f, "tlsonly", "sslmode=allow"));
    refused(&kv(f, "plainonly", "sslmode=prefer"), HBA_REJECT);
    // And plain when the server has no TLS (the shared test cluster).
    let plain = clair_test::postgres::TestPostgres::shared().create_database();
    opens(&plain.replace("sslmode=disable", "sslmode=prefer"));
}

#[test]
fn require_encrypts_without_checking_the_certificate() {
    let Some(f) = fixture() else { return };
    opens(&kv(f, "tlsonly", "sslmode=require"));
    opens(&url(f, "tlsonly", "sslmode=require"));
    refused(&kv(f, "plainonly", "sslmode=require"), HBA_REJECT);
    // A server without TLS is refused.
    let plain = clair_test::postgres::TestPostgres::shared().create_database();
    refused(
        &plain.replace("sslmode=disable", "sslmode=require"),
        "server does not support TLS",
    );
    // With a root certificate, require checks the chain (libpq does too).
    refused_for_another_ca(f, "require");
}

#[test]
fn verify_ca_checks_the_chain_not_the_name() {
    let Some(f) = fixture() else { return };
    let ca = p(&f.ca.cert);
    opens(&kv(
        f,
        "tlsonly",
        &format!("sslmode=verify-ca sslrootcert={ca}"),
    ));
    // The certificate is for 127.0.0.1; connecting as "db.invalid" is fine under verify-ca.
    opens(&format!(
        "host=db.invalid hostaddr=127.0.0.1 port={} user=tlsonly dbname=clair sslmode=verify-ca sslrootcert='{ca}'",
        f.pg.port()
    ));
    refused(
        &url(
            f,
            "tlsonly",
            &format!("sslmode=verify-ca&sslrootcert={}", p(&f.other_ca.cert)),
        ),
        "UnknownIssuer",
    );
    refused(
        &kv(f, "tlsonly", "sslmode=verify-ca"),
        "no root certificate",
    );
}

#[test]
fn verify_full_checks_the_name_too() {
    let Some(f) = fixture() else { return };
    let ca = p(&f.ca.cert);
    opens(&url(
        f,
        "tlsonly",
        &format!("sslmode=verify-full&sslrootcert={}", ca.replace('/', "%2F")),
    ));
    opens(&format!(
        "postgresql://tlsonly@localhost:{}/clair?sslmode=verify-full&sslrootcert={ca}",
        f.pg.port()
    ));
    refused(
        &format!(
            "host=db.invalid hostaddr=127.0.0.1 port={} user=tlsonly dbname=clair sslmode=verify-full sslrootcert={ca}",
            f.pg.port()
        ),
        "not valid for name",
    );
    refused_for_another_ca(f, "verify-full");
}

#[test]
fn client_certificates_for_hostssl_cert() {
    let Some(f) = fixture() else { return };
    let ca = p(&f.ca.cert);
    let with = |pair: &Pair| {
        format!(
            "sslmode=verify-full sslrootcert={ca} sslcert={} sslkey={}",
            p(&pair.cert),
            p(&pair.key)
        )
    };
    opens(&kv(f, "certuser", &with(&f.client)));
    opens(&url(
        f,
        "certuser",
        &format!(
            "sslmode=require&sslcert={}&sslkey={}",
            p(&f.client.cert),
            p(&f.client.key)
        ),
    ));
    // No certificate: the server asks for one and gets none.
    refused(
        &kv(
            f,
            "certuser",
            &format!("sslmode=verify-full sslrootcert={ca}"),
        ),
        "certificate",
    );
    // A certificate from a CA the server does not trust.
    assert!(open(&kv(f, "certuser", &with(&f.stranger))).is_err());
}

#[test]
fn missing_files_are_named() {
    let Some(f) = fixture() else { return };
    let missing = PathBuf::from("/nonexistent/root.crt");
    refused(
        &kv(
            f,
            "tlsonly",
            &format!("sslmode=verify-full sslrootcert={}", p(&missing)),
        ),
        "/nonexistent/root.crt",
    );
}
