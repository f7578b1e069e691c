#![no_main]
//! Queue message bodies (layer pushes, SNS envelopes, base64gzip) never panic the SQS
//! receiver's parser; every push it accepts names its layer and re-encodes; a document put
//! into an SNS message decodes back to itself.
use clair_sqs::message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pushes) = message::parse_push(data) {
        assert!(!pushes.is_empty() && pushes.len() <= message::MAX_LAYERS);
        for p in pushes {
            assert!(!p.name.is_empty());
            assert!(serde_json::from_slice::<serde_json::Value>(&p.body).is_ok());
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && text.len() <= message::MAX_BODY
    {
        let _ = message::decode_body(message::CONTENT_TYPE_BASE64GZIP, text);
        let enc = message::encode_body(text, 64);
        let back = message::decode_body(enc.content_type, &enc.body);
        assert_eq!(back.as_deref(), Ok(text.as_bytes()));
    }
});
