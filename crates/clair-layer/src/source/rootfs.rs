//! Unpacked root filesystems (`dir:PATH`), read in place.
//!
//! Only the files scanners select are opened, so `dir:/` on a live machine is cheap. Symlinks
//! are resolved by hand inside the root (never by the operating system), so a link like
//! `etc/os-release -> /usr/lib/os-release` stays inside `PATH` and nothing outside it is read.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::contents::{FileSelector, LayerContents};
use crate::error::{Error, Result};
use crate::extract::ExtractLimits;
use crate::path::{self, resolve_in_root};
use crate::source::{Image, ImageFormat, ImageLayer, LayerSource};
use crate::spool::LargeFile;

pub(crate) fn open(root: &Path) -> Result<Image> {
    let meta = fs::metadata(root).map_err(|e| Error::io(root.display(), e))?;
    if !meta.is_dir() {
        return Err(Error::Image(format!("{}: not a directory", root.display())));
    }
    Ok(Image {
        reference: root.display().to_string(),
        format: ImageFormat::Rootfs,
        manifest_digest: None,
        layers: vec![ImageLayer {
            digest: None,
            media_type: None,
            source: LayerSource::Rootfs(root.to_path_buf()),
        }],
        platform: None,
        _temp: None,
    })
}

/// Read the files `selector` wants from the root filesystem at `root`.
pub fn read_rootfs(
    root: &Path,
    selector: &FileSelector,
    limits: &ExtractLimits,
) -> Result<LayerContents> {
    let links: RefCell<BTreeMap<String, String>> = RefCell::new(BTreeMap::new());
    let link_of = |p: &str| -> Option<String> {
        let full = root.join(p);
        let meta = fs::symlink_metadata(&full).ok()?;
        if !meta.file_type().is_symlink() {
            return None;
        }
        let target = fs::read_link(&full).ok()?.to_string_lossy().into_owned();
        links.borrow_mut().insert(p.to_string(), target.clone());
        Some(target)
    };
    let mut out = LayerContents::default();
    let mut kept = 0u64;
    let mut wanted: Vec<String> = selector.exact_paths().map(str::to_string).collect();
    for dir in selector.dirs() {
        let Some(real) = resolve_in_root(dir, true, link_of) else {
            continue;
        };
        let Ok(rd) = fs::read_dir(root.join(&real)) else {
            continue;
        };
        for entry in rd.flatten() {
            wanted.push(path::join(dir, &entry.file_name().to_string_lossy()));
        }
    }
    let mut pattern_only = BTreeMap::new();
    if selector.has_patterns() {
        walk(
            root,
            &mut |rel, mode, size| {
                if selector.wants_file(rel, mode, size) {
                    pattern_only.insert(rel.to_string(), mode);
                }
            },
            &mut out.warnings,
        );
        wanted.extend(pattern_only.keys().cloned());
    }
    wanted.sort();
    wanted.dedup();
    for p in wanted {
        let Some(real) = resolve_in_root(&p, true, link_of) else {
            out.warnings
                .push(format!("{p}: skipped: too many levels of symbolic links"));
            continue;
        };
        let full = root.join(&real);
        let Ok(meta) = fs::symlink_metadata(&full) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let mode = pattern_only.get(&p).copied().unwrap_or(0o644);
        // Files read by offset stay where they are: searched for their marker in chunks,
        // never held in memory.
        if let Some(needles) = selector
            .offset_needles(&p, mode, meta.len())
            .or_else(|| selector.offset_needles(&real, mode, meta.len()))
        {
            let big = LargeFile::OnDisk(crate::blob::FileRange {
                path: Arc::new(full.clone()),
                offset: 0,
                len: meta.len(),
            });
            match big.contains_any(&needles) {
                Ok(true) => out.add_large(real, big),
                Ok(false) => {}
                Err(e) => out.warnings.push(format!("{real}: skipped: {e}")),
            }
            continue;
        }
        if meta.len() > limits.max_file_size || kept + meta.len() > limits.max_layer_selected {
            out.warnings.push(format!(
                "{real}: skipped: {} bytes is over the size limit",
                meta.len()
            ));
            continue;
        }
        let mut data = Vec::with_capacity(meta.len() as usize);
        let read = fs::File::open(&full)
            .and_then(|f| f.take(limits.max_file_size + 1).read_to_end(&mut data));
        match read {
            Ok(_) if !selector.keeps(&p, mode, &data) && !selector.keeps(&real, mode, &data) => {}
            Ok(_) if data.len() as u64 <= limits.max_file_size => {
                kept += data.len() as u64;
                out.add_file(real, Arc::from(data));
            }
            Ok(_) => out
                .warnings
                .push(format!("{real}: skipped: grew over the size limit")),
            Err(e) => out.warnings.push(format!("{real}: skipped: {e}")),
        }
    }
    for (p, t) in links.into_inner() {
        out.symlinks.insert(p, t);
    }
    Ok(out)
}

/// Most entries a root filesystem walk visits before it stops (with a warning).
const MAX_WALK: usize = 5_000_000;

/// Visit every regular file under `root` (relative path, permission bits, size), without
/// following symlinks or leaving the root's filesystem (so `dir:/` skips /proc, /sys, …).
fn walk(root: &Path, visit: &mut dyn FnMut(&str, u32, u64), warnings: &mut Vec<String>) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(top) = fs::symlink_metadata(root) else {
        return;
    };
    let dev = top.dev();
    let mut stack = vec![String::new()];
    let mut seen = 0usize;
    while let Some(rel) = stack.pop() {
        let Ok(rd) = fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in rd.flatten() {
            seen += 1;
            if seen > MAX_WALK {
                warnings.push(format!(
                    "{}: stopped looking for language packages after {MAX_WALK} entries",
                    root.display()
                ));
                return;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = path::join(&rel, &name);
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if meta.dev() == dev {
                    stack.push(child);
                }
            } else if meta.is_file() {
                visit(&child, meta.permissions().mode(), meta.len());
            }
        }
    }
}
