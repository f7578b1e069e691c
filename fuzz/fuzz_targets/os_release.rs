#![no_main]
//! Release-file parsing and distribution detection never panic.
use std::sync::Arc;

use clair_ecosystems::osrelease::{self, OsReleaseScanner};
use clair_indexer::DistributionScanner;
use clair_layer::LayerContents;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = osrelease::parse_os_release(data);
    let _ = osrelease::from_os_release(data);
    let text = String::from_utf8_lossy(data);
    let _ = osrelease::parse_release_line(&text);
    let _ = osrelease::from_release_line(&text);
    let _ = osrelease::from_lsb(&text);
    let _ = osrelease::from_debian_version(&text);
    let _ = osrelease::from_busybox(data);
    // The same bytes as every release file of an image.
    let mut l = LayerContents::default();
    for p in ["etc/os-release", "etc/redhat-release", "etc/system-release-cpe", "etc/issue"] {
        l.add_file(p.into(), Arc::from(data));
    }
    let _ = OsReleaseScanner.detect(&l);
});
