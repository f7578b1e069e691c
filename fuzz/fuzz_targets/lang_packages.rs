#![no_main]
//! Language package metadata parsers never panic: Python core metadata and eggs, npm
//! manifests, gemspecs, Java archives (nested), Go build info and cargo-auditable sections.
//! The first byte picks the parser.
use clair_ecosystems::{gobin, java, npm, python, ruby, rustbin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => drop(python::parse_metadata(rest)),
        1 => drop(npm::parse_manifest(rest)),
        2 => drop(ruby::parse_gemspec(rest)),
        3 => drop(java::archive_artifacts(rest, "fuzz.jar", &mut Vec::new())),
        4 => drop(gobin::build_info(rest)),
        _ => drop(rustbin::dependencies(rest)),
    }
});
