//! HS256 tokens as Clair v4's services sign them with the pre-shared key (`auth.psk`): the
//! notifier's webhooks (`iss` `clair-notifier`) and intra-service calls. Notifications
//! themselves live in `clair_http::notify`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// An HS256 JWT: `iss`, `iat`, `nbf` (60 s back), `exp` (60 s ahead), as Clair v4 signs.
pub fn sign_hs256(key: &[u8], issuer: &str, now: i64) -> String {
    let b64 = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64(
        serde_json::json!({"iss": issuer, "iat": now, "nbf": now - 60, "exp": now + 60})
            .to_string()
            .as_bytes(),
    );
    let input = format!("{header}.{claims}");
    let sig = match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{input}.{}", b64(&sig))
}

#[cfg(test)]
mod tests {
    use super::*;

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
