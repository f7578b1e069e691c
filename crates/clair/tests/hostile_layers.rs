//! Hostile layers: each attack is made here (large ones streamed to a file in a temporary
//! directory, never stored in the repository) and indexed by `clair index` in a child process
//! under a memory limit (`prlimit --as`) and a time limit. Each must end in a clear error or a
//! correct partial result, without a panic, and write nothing outside its temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clair_test::hostile::{elf_with_sections_at, overlapping_zip, zeros};
use clair_test::oci::{Layer, write_layout};
use clair_test::tar::{Member, build, fix_checksum, header};

/// Address space of the child: enough for the binary, its threads and the 256 MiB file cap,
/// far below what any of the attacks would take if it were not bounded.
const MEMORY: u64 = 2 << 30;
/// Wall-clock limit of one run.
const TIME: Duration = Duration::from_secs(180);

/// Paths an escaping entry would create; none may exist after a run.
fn canaries() -> Vec<PathBuf> {
    let id = std::process::id();
    vec![
        PathBuf::from(format!("/tmp/clair-hostile-escape-{id}")),
        std::env::temp_dir().join(format!("clair-hostile-escape-{id}")),
    ]
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn report(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }

    /// A clear error: exit 1 and an `error:` line naming what broke.
    fn assert_clear_error(&self, names: &str) {
        assert!(!self.ok, "expected an error:\n{}", self.stdout);
        assert!(
            self.stderr.contains("error:") && self.stderr.contains(names),
            "error does not name {names:?}:\n{}",
            self.stderr
        );
    }
}

/// `clair index INPUT --format json` under the limits, everything it writes in `dir`.
fn index(dir: &Path, input: &Path) -> Run {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let t = Instant::now();
    let mut child = Command::new("prlimit")
        .arg(format!("--as={MEMORY}"))
        .arg(format!("--cpu={}", TIME.as_secs()))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_clair"))
        .arg("--db")
        .arg(dir.join("clair.db"))
        .args(["index", "--format", "json"])
        .arg(input)
        .current_dir(dir)
        .env("TMPDIR", &tmp)
        .env("HOME", dir.join("home"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("CLAIR_CONF")
        .env_remove("CLAIR_DATABASE_SOURCE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs clair");
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        if t.elapsed() > TIME {
            let _ = child.kill();
            panic!("{}: still running after {TIME:?}", input.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: t.elapsed(),
    };
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 1),
        "{}: killed or crashed ({:?}), not a clean answer:\n{}",
        input.display(),
        out.status,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for c in canaries() {
        assert!(
            !c.exists(),
            "{} escaped to {}",
            input.display(),
            c.display()
        );
    }
    run
}

fn os_release(id: &str) -> Member {
    Member::file(
        "etc/os-release",
        format!("ID={id}\nVERSION_ID=\"12\"\nPRETTY_NAME=\"{id}\"\n"),
    )
}

fn distribution(report: &serde_json::Value) -> Option<String> {
    report["distributions"]
        .as_object()
        .and_then(|d| d.values().next())
        .and_then(|d| d["did"].as_str())
        .map(str::to_string)
}

/// A tar header block plus `size` zero bytes of content for `name`, then the end marker,
/// written through `w` (which compresses).
fn tar_of_zeros(w: &mut impl Write, name: &str, size: u64) {
    w.write_all(&header(name, b'0', size, "")).unwrap();
    zeros(w, size.div_ceil(512) * 512).unwrap();
    w.write_all(&[0u8; 1024]).unwrap();
}

const BOMB: u64 = 1 << 30;

fn bomb(dir: &Path, ext: &str) -> PathBuf {
    let path = dir.join(format!("bomb.tar.{ext}"));
    let f = BufWriter::new(File::create(&path).unwrap());
    // The bomb is the dpkg database itself, so the reader is tempted to keep it.
    let name = "var/lib/dpkg/status";
    match ext {
        "gz" => {
            let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::best());
            tar_of_zeros(&mut e, name, BOMB);
            e.finish().unwrap().flush().unwrap();
        }
        "zst" => {
            let mut e = zstd::stream::write::Encoder::new(f, 19).unwrap();
            e.set_pledged_src_size(None).unwrap();
            tar_of_zeros(&mut e, name, BOMB);
            e.finish().unwrap().flush().unwrap();
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(f, 6);
            tar_of_zeros(&mut e, name, BOMB);
            e.finish().unwrap().flush().unwrap();
        }
        "bz2" => {
            let mut e = bzip2::write::BzEncoder::new(f, bzip2::Compression::best());
            tar_of_zeros(&mut e, name, BOMB);
            e.finish().unwrap().flush().unwrap();
        }
        _ => unreachable!(),
    }
    path
}

#[test]
fn decompression_bombs() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["gz", "zst", "xz", "bz2"] {
        let path = bomb(dir.path(), ext);
        let ratio = (BOMB + 1536) / std::fs::metadata(&path).unwrap().len();
        assert!(ratio > 1000, "{ext}: ratio {ratio}");
        let run = index(dir.path(), &path);
        // A correct partial result: the layer is read, the oversized database skipped with a
        // warning naming it.
        assert!(run.ok, "{ext}: {}", run.stderr);
        assert!(
            run.stderr.contains("var/lib/dpkg/status"),
            "{ext}: no warning names the skipped file:\n{}",
            run.stderr
        );
        assert_eq!(
            run.report()["packages"].as_object().map_or(0, |p| p.len()),
            0
        );
        eprintln!("{ext} bomb (ratio {ratio}): {:?}", run.took);
    }
}

