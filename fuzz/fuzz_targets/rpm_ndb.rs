#![no_main]
//! NDB rpmdb reading never panics (seed with real `Packages.db` files).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = clair_ecosystems::rpm::ndb::parse_ndb(data);
    let _ = clair_ecosystems::rpm::packages_from_db(data, "var/lib/rpm/Packages.db");
});
