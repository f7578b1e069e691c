//! BerkeleyDB hash databases (`Packages` before rpm 4.16): the header blobs, in any byte order.
//!
//! Page 0 is the metadata page (magic 0x061561, page size, last page number). Hash pages
//! (types 2 and 13) hold key/data pairs; rpm's data items are headers, usually stored off-page
//! (`H_OFFPAGE`) in a chain of overflow pages (type 7), occasionally inline (`H_KEYDATA`).
//! Every page number, offset and length is checked; overflow chains may not loop.

use std::collections::HashSet;

use super::RpmError;

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;

#[derive(Clone, Copy)]
struct Order(bool);

impl Order {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at + 2)?;
        Some(if self.0 {
            u16::from_be_bytes([s[0], s[1]])
        } else {
            u16::from_le_bytes([s[0], s[1]])
        })
    }
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at + 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.0 {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
}

/// Is this a BerkeleyDB hash database?
pub fn is_bdb(data: &[u8]) -> bool {
    data.get(12..16).is_some_and(|m| {
        let a = [m[0], m[1], m[2], m[3]];
        u32::from_le_bytes(a) == HASH_MAGIC || u32::from_be_bytes(a) == HASH_MAGIC
    })
}

/// The data items (header blobs) of a BerkeleyDB hash database. Items that cannot be read are
/// returned as errors in `warnings`; the rest are kept.
pub fn parse_bdb(data: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<String>), RpmError> {
    let bad = |m: String| RpmError::Bdb(m);
    let magic = data
        .get(12..16)
        .ok_or_else(|| bad("shorter than a metadata page".into()))?;
    let m = [magic[0], magic[1], magic[2], magic[3]];
    let order = if u32::from_le_bytes(m) == HASH_MAGIC {
        Order(false)
    } else if u32::from_be_bytes(m) == HASH_MAGIC {
        Order(true)
    } else {
        return Err(bad("not a BerkeleyDB hash database (magic)".into()));
    };
    let page_size = order.u32(data, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(bad(format!("invalid page size {page_size}")));
    }
    let last = order.u32(data, 32).unwrap_or(0) as usize;
    let pages = (data.len() / page_size).min(last + 1);
    let page = |n: usize| -> Option<&[u8]> { data.get(n * page_size..(n + 1) * page_size) };
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for n in 1..pages {
        let Some(p) = page(n) else { break };
        let ty = p[25];
        if ty != P_HASH && ty != P_HASH_UNSORTED {
            continue;
        }
        let entries = order.u16(p, 20).unwrap_or(0) as usize;
        if PAGE_HEADER + entries * 2 > page_size {
            warnings.push(format!(
                "rpm bdb: page {n}: {entries} entries do not fit the page"
            ));
            continue;
        }
        let offsets: Vec<usize> = (0..entries)
            .filter_map(|i| order.u16(p, PAGE_HEADER + i * 2).map(usize::from))
            .collect();
        // Pairs: key at even indexes, data at odd ones.
        for i in (1..entries).step_by(2) {
            let off = offsets[i];
            if off >= page_size || off < PAGE_HEADER {
                warnings.push(format!(
                    "rpm bdb: page {n} item {i}: offset {off} outside the page"
                ));
                continue;
            }
            match p[off] {
                H_OFFPAGE => {
                    let (Some(pgno), Some(tlen)) = (order.u32(p, off + 4), order.u32(p, off + 8))
                    else {
                        warnings.push(format!(
                            "rpm bdb: page {n} item {i}: truncated off-page item"
                        ));
                        continue;
                    };
                    match overflow(data, page_size, pages, order, pgno as usize, tlen as usize) {
                        Ok(v) => out.push(v),
                        Err(e) => warnings.push(format!("rpm bdb: page {n} item {i}: {e}")),
                    }
                }
                H_KEYDATA => {
                    // Inline item: up to the previous item's offset (items grow down from the
                    // page end).
                    let end = if i == 0 { page_size } else { offsets[i - 1] };
                    if end > off + 1 && end <= page_size {
                        out.push(p[off + 1..end].to_vec());
                    } else {
                        warnings.push(format!(
                            "rpm bdb: page {n} item {i}: bad inline item bounds"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok((out, warnings))
}

fn overflow(
    data: &[u8],
    page_size: usize,
    pages: usize,
    order: Order,
    mut pgno: usize,
    tlen: usize,
) -> Result<Vec<u8>, String> {
    if tlen > data.len() {
        return Err(format!(
            "off-page item of {tlen} bytes is larger than the file"
        ));
    }
    let mut out = Vec::with_capacity(tlen);
    let mut seen = HashSet::new();
    while pgno != 0 && out.len() < tlen {
        if pgno >= pages || !seen.insert(pgno) {
            return Err(format!(
                "overflow chain reaches page {pgno} (outside the file or a loop)"
            ));
        }
        let p = &data[pgno * page_size..(pgno + 1) * page_size];
        if p[25] != P_OVERFLOW {
            return Err(format!(
                "page {pgno} in an overflow chain has type {}",
                p[25]
            ));
        }
        // On overflow pages the "high free offset" field holds the bytes used.
        let used = order.u16(p, 22).unwrap_or(0) as usize;
        let used = used.min(page_size - PAGE_HEADER).min(tlen - out.len());
        out.extend_from_slice(&p[PAGE_HEADER..PAGE_HEADER + used]);
        pgno = order.u32(p, 16).unwrap_or(0) as usize;
    }
    if out.len() != tlen {
        return Err(format!(
            "overflow chain holds {} of {tlen} bytes",
            out.len()
        ));
    }
    Ok(out)
}
