//! Bounded memory: a 400 MB Go executable in a layer is found (its modules reported) while the
//! process's peak RSS stays far below the executable's size, because files read by offset are
//! spooled, never read whole into memory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

/// A ustar header for a regular file.
fn header(name: &str, size: u64, mode: u32) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(format!("{mode:07o}\0").as_bytes());
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A layer holding one executable: a real Go binary followed by zeros up to `size` bytes.
/// The zeros are a hole in the file, so the layer costs little disk.
fn big_go_layer(path: &Path, size: u64) {
    let elf = std::fs::read(clair_test::corpus("lang/go/trivy-test.elf")).unwrap();
    let mut f = File::create(path).unwrap();
    f.write_all(&header("usr/local/bin/app", size, 0o755))
        .unwrap();
    f.write_all(&elf).unwrap();
    let end = 512 + size.div_ceil(512) * 512 + 1024;
    f.seek(SeekFrom::Start(end - 1)).unwrap();
    f.write_all(&[0]).unwrap();
    f.set_len(end).unwrap();
}

#[test]
fn a_400_mb_executable_is_found_with_bounded_rss() {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer.tar");
    let size: u64 = 400 << 20;
    big_go_layer(&layer, size);
    let out = dir.path().join("report.json");
    // Python's resource module reports the child's peak RSS (ru_maxrss, KiB).
    let run = Command::new("python3")
        .args([
            "-c",
            "import resource, subprocess, sys\n\
             with open(sys.argv[1], 'wb') as out:\n\
             \x20   r = subprocess.run(sys.argv[2:], stdout=out)\n\
             print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
             sys.exit(r.returncode)",
        ])
        .arg(&out)
        .arg(env!("CARGO_BIN_EXE_clair"))
        .arg("--db")
        .arg(dir.path().join("clair.db"))
        .args(["index", "-q", "-f", "json"])
        .arg(&layer)
        .env_remove("CLAIR_LOG")
        .output()
        .expect("python3 runs");
    clair_test::process::assert_success(&run);
    let peak_kib: u64 = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let packages: Vec<(String, String)> = clair_test::fields(&report["packages"], "name")
        .zip(clair_test::fields(&report["packages"], "version"))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    for want in [
        ("stdlib", "1.15.2"),
        ("golang.org/x/xerrors", "v0.0.0-20200804184101-5ec99f83aff1"),
    ] {
        assert!(
            packages
                .iter()
                .any(|(n, v)| (n.as_str(), v.as_str()) == want),
            "{want:?} missing from {packages:?}"
        );
    }
    assert!(
        peak_kib < 100 * 1024,
        "peak RSS {} MiB for a {} MiB executable",
        peak_kib / 1024,
        size >> 20
    );
}
