//! A streaming tar reader for hostile input.
//!
//! Reads ustar, GNU (long names `L`/`K`, base-256 sizes, sparse entries skipped as opaque data)
//! and POSIX pax (`path`, `linkpath`, `size`) headers. Metadata held in memory is bounded
//! ([`TarLimits`]); entry data is never buffered here, only skipped or handed out through
//! [`TarReader::read_data`]. Header checksums are verified.

use std::io::{self, Read, Seek, SeekFrom};

/// Bounds on tar metadata.
#[derive(Debug, Clone, Copy)]
pub struct TarLimits {
    /// Maximum size of a pax extended header or GNU long name/link record.
    pub max_extension: u64,
}

impl Default for TarLimits {
    fn default() -> Self {
        TarLimits {
            max_extension: 1 << 20,
        }
    }
}

/// Errors reading a tar stream.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// The underlying reader failed (including decompression errors).
    #[error("reading tar at byte {offset}: {source}")]
    Io {
        /// Byte offset in the (uncompressed) tar stream.
        offset: u64,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The stream ended inside a header or an entry.
    #[error("tar truncated at byte {offset} (in {what})")]
    Truncated {
        /// Byte offset where data ran out.
        offset: u64,
        /// What was being read.
        what: &'static str,
    },
    /// A header failed its checksum or has unparsable fields.
    #[error("bad tar header at byte {offset}: {reason}")]
    BadHeader {
        /// Offset of the header block.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A pax or GNU long-name record is larger than allowed.
    #[error("tar header extension at byte {offset} is {size} bytes, over the {limit}-byte limit")]
    ExtensionTooLarge {
        /// Offset of the header block.
        offset: u64,
        /// Declared size.
        size: u64,
        /// Limit.
        limit: u64,
    },
}

/// Entry types that matter for stacking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Regular file (including contiguous files).
    File,
    /// Hard link to an earlier member (`link` holds its name).
    HardLink,
    /// Symbolic link (`link` holds the target).
    Symlink,
    /// Directory.
    Dir,
    /// Devices, FIFOs, GNU sparse files and anything else.
    Other,
}

/// One tar member's header.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Member name, raw (not yet cleaned), lossily decoded as UTF-8.
    pub name: String,
    /// Link target for hard and symbolic links.
    pub link: String,
    /// Kind.
    pub kind: EntryKind,
    /// Size of the entry's data in the archive.
    pub size: u64,
    /// Permission bits (`0o755`); 0 when the field is unreadable.
    pub mode: u32,
    /// Offset of the header block in the stream.
    pub offset: u64,
}

/// A byte source that can skip forward, by seeking when it can.
pub trait Skip: Read {
    /// Skip `n` bytes. Fails with `UnexpectedEof` when fewer remain.
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

/// Adapter for plain streams: skipping reads and discards.
#[derive(Debug)]
pub struct StreamSkip<R>(pub R);

impl<R: Read> Read for StreamSkip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Skip for StreamSkip<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        if copied < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// Adapter for seekable sources of known length: skipping seeks.
#[derive(Debug)]
pub struct SeekSkip<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> SeekSkip<R> {
    /// Wrap `inner`, positioned at its start, holding `len` bytes.
    pub fn new(inner: R, len: u64) -> Self {
        SeekSkip { inner, pos: 0, len }
    }
}

impl<R: Read> Read for SeekSkip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Skip for SeekSkip<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        if self.len.saturating_sub(self.pos) < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let off = i64::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        self.inner.seek(SeekFrom::Current(off))?;
        self.pos += n;
        Ok(())
    }
}

const BLOCK: u64 = 512;

/// Streaming tar reader.
#[derive(Debug)]
pub struct TarReader<R> {
    r: R,
    pos: u64,
    /// Data bytes of the current entry not yet consumed.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    limits: TarLimits,
    done: bool,
}

