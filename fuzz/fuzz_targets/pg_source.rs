#![no_main]
//! PostgreSQL connection strings: splitting out the TLS keywords never panics, what is left
//! over splits again to itself (nothing of ours left, nothing else changed), and the `postgres`
//! crate's parser takes the rest without panicking.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for source in [text.to_string(), format!("postgresql://{text}")] {
        let Ok(split) = clair_store::postgres::split_source(&source) else { continue };
        let again = clair_store::postgres::split_source(&split.rest)
            .unwrap_or_else(|e| panic!("{source:?} → {:?} no longer splits: {e}", split.rest));
        assert_eq!(again.rest, split.rest, "{source:?}");
        let _ = split.rest.parse::<postgres::Config>();
    }
});
