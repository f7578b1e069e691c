//! Just enough ELF to find a named section and read memory by virtual address, for the
//! scanners of compiled languages (Go build info, cargo-auditable dependency lists).
//!
//! Every offset and size comes from the file and is checked against its length: a hostile
//! binary yields `None`, never a panic or a large allocation.

use std::borrow::Cow;

use clair_indexer::DbScan;
use clair_layer::{FileRef, FileSelector, FileView, LargeFile, PathPattern};
use clair_types::Package;

/// Most bytes read at once from a file (a section, a string).
const MAX_READ: u64 = 64 << 20;

/// The files a scanner of compiled executables selects: executables containing `marker`, of
/// any size (read by offset).
pub(crate) fn select_executables(selector: &mut FileSelector, marker: &[u8]) {
    selector.pattern(PathPattern {
        executable: true,
        contains: Some(marker.to_vec()),
        by_offset: true,
        ..PathPattern::default()
    });
}

/// One scan per ELF file of `files` in which `read` (given its path and bytes) finds packages
/// (`Ok(None)`: it says nothing), or of a warning naming the file when reading it failed.
pub(crate) fn scan_elf_files(
    files: &dyn FileView,
    scanner: &str,
    read: impl Fn(&str, Source<'_>) -> Result<Option<Vec<Package>>, String>,
) -> Vec<DbScan> {
    let mut out = Vec::new();
    for path in files.paths() {
        let Some(f) = files.open(&path) else { continue };
        let src = Source::of(&f);
        if !src.starts_with(b"\x7fELF") {
            continue;
        }
        let (packages, warnings) = match read(f.path, src) {
            Ok(None) => continue,
            Ok(Some(packages)) => (packages, Vec::new()),
            Err(e) => (Vec::new(), vec![format!("{scanner}: {}: {e}", f.path)]),
        };
        out.push(DbScan {
            path: f.path.to_string(),
            packages,
            warnings,
        });
    }
    out
}

/// Where a file's bytes are: in memory, or in a big file read by offset (spooled or on disk).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// In memory.
    Mem(&'a [u8]),
    /// Read by offset.
    Large(&'a LargeFile),
}

impl<'a> Source<'a> {
    /// The bytes of a selected file.
    pub(crate) fn of(f: &FileRef<'a>) -> Source<'a> {
        match f.large {
            Some(l) => Source::Large(l),
            None => Source::Mem(f.data),
        }
    }

    /// `len` bytes at `at` (fewer at the end); `None` past the end, or over 64 MiB.
    pub(crate) fn read(&self, at: u64, len: u64) -> Option<Cow<'a, [u8]>> {
        match self {
            Source::Mem(d) => {
                let start = usize::try_from(at).ok()?;
                let end = start.checked_add(usize::try_from(len).ok()?)?.min(d.len());
                d.get(start..end).map(Cow::Borrowed)
            }
            Source::Large(l) => l.read_range(at, len, MAX_READ).map(Cow::Owned),
        }
    }

    /// Exactly `len` bytes at `at`.
    fn exact(&self, at: u64, len: u64) -> Option<Cow<'a, [u8]>> {
        self.read(at, len)
            .filter(|b| u64::try_from(b.len()).ok() == Some(len))
    }

    /// Whether the file starts with `prefix`.
    pub(crate) fn starts_with(&self, prefix: &[u8]) -> bool {
        self.read(0, prefix.len() as u64)
            .is_some_and(|b| &b[..] == prefix)
    }

    /// Offsets of the first `max` occurrences of `needle`.
    pub(crate) fn find(&self, needle: &[u8], max: usize) -> Vec<u64> {
        match self {
            Source::Mem(d) => memchr::memmem::find_iter(d, needle)
                .take(max)
                .map(|i| i as u64)
                .collect(),
            Source::Large(l) => l.find(needle, max).unwrap_or_default(),
        }
    }
}

/// A parsed ELF header: where sections and loadable segments are.
#[derive(Debug)]
pub(crate) struct Elf<'a> {
    src: Source<'a>,
    big_endian: bool,
    sections: Vec<Section>,
    segments: Vec<Segment>,
    shstrndx: usize,
}

#[derive(Debug, Clone, Copy)]
struct Section {
    name: u32,
    offset: u64,
    size: u64,
    nobits: bool,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// Most section or program headers read (real binaries have a few dozen).
const MAX_HEADERS: usize = 4096;
const SHT_NOBITS: u32 = 8;
const PT_LOAD: u32 = 1;

/// Fixed-width integers of a header table, in the file's byte order.
struct Fields<'b> {
    b: &'b [u8],
    big_endian: bool,
}

impl Fields<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let a: [u8; 2] = self.b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let a: [u8; 4] = self.b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        let a: [u8; 8] = self.b.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }
}

