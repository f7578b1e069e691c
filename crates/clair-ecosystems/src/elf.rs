//! Just enough ELF to find a named section and read memory by virtual address, for the
//! scanners of compiled languages (Go build info, cargo-auditable dependency lists).
//!
//! Every offset and size comes from the file and is checked against its length: a hostile
//! binary yields `None`, never a panic or a large allocation.

/// A parsed ELF header: where sections and loadable segments are.
#[derive(Debug)]
pub(crate) struct Elf<'a> {
    data: &'a [u8],
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

impl<'a> Elf<'a> {
    /// Parse the headers of `data`; `None` if it is not a well-formed ELF file.
    pub(crate) fn parse(data: &'a [u8]) -> Option<Elf<'a>> {
        if data.get(..4)? != b"\x7fELF" {
            return None;
        }
        let is64 = match data.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big_endian = match data.get(5)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let mut elf = Elf {
            data,
            big_endian,
            sections: Vec::new(),
            segments: Vec::new(),
            shstrndx: 0,
        };
        let (phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx) = if is64 {
            (
                elf.u64_at(0x20)?,
                elf.u64_at(0x28)?,
                elf.u16_at(0x36)?,
                elf.u16_at(0x38)?,
                elf.u16_at(0x3a)?,
                elf.u16_at(0x3c)?,
                elf.u16_at(0x3e)?,
            )
        } else {
            (
                u64::from(elf.u32_at(0x1c)?),
                u64::from(elf.u32_at(0x20)?),
                elf.u16_at(0x2a)?,
                elf.u16_at(0x2c)?,
                elf.u16_at(0x2e)?,
                elf.u16_at(0x30)?,
                elf.u16_at(0x32)?,
            )
        };
        elf.shstrndx = usize::from(shstrndx);
        for i in 0..usize::from(phnum).min(MAX_HEADERS) {
            let base = phoff.checked_add(u64::try_from(i).ok()? * u64::from(phentsize))?;
            let base = usize::try_from(base).ok()?;
            let seg = if is64 {
                (
                    elf.u32_at(base)?,
                    elf.u64_at(base.saturating_add(8))?,
                    elf.u64_at(base.saturating_add(16))?,
                    elf.u64_at(base.saturating_add(32))?,
                )
            } else {
                (
                    elf.u32_at(base)?,
                    u64::from(elf.u32_at(base.saturating_add(4))?),
                    u64::from(elf.u32_at(base.saturating_add(8))?),
                    u64::from(elf.u32_at(base.saturating_add(16))?),
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
        for i in 0..usize::from(shnum).min(MAX_HEADERS) {
            let base = shoff.checked_add(u64::try_from(i).ok()? * u64::from(shentsize))?;
            let Some(base) = usize::try_from(base).ok() else {
                break;
            };
            let sec = if is64 {
                (
                    elf.u32_at(base),
                    elf.u32_at(base.saturating_add(4)),
                    elf.u64_at(base.saturating_add(24)),
                    elf.u64_at(base.saturating_add(32)),
                )
            } else {
                (
                    elf.u32_at(base),
                    elf.u32_at(base.saturating_add(4)),
                    elf.u32_at(base.saturating_add(16)).map(u64::from),
                    elf.u32_at(base.saturating_add(20)).map(u64::from),
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

    /// The file bytes of the section called `name`.
    pub(crate) fn section(&self, name: &str) -> Option<&'a [u8]> {
        let names = self.sections.get(self.shstrndx)?;
        let names = self.bytes(names.offset, names.size)?;
        self.sections.iter().find_map(|s| {
            if s.nobits {
                return None;
            }
            let start = usize::try_from(s.name).ok()?;
            let rest = names.get(start..)?;
            let end = rest.iter().position(|&b| b == 0)?;
            (&rest[..end] == name.as_bytes())
                .then(|| self.bytes(s.offset, s.size))
                .flatten()
        })
    }

    /// `len` bytes at virtual address `addr`, from a loadable segment.
    pub(crate) fn read_addr(&self, addr: u64, len: u64) -> Option<&'a [u8]> {
        self.segments.iter().find_map(|s| {
            let rel = addr.checked_sub(s.vaddr)?;
            if rel.checked_add(len)? > s.filesz {
                return None;
            }
            self.bytes(s.offset.checked_add(rel)?, len)
        })
    }

    /// A pointer-sized value (4 or 8 bytes) in the file's byte order.
    pub(crate) fn read_uint(&self, b: &[u8]) -> Option<u64> {
        match b.len() {
            4 => {
                let a: [u8; 4] = b.try_into().ok()?;
                Some(u64::from(if self.big_endian {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                }))
            }
            8 => {
                let a: [u8; 8] = b.try_into().ok()?;
                Some(if self.big_endian {
                    u64::from_be_bytes(a)
                } else {
                    u64::from_le_bytes(a)
                })
            }
            _ => None,
        }
    }

    fn bytes(&self, offset: u64, len: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.data.get(start..end)
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let a: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let a: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        self.read_uint(self.data.get(at..at.checked_add(8)?)?)
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
        let elf = Elf::parse(&data);
        assert!(elf.is_none_or(|e| e.section(".dep-v0").is_none()));
    }
}
