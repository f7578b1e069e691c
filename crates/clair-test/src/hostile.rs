//! Hostile inputs for tests, made on the fly (large ones streamed to a file, never stored):
//! decompression bombs, zips whose entries overlap, ELF files whose tables point past the end.

use std::io::{self, Write};

/// Write `n` zero bytes to `w`, in blocks.
pub fn zeros(w: &mut impl Write, mut n: u64) -> io::Result<()> {
    let block = vec![0u8; 1 << 20];
    while n > 0 {
        let k = n.min(block.len() as u64) as usize;
        w.write_all(&block[..k])?;
        n -= k as u64;
    }
    Ok(())
}

/// A zip whose `entries` central-directory records all point at one local entry: `size`
/// zero bytes, deflated (about 1/1000 of that). Each record has its own name
/// (`lib/bomb-N.jar`), so a reader that trusts the central directory inflates the same stream
/// `entries` times (David Fifield's overlapping zip bomb, unquoted variant).
pub fn overlapping_zip(entries: usize, size: u32) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    zeros(&mut enc, u64::from(size))?;
    let data = enc.finish()?;
    let mut crc = flate2::Crc::new();
    let block = vec![0u8; 1 << 20];
    let mut left = size as usize;
    while left > 0 {
        let k = left.min(block.len());
        crc.update(&block[..k]);
        left -= k;
    }
    let crc = crc.sum();
    let csize = u32::try_from(data.len()).map_err(io::Error::other)?;
    let name = b"lib/bomb-0.jar";
    let mut out = Vec::new();
    // Local file header.
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes()); // version needed
    out.extend_from_slice(&0u16.to_le_bytes()); // flags
    out.extend_from_slice(&8u16.to_le_bytes()); // deflate
    out.extend_from_slice(&[0; 4]); // time, date
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&csize.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&data);
    let cd_start = u32::try_from(out.len()).map_err(io::Error::other)?;
    for i in 0..entries {
        let name = format!("lib/bomb-{i}.jar");
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // made by
        out.extend_from_slice(&20u16.to_le_bytes()); // needed
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&csize.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
        out.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        out.extend_from_slice(&0u32.to_le_bytes()); // local header offset: all the same
        out.extend_from_slice(name.as_bytes());
    }
    let cd_size = u32::try_from(out.len()).map_err(io::Error::other)? - cd_start;
    let n = u16::try_from(entries).map_err(io::Error::other)?;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

/// A 64-bit little-endian ELF executable header whose section header table starts `shoff`
/// bytes in and holds `shnum` entries, followed by `tail` bytes of filler: a table that
/// points past the end of the file when `shoff` is large.
pub fn elf_with_sections_at(shoff: u64, shnum: u16, tail: usize) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[6] = 1; // version
    h[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[40..48].copy_from_slice(&shoff.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    h[58..60].copy_from_slice(&64u16.to_le_bytes()); // shentsize
    h[60..62].copy_from_slice(&shnum.to_le_bytes());
    h[62..64].copy_from_slice(&shnum.saturating_sub(1).to_le_bytes()); // shstrndx
    h.resize(64 + tail, 0xAB);
    h
}
