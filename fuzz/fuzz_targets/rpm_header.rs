#![no_main]
//! RPM header blob parsing never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = clair_ecosystems::rpm::parse_header(data) {
        let _ = (h.evr(), h.source(), h.module_stream());
    }
});
