//! Layer compression, detected from magic bytes (never trusted from media types).

use std::io::{self, BufRead, BufReader, Read};

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (possibly multi-member).
    Gzip,
    /// Zstandard (possibly multi-frame).
    Zstd,
    /// bzip2 (possibly multi-stream).
    Bzip2,
    /// xz (possibly multi-stream).
    Xz,
}

impl Compression {
    /// Detect from the first bytes of a stream (at least 6 when available).
    pub fn detect(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if magic.starts_with(b"BZh") {
            Compression::Bzip2
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }
}

/// Peek at the start of `r` without consuming it: detects the compression and returns a reader
/// that yields the whole stream.
pub fn sniff<R: Read>(r: R) -> io::Result<(Compression, BufReader<R>)> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    // fill_buf returns what one read gives; short reads at the start are possible with pipes.
    let magic = br.fill_buf()?;
    Ok((Compression::detect(magic), br))
}

/// A reader that decompresses `r` with `c`.
pub fn decoder<'a, R: BufRead + Send + 'a>(
    c: Compression,
    r: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(r)?;
            // Bound the decoder's window (memory) to 128 MiB: zstd's default for decoding.
            d.window_log_max(27)?;
            Box::new(d)
        }
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(r)),
    })
}

/// Detect and decompress in one step.
pub fn auto_decoder<'a, R: Read + Send + 'a>(
    r: R,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let (c, br) = sniff(r)?;
    Ok((c, decoder(c, br)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(c: Compression, compressed: Vec<u8>) {
        assert_eq!(Compression::detect(&compressed), c);
        let (got, mut r) = auto_decoder(&compressed[..]).unwrap();
        assert_eq!(got, c);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello layer".repeat(100));
    }

    #[test]
    fn detects_and_decodes_every_format() {
        let data = b"hello layer".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        roundtrip(Compression::Gzip, gz.finish().unwrap());
        roundtrip(Compression::Zstd, zstd::encode_all(&data[..], 3).unwrap());
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&data).unwrap();
        roundtrip(Compression::Bzip2, bz.finish().unwrap());
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&data).unwrap();
        roundtrip(Compression::Xz, xz.finish().unwrap());
        roundtrip(Compression::None, data.clone());
    }

    #[test]
    fn corrupt_gzip_is_an_error_not_a_panic() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&b"some tar bytes".repeat(1000)).unwrap();
        let mut bytes = gz.finish().unwrap();
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 8] {
            *b ^= 0xa5;
        }
        let (_, mut r) = auto_decoder(&bytes[..]).unwrap();
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
    }
}
