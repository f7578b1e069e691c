//! The shared Debian images index to exactly their ground truth (`../shared/images/truth/`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use clair_indexer::{Indexed, Indexer, MemoryCache, NoProgress};
use clair_layer::source::{self, OpenOptions};
use clair_layer::{FileSelector, FileView, Stack};
use clair_test::{TruthRow, images, truth_installed, truth_with_status};

fn index(indexer: &Indexer, reference: &str) -> Indexed {
    let img = source::open(reference, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("open {reference}: {e}"));
    indexer
        .index(&img, &NoProgress)
        .unwrap_or_else(|e| panic!("index {reference}: {e}"))
}

fn inventory(ix: &Indexed) -> Vec<TruthRow> {
    let mut v: Vec<TruthRow> = ix
        .report
        .packages
        .values()
        .map(|p| {
            let s = p.source.as_ref().expect("dpkg packages have a source");
            TruthRow {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
                source: s.name.clone(),
                source_version: s.version.clone(),
            }
        })
        .collect();
    v.sort();
    v
}

fn oci(name: &str) -> String {
    format!("oci:{}:{name}", images("oci").display())
}

fn introduced_in<'a>(ix: &'a Indexed, name: &str) -> &'a clair_types::Digest {
    let (id, _) = ix
        .report
        .packages
        .iter()
        .find(|(_, p)| p.name == name)
        .unwrap_or_else(|| panic!("{name} not found"));
    &ix.report.environments[id][0].introduced_in
}

#[test]
fn oci_images_match_ground_truth() {
    let indexer = clair_ecosystems::default_indexer();
    for name in ["bookworm-minbase", "bookworm-layered"] {
        let ix = index(&indexer, &oci(name));
        let want = truth_installed(&images(&format!("truth/{name}.dpkg.tsv")));
        assert!(want.len() > 80, "{name}: truth too small");
        assert_eq!(
            inventory(&ix),
            want,
            "{name}: inventory differs from dpkg-query"
        );
        for envs in ix.report.environments.values() {
            assert_eq!(envs.len(), 1);
            assert_eq!(envs[0].package_db, "var/lib/dpkg/status");
        }
    }
}

#[test]
fn layered_image_purged_and_removed_packages_are_gone() {
    let truth = images("truth/bookworm-layered.dpkg.tsv");
    let removed = truth_with_status(&truth, "rc");
    assert_eq!(removed, ["e2fsprogs"], "the truth file changed");
    let ix = index(
        &clair_ecosystems::default_indexer(),
        &oci("bookworm-layered"),
    );
    let names: BTreeSet<&str> = ix
        .report
        .packages
        .values()
        .map(|p| p.name.as_str())
        .collect();
    assert!(
        !names.contains("e2fsprogs"),
        "rc package reported as installed"
    );
    assert!(!names.contains("tzdata"), "purged package reported");
    assert!(names.contains("curl"));
    // Base packages come from layer 1, the ones apt-get installed from layer 2.
    assert_eq!(ix.layers.len(), 4);
    assert_eq!(introduced_in(&ix, "bash"), &ix.layers[0]);
    assert_eq!(introduced_in(&ix, "curl"), &ix.layers[1]);
    assert_eq!(
        ix.layers[1].to_string(),
        "sha256:8a74bc71e01c992a5ee79be80a06aff67a061c4cefb17758dcff7b4fd66d13a4"
    );
}

#[test]
fn layered_image_whiteouts_and_opaque_dirs_apply() {
    let img = source::open(&oci("bookworm-layered"), &OpenOptions::default()).unwrap();
    let mut sel = FileSelector::new();
    sel.file("etc/motd")
        .file("etc/timezone")
        .file("usr/share/doc/README")
        .file("usr/share/doc/bash/copyright")
        .file("usr/bin/chattr")
        .file("etc/os-release")
        .file("usr/lib/os-release");
    let limits = clair_layer::ExtractLimits::default();
    let contents: Vec<_> = img
        .layers
        .iter()
        .map(|l| l.read("test", &sel, &limits, &|_| {}).unwrap().0)
        .collect();
    // Present in the base layer...
    assert!(contents[0].open("etc/motd").is_some());
    assert!(contents[0].open("usr/share/doc/bash/copyright").is_some());
    assert!(contents[0].open("etc/timezone").is_some());
    // ...and gone from the final filesystem.
    let stack = Stack::from_layers(contents.iter());
    assert!(
        stack.open("etc/motd").is_none(),
        "explicit whiteout (layer 4)"
    );
    assert!(stack.open("etc/timezone").is_none(), "whiteout (layer 2)");
    assert!(stack.open("usr/bin/chattr").is_none(), "whiteout (layer 2)");
    assert!(
        stack.open("usr/share/doc/bash/copyright").is_none(),
        "opaque dir (layer 3)"
    );
    assert_eq!(
        stack.open("usr/share/doc/README").unwrap().data,
        b"Documentation removed to save space.\n"
    );
    // Debian's etc/os-release is a symlink to ../usr/lib/os-release.
    let f = stack.open("etc/os-release").unwrap();
    assert_eq!(f.path, "usr/lib/os-release");
    assert!(String::from_utf8_lossy(f.data).contains("bookworm"));
}

#[test]
fn docker_archive_matches_oci_layout() {
    let indexer = clair_ecosystems::default_indexer();
    let from_oci = index(&indexer, &oci("bookworm-layered"));
    let gz = images("docker/bookworm-layered.tar.gz");
    // Read straight from the gzipped archive (auto-detected and with the prefix)...
    let direct = index(&indexer, &gz.display().to_string());
    let prefixed = index(&indexer, &format!("docker-archive:{}", gz.display()));
    // ...and from the decompressed archive.
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let mut dec = flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap());
    std::io::copy(&mut dec, &mut tmp.as_file()).unwrap();
    let plain = index(
        &indexer,
        &format!("docker-archive:{}", tmp.path().display()),
    );
    for ix in [&direct, &prefixed, &plain] {
        assert_eq!(inventory(ix), inventory(&from_oci));
        assert_eq!(ix.layers.len(), 4);
    }
    // Docker archives name layers by diff_id (uncompressed digest), which the config lists.
    assert_eq!(plain.layers, direct.layers);
    assert_ne!(plain.layers[0], from_oci.layers[0]);
    assert_eq!(introduced_in(&plain, "curl"), &plain.layers[1]);
}

#[test]
fn shared_base_layer_is_read_once() {
    let cache = Arc::new(MemoryCache::new());
    let indexer = clair_ecosystems::default_indexer().with_cache(cache.clone());
    let first = index(&indexer, &oci("bookworm-minbase"));
    assert_eq!((first.stats.layers_read, first.stats.layers_cached), (1, 0));
    let second = index(&indexer, &oci("bookworm-layered"));
    assert_eq!(
        (second.stats.layers_read, second.stats.layers_cached),
        (3, 1),
        "the base layer is shared and must come from the cache"
    );
    let again = index(&indexer, &oci("bookworm-layered"));
    assert_eq!((again.stats.layers_read, again.stats.layers_cached), (0, 4));
    assert_eq!(again.stats.bytes_read, 0);
    assert_eq!(inventory(&again), inventory(&second));
    assert_eq!(cache.len(), 4);
}

#[test]
fn several_images_need_a_ref() {
    let err = source::open(
        &format!("oci:{}", images("oci").display()),
        &OpenOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bookworm-minbase") && err.contains("bookworm-layered"),
        "{err}"
    );
    let err = source::open(&oci("nope"), &OpenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no image with ref name \"nope\""), "{err}");
}