fn padding_for(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

impl<R: Skip> TarReader<R> {
    /// Read a tar stream from `r`.
    pub fn new(r: R, limits: TarLimits) -> Self {
        TarReader {
            r,
            pos: 0,
            remaining: 0,
            padding: 0,
            limits,
            done: false,
        }
    }

    /// Bytes of the tar stream consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Give back the underlying reader (e.g. to drain it).
    pub fn into_inner(self) -> R {
        self.r
    }

    fn io_err(&self, e: io::Error, what: &'static str) -> TarError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            TarError::Truncated {
                offset: self.pos,
                what,
            }
        } else {
            TarError::Io {
                offset: self.pos,
                source: e,
            }
        }
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), TarError> {
        if n == 0 {
            return Ok(());
        }
        self.r.skip(n).map_err(|e| self.io_err(e, what))?;
        self.pos += n;
        Ok(())
    }

    /// Read a full block; `Ok(false)` on a clean EOF before any byte.
    fn read_block(&mut self, buf: &mut [u8; 512]) -> Result<bool, TarError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.r.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e, "header")),
            }
        }
        self.pos += filled as u64;
        match filled {
            0 => Ok(false),
            512 => Ok(true),
            _ => Err(TarError::Truncated {
                offset: self.pos,
                what: "header",
            }),
        }
    }

    fn read_extension(&mut self, size: u64, header_offset: u64) -> Result<Vec<u8>, TarError> {
        if size > self.limits.max_extension {
            return Err(TarError::ExtensionTooLarge {
                offset: header_offset,
                size,
                limit: self.limits.max_extension,
            });
        }
        let mut v = Vec::with_capacity(size as usize);
        let got = (&mut self.r)
            .take(size)
            .read_to_end(&mut v)
            .map_err(|e| self.io_err(e, "header extension"))?;
        self.pos += got as u64;
        if (got as u64) < size {
            return Err(TarError::Truncated {
                offset: self.pos,
                what: "header extension",
            });
        }
        self.skip(padding_for(size), "header extension padding")?;
        Ok(v)
    }

    /// The next member, skipping whatever is left of the previous one's data.
    /// `Ok(None)` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.done {
            return Ok(None);
        }
        let rest = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest, "entry data")?;

        let mut long_name: Option<String> = None;
        let mut long_link: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        let mut block = [0u8; 512];
        loop {
            let offset = self.pos;
            if !self.read_block(&mut block)? {
                // EOF without the end-of-archive marker: accepted (many writers omit it), but
                // not in the middle of a header sequence.
                if long_name.is_some() || long_link.is_some() || pax_size.is_some() {
                    return Err(TarError::Truncated {
                        offset,
                        what: "header",
                    });
                }
                self.done = true;
                return Ok(None);
            }
            if block.iter().all(|&b| b == 0) {
                // End-of-archive marker (one or two zero blocks).
                self.done = true;
                return Ok(None);
            }
            verify_checksum(&block).map_err(|reason| TarError::BadHeader { offset, reason })?;
            let typeflag = block[156];
            let size = parse_size(&block[124..136])
                .map_err(|reason| TarError::BadHeader { offset, reason })?;
            match typeflag {
                b'L' => {
                    long_name = Some(cstr_lossy(&self.read_extension(size, offset)?));
                    continue;
                }
                b'K' => {
                    long_link = Some(cstr_lossy(&self.read_extension(size, offset)?));
                    continue;
                }
                b'x' => {
                    let data = self.read_extension(size, offset)?;
                    for (k, v) in parse_pax(&data) {
                        match k.as_str() {
                            "path" => long_name = Some(v),
                            "linkpath" => long_link = Some(v),
                            "size" => {
                                pax_size =
                                    Some(v.trim().parse().map_err(|_| TarError::BadHeader {
                                        offset,
                                        reason: format!("pax size {v:?} is not a number"),
                                    })?)
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
                b'g' => {
                    // Global pax header: nothing we use; skip it.
                    self.read_extension(size, offset)?;
                    continue;
                }
                _ => {}
            }
            let size = pax_size.unwrap_or(size);
            let is_ustar = &block[257..262] == b"ustar";
            let is_gnu = &block[257..265] == b"ustar  \0";
            let name = match long_name {
                Some(n) => n,
                None => {
                    let base = cstr_lossy(&block[0..100]);
                    let prefix = if is_ustar && !is_gnu {
                        cstr_lossy(&block[345..500])
                    } else {
                        String::new()
                    };
                    if prefix.is_empty() {
                        base
                    } else {
                        format!("{prefix}/{base}")
                    }
                }
            };
            let link = long_link.unwrap_or_else(|| cstr_lossy(&block[157..257]));
            let kind = match typeflag {
                b'0' | 0 | b'7' => {
                    if typeflag == 0 && name.ends_with('/') {
                        EntryKind::Dir
                    } else {
                        EntryKind::File
                    }
                }
                b'1' => EntryKind::HardLink,
                b'2' => EntryKind::Symlink,
                b'5' => EntryKind::Dir,
                _ => EntryKind::Other,
            };
            // Links and directories carry no data in well-formed archives, but a hostile header
            // may say otherwise: the size is honoured when skipping either way.
            self.remaining = size;
            self.padding = padding_for(size);
            let mode = parse_octal(&block[100..108]).map_or(0, |m| (m & 0o7777) as u32);
            return Ok(Some(Entry {
                name,
                link,
                kind,
                size,
                mode,
                offset,
            }));
        }
    }

    /// Read from the current entry's data.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = loop {
            match self.r.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e, "entry data")),
            }
        };
        if n == 0 {
            return Err(TarError::Truncated {
                offset: self.pos,
                what: "entry data",
            });
        }
        self.pos += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Read the current entry's data into memory, up to `limit` bytes.
    /// Returns `None` (and leaves the rest to be skipped) when the entry is larger.
    pub fn read_data_to_vec(&mut self, limit: u64) -> Result<Option<Vec<u8>>, TarError> {
        if self.remaining > limit {
            return Ok(None);
        }
        let mut v = vec![0u8; usize::try_from(self.remaining).unwrap_or(0)];
        let mut filled = 0;
        while filled < v.len() {
            filled += self.read_data(&mut v[filled..])?;
        }
        Ok(Some(v))
    }
}