#[test]
fn a_million_tar_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.tar.gz");
    let mut e = flate2::write::GzEncoder::new(
        BufWriter::new(File::create(&path).unwrap()),
        flate2::Compression::fast(),
    );
    for m in build(&[os_release("debian")]).chunks(512) {
        // The os-release member, without the end marker.
        if m.iter().any(|&b| b != 0) {
            e.write_all(m).unwrap();
        }
    }
    for i in 0..1_000_000u32 {
        e.write_all(&header(&format!("d{}/f{i}", i % 1000), b'0', 0, ""))
            .unwrap();
    }
    e.write_all(&[0u8; 1024]).unwrap();
    e.finish().unwrap().flush().unwrap();
    let run = index(dir.path(), &path);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(distribution(&run.report()).as_deref(), Some("debian"));
    eprintln!("10^6 entries: {:?}", run.took);
}

/// A pax extended header (`x`) carrying `records`, as one tar member.
fn pax(records: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in records {
        let rest = format!(" {k}={v}\n");
        let mut len = rest.len() + 1;
        while format!("{len}{rest}").len() != len {
            len += 1;
        }
        body.extend_from_slice(format!("{len}{rest}").as_bytes());
    }
    let mut out = header("PaxHeaders/x", b'x', body.len() as u64, "").to_vec();
    out.extend_from_slice(&body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[test]
fn deep_and_long_names_and_pax_records() {
    let dir = tempfile::tempdir().unwrap();
    let deep = "a/".repeat(65_536) + "etc/os-release";
    let long = "n".repeat(1 << 20);
    let mut tar = Vec::new();
    // 64k-deep path, through pax.
    tar.extend(pax(&[("path", &deep)]));
    tar.extend(header("placeholder", b'0', 0, ""));
    // A 1 MiB path name.
    tar.extend(pax(&[("path", &long)]));
    tar.extend(header("placeholder", b'0', 0, ""));
    // A pax record over 1 MiB (an unknown key).
    tar.extend(pax(&[(
        "SCHILY.xattr.user.big",
        &"v".repeat((1 << 20) + 10),
    )]));
    tar.extend(header("placeholder2", b'0', 0, ""));
    // A GNU long name over 1 MiB.
    let gnu = "g".repeat((1 << 20) + 10);
    let mut h = header("././@LongLink", b'L', gnu.len() as u64 + 1, "");
    fix_checksum(&mut h);
    tar.extend(h);
    tar.extend(gnu.as_bytes());
    tar.push(0);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    tar.extend(header("placeholder3", b'0', 0, ""));
    // And a real os-release after all of it.
    tar.extend(build(&[os_release("debian")]));
    let path = dir.path().join("names.tar");
    std::fs::write(&path, &tar).unwrap();
    let run = index(dir.path(), &path);
    if run.ok {
        assert_eq!(distribution(&run.report()).as_deref(), Some("debian"));
    } else {
        run.assert_clear_error("names.tar");
    }
}

#[test]
fn link_loops_escapes_whiteouts_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let id = std::process::id();
    let base = build(&[
        Member::dir("etc"),
        Member::file("etc/os-release", "ID=first\nVERSION_ID=\"1\"\n"),
        // Later entries of the same path win.
        Member::file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        Member::symlink("loop/a", "b"),
        Member::symlink("loop/b", "a"),
        Member::symlink("loop/self", "self"),
        Member::symlink("usr/lib/os-release", "../../../../../../etc/os-release"),
        Member::symlink("escape-abs", &format!("/tmp/clair-hostile-escape-{id}")),
        Member::symlink(
            "escape-rel",
            &format!("../../../../tmp/clair-hostile-escape-{id}"),
        ),
        Member::HardLink("hard-self".into(), "hard-self".into()),
        Member::HardLink("hard-escape".into(), "../../../etc/passwd".into()),
        Member::file(&format!("../clair-hostile-escape-{id}"), "x"),
        Member::file(&format!("/tmp/clair-hostile-escape-{id}"), "x"),
        Member::symlink("var/lib/dpkg", "../../loop/a"),
    ]);
    let img = dir.path().join("img");
    let top = build(&[
        // Whiteouts of the root: the opaque marker, and whiteouts naming "/" and "..".
        Member::file(".wh..wh..opq", ""),
        Member::file(".wh.", ""),
        Member::file(".wh..", ""),
        Member::file("../.wh.etc", ""),
        os_release("debian"),
    ]);
    write_layout(&img, "hostile", &[Layer::gzip(&base), Layer::gzip(&top)]);
    let run = index(dir.path(), &img);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(distribution(&run.report()).as_deref(), Some("debian"));

    // The base layer alone: the duplicate's second copy is what a container sees.
    let single = dir.path().join("base.tar");
    std::fs::write(&single, &base).unwrap();
    let run = index(dir.path(), &single);
    assert!(run.ok, "{}", run.stderr);
    let report = run.report();
    let d = report["distributions"].as_object().unwrap();
    assert_eq!(d.len(), 1, "{report}");
    let d = d.values().next().unwrap();
    assert_eq!(
        (d["did"].as_str(), d["version_id"].as_str()),
        (Some("debian"), Some("12"))
    );
}

#[test]
fn truncated_and_concatenated_streams() {
    let dir = tempfile::tempdir().unwrap();
    let tar = build(&[os_release("debian"), Member::file("x", vec![7u8; 100_000])]);
    // Two gzip members making one tar: read whole (gzip, like the OCI spec, allows it).
    let (a, b) = tar.split_at(700);
    let mut two = clair_test::tar::gzip(a);
    two.extend(clair_test::tar::gzip(b));
    let path = dir.path().join("two-members.tar.gz");
    std::fs::write(&path, &two).unwrap();
    let run = index(dir.path(), &path);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(distribution(&run.report()).as_deref(), Some("debian"));

    // Cut in the middle of the compressed stream: an error naming the file.
    let gz = clair_test::tar::gzip(&tar);
    let path = dir.path().join("truncated.tar.gz");
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    index(dir.path(), &path).assert_clear_error("truncated.tar.gz");

    // Cut in the middle of a member's data, uncompressed.
    let path = dir.path().join("truncated.tar");
    std::fs::write(&path, &tar[..tar.len() / 2]).unwrap();
    let run = index(dir.path(), &path);
    if !run.ok {
        run.assert_clear_error("truncated.tar");
    }
}

#[test]
fn a_layer_whose_digest_lies() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    let layer = clair_test::tar::gzip(&build(&[os_release("debian")]));
    write_layout(
        &img,
        "liar",
        &[Layer::gzip(&build(&[os_release("debian")]))],
    );
    // Replace the blob's bytes, keeping its name (the digest the manifest claims) and its size
    // (the manifest's size is checked first): the same gzip stream with another MTIME in its
    // header, a valid layer whose only fault is its digest.
    let blobs = img.join("blobs/sha256");
    let mut replaced = false;
    for e in std::fs::read_dir(&blobs).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            assert_eq!(bytes.len(), layer.len());
            let mut other = layer.clone();
            other[4..8].copy_from_slice(&0x5eed_u32.to_le_bytes());
            assert_ne!(other, bytes);
            std::fs::write(&p, other).unwrap();
            replaced = true;
        }
    }
    assert!(replaced);
    index(dir.path(), &img).assert_clear_error("digest");
}

