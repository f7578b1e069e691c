//! One pass over a layer's tar stream, keeping only what scanners and stacking need.

use std::sync::Arc;

use crate::contents::{FileSelector, LayerContents};
use crate::path::{self, BadPath, clean_member_name};
use crate::spool::Spool;
use crate::tar::{EntryKind, Skip, TarError, TarLimits, TarReader};

/// Bounds on what is kept from one layer.
#[derive(Debug, Clone, Copy)]
pub struct ExtractLimits {
    /// Largest selected file kept in memory; larger ones are skipped with a warning.
    pub max_file_size: u64,
    /// Most bytes of selected files kept from one layer; files beyond it are skipped with a warning.
    pub max_layer_selected: u64,
    /// Tar metadata bounds.
    pub tar: TarLimits,
    /// Files read by offset ([`crate::PathPattern::by_offset`]) above this size are spooled
    /// to a temporary file instead of kept in memory (whatever their size).
    pub spool_above: u64,
    /// Most bytes spooled from one layer; files beyond it are skipped with a warning.
    pub max_spooled: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_file_size: 256 << 20,
            max_layer_selected: 1 << 30,
            tar: TarLimits::default(),
            spool_above: crate::spool::SPOOL_ABOVE,
            max_spooled: 64 << 30,
        }
    }
}

const OPAQUE: &str = ".wh..wh..opq";
const WHITEOUT_PREFIX: &str = ".wh.";
const AUFS_META_PREFIX: &str = ".wh..wh.";

