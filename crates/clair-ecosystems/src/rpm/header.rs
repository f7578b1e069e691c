//! RPM header blobs as rpmdb stores them (`headerImport` layout, no lead or magic):
//!
//! ```text
//! il: u32 BE (index entries)   dl: u32 BE (data bytes)
//! il × { tag: i32, type: u32, offset: i32, count: u32 }  (all BE)
//! dl bytes of data
//! ```
//! Every count, offset and length is checked against the blob before use.

use super::RpmError;

const TAG_NAME: i32 = 1000;
const TAG_VERSION: i32 = 1001;
const TAG_RELEASE: i32 = 1002;
const TAG_EPOCH: i32 = 1003;
const TAG_ARCH: i32 = 1022;
const TAG_SOURCERPM: i32 = 1044;
const TAG_MODULARITYLABEL: i32 = 5096;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm's own limits (`HEADER_TAGS_MAX`, `HEADER_DATA_MAX`).
const MAX_ENTRIES: u32 = 0xffff;
const MAX_DATA: u32 = 0x0fff_ffff;

/// The fields of a header that describe an installed package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderInfo {
    /// NAME.
    pub name: String,
    /// VERSION.
    pub version: String,
    /// RELEASE.
    pub release: String,
    /// EPOCH, when the tag is present.
    pub epoch: Option<i32>,
    /// ARCH (absent for gpg-pubkey pseudo packages).
    pub arch: String,
    /// SOURCERPM (`bash-5.1-2.el9.src.rpm`).
    pub source_rpm: String,
    /// MODULARITYLABEL (`nodejs:18:8090020231019152822:a75119d5`).
    pub module: String,
}

impl HeaderInfo {
    /// `[epoch:]version-release`, epoch shown when the header has one other than 0.
    pub fn evr(&self) -> String {
        let vr = if self.release.is_empty() {
            self.version.clone()
        } else {
            format!("{}-{}", self.version, self.release)
        };
        match self.epoch {
            Some(e) if e != 0 => format!("{e}:{vr}"),
            _ => vr,
        }
    }

    /// Source package name and version from SOURCERPM, with the binary's epoch.
    pub fn source(&self) -> Option<(String, String)> {
        let base = self
            .source_rpm
            .strip_suffix(".src.rpm")
            .or_else(|| self.source_rpm.strip_suffix(".nosrc.rpm"))?;
        let (rest, release) = base.rsplit_once('-')?;
        let (name, version) = rest.rsplit_once('-')?;
        if name.is_empty() || version.is_empty() || release.is_empty() {
            return None;
        }
        let vr = format!("{version}-{release}");
        let v = match self.epoch {
            Some(e) if e != 0 => format!("{e}:{vr}"),
            _ => vr,
        };
        Some((name.to_string(), v))
    }

    /// `name:stream` of the module, if any.
    pub fn module_stream(&self) -> Option<String> {
        let mut parts = self.module.split(':');
        let (n, s) = (parts.next()?, parts.next()?);
        (!n.is_empty() && !s.is_empty()).then(|| format!("{n}:{s}"))
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parse a header blob.
pub fn parse_header(blob: &[u8]) -> Result<HeaderInfo, RpmError> {
    let bad = |m: String| RpmError::Header(m);
    let il = be32(blob, 0).ok_or_else(|| bad("shorter than 8 bytes".into()))?;
    let dl = be32(blob, 4).ok_or_else(|| bad("shorter than 8 bytes".into()))?;
    if il == 0 || il > MAX_ENTRIES {
        return Err(bad(format!("{il} index entries (want 1..{MAX_ENTRIES})")));
    }
    if dl > MAX_DATA {
        return Err(bad(format!("data store of {dl} bytes is over the limit")));
    }
    let index_end = 8 + il as usize * 16;
    let data_end = index_end + dl as usize;
    if blob.len() < data_end {
        return Err(bad(format!(
            "{il} entries and {dl} data bytes need {data_end} bytes, blob has {}",
            blob.len()
        )));
    }
    let data = &blob[index_end..data_end];
    let mut info = HeaderInfo::default();
    for i in 0..il as usize {
        let e = 8 + i * 16;
        let (Some(tag), Some(ty), Some(off), Some(count)) = (
            be32(blob, e),
            be32(blob, e + 4),
            be32(blob, e + 8),
            be32(blob, e + 12),
        ) else {
            return Err(bad(format!("entry {i}: truncated")));
        };
        let tag = tag as i32;
        let off = off as usize;
        let wanted = matches!(
            tag,
            TAG_NAME
                | TAG_VERSION
                | TAG_RELEASE
                | TAG_EPOCH
                | TAG_ARCH
                | TAG_SOURCERPM
                | TAG_MODULARITYLABEL
        );
        if !wanted {
            continue;
        }
        if off >= data.len() {
            return Err(bad(format!(
                "entry {i} (tag {tag}): offset {off} beyond data store of {} bytes",
                data.len()
            )));
        }
        let string = || -> Result<String, RpmError> {
            if !matches!(ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
                return Err(bad(format!(
                    "entry {i} (tag {tag}): type {ty} is not a string"
                )));
            }
            let s = &data[off..];
            let end = s
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad(format!("entry {i} (tag {tag}): string not terminated")))?;
            Ok(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        match tag {
            TAG_NAME => info.name = string()?,
            TAG_VERSION => info.version = string()?,
            TAG_RELEASE => info.release = string()?,
            TAG_ARCH => info.arch = string()?,
            TAG_SOURCERPM => info.source_rpm = string()?,
            TAG_MODULARITYLABEL => info.module = string()?,
            TAG_EPOCH => {
                if ty != TYPE_INT32 || count < 1 {
                    return Err(bad(format!("entry {i} (EPOCH): type {ty} count {count}")));
                }
                let v = be32(data, off).ok_or_else(|| {
                    bad(format!("entry {i} (EPOCH): value beyond the data store"))
                })?;
                info.epoch = Some(v as i32);
            }
            _ => {}
        }
    }
    if info.name.is_empty() {
        return Err(bad("no NAME tag".into()));
    }
    Ok(info)
}
