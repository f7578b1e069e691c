//! Clair v2 page tokens: Fernet tokens (AES-128-CBC + HMAC-SHA256, URL-safe base64) whose
//! plaintext is Go's `json.Encoder` output (a trailing newline), valid for one hour. Instances
//! configured with the same `paginationkey` accept each other's tokens.

use base64::Engine as _;

/// How long a token is valid, as Clair v2 (`time.Hour`).
pub const TTL_SECS: u64 = 3600;

/// Mints and opens page tokens.
#[derive(Clone)]
pub struct PageKey(fernet::Fernet);

impl std::fmt::Debug for PageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageKey(<redacted>)")
    }
}

/// The message Clair v2 dies with on a bad key.
pub const BAD_KEY: &str = "Invalid Pagination key; must be 32-bit URL-safe base64";

impl PageKey {
    /// From `api.paginationkey` (64 hex characters, standard or URL-safe base64 of 32 bytes, as
    /// fernet-go's `DecodeKey` accepts); `None` or empty: a random key for this process.
    pub fn from_config(key: Option<&str>) -> Result<PageKey, String> {
        let raw: Vec<u8> = match key.map(str::trim).filter(|k| !k.is_empty()) {
            None => {
                let k = fernet::Fernet::generate_key();
                return fernet::Fernet::new(&k)
                    .map(PageKey)
                    .ok_or_else(|| BAD_KEY.to_string());
            }
            Some(k) => decode_key(k).ok_or_else(|| BAD_KEY.to_string())?,
        };
        let url = base64::engine::general_purpose::URL_SAFE.encode(raw);
        fernet::Fernet::new(&url)
            .map(PageKey)
            .ok_or_else(|| BAD_KEY.to_string())
    }

    /// A token for `value`, encoded as Go's `json.Encoder` would.
    pub fn mint(&self, value: &serde_json::Value) -> String {
        let mut text = value.to_string();
        text.push('\n');
        self.0.encrypt(text.as_bytes())
    }

    /// The value in a token minted within the last hour by an instance with this key.
    pub fn open(&self, token: &str) -> Option<serde_json::Value> {
        let plain = self.0.decrypt_with_ttl(token.trim(), TTL_SECS).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// [`Self::open`] as if the time were `now` (Unix seconds), for tests.
    #[cfg(test)]
    pub(crate) fn open_at(&self, token: &str, now: u64) -> Option<serde_json::Value> {
        let plain = self
            .0
            .decrypt_at_time(token.trim(), Some(TTL_SECS), now)
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

fn decode_key(k: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let candidates = [
        (k.len() == 64).then(|| hex::decode(k).ok()).flatten(),
        STANDARD.decode(k).ok(),
        URL_SAFE.decode(k).ok(),
        URL_SAFE_NO_PAD.decode(k).ok(),
    ];
    candidates.into_iter().flatten().find(|b| b.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tokens() {
        // The key from the Quay setup documents (standard base64 with '+' and '/').
        let k = PageKey::from_config(Some("XxoPtCUzrUv4JV5dS+yQ+MdW7yLEJnRMwigVY/bpgtQ=")).unwrap();
        let same =
            PageKey::from_config(Some("XxoPtCUzrUv4JV5dS-yQ-MdW7yLEJnRMwigVY_bpgtQ=")).unwrap();
        let t = k.mint(&serde_json::json!(123));
        assert!(t.starts_with("gAAAAA"), "{t}");
        assert_eq!(same.open(&t), Some(serde_json::json!(123)));
        let hex = PageKey::from_config(Some(&"ab".repeat(32))).unwrap();
        assert_eq!(hex.open(&t), None, "another key");
        assert_eq!(k.open("gAAAAAnonsense"), None);
        assert!(PageKey::from_config(Some("short")).is_err());
        let random = PageKey::from_config(None).unwrap();
        assert_eq!(random.open(&t), None);
        assert_eq!(
            random.open(
                &random.mint(&serde_json::json!({"OldVulnerability": 0, "NewVulnerability": -1}))
            ),
            Some(serde_json::json!({"OldVulnerability": 0, "NewVulnerability": -1}))
        );
    }

    #[test]
    fn python_cryptography_tokens() {
        // Minted by Python's cryptography.fernet (the reference implementation):
        // Fernet(KEY).encrypt(b'{"OldVulnerability":12,"NewVulnerability":-1}\n'),
        // timestamp 1795425294. Valid within the hour after it, not after, not from the future.
        let key = "cw_0x689RpI-jtRR7oPeDg6YH47YvUSWEWCi2H6K2Xg=";
        let token = "gAAAAABrBAQO3Wbc_CtCUQ18qMg5KgEVD2mZbdu6VSqmSAuPGEh_06YqBF9Uq48PpHRlJlNGYygM2QdE7gszpSKFC67e7njvpGaU9uiIhiOwUbr9CDBBu1VpoXT8u9Nm_bqlpJToFdIB";
        let k = PageKey::from_config(Some(key)).unwrap();
        let ts = 1_795_425_294;
        assert_eq!(
            k.open_at(token, ts + 10),
            Some(serde_json::json!({"OldVulnerability": 12, "NewVulnerability": -1}))
        );
        assert_eq!(k.open_at(token, ts + TTL_SECS + 1), None, "expired");
        assert_eq!(k.open_at(token, ts - 120), None, "too far in the future");
        assert!(
            k.open_at(token, ts - 30).is_some(),
            "60 s of clock skew allowed"
        );
    }
}
