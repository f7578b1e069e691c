//! Connection strings, split into what the `postgres` crate reads and the TLS settings this
//! crate applies itself.
//!
//! tokio-postgres knows `sslmode` disable / prefer / require and reads no certificate files, so
//! libpq's TLS keywords (`sslmode=verify-ca|verify-full`, `sslrootcert`, `sslcert`, `sslkey`,
//! ...) are taken out of the string here, in both spellings libpq accepts: URL query parameters
//! (percent-encoded) and `key=value` pairs (values optionally single-quoted, `\` escaping the
//! next character). Everything else is passed on untouched, so tokio-postgres still reports
//! unknown keywords.

use std::path::PathBuf;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// libpq tries plain first, then TLS; here the same as `prefer` (TLS when the server offers
    /// it, else plain).
    Allow,
    /// TLS when the server offers it, else plain; the certificate is checked only when a root
    /// certificate is configured. libpq's default.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is checked only when a root certificate is
    /// configured (then as `verify-ca`).
    Require,
    /// TLS, the server's certificate chain checked against the root certificates.
    VerifyCa,
    /// `verify-ca`, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(v: &str) -> Option<SslMode> {
        Some(match v {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The `sslmode` keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where trusted root certificates come from (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the operating system's trusted CAs.
    System,
}

/// A TLS protocol version bound (`ssl_min_protocol_version`, `ssl_max_protocol_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// `TLSv1` (rustls speaks 1.2 and 1.3 only; as a minimum this means 1.2).
    V1_0,
    /// `TLSv1.1` (likewise).
    V1_1,
    /// `TLSv1.2`.
    V1_2,
    /// `TLSv1.3`.
    V1_3,
}

impl TlsVersion {
    fn parse(v: &str) -> Option<TlsVersion> {
        Some(match v {
            "TLSv1" => TlsVersion::V1_0,
            "TLSv1.1" => TlsVersion::V1_1,
            "TLSv1.2" => TlsVersion::V1_2,
            "TLSv1.3" => TlsVersion::V1_3,
            _ => return None,
        })
    }
}

/// The TLS keywords of a connection string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// `sslmode` (default `prefer`).
    pub mode: SslMode,
    /// Whether `sslmode` was given (`sslrootcert=system` changes the default to `verify-full`).
    pub mode_explicit: bool,
    /// `sslrootcert`.
    pub root_cert: Option<RootCert>,
    /// `sslcert`: the client certificate (chain), PEM.
    pub cert: Option<PathBuf>,
    /// `sslkey`: the client certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// `sslsni` (default on): send the host name in the TLS handshake.
    pub sni: bool,
    /// `ssl_min_protocol_version` (libpq's default: TLSv1.2).
    pub min_version: Option<TlsVersion>,
    /// `ssl_max_protocol_version`.
    pub max_version: Option<TlsVersion>,
}

/// A connection string without its TLS keywords, and those keywords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitSource {
    /// What the `postgres` crate parses (URL or `key=value`, as given).
    pub rest: String,
    /// The TLS settings.
    pub tls: TlsSettings,
}

/// libpq keywords this crate does not support: refused with a reason rather than ignored.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "sslpassword",
        "encrypted client keys are not supported; decrypt the key (openssl pkey -in KEY -out PLAIN)",
    ),
    ("sslcrl", "certificate revocation lists are not supported"),
    (
        "sslcrldir",
        "certificate revocation lists are not supported",
    ),
    ("sslcertmode", "not supported; sslcert is sent when given"),
    ("requirepeer", "not supported"),
    ("gssencmode", "GSSAPI is not supported"),
    ("krbsrvname", "GSSAPI is not supported"),
];

/// Split `source` (a `postgres(ql)://` URL or libpq `key=value` string).
pub fn split_source(source: &str) -> Result<SplitSource, String> {
    let s = source.trim();
    let mut tls = TlsSettings {
        sni: true,
        ..TlsSettings::default()
    };
    let rest = if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        split_url(s, &mut tls)?
    } else {
        split_key_values(s, &mut tls)?
    };
    Ok(SplitSource { rest, tls })
}

