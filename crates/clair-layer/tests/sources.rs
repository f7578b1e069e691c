//! Image sources and bad input: every format and compression, and every way a layer can lie.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

use clair_layer::source::{self, OpenOptions};
use clair_layer::{Error, ExtractLimits, FileSelector, FileView, Image, Stack};
use clair_test::oci::{Layer, write_layout};
use clair_test::tar::{Member, build, gzip};

fn selector() -> FileSelector {
    let mut s = FileSelector::new();
    s.file("etc/os-release").file("usr/lib/os-release");
    s
}

fn read_all(img: &Image) -> Result<Vec<clair_layer::LayerContents>, Error> {
    img.layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.read(
                &format!("layer {}", i + 1),
                &selector(),
                &ExtractLimits::default(),
                &|_| {},
            )
            .map(|(c, _)| c)
        })
        .collect()
}

fn os_release_of(img: &Image) -> String {
    let layers = read_all(img).unwrap();
    let stack = Stack::from_layers(layers.iter());
    String::from_utf8(stack.open("etc/os-release").unwrap().data.to_vec()).unwrap()
}

fn base_tar(id: &str) -> Vec<u8> {
    build(&[
        Member::dir("etc/"),
        Member::symlink("etc/os-release", "../usr/lib/os-release"),
        Member::file("usr/lib/os-release", format!("ID={id}\n")),
    ])
}

fn open(r: &str) -> Result<Image, Error> {
    source::open(r, &OpenOptions::default())
}

/// An OCI layout (in a fresh directory) of one layer `blob` labelled gzip whatever it is,
/// opened.
fn gzip_typed_layout(blob: Vec<u8>) -> (tempfile::TempDir, Image) {
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer {
        blob,
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
    };
    write_layout(dir.path(), "latest", &[layer]);
    let img = open(&format!("oci:{}", dir.path().display())).unwrap();
    (dir, img)
}

#[test]
fn every_layer_compression_is_detected_from_magic_bytes() {
    let tar = base_tar("debian");
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&tar).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&tar).unwrap();
    let blobs = [
        ("gzip", gzip(&tar)),
        ("zstd", zstd::encode_all(&tar[..], 3).unwrap()),
        ("xz", xz.finish().unwrap()),
        ("bzip2", bz.finish().unwrap()),
        ("none", tar.clone()),
    ];
    for (name, blob) in blobs {
        // The media type lies on purpose: only the bytes decide.
        let (dir, img) = gzip_typed_layout(blob);
        assert_eq!(os_release_of(&img), "ID=debian\n", "{name}");
        // A plain path to a layout is detected too.
        let img = open(&dir.path().display().to_string()).unwrap();
        assert_eq!(img.format, source::ImageFormat::OciLayout);
    }
}

#[test]
fn single_layer_files_plain_and_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let tar = base_tar("alpine");
    for (name, data) in [("layer.tar", tar.clone()), ("layer.tar.gz", gzip(&tar))] {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        let img = open(&p.display().to_string()).unwrap();
        assert_eq!(img.format, source::ImageFormat::LayerTar, "{name}");
        assert_eq!(os_release_of(&img), "ID=alpine\n");
    }
}

#[test]
fn oci_archive_and_platform_index() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let amd = write_layout(&layout, "amd", &[Layer::gzip(&base_tar("amd"))]);
    let arm = write_layout(&layout, "arm", &[Layer::gzip(&base_tar("arm"))]);
    // Replace index.json by an image index with two platforms.
    let read =
        |d: &clair_types::Digest| std::fs::read(layout.join("blobs/sha256").join(d.hex())).unwrap();
    let idx = serde_json::json!({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd.to_string(),
         "size": read(&amd).len(), "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm.to_string(),
         "size": read(&arm).len(), "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]});
    let idx_bytes = serde_json::to_vec(&idx).unwrap();
    let idx_digest = clair_test::oci::write_blob(&layout, &idx_bytes);
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": idx_digest.to_string(),
         "size": idx_bytes.len(), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();

    let with = |p: &str| OpenOptions {
        platform: Some(p.parse().unwrap()),
        ..OpenOptions::default()
    };
    let r = format!("oci:{}:multi", layout.display());
    let img = source::open(&r, &with("linux/arm64")).unwrap();
    assert_eq!(img.manifest_digest, Some(arm.clone()));
    assert_eq!(os_release_of(&img), "ID=arm\n");
    let img = source::open(&r, &with("linux/amd64")).unwrap();
    assert_eq!(os_release_of(&img), "ID=amd\n");
    let err = source::open(&r, &with("linux/s390x"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64/v8"),
        "{err}"
    );

    // The same layout as a tar (oci-archive), members in any order.
    let mut members = Vec::new();
    for entry in walk(&layout) {
        let rel = entry.strip_prefix(&layout).unwrap().display().to_string();
        members.push(Member::File(rel, std::fs::read(&entry).unwrap()));
    }
    members.reverse();
    let archive = dir.path().join("image.tar");
    std::fs::write(&archive, build(&members)).unwrap();
    let img = source::open(
        &format!("oci-archive:{}:multi", archive.display()),
        &with("linux/arm64"),
    )
    .unwrap();
    assert_eq!(img.format, source::ImageFormat::OciArchive);
    assert_eq!(os_release_of(&img), "ID=arm\n");
    let img = source::open(
        &format!("{}:multi", archive.display()),
        &with("linux/amd64"),
    )
    .unwrap();
    assert_eq!(os_release_of(&img), "ID=amd\n");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn tampered_layer_is_rejected_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_layout(
        dir.path(),
        "latest",
        &[Layer::gzip(&base_tar("a")), Layer::plain(&base_tar("b"))],
    );
    let img = open(&format!("oci:{}", dir.path().display())).unwrap();
    // Flip one byte of the second (uncompressed) layer's file contents.
    let blob = match &img.layers[1].source {
        source::LayerSource::Blob { range, .. } => range.path.as_ref().clone(),
        _ => unreachable!(),
    };
    let mut bytes = std::fs::read(&blob).unwrap();
    let pos = bytes.windows(4).position(|w| w == b"ID=b").unwrap();
    bytes[pos + 3] = b'c';
    std::fs::set_permissions(&blob, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&blob, &bytes).unwrap();
    let err = read_all(&img).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("layer 2") && msg.contains("digest mismatch"),
        "{msg}"
    );
}

#[test]
fn corrupt_and_truncated_layers_are_errors_naming_the_layer() {
    // A big incompressible file first, so damage in the middle hits the tar itself.
    let mut x: u32 = 1;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let tar = build(&[
        Member::File("usr/share/noise".into(), noise),
        Member::file("etc/os-release", "ID=x\n"),
    ]);
    let gz = gzip(&tar);
    let mut corrupt = gz.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid..mid + 16].fill(0xa5);
    let truncated_gz = gz[..gz.len() / 2].to_vec();
    let truncated_tar = tar[..100_000].to_vec();
    for (what, blob) in [
        ("corrupt gzip", corrupt),
        ("truncated gzip", truncated_gz),
        ("truncated tar", truncated_tar),
    ] {
        let (_dir, img) = gzip_typed_layout(blob);
        let err = read_all(&img).unwrap_err().to_string();
        assert!(err.starts_with("layer 1"), "{what}: {err}");
    }
}

