#![no_main]
//! Every vulnerability-feed parser on arbitrary bytes: errors are fine, panics and hangs are not.
//! The input is written to a temporary file, as updaters parse downloaded files.
use std::io::Write;

use clair_ecosystems::{alpine, aws, debian, epss, nvd, oracle, osv, photon, rhel, suse, ubuntu};
use clair_matcher::{Emit, FetchedFile, UpdaterError, Validators};
use libfuzzer_sys::fuzz_target;

/// What every feed parser is: the updater's name, the downloaded file, where records go.
type Parse = fn(&str, &FetchedFile, &mut Emit<'_>) -> Result<(), UpdaterError>;

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
    // (updater name, parser), several to a line so the list reads as one table.
    #[rustfmt::skip]
    let parsers: [(&str, Parse); 13] = [
        ("debian", debian::parse_tracker), ("alpine", alpine::parse_secdb),
        ("rhel", rhel::parse_rhel_oval), ("rhel-vex", rhel::parse_vex_file),
        ("oracle", oracle::parse_oracle_oval), ("ubuntu", ubuntu::parse_ubuntu_oval),
        ("suse", suse::parse_suse_oval), ("photon", photon::parse_photon_oval),
        ("aws", aws::parse_updateinfo), ("osv", osv::parse_osv_file),
        ("nvd", nvd::parse_nvd), ("epss", epss::parse_epss),
        ("kev", clair_ecosystems::kev::parse_kev),
    ];
    for (name, parse) in parsers {
        let _ = parse(name, &file, &mut sink);
    }
});
