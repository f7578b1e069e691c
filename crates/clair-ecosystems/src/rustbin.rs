//! Rust binaries built with `cargo auditable`: the ELF section `.dep-v0` holds the
//! zlib-compressed JSON dependency tree (`{"packages":[{"name","version","source","kind",
//! "dependencies","root"}]}`).
//!
//! Each package becomes one of the `crates.io` ecosystem; build-only dependencies (`"kind":
//! "build"`) are not in the binary and are left out, as `cargo audit bin` does.

use std::io::Read;

use clair_indexer::DbScan;
use clair_layer::{FileSelector, FileView};
use clair_types::{Package, PackageDbKind};
use serde::Deserialize;

use crate::elf::{Elf, Source, scan_elf_files, select_executables};
use crate::scanner::DbScanner;

/// The section name, which any auditable binary contains in its section-name table.
pub const SECTION: &str = ".dep-v0";
/// Largest decompressed dependency list (cargo-auditable itself caps it at 8 MiB).
const MAX_JSON: u64 = 8 << 20;

/// Finds crates in `cargo auditable` binaries.
///
/// Version 2: executables of any size (read by offset).
pub const SCANNER: DbScanner =
    DbScanner::new("rust-binary", "2", PackageDbKind::Rust, select, scan);

fn select(selector: &mut FileSelector) {
    select_executables(selector, SECTION.as_bytes());
}

fn scan(files: &dyn FileView) -> Vec<DbScan> {
    scan_elf_files(files, "rust-binary", |path, src| {
        Ok(dependencies_of(src)?.map(|list| list.packages(path)))
    })
}

/// The dependency list of a `cargo auditable` binary.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DepList {
    /// Every package in the build.
    pub packages: Vec<Dep>,
}

/// One package of a [`DepList`].
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Dep {
    /// Crate name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Where it came from: `crates.io`, `local`, `git`, `registry`.
    #[serde(default)]
    pub source: String,
    /// `runtime` (default) or `build`.
    #[serde(default)]
    pub kind: String,
    /// Whether this is the binary's own crate.
    #[serde(default)]
    pub root: bool,
}

impl DepList {
    /// The crates linked into the binary.
    pub fn packages(&self, db: &str) -> Vec<Package> {
        self.packages
            .iter()
            .filter(|d| d.kind != "build")
            .map(|d| Package {
                name: d.name.clone(),
                version: d.version.clone(),
                arch: String::new(),
                source: None,
                db_kind: PackageDbKind::Rust,
                package_db: db.to_string(),
                module: None,
            })
            .collect()
    }
}

/// `Ok(None)` when the file has no `.dep-v0` section; an error when it has one that cannot be
/// read.
pub fn dependencies(data: &[u8]) -> Result<Option<DepList>, String> {
    dependencies_of(Source::Mem(data))
}

/// [`dependencies`] of a file in memory or read by offset.
pub(crate) fn dependencies_of(src: Source<'_>) -> Result<Option<DepList>, String> {
    let Some(elf) = Elf::parse(src) else {
        return Ok(None);
    };
    let Some((_, size)) = elf.section_range(SECTION) else {
        return Ok(None);
    };
    let Some(section) = elf.section(SECTION) else {
        return Err(format!("{SECTION}: {size} bytes cannot be read"));
    };
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(&section[..])
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("{SECTION}: not zlib data: {e}"))?;
    if json.len() as u64 > MAX_JSON {
        return Err(format!("{SECTION}: more than {MAX_JSON} bytes of JSON"));
    }
    serde_json::from_slice(&json)
        .map(Some)
        .map_err(|e| format!("{SECTION}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_corpus::corpus_bytes as corpus;

    /// The dependency list of a corpus binary, and its packages as (name, version).
    fn crates_of(rel: &str) -> (DepList, Vec<(String, String)>) {
        let list = dependencies(&corpus(rel)).unwrap().expect("section");
        let got = list
            .packages("x")
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        (list, got)
    }

    #[test]
    fn corpus_binaries() {
        let (list, got) = crates_of("lang/rust/scalibr-no_deps");
        assert_eq!(got, vec![("no_deps".to_string(), "0.1.0".to_string())]);
        assert!(list.packages[0].root);

        let (_, got) = crates_of("lang/rust/trivy-test.elf");
        assert_eq!(
            got,
            vec![
                ("crate_with_features".to_string(), "0.1.0".to_string()),
                ("library_crate".to_string(), "0.1.0".to_string())
            ]
        );
    }

    #[test]
    fn build_dependencies_are_not_in_the_binary() {
        let list: DepList = serde_json::from_str(
            r#"{"packages":[{"name":"app","version":"1.0.0","source":"local","root":true,"dependencies":[1,2]},
            {"name":"serde","version":"1.0.200","source":"crates.io"},
            {"name":"cc","version":"1.0.90","source":"crates.io","kind":"build"}]}"#,
        )
        .unwrap();
        let names: Vec<_> = list.packages("x").into_iter().map(|p| p.name).collect();
        assert_eq!(names, vec!["app", "serde"]);
    }

    #[test]
    fn other_and_broken_files() {
        assert_eq!(dependencies(b"not elf"), Ok(None));
        assert_eq!(
            dependencies(&corpus("lang/go/trivy-test.elf")),
            Ok(None),
            "a Go binary has no .dep-v0"
        );
        // Corrupt the compressed section: an error naming it, no panic.
        let mut data = corpus("lang/rust/scalibr-no_deps");
        let elf_section = {
            let elf = Elf::parse(Source::Mem(&data)).unwrap();
            let (at, len) = elf.section_range(SECTION).unwrap();
            (at as usize, len as usize)
        };
        for b in &mut data[elf_section.0..elf_section.0 + elf_section.1] {
            *b = 0x55;
        }
        let err = dependencies(&data).unwrap_err();
        assert!(err.contains(".dep-v0"), "{err}");
    }
}
