//! A JWS in compact form: bounded, decoded, and only then trusted as far as its signature goes.

use serde_json::Value;

use crate::{Error, MAX_TOKEN, PublicKey, unb64url};

/// A JWS in compact form, decoded but not verified.
#[derive(Debug)]
pub struct Jws {
    /// The protected header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Decode `token` (three base64url parts; header and claims JSON objects), at most
    /// [`MAX_TOKEN`] bytes.
    pub fn parse(token: &str) -> Result<Jws, Error> {
        if token.len() > MAX_TOKEN {
            return Err(Error::TokenTooLong);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::NotCompact);
        };
        let json = |part: &'static str, text: &str| -> Result<Value, Error> {
            serde_json::from_slice(&unb64url(text)?).map_err(|e| Error::Json {
                part,
                why: e.to_string(),
            })
        };
        let (header, claims) = (json("header", h)?, json("claims", c)?);
        if !header.is_object() || !claims.is_object() {
            return Err(Error::NotObjects);
        }
        Ok(Jws {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature: unb64url(s)?,
        })
    }

    /// The signed text: `header.claims` as they came.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The header's `alg`, when it is a string.
    pub fn alg(&self) -> Option<&str> {
        self.header["alg"].as_str()
    }

    /// Check the signature with `key` (the header's `alg`, which must fit the key).
    pub fn verify_with(&self, key: &PublicKey) -> Result<(), Error> {
        key.verify(
            self.alg().unwrap_or(""),
            self.signing_input.as_bytes(),
            &self.signature,
        )
    }
}

/// A numeric claim as Go's JSON decoder reads it into an integer: integers as they are,
/// fractions truncated; `None` for anything else.
pub fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// The `aud` claim's strings: one string, or the strings of an array (other members skipped).
pub fn audiences(claims: &Value) -> Vec<&str> {
    match &claims["aud"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64url;

    #[test]
    fn compact_form_is_required_and_bounded() {
        let h = b64url(br#"{"alg":"HS256"}"#);
        let c = b64url(br#"{"iss":"quay"}"#);
        let ok = Jws::parse(&format!("{h}.{c}.{}", b64url(b"sig"))).unwrap();
        assert_eq!(ok.alg(), Some("HS256"));
        assert_eq!(ok.signing_input(), format!("{h}.{c}"));
        assert_eq!(ok.signature(), b"sig");
        assert_eq!(
            Jws::parse(&format!("{h}.{c}")).unwrap_err(),
            Error::NotCompact
        );
        assert_eq!(
            Jws::parse(&format!("{h}.{c}.a.b")).unwrap_err(),
            Error::NotCompact
        );
        let arr = b64url(b"[1]");
        assert_eq!(
            Jws::parse(&format!("{h}.{arr}.")).unwrap_err(),
            Error::NotObjects
        );
        let long = format!("{h}.{}.", "A".repeat(MAX_TOKEN));
        assert_eq!(Jws::parse(&long).unwrap_err(), Error::TokenTooLong);
        assert!(matches!(
            Jws::parse(&format!("{h}.{}.", b64url(b"{"))),
            Err(Error::Json { part: "claims", .. })
        ));
    }

    #[test]
    fn audiences_and_numbers() {
        let c = serde_json::json!({"aud": ["a", 1, "b"], "exp": 1.9, "nbf": "1"});
        assert_eq!(audiences(&c), ["a", "b"]);
        assert_eq!(audiences(&serde_json::json!({"aud": "x"})), ["x"]);
        assert!(audiences(&serde_json::json!({})).is_empty());
        assert_eq!(number(&c["exp"]), Some(1));
        assert_eq!(number(&c["nbf"]), None);
    }
}
