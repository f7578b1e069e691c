//! TLS to PostgreSQL with rustls (ring), with libpq's `sslmode` semantics.
//!
//! The connector is tokio-postgres-rustls's; what this module decides is the rustls client
//! configuration, as libpq would:
//!
//! | sslmode | TLS | certificate check |
//! |---|---|---|
//! | disable | never | - |
//! | allow, prefer | when the server offers it | chain, if a root certificate is configured |
//! | require | always | chain, if a root certificate is configured |
//! | verify-ca | always | chain against the root certificates |
//! | verify-full | always | chain, and the host name (or IP address) connected to |
//!
//! Root certificates: `sslrootcert=FILE`, `sslrootcert=system` (the operating system's CAs;
//! implies `verify-full`, weaker modes refused, as in libpq 16) or libpq's default
//! `~/.postgresql/root.crt`. A client certificate: `sslcert`/`sslkey`, or libpq's defaults
//! `~/.postgresql/postgresql.crt` and `.key` when both exist.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::source::{RootCert, SslMode, TlsSettings, TlsVersion};

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Encryption only (libpq's `require` without a root certificate).
    None,
    /// The chain against the root certificates.
    Chain,
    /// The chain and the host name.
    Full,
}

/// Build the TLS connector for `tls`; `home` is where libpq's default files are looked for
/// (`$HOME`). Errors name the file or keyword at fault.
pub(crate) fn connector(
    tls: &TlsSettings,
    home: Option<&Path>,
) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let default_file = |name: &str| -> Option<PathBuf> {
        let p = home?.join(".postgresql").join(name);
        p.is_file().then_some(p)
    };
    let root = tls
        .root_cert
        .clone()
        .or_else(|| default_file("root.crt").map(RootCert::File));
    let mode = effective_mode(tls)?;
    let check = match (mode, &root) {
        (SslMode::Disable, _) => Check::None,
        (SslMode::VerifyFull, Some(_)) => Check::Full,
        (SslMode::VerifyCa, Some(_)) => Check::Chain,
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(format!(
                "sslmode={}: no root certificate to verify the server with: set sslrootcert=FILE \
                 (or sslrootcert=system for the system's CAs); {} does not exist",
                mode.as_str(),
                home.map_or_else(
                    || "~/.postgresql/root.crt".to_string(),
                    |h| h.join(".postgresql/root.crt").display().to_string()
                )
            ));
        }
        // libpq checks the chain whenever it has a root certificate.
        (_, Some(_)) => Check::Chain,
        (_, None) => Check::None,
    };
    let webpki = match (&root, check) {
        (Some(r), Check::Chain | Check::Full) => Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(load_roots(r)?), provider.clone())
                .build()
                .map_err(|e| format!("sslrootcert: {e}"))?,
        ),
        _ => None,
    };
    let verifier = Arc::new(Verifier {
        provider: provider.clone(),
        webpki,
        check_name: check == Check::Full,
    });
    let versions = protocol_versions(tls)?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS protocol versions: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let client_files = match (&tls.cert, &tls.key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (Some(c), None) => Some((
            c.clone(),
            default_file("postgresql.key").ok_or_else(|| {
                format!(
                    "sslcert={} needs sslkey (the client certificate's private key)",
                    c.display()
                )
            })?,
        )),
        (None, Some(k)) => {
            return Err(format!(
                "sslkey={} needs sslcert (the client certificate)",
                k.display()
            ));
        }
        (None, None) => default_file("postgresql.crt").zip(default_file("postgresql.key")),
    };
    let mut config = match client_files {
        Some((cert, key)) => {
            let chain = load_certs(&cert, "sslcert")?;
            let key = PrivateKeyDer::from_pem_file(&key)
                .map_err(|e| format!("sslkey {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("sslcert {}: {e}", cert.display()))?
        }
        None => builder.with_no_client_auth(),
    };
    config.enable_sni = tls.sni;
    Ok(MakeRustlsConnect::new(config))
}

/// The mode in effect: `sslrootcert=system` makes `verify-full` the default and refuses weaker
/// modes (libpq 16).
pub(crate) fn effective_mode(tls: &TlsSettings) -> Result<SslMode, String> {
    if tls.root_cert == Some(RootCert::System) {
        if !tls.mode_explicit {
            return Ok(SslMode::VerifyFull);
        }
        if tls.mode != SslMode::VerifyFull {
            return Err(format!(
                "sslmode={} may not be used with sslrootcert=system (use verify-full)",
                tls.mode.as_str()
            ));
        }
    }
    Ok(tls.mode)
}

fn protocol_versions(
    tls: &TlsSettings,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let min = tls.min_version.unwrap_or(TlsVersion::V1_2);
    let max = tls.max_version.unwrap_or(TlsVersion::V1_3);
    let v: Vec<_> = [
        (TlsVersion::V1_2, &rustls::version::TLS12),
        (TlsVersion::V1_3, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (min..=max).contains(v))
    .map(|(_, p)| p)
    .collect();
    if v.is_empty() {
        return Err(format!(
            "ssl_min_protocol_version and ssl_max_protocol_version leave no version rustls \
             speaks (TLSv1.2, TLSv1.3): {min:?}..={max:?}"
        ));
    }
    Ok(v)
}

fn load_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{key} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{key} {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(certs)
}

fn load_roots(root: &RootCert) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match root {
        RootCert::File(p) => {
            for c in load_certs(p, "sslrootcert")? {
                store
                    .add(c)
                    .map_err(|e| format!("sslrootcert {}: {e}", p.display()))?;
            }
        }
        RootCert::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert=system: no CA certificates found on this system{}",
                    found
                        .errors
                        .first()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    Ok(store)
}

/// The server certificate check for a [`Check`]: `verify-full` is rustls's own (WebPKI);
/// `verify-ca` the same with a name mismatch forgiven (rustls checks the chain before the
/// name, so a name mismatch means the chain was good); no check accepts any certificate. The
/// handshake signatures are always verified, so the session key belongs to whoever sent the
/// certificate.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    /// `None`: the certificate is not checked.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(w) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match w.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of a connector that must fail.
    fn refused(t: &TlsSettings, home: Option<&Path>) -> String {
        match connector(t, home) {
            Ok(_) => panic!("{t:?}: accepted"),
            Err(e) => e,
        }
    }

    fn settings(mode: SslMode) -> TlsSettings {
        TlsSettings {
            mode,
            mode_explicit: true,
            sni: true,
            ..TlsSettings::default()
        }
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let home = tempfile::tempdir().unwrap();
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
            let e = refused(&settings(mode), Some(home.path()));
            assert!(e.contains("sslrootcert"), "{e}");
            assert!(e.contains(".postgresql/root.crt"), "{e}");
        }
        for mode in [SslMode::Disable, SslMode::Prefer, SslMode::Require] {
            assert!(connector(&settings(mode), Some(home.path())).is_ok());
        }
    }

    #[test]
    fn system_roots_mean_verify_full() {
        let mut t = settings(SslMode::Require);
        t.root_cert = Some(RootCert::System);
        assert!(effective_mode(&t).unwrap_err().contains("verify-full"));
        t.mode_explicit = false;
        assert_eq!(effective_mode(&t).unwrap(), SslMode::VerifyFull);
    }

    #[test]
    fn files_at_fault_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let mut t = settings(SslMode::VerifyFull);
        t.root_cert = Some(RootCert::File(empty.clone()));
        let e = refused(&t, None);
        assert!(e.contains(&empty.display().to_string()), "{e}");
        let mut t = settings(SslMode::Require);
        t.cert = Some(dir.path().join("missing.crt"));
        t.key = Some(dir.path().join("missing.key"));
        let e = refused(&t, None);
        assert!(e.contains("missing.crt"), "{e}");
        t.cert = None;
        assert!(refused(&t, None).contains("needs sslcert"));
    }

    #[test]
    fn protocol_bounds() {
        let mut t = settings(SslMode::Require);
        t.min_version = Some(TlsVersion::V1_3);
        assert_eq!(protocol_versions(&t).unwrap().len(), 1);
        t.max_version = Some(TlsVersion::V1_2);
        assert!(protocol_versions(&t).is_err());
        t.min_version = Some(TlsVersion::V1_0);
        assert_eq!(protocol_versions(&t).unwrap().len(), 1);
    }
}
