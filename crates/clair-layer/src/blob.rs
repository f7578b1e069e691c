//! Byte ranges of local files: OCI blobs, members of image archives.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `len` bytes of the file at `path`, starting at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRange {
    /// The file.
    pub path: Arc<PathBuf>,
    /// Start of the range.
    pub offset: u64,
    /// Length of the range.
    pub len: u64,
}

impl FileRange {
    /// The whole file.
    pub fn whole(path: &Path) -> io::Result<FileRange> {
        let len = std::fs::metadata(path)?.len();
        Ok(FileRange {
            path: Arc::new(path.to_path_buf()),
            offset: 0,
            len,
        })
    }

    /// Open for reading, positioned at the start of the range.
    pub fn open(&self) -> io::Result<Section> {
        let mut f = File::open(self.path.as_path())?;
        f.seek(SeekFrom::Start(self.offset))?;
        Ok(Section {
            file: f,
            start: self.offset,
            len: self.len,
            pos: 0,
        })
    }

    /// Read the whole range into memory, refusing ranges over `limit` bytes.
    pub fn read_all(&self, limit: u64) -> io::Result<Vec<u8>> {
        if self.len > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} bytes is over the {limit}-byte limit", self.len),
            ));
        }
        let mut v = Vec::with_capacity(self.len as usize);
        self.open()?.read_to_end(&mut v)?;
        if (v.len() as u64) < self.len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(v)
    }
}

/// A read into `buf` at `*pos` of a range of `len` bytes, through `read` (given the part of
/// `buf` the range has room for and the position in the range), advancing `*pos`.
pub(crate) fn read_in_range(
    buf: &mut [u8],
    pos: &mut u64,
    len: u64,
    read: impl FnOnce(&mut [u8], u64) -> io::Result<usize>,
) -> io::Result<usize> {
    let want = buf
        .len()
        .min(usize::try_from(len.saturating_sub(*pos)).unwrap_or(usize::MAX));
    if want == 0 {
        return Ok(0);
    }
    let n = read(&mut buf[..want], *pos)?;
    *pos += n as u64;
    Ok(n)
}

/// Where a seek lands in a range of `len` bytes read up to `pos`; `None` before its start
/// (or past `u64`).
pub(crate) fn seek_target(to: SeekFrom, pos: u64, len: u64) -> Option<u64> {
    match to {
        SeekFrom::Start(n) => Some(n),
        SeekFrom::Current(d) => pos.checked_add_signed(d),
        SeekFrom::End(d) => len.checked_add_signed(d),
    }
}

/// An open [`FileRange`]: reads stop at its end, seeks stay inside it.
#[derive(Debug)]
pub struct Section {
    file: File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Section {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_in_range(buf, &mut self.pos, self.len, |b, _| self.file.read(b))
    }
}

impl Seek for Section {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = seek_target(to, self.pos, self.len);
        let Some(target) = target.filter(|t| *t <= self.len) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek outside the file range",
            ));
        };
        self.file.seek(SeekFrom::Start(self.start + target))?;
        self.pos = target;
        Ok(target)
    }
}
