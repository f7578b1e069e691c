#![no_main]
//! SQLite rpmdb reading never panics (seed with real `rpmdb.sqlite` files).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = clair_ecosystems::rpm::sqlite::parse_sqlite(data);
    let _ = clair_ecosystems::rpm::packages_from_db(data, "var/lib/rpm/rpmdb.sqlite");
});
