//! Selected files too big to keep in memory: spooled to a temporary file (or, for a root
//! filesystem, left where they are) and read by offset.
//!
//! Scanners that read a file by offset (an ELF header, a section, a zip directory) say so with
//! [`crate::PathPattern::by_offset`]. Such a file above [`SPOOL_ABOVE`] bytes is copied from
//! the tar stream into the layer's spool, one unnamed temporary file per layer (removed by the
//! kernel when the last handle goes), while the copy is searched for the pattern's marker
//! bytes; scanners then read the few ranges they need. So memory does not grow with the size
//! of an executable or an archive, and no size limit makes a package disappear.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::blob::{FileRange, read_in_range, seek_target};

/// Files read by offset above this size are spooled instead of kept in memory.
pub const SPOOL_ABOVE: u64 = 4 << 20;
/// Largest chunk copied or searched at once.
const CHUNK: usize = 256 << 10;

/// A selected file read by offset.
#[derive(Debug, Clone)]
pub enum LargeFile {
    /// A range of a layer's spool file.
    Spooled {
        /// The spool (an unnamed temporary file).
        file: Arc<File>,
        /// Where the file starts in it.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// A file of a root filesystem, read in place.
    OnDisk(FileRange),
}

impl PartialEq for LargeFile {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                LargeFile::Spooled {
                    file: a,
                    offset: ao,
                    len: al,
                },
                LargeFile::Spooled {
                    file: b,
                    offset: bo,
                    len: bl,
                },
            ) => Arc::ptr_eq(a, b) && ao == bo && al == bl,
            (LargeFile::OnDisk(a), LargeFile::OnDisk(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for LargeFile {}

impl LargeFile {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            LargeFile::Spooled { len, .. } => *len,
            LargeFile::OnDisk(r) => r.len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len` bytes at `pos` (fewer at the end of the file); `None` when `len` is over
    /// `limit` or the file cannot be read.
    pub fn read_range(&self, pos: u64, len: u64, limit: u64) -> Option<Vec<u8>> {
        if len > limit || pos > self.len() {
            return None;
        }
        let len = len.min(self.len() - pos);
        let mut buf = vec![0u8; usize::try_from(len).ok()?];
        match self {
            LargeFile::Spooled { file, offset, .. } => {
                file.read_exact_at(&mut buf, offset.checked_add(pos)?)
                    .ok()?;
            }
            LargeFile::OnDisk(r) => {
                let f = File::open(r.path.as_path()).ok()?;
                f.read_exact_at(&mut buf, r.offset.checked_add(pos)?).ok()?;
            }
        }
        Some(buf)
    }

    /// A reader over the whole file (for formats read through `Read + Seek`, like zip).
    pub fn reader(&self) -> io::Result<RangeReader> {
        let (file, start) = match self {
            LargeFile::Spooled { file, offset, .. } => (file.clone(), *offset),
            LargeFile::OnDisk(r) => (Arc::new(File::open(r.path.as_path())?), r.offset),
        };
        Ok(RangeReader {
            file,
            start,
            len: self.len(),
            pos: 0,
        })
    }

    /// Offsets of the first `max` occurrences of `needle`, searched in chunks.
    pub fn find(&self, needle: &[u8], max: usize) -> io::Result<Vec<u64>> {
        let mut r = self.reader()?;
        let mut search = Search::new(vec![needle.to_vec()]);
        search.positions = Some(Vec::new());
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            search.feed(&buf[..n]);
            if search.positions.as_ref().is_some_and(|p| p.len() >= max) {
                break;
            }
        }
        let mut out = search.positions.unwrap_or_default();
        out.truncate(max);
        Ok(out)
    }

    /// Whether it contains any of `needles` (always, when there are none).
    pub fn contains_any(&self, needles: &[Vec<u8>]) -> io::Result<bool> {
        if needles.is_empty() || needles.iter().any(Vec::is_empty) {
            return Ok(true);
        }
        let mut r = self.reader()?;
        let mut search = Search::new(needles.to_vec());
        let mut buf = vec![0u8; CHUNK];
        while !search.found {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            search.feed(&buf[..n]);
        }
        Ok(search.found)
    }

    /// Feed every byte to `f`, in chunks.
    pub fn for_each_chunk(&self, mut f: impl FnMut(&[u8])) -> io::Result<()> {
        let mut r = self.reader()?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            f(&buf[..n]);
        }
    }
}

/// `Read + Seek` over a [`LargeFile`], by positioned reads (several readers may share the
/// spool).
#[derive(Debug)]
pub struct RangeReader {
    file: Arc<File>,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (file, start) = (&self.file, self.start);
        read_in_range(buf, &mut self.pos, self.len, |b, at| {
            file.read_at(b, start + at)
        })
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match seek_target(to, self.pos, self.len) {
            Some(t) => {
                self.pos = t;
                Ok(t)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )),
        }
    }
}

/// A streaming search for marker bytes across chunk boundaries.
#[derive(Debug)]
pub struct Search {
    needles: Vec<Vec<u8>>,
    tail: Vec<u8>,
    seen: u64,
    /// Whether any needle was found.
    pub found: bool,
    /// Where the (single) needle was found, when asked to record positions.
    positions: Option<Vec<u64>>,
}

impl Search {
    /// Search for any of `needles` (found at once when there are none).
    pub fn new(needles: Vec<Vec<u8>>) -> Search {
        let found = needles.is_empty() || needles.iter().any(Vec::is_empty);
        Search {
            needles,
            tail: Vec::new(),
            seen: 0,
            found,
            positions: None,
        }
    }

    /// The next bytes of the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found && self.positions.is_none() {
            return;
        }
        let keep = self
            .needles
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .saturating_sub(1);
        let mut window = std::mem::take(&mut self.tail);
        let window_start = self.seen - window.len() as u64;
        window.extend_from_slice(chunk);
        for n in &self.needles {
            if let Some(pos) = &mut self.positions {
                for at in memchr::memmem::find_iter(&window, n) {
                    let abs = window_start + at as u64;
                    if pos.last().is_none_or(|&l| abs > l) {
                        pos.push(abs);
                    }
                }
                self.found |= !pos.is_empty();
            } else if memchr::memmem::find(&window, n).is_some() {
                self.found = true;
            }
        }
        self.seen += chunk.len() as u64;
        let cut = window.len().saturating_sub(keep);
        self.tail = window.split_off(cut);
    }
}

/// One layer's spool: big selected files copied from the tar stream.
#[derive(Debug, Default)]
pub struct Spool {
    file: Option<Arc<File>>,
    len: u64,
}

impl Spool {
    /// Bytes spooled.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing is spooled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copy what `read` yields (up to its end) into the spool, searching it for `needles`.
    /// Returns the spooled file, or `None` when no needle was found (its bytes are given
    /// back to the file system).
    pub fn copy(
        &mut self,
        needles: Vec<Vec<u8>>,
        mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<Option<LargeFile>> {
        let file = match &self.file {
            Some(f) => f.clone(),
            None => {
                let f = Arc::new(tempfile::tempfile()?);
                self.file = Some(f.clone());
                f
            }
        };
        let start = self.len;
        let mut search = Search::new(needles);
        let mut buf = vec![0u8; CHUNK];
        let mut w = &*file;
        w.seek(SeekFrom::Start(start))?;
        let mut len = 0u64;
        loop {
            let n = read(&mut buf)?;
            if n == 0 {
                break;
            }
            search.feed(&buf[..n]);
            w.write_all(&buf[..n])?;
            len += n as u64;
        }
        if !search.found {
            file.set_len(start)?;
            return Ok(None);
        }
        self.len = start + len;
        Ok(Some(LargeFile::Spooled {
            file,
            offset: start,
            len,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_across_chunks() {
        let data = b"....xx\xff Go buildinf:yy....\xff Go buildinf:".to_vec();
        for chunk in 1..data.len() {
            let mut s = Search::new(vec![b"\xff Go buildinf:".to_vec()]);
            s.positions = Some(Vec::new());
            for c in data.chunks(chunk) {
                s.feed(c);
            }
            assert!(s.found, "chunk {chunk}");
            assert_eq!(s.positions.unwrap(), vec![6, 26], "chunk {chunk}");
        }
        let mut s = Search::new(vec![b"absent".to_vec()]);
        s.feed(b"abs");
        s.feed(b"ent-not");
        assert!(s.found, "found across the boundary");
    }

    #[test]
    fn spool_keeps_matches_and_gives_back_the_rest() {
        let mut spool = Spool::default();
        let mut src = &b"no marker here"[..];
        assert!(
            spool
                .copy(vec![b"MARK".to_vec()], |b| src.read(b))
                .unwrap()
                .is_none()
        );
        assert_eq!(spool.len(), 0);
        let body = [vec![7u8; 300_000], b"MARK".to_vec(), vec![9u8; 1000]].concat();
        let mut src = &body[..];
        let f = spool
            .copy(vec![b"MARK".to_vec()], |b| src.read(b))
            .unwrap()
            .unwrap();
        assert_eq!(f.len(), body.len() as u64);
        assert_eq!(f.find(b"MARK", 4).unwrap(), vec![300_000]);
        assert_eq!(
            f.read_range(300_000, 4, 16).unwrap(),
            b"MARK".to_vec(),
            "read by offset"
        );
        assert!(f.read_range(0, 100, 16).is_none(), "over the limit");
        let mut all = Vec::new();
        f.reader().unwrap().read_to_end(&mut all).unwrap();
        assert_eq!(all, body);
        assert!(f.contains_any(&[b"MARK".to_vec()]).unwrap());
        assert!(!f.contains_any(&[b"nope".to_vec()]).unwrap());
    }
}