#[test]
fn traversal_names_are_skipped_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let tar = build(&[
        Member::file("../../../../tmp/clair-pwned", "x"),
        Member::file("../etc/os-release", "ID=evil\n"),
        Member::file("/etc/os-release", "ID=fine\n"),
    ]);
    let p = dir.path().join("evil.tar");
    std::fs::write(&p, tar).unwrap();
    let img = open(&p.display().to_string()).unwrap();
    let layers = read_all(&img).unwrap();
    assert_eq!(layers[0].open("etc/os-release").unwrap().data, b"ID=fine\n");
    assert_eq!(layers[0].warnings.len(), 2, "{:?}", layers[0].warnings);
    assert!(!std::path::Path::new("/tmp/clair-pwned").exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn missing_blob_and_bad_manifest_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let md = write_layout(dir.path(), "latest", &[Layer::gzip(&base_tar("a"))]);
    // Remove the layer blob.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("blobs/sha256").join(md.hex())).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let layer_path = dir
        .path()
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    std::fs::remove_file(&layer_path).unwrap();
    let err = open(&format!("oci:{}", dir.path().display()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer 1") && err.contains(&layer), "{err}");
    // A digest that is not a digest is rejected before touching the filesystem.
    std::fs::write(
        dir.path().join("index.json"),
        br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:../../../etc/passwd","size":1}]}"#,
    )
    .unwrap();
    let err = open(&format!("oci:{}", dir.path().display()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("index.json"), "{err}");
}

#[test]
fn rootfs_symlinks_stay_inside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::write(root.join("usr/lib/os-release"), "ID=inside\n").unwrap();
    // An absolute link: must resolve inside the root, not to the host's /usr/lib/os-release.
    std::os::unix::fs::symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
    let img = open(&format!("dir:{}", root.display())).unwrap();
    assert_eq!(os_release_of(&img), "ID=inside\n");
    // A link out of the root finds nothing rather than the host's file.
    std::fs::remove_file(root.join("usr/lib/os-release")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../etc/hostname",
        root.join("usr/lib/os-release"),
    )
    .unwrap();
    let img = open(&format!("dir:{}", root.display())).unwrap();
    let layers = read_all(&img).unwrap();
    assert!(layers[0].open("etc/os-release").is_none());
}

#[test]
fn rootfs_patterns_find_files_anywhere() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let meta = root.join("opt/app/lib/python3.11/site-packages/six-1.16.0.dist-info");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("METADATA"), "Name: six\nVersion: 1.16.0\n").unwrap();
    std::fs::write(meta.join("RECORD"), "x").unwrap();
    std::fs::create_dir_all(root.join("usr/local/bin")).unwrap();
    let bin = root.join("usr/local/bin/tool");
    std::fs::write(&bin, b"\x7fELF\xff Go buildinf:").unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("usr/local/bin/notes"), b"\xff Go buildinf:").unwrap();
    // A symlinked directory is not followed (it could lead out of the root).
    std::os::unix::fs::symlink("/usr", root.join("opt/host-usr")).unwrap();
    let mut sel = FileSelector::new();
    sel.pattern(clair_layer::PathPattern {
        file_name: Some("METADATA".into()),
        parent_suffix: Some(".dist-info".into()),
        ..Default::default()
    })
    .pattern(clair_layer::PathPattern {
        executable: true,
        contains: Some(b"\xff Go buildinf:".to_vec()),
        ..Default::default()
    });
    let img = open(&format!("dir:{}", root.display())).unwrap();
    let (l, _) = img.layers[0]
        .read("root", &sel, &ExtractLimits::default(), &|_| {})
        .unwrap();
    assert_eq!(
        l.paths(),
        vec![
            "opt/app/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
            "usr/local/bin/tool"
        ]
    );
}