impl<'a> Elf<'a> {
    /// Parse the headers of `src`; `None` if it is not a well-formed ELF file. Reads the file
    /// header and the two header tables, nothing else.
    pub(crate) fn parse(src: Source<'a>) -> Option<Elf<'a>> {
        let head = src.read(0, 64)?;
        if head.get(..4)? != b"\x7fELF" {
            return None;
        }
        let is64 = match head.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big_endian = match head.get(5)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let h = Fields {
            b: &head,
            big_endian,
        };
        let (phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx) = if is64 {
            (
                h.u64_at(0x20)?,
                h.u64_at(0x28)?,
                h.u16_at(0x36)?,
                h.u16_at(0x38)?,
                h.u16_at(0x3a)?,
                h.u16_at(0x3c)?,
                h.u16_at(0x3e)?,
            )
        } else {
            (
                u64::from(h.u32_at(0x1c)?),
                u64::from(h.u32_at(0x20)?),
                h.u16_at(0x2a)?,
                h.u16_at(0x2c)?,
                h.u16_at(0x2e)?,
                h.u16_at(0x30)?,
                h.u16_at(0x32)?,
            )
        };
        let mut elf = Elf {
            src,
            big_endian,
            sections: Vec::new(),
            segments: Vec::new(),
            shstrndx: usize::from(shstrndx),
        };
        let phnum = usize::from(phnum).min(MAX_HEADERS);
        let ph = if phnum == 0 {
            Cow::Borrowed(&[][..])
        } else {
            src.read(phoff, (phnum * usize::from(phentsize)) as u64)?
        };
        let ph = Fields { b: &ph, big_endian };
        for i in 0..phnum {
            let base = i.checked_mul(usize::from(phentsize))?;
            let seg = if is64 {
                (
                    ph.u32_at(base)?,
                    ph.u64_at(base.saturating_add(8))?,
                    ph.u64_at(base.saturating_add(16))?,
                    ph.u64_at(base.saturating_add(32))?,
                )
            } else {
                (
                    ph.u32_at(base)?,
                    u64::from(ph.u32_at(base.saturating_add(4))?),
                    u64::from(ph.u32_at(base.saturating_add(8))?),
                    u64::from(ph.u32_at(base.saturating_add(16))?),
                )
            };
            if seg.0 == PT_LOAD {
                elf.segments.push(Segment {
                    offset: seg.1,
                    vaddr: seg.2,
                    filesz: seg.3,
                });
            }
        }
        let shnum = usize::from(shnum).min(MAX_HEADERS);
        let Some(sh) = src.read(shoff, (shnum * usize::from(shentsize)) as u64) else {
            return Some(elf);
        };
        let sh = Fields { b: &sh, big_endian };
        for i in 0..shnum {
            let Some(base) = i.checked_mul(usize::from(shentsize)) else {
                break;
            };
            let sec = if is64 {
                (
                    sh.u32_at(base),
                    sh.u32_at(base.saturating_add(4)),
                    sh.u64_at(base.saturating_add(24)),
                    sh.u64_at(base.saturating_add(32)),
                )
            } else {
                (
                    sh.u32_at(base),
                    sh.u32_at(base.saturating_add(4)),
                    sh.u32_at(base.saturating_add(16)).map(u64::from),
                    sh.u32_at(base.saturating_add(20)).map(u64::from),
                )
            };
            let (Some(name), Some(kind), Some(offset), Some(size)) = sec else {
                break;
            };
            elf.sections.push(Section {
                name,
                offset,
                size,
                nobits: kind == SHT_NOBITS,
            });
        }
        Some(elf)
    }

    /// The file bytes of the section called `name` (at most 64 MiB).
    pub(crate) fn section(&self, name: &str) -> Option<Cow<'a, [u8]>> {
        let (offset, size) = self.section_range(name)?;
        self.src.exact(offset, size)
    }

    /// Where the section called `name` is in the file: offset and size.
    pub(crate) fn section_range(&self, name: &str) -> Option<(u64, u64)> {
        let names = self.sections.get(self.shstrndx)?;
        let names = self.src.exact(names.offset, names.size)?;
        self.sections.iter().find_map(|s| {
            if s.nobits {
                return None;
            }
            let start = usize::try_from(s.name).ok()?;
            let rest = names.get(start..)?;
            let end = rest.iter().position(|&b| b == 0)?;
            (&rest[..end] == name.as_bytes()).then_some((s.offset, s.size))
        })
    }

    /// `len` bytes at virtual address `addr`, from a loadable segment.
    pub(crate) fn read_addr(&self, addr: u64, len: u64) -> Option<Cow<'a, [u8]>> {
        self.segments.iter().find_map(|s| {
            let rel = addr.checked_sub(s.vaddr)?;
            if rel.checked_add(len)? > s.filesz {
                return None;
            }
            self.src.exact(s.offset.checked_add(rel)?, len)
        })
    }

    /// The bytes the file holds.
    pub(crate) fn source(&self) -> Source<'a> {
        self.src
    }

    /// A pointer-sized value (4 or 8 bytes) in the file's byte order.
    pub(crate) fn read_uint(&self, b: &[u8]) -> Option<u64> {
        let f = Fields {
            b,
            big_endian: self.big_endian,
        };
        match b.len() {
            4 => f.u32_at(0).map(u64::from),
            8 => f.u64_at(0),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_offsets_near_the_end_of_the_address_space() {
        // Found by the lang_packages fuzz target: section headers at an offset where adding a
        // field offset overflowed.
        let data = [
            0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x4b, 0xff, 0xff,
            0xff, 0x23, 0xff, 0x32, 0xff, 0xff, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0x3e, 0x3e, 0x01, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x12, 0xcc, 0x4c, 0x4c, 0x09, 0xfb, 0xff, 0xcd, 0x00, 0x2a, 0xff, 0xf6,
            0x34, 0xb3, 0xcc, 0x4c, 0x4c,
        ];
        let elf = Elf::parse(Source::Mem(&data));
        assert!(elf.is_none_or(|e| e.section(".dep-v0").is_none()));
    }
}
