#![no_main]
//! Tokens and keys as peers send them (compact JWS, JWK documents, PEM keys) never panic
//! clair-jose; what parses keeps its invariants, and a token signed with the input as the
//! pre-shared key verifies under it and under no other issuer.
use clair_jose::{Jws, Psk, PublicKey, sign_hs256};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    clair_jose::parse_untrusted(data);
    let text = String::from_utf8_lossy(data);
    if let Ok(jws) = Jws::parse(&text) {
        assert!(text.starts_with(jws.signing_input()));
        assert!(jws.header.is_object() && jws.claims.is_object());
    }
    if let Ok(PublicKey::Ec { curve, point }) = PublicKey::from_jwk_bytes(data) {
        assert_eq!(point.len(), if curve == "P-256" { 65 } else { 97 });
    }
    if let Ok(psk) = Psk::from_secret(data.to_vec(), &["quay".to_string()]) {
        let now = 1_800_000_000;
        assert_eq!(psk.verify(&sign_hs256(data, "quay", now), now), Ok(()));
        assert!(psk.verify(&sign_hs256(data, "mallory", now), now).is_err());
    }
});