#[test]
fn an_elf_whose_section_table_points_past_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let tar = build(&[
        os_release("debian"),
        Member::executable(
            "usr/bin/past-end",
            elf_with_sections_at(u64::MAX - 8, 65_535, 64),
        ),
        Member::executable("usr/bin/huge-count", elf_with_sections_at(64, 65_535, 4096)),
        Member::executable("usr/bin/wrap", elf_with_sections_at(u64::MAX / 2, 2, 0)),
    ]);
    let path = dir.path().join("elf.tar");
    std::fs::write(&path, tar).unwrap();
    let run = index(dir.path(), &path);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(distribution(&run.report()).as_deref(), Some("debian"));
}

#[test]
fn a_jar_whose_zip_entries_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let jar = overlapping_zip(5000, 64 << 20).unwrap();
    let tar = build(&[os_release("debian"), Member::file("app/app.jar", jar)]);
    let path = dir.path().join("jar.tar");
    std::fs::write(&path, tar).unwrap();
    let run = index(dir.path(), &path);
    assert!(run.ok, "{}", run.stderr);
    assert!(run.took < Duration::from_secs(90), "{:?}", run.took);
}

#[test]
fn rpm_databases_claiming_a_billion_rows() {
    let dir = tempfile::tempdir().unwrap();
    // NDB: a header claiming 10^9 slot pages (4 TB of slots) in a 4 KiB file.
    let mut ndb = vec![0u8; 4096];
    ndb[..4].copy_from_slice(b"RpmP");
    ndb[12..16].copy_from_slice(&1_000_000_000u32.to_le_bytes());
    // A header blob claiming 10^9 index entries, in an NDB slot of its own database.
    let mut blob_db = vec![0u8; 8192];
    blob_db[..4].copy_from_slice(b"RpmP");
    blob_db[12..16].copy_from_slice(&1u32.to_le_bytes());
    blob_db[32..36].copy_from_slice(b"Slot");
    blob_db[36..40].copy_from_slice(&1u32.to_le_bytes());
    blob_db[40..44].copy_from_slice(&256u32.to_le_bytes()); // block 256 = byte 4096
    blob_db[44..48].copy_from_slice(&8u32.to_le_bytes());
    blob_db[4096..4100].copy_from_slice(b"BlbS");
    blob_db[4112..4116].copy_from_slice(&1_000_000_000u32.to_be_bytes());
    // SQLite: the header's page count says 10^9 pages.
    let mut sqlite = std::fs::read(clair_test::corpus(
        "pkgdb/rpm-sqlite/claircore-no-packages/rpmdb.sqlite",
    ))
    .unwrap();
    sqlite[28..32].copy_from_slice(&1_000_000_000u32.to_be_bytes());
    // BerkeleyDB: a metadata page claiming 10^9 elements and a last page far past the end.
    let mut bdb = vec![0u8; 4096];
    bdb[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
    bdb[16..20].copy_from_slice(&9u32.to_le_bytes());
    bdb[20..24].copy_from_slice(&4096u32.to_le_bytes());
    bdb[32..36].copy_from_slice(&1_000_000_000u32.to_le_bytes());
    bdb[25] = 8;
    let tar = |db: &str, bytes: &[u8]| {
        build(&[
            Member::file("etc/os-release", "ID=rhel\nVERSION_ID=\"9\"\n"),
            Member::file(&format!("var/lib/rpm/{db}"), bytes),
        ])
    };
    for (name, db, bytes) in [
        ("ndb", "Packages.db", &ndb),
        ("blob", "Packages.db", &blob_db),
        ("sqlite", "rpmdb.sqlite", &sqlite),
        ("bdb", "Packages", &bdb),
    ] {
        let path = dir.path().join(format!("{name}.tar"));
        std::fs::write(&path, tar(db, bytes)).unwrap();
        let run = index(dir.path(), &path);
        assert!(run.ok, "{name}: {}", run.stderr);
        assert_eq!(
            run.report()["packages"].as_object().map_or(0, |p| p.len()),
            0,
            "{name}"
        );
        assert!(run.took < Duration::from_secs(60), "{name}: {:?}", run.took);
    }
}
