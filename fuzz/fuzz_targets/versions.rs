#![no_main]
//! Every version scheme orders arbitrary strings without panicking, and antisymmetrically.
use clair_version::Scheme;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, "1.0"));
    for s in Scheme::ALL {
        let _ = s.validate(a);
        if let (Ok(x), Ok(y)) = (s.compare(a, b), s.compare(b, a)) {
            assert_eq!(x, y.reverse(), "{s}: {a:?} vs {b:?}");
        }
    }
});
