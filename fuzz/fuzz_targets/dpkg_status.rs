#![no_main]
//! dpkg status / status.d parsing never panics.
use clair_ecosystems::dpkg::{StatusMode, parse_status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_status(data, "var/lib/dpkg/status", StatusMode::Status);
    let _ = parse_status(data, "var/lib/dpkg/status.d/x", StatusMode::StatusD);
});
