//! Random access to the members of an image archive (docker-archive, oci-archive).
//!
//! The archive is indexed once (headers only; data is skipped by seeking). A compressed archive
//! is first unpacked to a temporary file, since tar has no index to seek with.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blob::FileRange;
use crate::compression::{self, Compression};
use crate::error::{Error, Result};
use crate::path::{self, clean_member_name, resolve_in_root};
use crate::source::OpenOptions;
use crate::tar::{EntryKind, SeekSkip, StreamSkip, TarLimits, TarReader};

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, len: u64 },
    Symlink(String),
    HardLink(String),
    Other,
}

/// The members of an image archive, by clean name.
#[derive(Debug, Clone)]
pub struct ArchiveIndex {
    /// The archive as the user named it, for messages.
    pub display: String,
    file: Arc<PathBuf>,
    members: BTreeMap<String, Member>,
    pub(crate) temp: Option<Arc<tempfile::TempPath>>,
}

pub(crate) enum Opened {
    Archive(ArchiveIndex),
    Layer,
}

impl ArchiveIndex {
    /// Index the archive at `path`, unpacking it to a temporary file first if compressed.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<ArchiveIndex> {
        let display = path.display().to_string();
        let f = File::open(path).map_err(|e| Error::io(&display, e))?;
        let (c, _) = compression::sniff(f).map_err(|e| Error::io(&display, e))?;
        if c == Compression::None {
            Self::index(path, display, None)
        } else {
            Self::unpack_and_index(path, display, opts)
        }
    }

    /// Like [`open`](Self::open), but for a compressed file whose first member does not look
    /// like part of an image archive, answer [`Opened::Layer`] without unpacking it.
    pub(crate) fn open_or_layer(path: &Path, opts: &OpenOptions) -> Result<Opened> {
        let display = path.display().to_string();
        let f = File::open(path).map_err(|e| Error::io(&display, e))?;
        let (c, br) = compression::sniff(f).map_err(|e| Error::io(&display, e))?;
        if c == Compression::None {
            return match Self::index(path, display.clone(), None) {
                Ok(idx) => Ok(Opened::Archive(idx)),
                Err(Error::Tar { .. }) => Err(Error::Image(format!(
                    "{display}: not an image archive, layer tarball, OCI layout or directory"
                ))),
                Err(e) => Err(e),
            };
        }
        let dec = compression::decoder(c, br).map_err(|e| Error::io(&display, e))?;
        let mut tar = TarReader::new(StreamSkip(dec), TarLimits::default());
        let first = tar.next_entry().map_err(|source| Error::Tar {
            layer: display.clone(),
            source,
        })?;
        let image_like = first
            .and_then(|e| clean_member_name(&e.name).ok())
            .is_some_and(|n| is_image_archive_member(&n));
        if image_like {
            Ok(Opened::Archive(Self::unpack_and_index(
                path, display, opts,
            )?))
        } else {
            Ok(Opened::Layer)
        }
    }

    fn unpack_and_index(path: &Path, display: String, opts: &OpenOptions) -> Result<ArchiveIndex> {
        let f = File::open(path).map_err(|e| Error::io(&display, e))?;
        let (c, mut dec) = compression::auto_decoder(f).map_err(|e| Error::io(&display, e))?;
        let tmp = tempfile::Builder::new()
            .prefix("clair-archive-")
            .tempfile()
            .map_err(|e| Error::io("temporary file", e))?;
        let (tmp_file, tmp_path) = tmp.into_parts();
        let mut w = io::BufWriter::new(tmp_file);
        let limit = opts.max_archive_size;
        let n = io::copy(&mut (&mut dec).take(limit + 1), &mut w)
            .map_err(|e| Error::io(format!("{display} ({} decompression)", c.name()), e))?;
        if n > limit {
            return Err(Error::Image(format!(
                "{display}: decompresses to more than {limit} bytes (the archive size limit)"
            )));
        }
        io::Write::flush(&mut w).map_err(|e| Error::io("temporary file", e))?;
        let tmp_path = Arc::new(tmp_path);
        Self::index(&tmp_path, display, Some(tmp_path.clone()))
    }

    fn index(
        file: &Path,
        display: String,
        temp: Option<Arc<tempfile::TempPath>>,
    ) -> Result<ArchiveIndex> {
        let f = File::open(file).map_err(|e| Error::io(&display, e))?;
        let len = f.metadata().map_err(|e| Error::io(&display, e))?.len();
        let mut tar = TarReader::new(SeekSkip::new(f, len), TarLimits::default());
        let mut members = BTreeMap::new();
        loop {
            let entry = match tar.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(source) => {
                    return Err(Error::Tar {
                        layer: display,
                        source,
                    });
                }
            };
            let Ok(name) = clean_member_name(&entry.name) else {
                continue;
            };
            let m = match entry.kind {
                EntryKind::File => Member::File {
                    offset: tar.position(),
                    len: entry.size,
                },
                EntryKind::Symlink => Member::Symlink(entry.link),
                EntryKind::HardLink => Member::HardLink(entry.link),
                EntryKind::Dir | EntryKind::Other => Member::Other,
            };
            members.insert(name, m);
        }
        Ok(ArchiveIndex {
            display,
            file: Arc::new(file.to_path_buf()),
            members,
            temp,
        })
    }

    /// Is there a member of that name (any kind)?
    pub fn has(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    /// Member names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    /// The bytes of a regular-file member, following symlinks and hard links inside the archive.
    pub fn member(&self, name: &str) -> Result<FileRange> {
        let mut cur = clean_member_name(name)
            .map_err(|_| Error::Image(format!("{}: bad member name {name:?}", self.display)))?;
        for _ in 0..path::MAX_SYMLINK_HOPS {
            let resolved = resolve_in_root(&cur, true, |p| match self.members.get(p) {
                Some(Member::Symlink(t)) => Some(t.clone()),
                _ => None,
            })
            .ok_or_else(|| Error::Image(format!("{}: {name}: symlink loop", self.display)))?;
            match self.members.get(&resolved) {
                Some(Member::File { offset, len }) => {
                    return Ok(FileRange {
                        path: self.file.clone(),
                        offset: *offset,
                        len: *len,
                    });
                }
                Some(Member::HardLink(t)) => {
                    cur = clean_member_name(t).map_err(|_| {
                        Error::Image(format!("{}: {name}: bad hard link", self.display))
                    })?;
                }
                _ => {
                    return Err(Error::Image(format!(
                        "{}: no file {name:?} in the archive",
                        self.display
                    )));
                }
            }
        }
        Err(Error::Image(format!("{}: {name}: link loop", self.display)))
    }

    /// Read a small member (a JSON document) into memory.
    pub fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        self.member(name)?
            .read_all(limit)
            .map_err(|e| Error::io(format!("{}: {name}", self.display), e))
    }
}

/// Names that appear in image archives but not at the top of a root filesystem layer.
fn is_image_archive_member(name: &str) -> bool {
    let first = name.split('/').next().unwrap_or("");
    let hexish = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(
        name,
        "manifest.json" | "index.json" | "oci-layout" | "repositories"
    ) || first == "blobs"
        || hexish(first)
        || first
            .strip_suffix(".tar")
            .or_else(|| first.strip_suffix(".json"))
            .is_some_and(hexish)
}
