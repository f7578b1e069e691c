#![no_main]
//! Every vulnerability-feed parser on arbitrary bytes: errors are fine, panics and hangs are not.
//! The input is written to a temporary file, as updaters parse downloaded files.
use std::io::Write;

use clair_ecosystems::{alpine, aws, debian, epss, nvd, oracle, osv, photon, rhel, suse, ubuntu};
use clair_matcher::{FetchedFile, Validators};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if f.write_all(data).is_err() {
        return;
    }
    let file = FetchedFile {
        name: "fuzz".into(),
        url: "fuzz".into(),
        path: f.path().to_path_buf(),
        validators: Validators::default(),
    };
    let mut sink = |_| Ok(());
    let _ = debian::parse_tracker("debian", &file, &mut sink);
    let _ = alpine::parse_secdb("alpine", &file, &mut sink);
    let _ = rhel::parse_rhel_oval("rhel", &file, &mut sink);
    let _ = rhel::parse_vex_file("rhel-vex", &file, &mut sink);
    let _ = oracle::parse_oracle_oval("oracle", &file, &mut sink);
    let _ = ubuntu::parse_ubuntu_oval("ubuntu", &file, &mut sink);
    let _ = suse::parse_suse_oval("suse", &file, &mut sink);
    let _ = photon::parse_photon_oval("photon", &file, &mut sink);
    let _ = aws::parse_updateinfo("aws", &file, &mut sink);
    let _ = osv::parse_osv_file("osv", &file, &mut sink);
    let _ = nvd::parse_nvd("nvd", &file, &mut sink);
    let _ = epss::parse_epss("epss", &file, &mut sink);
    let _ = clair_ecosystems::kev::parse_kev("kev", &file, &mut sink);
});
