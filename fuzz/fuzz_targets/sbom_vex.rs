#![no_main]
//! SBOMs (CycloneDX, SPDX), VEX documents (OpenVEX, CSAF), `.clairignore` files and purls
//! never panic their readers; every package an SBOM yields has a name and a version, and the
//! purl clair-rs writes for it reads back as the same package.
use clair_sbom::{ignore::IgnoreFile, purl, vex::Vex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sbom) = clair_sbom::parse(data) {
        for p in &sbom.packages {
            assert!(!p.name.is_empty() && !p.version.is_empty());
            if let Some(u) = purl::from_package(
                p.db_kind,
                &p.name,
                &p.version,
                &p.arch,
                p.source.as_ref(),
                sbom.distribution.as_ref(),
            ) && let Ok(Some(back)) = purl::to_package(&u)
            {
                assert_eq!(back.package.db_kind, p.db_kind, "{u}");
            }
        }
    }
    let _ = Vex::default().add(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = IgnoreFile::parse(text);
        let _ = purl::to_package(text);
        let _ = purl::PurlKey::parse(text);
    }
});
