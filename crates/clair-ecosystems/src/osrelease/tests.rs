use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use clair_layer::LayerContents;

use super::*;
use crate::test_corpus::corpus;

/// A sample directory (an image root) as one layer.
fn layer_of(root: &Path) -> LayerContents {
    fn walk(root: &Path, dir: &Path, out: &mut LayerContents) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.add_file(rel, Arc::from(std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut l = LayerContents::default();
    walk(root, root, &mut l);
    l
}

fn expected() -> BTreeMap<String, Option<[String; 6]>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/osrelease/expected.tsv"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 7, "bad row {l:?}");
            let row = if c[1] == "-" {
                None
            } else {
                Some([c[1], c[2], c[3], c[4], c[5], c[6]].map(str::to_string))
            };
            (c[0].to_string(), row)
        })
        .collect()
}

#[test]
fn every_corpus_sample_maps_to_its_distribution() {
    let want = expected();
    let dir = corpus("osrelease");
    let mut samples: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    samples.sort();
    assert!(samples.len() >= 60, "corpus looks incomplete");
    let mut failures = Vec::new();
    for s in &samples {
        let Some(exp) = want.get(s) else {
            failures.push(format!("{s}: no row in testdata/osrelease/expected.tsv"));
            continue;
        };
        let got = OsReleaseScanner.detect(&layer_of(&dir.join(s)));
        let got = got.map(|d| {
            [
                d.did,
                d.version_id,
                d.version_code_name,
                d.name,
                d.pretty_name,
                d.cpe,
            ]
        });
        if &got != exp {
            failures.push(format!("{s}:\n   got {got:?}\n  want {exp:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn debian_symlinked_os_release_resolves() {
    let mut l = LayerContents::default();
    l.add_file(
        "usr/lib/os-release".into(),
        Arc::from(&b"ID=debian\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\n"[..]),
    );
    l.add_symlink("etc/os-release".into(), "../usr/lib/os-release".into());
    let d = OsReleaseScanner.detect(&l).unwrap();
    assert_eq!(
        (
            d.did.as_str(),
            d.version_id.as_str(),
            d.version_code_name.as_str()
        ),
        ("debian", "12", "bookworm")
    );
}

/// A layer holding these files.
fn layer(files: &[(&str, &str)]) -> LayerContents {
    let mut l = LayerContents::default();
    for (path, text) in files {
        l.add_file(path.to_string(), Arc::from(text.as_bytes()));
    }
    l
}

#[test]
fn os_release_wins_over_release_lines() {
    let l = layer(&[
        (
            "etc/redhat-release",
            "CentOS Linux release 7.9.2009 (Core)\n",
        ),
        ("etc/os-release", "ID=\"rhel\"\nVERSION_ID=\"8.6\"\n"),
    ]);
    assert_eq!(OsReleaseScanner.detect(&l).unwrap().did, "rhel");
    // Oracle's redhat-release pretends to be RHEL; oracle-release is believed first.
    let l = layer(&[
        (
            "etc/redhat-release",
            "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n",
        ),
        ("etc/oracle-release", "Oracle Linux Server release 7.9\n"),
    ]);
    assert_eq!(OsReleaseScanner.detect(&l).unwrap().did, "ol");
}

#[test]
fn garbage_never_panics() {
    for data in [
        &b""[..],
        b"\0\0\0",
        b"ID",
        b"=",
        b"ID=\"",
        b"\xff\xfe\xfd",
        b"release release release",
    ] {
        for p in [
            "etc/os-release",
            "etc/redhat-release",
            "etc/lsb-release",
            "etc/debian_version",
            "etc/issue",
            "bin/busybox",
        ] {
            let mut l = LayerContents::default();
            l.add_file(p.into(), Arc::from(data));
            let _ = OsReleaseScanner.detect(&l);
        }
    }
    assert!(from_busybox(b"BusyBox v").is_none());
}
