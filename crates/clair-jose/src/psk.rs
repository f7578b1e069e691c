//! Clair v4's pre-shared key (`auth.psk`): HS256/384/512 tokens, `iss` from a list, time claims
//! checked only when present, with leeway. The same key signs the notifier's webhooks and the
//! intra-service calls of the distributed modes ([`sign_hs256`]).

use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::Value;

use crate::{Error, Jws, algorithm, b64url, verify_raw};

/// Leeway for the time claims.
pub const LEEWAY_SECS: i64 = 15;

/// The issuer of Clair v4's intra-service tokens, accepted by every pre-shared key.
pub const INTRASERVICE_ISSUER: &str = "clair-intraservice";

/// The pre-shared key and the issuers it accepts.
#[derive(Clone)]
pub struct Psk {
    key: Arc<Vec<u8>>,
    issuers: Vec<String>,
}

impl std::fmt::Debug for Psk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Psk")
            .field("key", &"<redacted>")
            .field("issuers", &self.issuers)
            .finish()
    }
}

impl Psk {
    /// From the config: the standard-base64 key and the accepted issuers (besides
    /// [`INTRASERVICE_ISSUER`]). The caller names the config key in its message.
    pub fn new(key_base64: &str, issuers: &[String]) -> Result<Psk, Error> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(key_base64.trim())
            .map_err(|e| Error::SecretBase64(e.to_string()))?;
        Psk::from_secret(key, issuers)
    }

    /// From the key's bytes and the accepted issuers (besides [`INTRASERVICE_ISSUER`]).
    pub fn from_secret(key: Vec<u8>, issuers: &[String]) -> Result<Psk, Error> {
        if key.is_empty() {
            return Err(Error::SecretEmpty);
        }
        let mut issuers = issuers.to_vec();
        issuers.push(INTRASERVICE_ISSUER.into());
        Ok(Psk {
            key: Arc::new(key),
            issuers,
        })
    }

    /// Whether `token` is valid at Unix time `now`; why not, otherwise.
    pub fn verify(&self, token: &str, now: i64) -> Result<(), Error> {
        let jws = Jws::parse(token)?;
        let alg = match jws.alg() {
            Some(a @ ("HS256" | "HS384" | "HS512")) => algorithm(a),
            _ => None,
        }
        .ok_or_else(|| Error::Algorithm(jws.alg().map(str::to_string)))?;
        verify_raw(
            alg,
            &DecodingKey::from_secret(&self.key),
            jws.signing_input().as_bytes(),
            jws.signature(),
        )?;
        check_times(&jws.claims, now)?;
        let iss = jws.claims["iss"].as_str().unwrap_or("");
        if !self.issuers.iter().any(|i| i == iss) {
            return Err(Error::Issuer(iss.to_string()));
        }
        Ok(())
    }
}

/// Clair v4's time checks: `exp`, `nbf` and `iat` only when present, with [`LEEWAY_SECS`].
pub fn check_times(claims: &Value, now: i64) -> Result<(), Error> {
    if let Some(exp) = claims.get("exp")
        && now > exp.as_i64().ok_or(Error::NotANumber("exp"))? + LEEWAY_SECS
    {
        return Err(Error::Expired);
    }
    for k in ["nbf", "iat"] {
        if let Some(t) = claims.get(k)
            && now + LEEWAY_SECS < t.as_i64().ok_or(Error::NotANumber(k))?
        {
            return Err(Error::NotYetValid(k));
        }
    }
    Ok(())
}

/// An HS256 JWT: `iss`, `iat`, `nbf` (60 s back), `exp` (60 s ahead), as Clair v4 signs.
pub fn sign_hs256(key: &[u8], issuer: &str, now: i64) -> String {
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64url(
        serde_json::json!({"iss": issuer, "iat": now, "nbf": now - 60, "exp": now + 60})
            .to_string()
            .as_bytes(),
    );
    let input = format!("{header}.{claims}");
    // HMAC takes keys of any length: signing cannot fail.
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(key),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap_or_default();
    format!("{input}.{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::{Sha256, Sha512};

    type HmacSha256 = Hmac<Sha256>;

    fn token(alg: &str, key: &[u8], claims: serde_json::Value) -> String {
        let b64 = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
        let h = b64(serde_json::json!({"alg": alg, "typ": "JWT"})
            .to_string()
            .as_bytes());
        let c = b64(claims.to_string().as_bytes());
        let input = format!("{h}.{c}");
        let sig = match alg {
            "HS512" => {
                let mut m = <Hmac<Sha512> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
                m.update(input.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut m = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
                m.update(input.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
        };
        format!("{input}.{}", b64(&sig))
    }

    #[test]
    fn accepts_and_rejects() {
        let key = b"secret-key-for-tests-only";
        let psk = Psk::new(
            &base64::engine::general_purpose::STANDARD.encode(key),
            &["quay".to_string()],
        )
        .unwrap();
        let now = 1_800_000_000;
        let ok = token(
            "HS256",
            key,
            serde_json::json!({"iss": "quay", "exp": now + 300}),
        );
        assert_eq!(psk.verify(&ok, now), Ok(()));
        let ok512 = token(
            "HS512",
            key,
            serde_json::json!({"iss": "clair-intraservice"}),
        );
        assert_eq!(psk.verify(&ok512, now), Ok(()), "no time claims is fine");
        let leeway = token(
            "HS256",
            key,
            serde_json::json!({"iss": "quay", "exp": now - 10}),
        );
        assert_eq!(psk.verify(&leeway, now), Ok(()), "15 s leeway");
        for (t, why) in [
            (
                token(
                    "HS256",
                    key,
                    serde_json::json!({"iss": "quay", "exp": now - 60}),
                ),
                "expired",
            ),
            (
                token(
                    "HS256",
                    key,
                    serde_json::json!({"iss": "quay", "nbf": now + 60}),
                ),
                "future",
            ),
            (
                token("HS256", key, serde_json::json!({"iss": "mallory"})),
                "issuer",
            ),
            (
                token("HS256", b"another key", serde_json::json!({"iss": "quay"})),
                "signature",
            ),
            (
                token("none", key, serde_json::json!({"iss": "quay"})),
                "algorithm",
            ),
            ("a.b".to_string(), "compact"),
        ] {
            let e = psk.verify(&t, now).unwrap_err().to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
        // alg "none" with an empty signature.
        let b64 = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(br#"{"iss":"quay"}"#)
        );
        assert!(psk.verify(&none, now).is_err());
    }

    #[test]
    fn jwt_is_hs256_over_header_and_claims() {
        let t = sign_hs256(
            b"secret-key-for-tests-only",
            "clair-notifier",
            1_800_000_000,
        );
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let dec = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let claims: serde_json::Value = serde_json::from_slice(&dec(parts[1])).unwrap();
        assert_eq!(claims["iss"], "clair-notifier");
        assert_eq!(claims["exp"], 1_800_000_060);
        assert_eq!(claims["nbf"], 1_799_999_940);
        let mut mac = HmacSha256::new_from_slice(b"secret-key-for-tests-only").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert!(mac.verify_slice(&dec(parts[2])).is_ok());
    }
}
