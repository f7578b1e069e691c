//! JOSE for clair-rs: JSON Web Signatures in compact form and JSON Web Keys, parsed, verified and
//! signed in one place. Three users share it: Clair v4's pre-shared-key authentication and its
//! intra-service and webhook tokens ([`Psk`], [`sign_hs256`]), and jwtproxy's verifier and
//! signer (`clair_http::jwtproxy`: [`Jws`], [`PublicKey`], [`SigningKey`]).
//!
//! The signature arithmetic is `jsonwebtoken`'s (over `ring`); what this crate adds is the
//! policy, because tokens and keys come from outside:
//! - sizes are capped before anything is decoded ([`MAX_TOKEN`], [`MAX_JWK`]);
//! - the algorithm must fit the key: HS256/384/512 only with a pre-shared secret, RS256/384/512
//!   only with an RSA key, ES256/ES384 only with a P-256/P-384 key, never `none` (so a token
//!   cannot pick HMAC over a public key);
//! - time claims are checked with a fixed leeway ([`LEEWAY_SECS`]), issuers against a list,
//!   audiences against an origin.
//!
//! Everything here is a pure function of its input and "now" (a Unix time): no clock, no
//! network, no files.
//!
//! ```
//! let key = b"a pre-shared key";
//! let psk = clair_jose::Psk::from_secret(key.to_vec(), &["quay".to_string()]).unwrap();
//! let now = 1_800_000_000;
//! let token = clair_jose::sign_hs256(key, "quay", now);
//! assert_eq!(psk.verify(&token, now), Ok(()));
//! assert!(psk.verify(&token, now + 3600).is_err(), "expired");
//! ```
#![forbid(unsafe_code)]

mod jws;
mod key;
mod psk;

pub use jws::{Jws, audiences, number};
pub use key::{PublicKey, SigningKey, nonce, rsa_thumbprint};
pub use psk::{INTRASERVICE_ISSUER, LEEWAY_SECS, Psk, check_times, sign_hs256};

use base64::Engine as _;

/// Largest compact token accepted, in bytes.
pub const MAX_TOKEN: usize = 16 * 1024;
/// Largest JWK document accepted, in bytes.
pub const MAX_JWK: usize = 64 * 1024;

/// Why a token or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is longer than [`MAX_TOKEN`].
    #[error("token too long")]
    TokenTooLong,
    /// Not three dot-separated parts.
    #[error("not a JWS in compact form")]
    NotCompact,
    /// A part is not unpadded base64url.
    #[error("bad base64: {0}")]
    Base64(String),
    /// The header or the claims are not JSON.
    #[error("{part}: {why}")]
    Json {
        /// `header` or `claims`.
        part: &'static str,
        /// The parser's message.
        why: String,
    },
    /// The header or the claims are JSON but not objects.
    #[error("header and claims must be JSON objects")]
    NotObjects,
    /// The header's `alg` is not one the check accepts.
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(Option<String>),
    /// The header's `alg` does not go with the key's type or curve.
    #[error("algorithm {0:?} does not fit the key")]
    KeyMismatch(String),
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// `exp` has passed (beyond the leeway).
    #[error("expired")]
    Expired,
    /// `nbf` or `iat` is ahead of now (beyond the leeway).
    #[error("{0} is in the future")]
    NotYetValid(&'static str),
    /// A time claim is not a number.
    #[error("{0} is not a number")]
    NotANumber(&'static str),
    /// `iss` is not one of the accepted issuers.
    #[error("issuer {0:?} is not accepted")]
    Issuer(String),
    /// `aud` does not name the expected origin.
    #[error("audience does not contain {0}")]
    Audience(String),
    /// A JWK that cannot be used (what is wrong with it).
    #[error("JWK {0}")]
    Jwk(String),
    /// A JWK document longer than [`MAX_JWK`].
    #[error("JWK longer than {MAX_JWK} bytes")]
    JwkTooLarge,
    /// A PEM or DER key that cannot be read, encoded or generated.
    #[error("{0}")]
    Key(String),
    /// A pre-shared key that is not standard base64.
    #[error("the key is not base64: {0}")]
    SecretBase64(String),
    /// A pre-shared key of no bytes.
    #[error("the key is empty")]
    SecretEmpty,
    /// The signing primitive failed.
    #[error("signing failed")]
    Signing,
    /// The system's random source failed.
    #[error("no randomness")]
    Random,
}

pub(crate) fn b64url(d: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

/// Unpadded base64url; trailing `=` are tolerated, as jwtproxy's decoder does.
pub(crate) fn unb64url(s: &str) -> Result<Vec<u8>, Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| Error::Base64(e.to_string()))
}

/// The `jsonwebtoken` algorithm of a JOSE `alg` name this crate accepts.
pub(crate) fn algorithm(alg: &str) -> Option<jsonwebtoken::Algorithm> {
    use jsonwebtoken::Algorithm as A;
    Some(match alg {
        "HS256" => A::HS256,
        "HS384" => A::HS384,
        "HS512" => A::HS512,
        "RS256" => A::RS256,
        "RS384" => A::RS384,
        "RS512" => A::RS512,
        "ES256" => A::ES256,
        "ES384" => A::ES384,
        _ => return None,
    })
}

/// Check `sig` over `msg` with `key` and `alg` through `jsonwebtoken`.
pub(crate) fn verify_raw(
    alg: jsonwebtoken::Algorithm,
    key: &jsonwebtoken::DecodingKey,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), Error> {
    match jsonwebtoken::crypto::verify(&b64url(sig), msg, key, alg) {
        Ok(true) => Ok(()),
        _ => Err(Error::Signature),
    }
}

/// Parse everything a peer may send (a compact token, a JWK document, a PEM key), for
/// fuzzing: never panics.
pub fn parse_untrusted(data: &[u8]) {
    let _ = PublicKey::from_jwk_bytes(data);
    let text = String::from_utf8_lossy(data);
    let _ = PublicKey::from_pem(&text);
    if let Ok(jws) = Jws::parse(&text) {
        let _ = check_times(&jws.claims, 1_800_000_000);
        let _ = audiences(&jws.claims);
        let key = PublicKey::Rsa {
            n: vec![0xc5; 256],
            e: vec![1, 0, 1],
        };
        let _ = jws.verify_with(&key);
    }
    if let Ok(psk) = Psk::from_secret(b"secret".to_vec(), &["quay".to_string()]) {
        let _ = psk.verify(&text, 1_800_000_000);
    }
}