/// Read every member of `tar`, keeping the files `selector` wants plus the layer's structure.
pub fn extract<R: Skip>(
    tar: &mut TarReader<R>,
    selector: &FileSelector,
    limits: &ExtractLimits,
) -> Result<LayerContents, TarError> {
    let mut out = LayerContents::default();
    let mut kept: u64 = 0;
    // Files read because a pattern might want them, whose contents it did not.
    let mut rejected: std::collections::HashSet<String> = Default::default();
    let mut spool = Spool::default();
    while let Some(entry) = tar.next_entry()? {
        let path = match clean_member_name(&entry.name) {
            Ok(p) => p,
            Err(why) => {
                let why = match why {
                    BadPath::Traversal => "a \"..\" component climbs out of the root",
                    BadPath::Nul => "it contains a NUL byte",
                };
                out.warnings.push(format!(
                    "member {:?} at byte {}: skipped: {why}",
                    entry.name, entry.offset
                ));
                continue;
            }
        };
        if path.is_empty() {
            continue;
        }
        let name = path::file_name(&path);
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            let dir = path::parent(&path);
            if name == OPAQUE {
                out.opaque_dirs.insert(dir.to_string());
            } else if !name.starts_with(AUFS_META_PREFIX) && !hidden.is_empty() {
                out.whiteouts.insert(path::join(dir, hidden));
            }
            continue;
        }
        match entry.kind {
            EntryKind::Dir => out.add_dir(path),
            EntryKind::Symlink => {
                if entry.link.contains('\0') || entry.link.is_empty() {
                    out.warnings.push(format!(
                        "symlink {path:?}: skipped: empty or invalid target"
                    ));
                    out.shadow(&path);
                } else {
                    out.add_symlink(path, entry.link);
                }
            }
            EntryKind::HardLink => {
                if !selector.wants(&path) {
                    out.shadow(&path);
                    continue;
                }
                let target = clean_member_name(&entry.link).ok();
                if let Some(big) = target.as_ref().and_then(|t| out.large.get(t)).cloned() {
                    out.add_large(path, big);
                    continue;
                }
                match target.as_ref().and_then(|t| out.files.get(t)).cloned() {
                    Some(data) => out.add_file(path, data),
                    // A link to a file whose contents no pattern wanted (`perl` → `perl5.36.0`,
                    // an executable that is no Go or Rust binary): the link has the same
                    // contents, so nothing is lost.
                    None if target.as_ref().is_some_and(|t| rejected.contains(t))
                        && !selector.wants_by_name(&path) =>
                    {
                        out.shadow(&path);
                    }
                    None => {
                        out.warnings.push(format!(
                            "hard link {path:?} → {:?}: skipped: its target is not a selected file of this layer",
                            entry.link
                        ));
                        out.shadow(&path);
                    }
                }
            }
            EntryKind::File if selector.wants_file(&path, entry.mode, entry.size) => {
                if let Some(needles) = selector.offset_needles(&path, entry.mode, entry.size)
                    && (entry.size > limits.spool_above
                        || kept + entry.size > limits.max_layer_selected)
                {
                    if spool.len() + entry.size > limits.max_spooled {
                        out.warnings.push(format!(
                            "file {path:?}: skipped: over the {}-byte limit of spooled data per layer",
                            limits.max_spooled
                        ));
                        out.shadow(&path);
                        continue;
                    }
                    let offset = tar.position();
                    let spooled = spool.copy(needles, |buf| {
                        tar.read_data(buf).map_err(std::io::Error::other)
                    });
                    match spooled {
                        Ok(Some(big)) => out.add_large(path, big),
                        Ok(None) => out.shadow(&path),
                        Err(e) => {
                            return Err(TarError::Io { offset, source: e });
                        }
                    }
                    continue;
                }
                if entry.size > limits.max_file_size {
                    out.warnings.push(format!(
                        "file {path:?}: skipped: {} bytes is over the {}-byte limit per file",
                        entry.size, limits.max_file_size
                    ));
                    out.shadow(&path);
                    continue;
                }
                if kept + entry.size > limits.max_layer_selected {
                    out.warnings.push(format!(
                        "file {path:?}: skipped: over the {}-byte limit of selected data per layer",
                        limits.max_layer_selected
                    ));
                    out.shadow(&path);
                    continue;
                }
                match tar.read_data_to_vec(limits.max_file_size)? {
                    Some(data) if selector.keeps(&path, entry.mode, &data) => {
                        kept += data.len() as u64;
                        out.add_file(path, Arc::from(data));
                    }
                    Some(_) => {
                        out.shadow(&path);
                        rejected.insert(path);
                    }
                    None => out.shadow(&path),
                }
            }
            EntryKind::File | EntryKind::Other => out.shadow(&path),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contents::FileView;
    use crate::tar::StreamSkip;
    use crate::tar::tests::build;

    fn sel() -> FileSelector {
        let mut s = FileSelector::new();
        s.file("etc/os-release")
            .file("usr/lib/os-release")
            .file("var/lib/dpkg/status")
            .dir_children("var/lib/dpkg/status.d");
        s
    }

    fn run(t: &[u8], limits: ExtractLimits) -> LayerContents {
        let mut r = TarReader::new(StreamSkip(t), limits.tar);
        extract(&mut r, &sel(), &limits).unwrap()
    }

    /// Regression: every Debian image with perl or bzip2 warned "hard link … skipped" for
    /// links to executables the binary scanners read and dropped.
    #[test]
    fn hard_links_to_files_patterns_rejected_are_quiet() {
        let t = build(&[
            ("usr/bin/perl5.36.0.bin", b'0', b"#!not an ELF file", ""),
            ("usr/bin/perl.bin", b'1', b"", "usr/bin/perl5.36.0.bin"),
            ("usr/bin/go.bin", b'0', b"\x7fELF go buildinf", ""),
            ("usr/bin/go2.bin", b'1', b"", "usr/bin/go.bin"),
            ("var/lib/dpkg/status", b'1', b"", "usr/bin/perl5.36.0.bin"),
        ]);
        let mut s = sel();
        s.pattern(crate::PathPattern {
            name_suffix: Some(".bin".into()),
            contains: Some(b"buildinf".to_vec()),
            ..Default::default()
        });
        let limits = ExtractLimits::default();
        let mut r = TarReader::new(StreamSkip(&t[..]), limits.tar);
        let l = extract(&mut r, &s, &limits).unwrap();
        assert!(
            l.files.contains_key("usr/bin/go2.bin"),
            "a link to a kept file is kept"
        );
        assert!(!l.files.contains_key("usr/bin/perl.bin"));
        assert_eq!(
            l.warnings,
            vec![
                "hard link \"var/lib/dpkg/status\" → \"usr/bin/perl5.36.0.bin\": skipped: its target is not a selected file of this layer"
                    .to_string()
            ],
            "only the link wanted by name, whose contents are lost, warns"
        );
    }

    #[test]
    fn keeps_selected_files_links_and_whiteouts() {
        let t = build(&[
            ("./", b'5', b"", ""),
            ("./etc/", b'5', b"", ""),
            ("./etc/os-release", b'2', b"", "../usr/lib/os-release"),
            ("./etc/passwd", b'0', b"root", ""),
            ("./usr/lib/os-release", b'0', b"ID=debian\n", ""),
            ("./var/lib/dpkg/status.d/base", b'0', b"Package: base\n", ""),
            (
                "./var/lib/dpkg/status.d/base.hl",
                b'1',
                b"",
                "./var/lib/dpkg/status.d/base",
            ),
            ("./etc/.wh.motd", b'0', b"", ""),
            ("./usr/share/doc/.wh..wh..opq", b'0', b"", ""),
            ("./.wh..wh.plnk", b'5', b"", ""),
        ]);
        let l = run(&t, ExtractLimits::default());
        assert_eq!(l.open("etc/os-release").unwrap().data, b"ID=debian\n");
        assert!(!l.files.contains_key("etc/passwd"), "not selected");
        assert_eq!(
            l.list_dir("var/lib/dpkg/status.d"),
            vec![
                "var/lib/dpkg/status.d/base",
                "var/lib/dpkg/status.d/base.hl"
            ]
        );
        assert!(l.whiteouts.contains("etc/motd"));
        assert!(l.opaque_dirs.contains("usr/share/doc"));
        assert_eq!(l.whiteouts.len(), 1, "aufs metadata is not a whiteout");
        assert!(l.dirs.contains("etc"));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    /// Set a member's permission bits in a built archive (and fix the header checksum).
    fn set_mode(t: &mut [u8], member: &str, mode: &[u8; 8]) {
        let mut off = 0;
        while off + 512 <= t.len() {
            let name_end = t[off..off + 100]
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(100);
            let size = std::str::from_utf8(&t[off + 124..off + 135])
                .ok()
                .and_then(|s| {
                    u64::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok()
                })
                .unwrap_or(0);
            if &t[off..off + name_end] == member.as_bytes() {
                t[off + 100..off + 108].copy_from_slice(mode);
                t[off + 148..off + 156].copy_from_slice(b"        ");
                let sum: u32 = t[off..off + 512].iter().map(|&b| u32::from(b)).sum();
                t[off + 148..off + 156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
                return;
            }
            off += 512 + (size as usize).div_ceil(512) * 512;
        }
        panic!("no member {member}");
    }

    #[test]
    fn patterns_select_by_name_mode_and_contents() {
        let mut t = build(&[
            (
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
                b'0',
                b"Name: six\n",
                "",
            ),
            (
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD",
                b'0',
                b"x",
                "",
            ),
            ("app/server", b'0', b"\x7fELF...\xff Go buildinf:...", ""),
            ("app/script.sh", b'0', b"#!/bin/sh\n", ""),
            (
                "app/data.bin",
                b'0',
                b"\xff Go buildinf: but not executable",
                "",
            ),
        ]);
        set_mode(&mut t, "app/server", b"0000755\0");
        set_mode(&mut t, "app/script.sh", b"0000755\0");
        let mut s = FileSelector::new();
        s.pattern(crate::contents::PathPattern {
            file_name: Some("METADATA".into()),
            parent_suffix: Some(".dist-info".into()),
            ..Default::default()
        })
        .pattern(crate::contents::PathPattern {
            executable: true,
            contains: Some(b"\xff Go buildinf:".to_vec()),
            ..Default::default()
        });
        let mut r = TarReader::new(StreamSkip(&t[..]), ExtractLimits::default().tar);
        let l = extract(&mut r, &s, &ExtractLimits::default()).unwrap();
        assert_eq!(
            l.paths(),
            vec![
                "app/server",
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"
            ],
            "the executable without the marker, the marker in a non-executable and RECORD are dropped"
        );
    }

    #[test]
    fn files_read_by_offset_are_spooled_above_the_threshold() {
        let body = [
            vec![0u8; 5000],
            b"\xff Go buildinf:".to_vec(),
            vec![1u8; 5000],
        ]
        .concat();
        let mut t = build(&[
            ("app/big", b'0', &body, ""),
            ("app/big-link", b'1', b"", "app/big"),
            ("app/small", b'0', b"\xff Go buildinf:", ""),
            ("app/big-other", b'0', &vec![2u8; 9000], ""),
        ]);
        for m in ["app/big", "app/small", "app/big-other"] {
            set_mode(&mut t, m, b"0000755\0");
        }
        let mut s = FileSelector::new();
        s.pattern(crate::contents::PathPattern {
            executable: true,
            contains: Some(b"\xff Go buildinf:".to_vec()),
            by_offset: true,
            ..Default::default()
        });
        let limits = ExtractLimits {
            spool_above: 1000,
            // No memory limit applies to spooled files.
            max_file_size: 100,
            ..ExtractLimits::default()
        };
        let mut r = TarReader::new(StreamSkip(&t[..]), limits.tar);
        let l = extract(&mut r, &s, &limits).unwrap();
        assert_eq!(l.paths(), vec!["app/big", "app/big-link", "app/small"]);
        assert!(
            l.files.contains_key("app/small"),
            "small files stay in memory"
        );
        let big = l.open("app/big").unwrap();
        assert!(big.data.is_empty());
        let big = big.large.expect("spooled");
        assert_eq!(big.len(), body.len() as u64);
        assert_eq!(big.find(b"\xff Go buildinf:", 2).unwrap(), vec![5000]);
        assert_eq!(l.open("app/big-link").unwrap().large, Some(big));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let mut elided = l.clone();
        elided.elide(|_| true);
        assert!(
            elided.large.is_empty(),
            "spooled files are never kept with the results"
        );
        assert!(elided.elided.contains("app/big"));
    }

    #[test]
    fn traversal_and_oversized_files_are_skipped_with_warnings() {
        let t = build(&[
            ("../../etc/os-release", b'0', b"ID=evil\n", ""),
            ("usr/lib/../../../etc/os-release", b'0', b"ID=evil\n", ""),
            ("/var/lib/dpkg/status", b'0', &[b'x'; 2000], ""),
            ("/etc/os-release", b'0', b"ID=ok\n", ""),
        ]);
        let limits = ExtractLimits {
            max_file_size: 1000,
            ..ExtractLimits::default()
        };
        let l = run(&t, limits);
        assert_eq!(l.open("etc/os-release").unwrap().data, b"ID=ok\n");
        assert!(l.open("var/lib/dpkg/status").is_none());
        assert_eq!(l.warnings.len(), 3, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("climbs out"), "{}", l.warnings[0]);
        assert!(
            l.warnings[2].contains("limit per file"),
            "{}",
            l.warnings[2]
        );
    }

    #[test]
    fn later_member_replaces_earlier_in_same_layer() {
        let t = build(&[
            ("etc/os-release", b'0', b"ID=first\n", ""),
            ("etc/os-release", b'2', b"", "../usr/lib/os-release"),
            ("usr/lib/os-release", b'0', b"ID=second\n", ""),
        ]);
        let l = run(&t, ExtractLimits::default());
        assert!(!l.files.contains_key("etc/os-release"));
        assert_eq!(l.open("etc/os-release").unwrap().data, b"ID=second\n");
    }
}
