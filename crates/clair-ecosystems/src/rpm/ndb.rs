//! NDB (`Packages.db`, rpm ≥ 4.16 on SUSE): a slot table pointing at blobs.
//!
//! ```text
//! header (32 bytes, LE): magic "RpmP", version 0, generation, slot pages, ...
//! slots (16 bytes each, after the header, slot pages × 4096 bytes in all):
//!   magic "Slot", package index (0 = free), block offset, block count
//! blob at block offset × 16: magic "BlbS", package index, checksum, length; then the header
//! ```

use super::RpmError;

const HEADER_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const PAGE: usize = 4096;
const BLOCK: usize = 16;
const HEADER_SIZE: usize = 32;
/// rpm never writes more (and it bounds memory for hostile files).
const MAX_SLOT_PAGES: usize = 2048;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Is this an NDB package database?
pub fn is_ndb(data: &[u8]) -> bool {
    le32(data, 0) == Some(HEADER_MAGIC)
}

/// The header blobs of an NDB database; unreadable slots become warnings.
pub fn parse_ndb(data: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<String>), RpmError> {
    let bad = |m: String| RpmError::Ndb(m);
    if le32(data, 0) != Some(HEADER_MAGIC) {
        return Err(bad("not an NDB database (magic)".into()));
    }
    let version = le32(data, 4).ok_or_else(|| bad("truncated header".into()))?;
    if version != 0 {
        return Err(bad(format!("unsupported version {version}")));
    }
    let slot_pages = le32(data, 12).ok_or_else(|| bad("truncated header".into()))? as usize;
    if slot_pages == 0 || slot_pages > MAX_SLOT_PAGES {
        return Err(bad(format!(
            "{slot_pages} slot pages (want 1..{MAX_SLOT_PAGES})"
        )));
    }
    let slots_end = slot_pages * PAGE;
    if data.len() < slots_end {
        return Err(bad(format!(
            "{slot_pages} slot pages but the file has {} bytes",
            data.len()
        )));
    }
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, at) in (HEADER_SIZE..slots_end).step_by(16).enumerate() {
        let (Some(magic), Some(pkg), Some(blk)) =
            (le32(data, at), le32(data, at + 4), le32(data, at + 8))
        else {
            break;
        };
        if magic != SLOT_MAGIC {
            warnings.push(format!("rpm ndb: slot {i}: bad magic, stopping"));
            break;
        }
        if pkg == 0 {
            continue;
        }
        let start = blk as usize * BLOCK;
        let blob = (|| {
            if le32(data, start)? != BLOB_MAGIC || le32(data, start + 4)? != pkg {
                return None;
            }
            let len = le32(data, start + 12)? as usize;
            data.get(start + 16..(start + 16).checked_add(len)?)
        })();
        match blob {
            Some(b) => out.push(b.to_vec()),
            None => warnings.push(format!(
                "rpm ndb: slot {i} (package {pkg}): no valid blob at byte {start}"
            )),
        }
    }
    Ok((out, warnings))
}
