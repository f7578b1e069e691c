//! PEM certificates and keys for outgoing TLS: a CA bundle trusted instead of the usual roots,
//! a client certificate.

use ureq::tls::{Certificate, PemItem, PrivateKey, RootCerts, TlsConfig};

/// The certificates in PEM text (perhaps none), or why it is unreadable.
fn certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item.map_err(|e| e.to_string())? {
            PemItem::Certificate(c) => out.push(c.to_owned()),
            _ => continue,
        }
    }
    Ok(out)
}

/// Every certificate in PEM text (at least one).
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let out = certificates(pem)?;
    if out.is_empty() {
        return Err("no certificate".into());
    }
    Ok(out)
}

/// The certificates of a CA bundle (at least one).
pub(crate) fn ca_certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let certs = certificates(pem).map_err(|e| format!("reading certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the CA file".into());
    }
    Ok(certs)
}

/// The private key in PEM text.
pub fn pem_private_key(pem: &[u8]) -> Result<PrivateKey<'static>, String> {
    PrivateKey::from_pem(pem)
        .map(|k| k.to_owned())
        .map_err(|e| e.to_string())
}

/// A TLS configuration trusting exactly the certificates in `pem`.
pub fn tls_trusting(pem: &[u8]) -> Result<TlsConfig, String> {
    let certs = ca_certificates(pem)?;
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&certs))
        .build())
}