/// Take a TLS keyword into `tls`; `false` when `key` is not one.
fn take(tls: &mut TlsSettings, key: &str, value: &str) -> Result<bool, String> {
    if let Some((_, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == key) {
        return Err(format!("{key}: {why}"));
    }
    match key {
        "sslmode" => {
            tls.mode = SslMode::parse(value).ok_or_else(|| {
                format!(
                    "sslmode={value}: expected disable, allow, prefer, require, verify-ca or verify-full"
                )
            })?;
            tls.mode_explicit = true;
        }
        "sslrootcert" => {
            tls.root_cert = match value {
                "" => None,
                "system" => Some(RootCert::System),
                p => Some(RootCert::File(PathBuf::from(p))),
            }
        }
        "sslcert" => tls.cert = (!value.is_empty()).then(|| PathBuf::from(value)),
        "sslkey" => tls.key = (!value.is_empty()).then(|| PathBuf::from(value)),
        "sslsni" => {
            tls.sni = match value {
                "1" => true,
                "0" => false,
                _ => return Err(format!("sslsni={value}: expected 0 or 1")),
            }
        }
        // No TLS compression exists any more; libpq accepts and ignores it too.
        "sslcompression" => {}
        "ssl_min_protocol_version" | "ssl_max_protocol_version" => {
            let v = TlsVersion::parse(value).ok_or_else(|| {
                format!("{key}={value}: expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3")
            })?;
            if key == "ssl_min_protocol_version" {
                tls.min_version = Some(v);
            } else {
                tls.max_version = Some(v);
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn split_url(s: &str, tls: &mut TlsSettings) -> Result<String, String> {
    let Some((base, query)) = s.split_once('?') else {
        return Ok(s.to_string());
    };
    // Blanks around the base and each parameter are not part of them (a URL spells a blank
    // `%20`); dropping them here keeps what is left splitting to itself.
    let base = base.trim_end();
    let mut kept = Vec::new();
    for param in query.split('&').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = param.split_once('=').unwrap_or((param, ""));
        let key = percent_decode(k).map_err(|e| format!("URL parameter {k:?}: {e}"))?;
        let value = percent_decode(v).map_err(|e| format!("URL parameter {key}: {e}"))?;
        if !take(tls, &key, &value)? {
            kept.push(param);
        }
    }
    Ok(if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid percent-encoding at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding is not UTF-8".to_string())
}

/// libpq's `key = value` list: values single-quoted or bare, `\` escaping the next character.
fn split_key_values(s: &str, tls: &mut TlsSettings) -> Result<String, String> {
    let mut kept = Vec::new();
    let mut it = s.char_indices().peekable();
    loop {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = it.peek() else { break };
        let mut key = String::new();
        while let Some((_, c)) = it.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if it.next_if(|(_, c)| *c == '=').is_none() {
            return Err(format!("missing \"=\" after {key:?} (byte {start})"));
        }
        // libpq's keywords are words; anything else is refused as libpq refuses it (and a
        // key spelt like a URL would make what is left read as one).
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("{key:?} (byte {start}): not a connection option"));
        }
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if it.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match it.next() {
                    None => return Err(format!("{key}: unterminated quoted value")),
                    Some((_, '\'')) => break,
                    Some((_, '\\')) => value.extend(it.next().map(|(_, c)| c)),
                    Some((_, c)) => value.push(c),
                }
            }
        } else {
            while let Some((_, c)) = it.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(it.next().map(|(_, c)| c));
                } else {
                    value.push(c);
                }
            }
        }
        if !take(tls, &key, &value)? {
            kept.push(format!("{key}='{}'", quote(&value)));
        }
    }
    Ok(kept.join(" "))
}

fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> SplitSource {
        split_source(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Found by the fuzz campaign (pg_source, inputs `%\t?` and `?\u{b}&`): blanks around
    /// the base or a parameter made the remainder split to something else. A third input,
    /// `sslkey=x postgres://y=1`, left a key spelt like a URL first: such keys are refused.
    #[test]
    fn what_is_left_splits_to_itself() {
        for source in [
            "postgresql://%\t?",
            "postgresql://h/db \t?sslmode=require",
            "host=h\t",
        ] {
            let once = split(source).rest;
            assert_eq!(split(&once).rest, once, "{source:?}");
        }
    }

    #[test]
    fn keys_are_words() {
        for bad in ["sslkey=x postgres://y=1", "host=h =v", "a.b=1"] {
            assert!(split_source(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            split("application_name=x sslmode=require").rest,
            "application_name='x'"
        );
    }

    #[test]
    fn urls_lose_their_tls_parameters_and_keep_the_rest() {
        let s = split(
            "postgresql://clair:pw@db:5432/clair?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x&sslcert=/c.crt&sslkey=/c.key",
        );
        assert_eq!(
            s.rest,
            "postgresql://clair:pw@db:5432/clair?application_name=x"
        );
        assert_eq!(s.tls.mode, SslMode::VerifyFull);
        assert!(s.tls.mode_explicit);
        assert_eq!(
            s.tls.root_cert,
            Some(RootCert::File(PathBuf::from("/etc/ca.pem")))
        );
        assert_eq!(s.tls.cert, Some(PathBuf::from("/c.crt")));
        assert_eq!(s.tls.key, Some(PathBuf::from("/c.key")));
        assert!(s.tls.sni);

        let s = split("postgres://db/clair?sslmode=require");
        assert_eq!(s.rest, "postgres://db/clair");
        assert_eq!(s.tls.mode, SslMode::Require);
        let s = split("postgres://db/clair");
        assert_eq!(
            (s.rest.as_str(), s.tls.mode),
            ("postgres://db/clair", SslMode::Prefer)
        );
        assert!(!s.tls.mode_explicit);
    }

    #[test]
    fn key_values_are_tokenised_as_libpq_does() {
        let s = split("host=db port = 5432 sslmode=verify-ca sslrootcert='/x y/ca.pem' sslsni=0");
        assert_eq!(s.rest, "host='db' port='5432'");
        assert_eq!(s.tls.mode, SslMode::VerifyCa);
        assert_eq!(
            s.tls.root_cert,
            Some(RootCert::File(PathBuf::from("/x y/ca.pem")))
        );
        assert!(!s.tls.sni);
        // After a quoted value comes the next keyword: `'s'` has no "=".
        assert!(split_source("password='it''s'").is_err());
        let s = split("host=db password='it\\'s' user='a b' dbname=c\\ d sslmode=disable");
        assert_eq!(
            s.rest,
            "host='db' password='it\\'s' user='a b' dbname='c d'"
        );
        // The rest parses as the same settings.
        let c: postgres::Config = s.rest.parse().unwrap();
        assert_eq!(c.get_password(), Some(&b"it's"[..]));
        assert_eq!(c.get_user(), Some("a b"));
        assert_eq!(c.get_dbname(), Some("c d"));
        assert_eq!(s.tls.mode, SslMode::Disable);
    }

    #[test]
    fn rootcert_system_and_protocol_bounds() {
        let s = split("host=db sslrootcert=system ssl_min_protocol_version=TLSv1.3");
        assert_eq!(s.tls.root_cert, Some(RootCert::System));
        assert_eq!(s.tls.min_version, Some(TlsVersion::V1_3));
        assert!(!s.tls.mode_explicit);
    }

    /// The fuzz target's property on hand-picked awkward inputs: what is left splits again to
    /// itself.
    #[test]
    fn the_rest_splits_to_itself() {
        for src in [
            "",
            "   ",
            "a=b",
            "a = 'b c' d=\\\\ e='\\''",
            "k='' sslmode=disable",
            "k==v",
            "k='x'y=z",
            "postgresql://",
            "postgresql://h?",
            "postgresql://h?&&a=b&sslmode=prefer&",
            "postgresql://h?a&b=%41",
            "postgres://u:p@h/d?x=1?y=2",
        ] {
            let Ok(first) = split_source(src) else {
                continue;
            };
            let again = split_source(&first.rest).unwrap_or_else(|e| panic!("{src:?}: {e}"));
            assert_eq!(again.rest, first.rest, "{src:?}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        for (src, want) in [
            ("host=db sslmode=verify", "sslmode=verify"),
            ("host=db sslpassword=x", "sslpassword"),
            ("postgres://db/c?sslcrl=/x", "sslcrl"),
            ("host=db sslsni=yes", "sslsni"),
            ("host=db user", "missing \"=\""),
            ("host='db", "unterminated"),
            ("postgres://db/c?sslmode=%zz", "percent-encoding"),
            (
                "host=db ssl_max_protocol_version=SSLv3",
                "ssl_max_protocol_version",
            ),
        ] {
            let e = split_source(src).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
    }
}