fn cstr_lossy(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn verify_checksum(block: &[u8; 512]) -> Result<(), String> {
    let stored = parse_octal(&block[148..156]).ok_or("unparsable checksum field")?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed) {
        Ok(())
    } else {
        Err(format!(
            "checksum {stored} does not match computed {unsigned}"
        ))
    }
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let s: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&c| c == b' ')
        .take_while(|&c| c != 0 && c != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    let mut v: u64 = 0;
    for c in s {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

fn parse_size(field: &[u8]) -> Result<u64, String> {
    if field[0] & 0x80 != 0 {
        // GNU base-256: big-endian two's complement; negative sizes are nonsense.
        if field[0] & 0x40 != 0 {
            return Err("negative base-256 size".into());
        }
        let mut v: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(b)))
                .ok_or("base-256 size overflows")?;
        }
        return Ok(v);
    }
    parse_octal(field).ok_or_else(|| format!("size field {:?} is not octal", cstr_lossy(field)))
}

/// Parse pax records `"<len> <key>=<value>\n"`; malformed records end the parse.
fn parse_pax(mut data: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let Some(sp) = data.iter().position(|&c| c == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        if len <= sp + 1 || len > data.len() {
            break;
        }
        let rec = &data[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Some(eq) = rec.iter().position(|&c| c == b'=') {
            out.push((
                String::from_utf8_lossy(&rec[..eq]).into_owned(),
                String::from_utf8_lossy(&rec[eq + 1..]).into_owned(),
            ));
        }
        data = &data[len..];
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ustar header block, as the shared test builder writes it.
    pub(crate) use clair_test::tar::header;

    /// A tar with the given (name, typeflag, data, link) members.
    pub(crate) fn build(members: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, t, data, link) in members {
            out.extend_from_slice(&header(name, *t, data.len() as u64, link));
            out.extend_from_slice(data);
            out.resize(out.len() + padding_for(data.len() as u64) as usize, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    fn names(data: &[u8]) -> Result<Vec<(String, EntryKind)>, TarError> {
        let mut r = TarReader::new(StreamSkip(data), TarLimits::default());
        let mut v = Vec::new();
        while let Some(e) = r.next_entry()? {
            v.push((e.name, e.kind));
        }
        Ok(v)
    }

    #[test]
    fn reads_members_and_data() {
        let t = build(&[
            ("etc/", b'5', b"", ""),
            ("etc/os-release", b'0', b"ID=debian\n", ""),
            ("etc/link", b'2', b"", "os-release"),
        ]);
        let mut r = TarReader::new(StreamSkip(&t[..]), TarLimits::default());
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.name.as_str(), e.kind), ("etc/", EntryKind::Dir));
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(r.read_data_to_vec(100).unwrap().unwrap(), b"ID=debian\n");
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!(
            (e.kind, e.link.as_str()),
            (EntryKind::Symlink, "os-release")
        );
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn gnu_long_names_and_pax() {
        let long = "a/".repeat(80) + "file";
        let pax_rec = |k: &str, v: &str| {
            // "<len> key=value\n" where len counts its own digits too.
            let body = format!(" {k}={v}\n");
            let mut n = body.len() + 1;
            while n != body.len() + n.to_string().len() {
                n = body.len() + n.to_string().len();
            }
            format!("{n}{body}")
        };
        let pax = pax_rec("path", "pax/named/file");
        let t = build(&[
            ("././@LongLink", b'L', format!("{long}\0").as_bytes(), ""),
            ("trunc", b'0', b"x", ""),
            ("PaxHeaders/x", b'x', pax.as_bytes(), ""),
            ("short", b'0', b"y", ""),
        ]);
        let n = names(&t).unwrap();
        assert_eq!(n[0].0, long);
        assert_eq!(n[1].0, "pax/named/file");
    }

    #[test]
    fn rejects_bad_checksum_and_truncation() {
        let mut t = build(&[("etc/passwd", b'0', b"root:x:0:0", "")]);
        let good = t.clone();
        t[10] ^= 0x55;
        assert!(matches!(names(&t), Err(TarError::BadHeader { .. })));
        // Truncated in the data: the entry is announced, reading/skipping it fails.
        let cut = &good[..600];
        let mut r = TarReader::new(StreamSkip(cut), TarLimits::default());
        r.next_entry().unwrap().unwrap();
        assert!(matches!(r.next_entry(), Err(TarError::Truncated { .. })));
        // Truncated inside a header.
        assert!(matches!(
            names(&good[..100]),
            Err(TarError::Truncated { .. })
        ));
        // Empty stream = empty archive.
        assert!(names(&[]).unwrap().is_empty());
    }

    #[test]
    fn absurd_sizes_are_bounded() {
        // A long-name record claiming 8 GiB: refused without allocating it.
        let mut h = header("././@LongLink", b'L', 0, "");
        h[124..136].copy_from_slice(b"77777777777\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert!(matches!(names(&h), Err(TarError::ExtensionTooLarge { .. })));
        // A file claiming 8 GiB of data in a 1 KiB stream: truncated, not a huge allocation.
        let mut h = header("big", b'0', 0, "");
        h[124..136].copy_from_slice(b"77777777777\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut r = TarReader::new(StreamSkip(&h[..]), TarLimits::default());
        r.next_entry().unwrap().unwrap();
        assert_eq!(r.read_data_to_vec(1 << 20).unwrap(), None);
        assert!(matches!(r.next_entry(), Err(TarError::Truncated { .. })));
    }

    #[test]
    fn base256_size() {
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 5;
        f[10] = 1;
        assert_eq!(parse_size(&f).unwrap(), 261);
        f[0] = 0xff;
        assert!(parse_size(&f).is_err());
    }
}
