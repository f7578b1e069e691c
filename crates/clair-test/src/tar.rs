//! Small tar builders for tests (ustar, written by hand so tests can also write broken ones).

/// One member of a test tar.
#[derive(Debug, Clone)]
pub enum Member {
    /// Regular file.
    File(String, Vec<u8>),
    /// Directory.
    Dir(String),
    /// Symlink: path, target.
    Symlink(String, String),
    /// Hard link: path, target member.
    HardLink(String, String),
    /// Executable regular file (mode 0755).
    Executable(String, Vec<u8>),
}

impl Member {
    /// A regular file.
    pub fn file(p: &str, data: impl AsRef<[u8]>) -> Member {
        Member::File(p.to_string(), data.as_ref().to_vec())
    }
    /// An executable regular file.
    pub fn executable(p: &str, data: impl AsRef<[u8]>) -> Member {
        Member::Executable(p.to_string(), data.as_ref().to_vec())
    }
    /// A directory.
    pub fn dir(p: &str) -> Member {
        Member::Dir(p.to_string())
    }
    /// A symlink.
    pub fn symlink(p: &str, target: &str) -> Member {
        Member::Symlink(p.to_string(), target.to_string())
    }
}

/// A ustar header block; names up to 100 bytes.
pub fn header(name: &str, typeflag: u8, size: u64, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    assert!(name.len() <= 100 && link.len() <= 100);
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    fix_checksum(&mut h);
    h
}

/// Recompute a header block's checksum (after editing it).
pub fn fix_checksum(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A complete tar (with the end-of-archive marker).
pub fn build(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let (name, t, data, link): (&str, u8, &[u8], &str) = match m {
            Member::File(p, d) => (p, b'0', d, ""),
            Member::Dir(p) => (p, b'5', b"", ""),
            Member::Symlink(p, t) => (p, b'2', b"", t),
            Member::HardLink(p, t) => (p, b'1', b"", t),
            Member::Executable(p, d) => (p, b'0', d, ""),
        };
        let mut h = header(name, t, data.len() as u64, link);
        if matches!(m, Member::Executable(..)) {
            h[100..108].copy_from_slice(b"0000755\0");
            fix_checksum(&mut h);
        }
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.resize(out.len() + pad, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// gzip some bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
