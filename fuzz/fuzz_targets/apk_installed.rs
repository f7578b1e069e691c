#![no_main]
//! apk installed-database parsing never panics.
use clair_ecosystems::apk::parse_installed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_installed(data, "lib/apk/db/installed");
});
