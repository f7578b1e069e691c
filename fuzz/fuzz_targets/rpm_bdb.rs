#![no_main]
//! BerkeleyDB rpmdb reading never panics or loops (seed with real `Packages` files).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Force the BerkeleyDB reader, whatever the magic says.
    let _ = clair_ecosystems::rpm::bdb::parse_bdb(data);
    let _ = clair_ecosystems::rpm::packages_from_db(data, "var/lib/rpm/Packages");
});
