//! What a layer holds that scanners care about.
//!
//! A layer is read once, as a stream. Only the files some scanner asked for (a [`FileSelector`])
//! are kept in memory, together with the layer's symlinks, directories, whiteouts and opaque
//! directories: everything [`crate::Stack`] needs to compute the final filesystem the way a
//! container runtime does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::path::{self, resolve_in_root};
use crate::spool::LargeFile;

/// The files scanners want to read: exact paths, "every file directly in this directory", and
/// [`PathPattern`]s for files found anywhere (language packages).
///
/// Paths are clean and relative (`etc/os-release`, not `/etc/os-release`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSelector {
    exact: BTreeSet<String>,
    children_of: BTreeSet<String>,
    #[serde(default)]
    patterns: BTreeSet<PathPattern>,
}

/// Files wanted wherever they are. Every constraint given must hold.
///
/// ```
/// use clair_layer::{FileSelector, PathPattern};
/// let mut s = FileSelector::new();
/// s.pattern(PathPattern { file_name: Some("METADATA".into()), parent_suffix: Some(".dist-info".into()), ..Default::default() });
/// assert!(s.wants("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PathPattern {
    /// The file name equals this (`package.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The file name ends with this (`.jar`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// The parent directory's name ends with this (`.dist-info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_suffix: Option<String>,
    /// Some ancestor directory is named this (`node_modules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancestor: Option<String>,
    /// The file is executable (any `x` bit; layers and root filesystems only know this).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
    /// The contents contain these bytes (checked after reading; files without them are
    /// dropped at once, so only matching ones stay in memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<Vec<u8>>,
    /// The file is at most this big (0: the reader's own limit).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_size: u64,
    /// The scanner reads the file by offset ([`FileRef::large`]), so a big one is spooled
    /// to a temporary file (or read in place from a root filesystem) rather than held in
    /// memory, whatever its size ([`crate::spool`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_offset: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl PathPattern {
    /// Whether a file at `path` (clean, relative) with permission bits `mode` may match;
    /// [`Self::contains`] is checked separately on the contents.
    pub fn matches_path(&self, path: &str, mode: u32, size: u64) -> bool {
        let name = path::file_name(path);
        let parent = path::parent(path);
        self.file_name.as_ref().is_none_or(|f| f == name)
            && self
                .name_suffix
                .as_ref()
                .is_none_or(|s| name.ends_with(s.as_str()))
            && self
                .parent_suffix
                .as_ref()
                .is_none_or(|s| path::file_name(parent).ends_with(s.as_str()))
            && self
                .ancestor
                .as_ref()
                .is_none_or(|a| parent.split('/').any(|c| c == a))
            && (!self.executable || mode & 0o111 != 0)
            && (self.max_size == 0 || size <= self.max_size)
    }

    /// Whether the contents qualify.
    pub fn matches_data(&self, data: &[u8]) -> bool {
        match &self.contains {
            None => true,
            Some(needle) if needle.is_empty() => true,
            Some(needle) => memchr::memmem::find(data, needle).is_some(),
        }
    }
}

impl FileSelector {
    /// An empty selector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Want the file at `path`.
    pub fn file(&mut self, path: &str) -> &mut Self {
        self.exact.insert(path.trim_matches('/').to_string());
        self
    }

    /// Want every file directly inside `dir` (not in its subdirectories).
    pub fn dir_children(&mut self, dir: &str) -> &mut Self {
        self.children_of.insert(dir.trim_matches('/').to_string());
        self
    }

    /// Want files matching `pattern`, wherever they are.
    pub fn pattern(&mut self, pattern: PathPattern) -> &mut Self {
        self.patterns.insert(pattern);
        self
    }

    /// Add everything `other` wants.
    pub fn merge(&mut self, other: &FileSelector) {
        self.exact.extend(other.exact.iter().cloned());
        self.children_of.extend(other.children_of.iter().cloned());
        self.patterns.extend(other.patterns.iter().cloned());
    }

    /// Does a scanner want the file at this clean path (by path alone: a file only a pattern
    /// wants may still need [`Self::wants_file`])?
    pub fn wants(&self, path: &str) -> bool {
        self.exact.contains(path)
            || self.children_of.contains(path::parent(path))
            || self.patterns.iter().any(|p| p.matches_path(path, 0o777, 0))
    }

    /// Is this path wanted by name (an exact path or a child of a selected directory), whatever
    /// its contents?
    pub fn wants_by_name(&self, path: &str) -> bool {
        self.exact.contains(path) || self.children_of.contains(path::parent(path))
    }

    /// Does a scanner want this file, knowing its permission bits and size? The answer for
    /// pattern-only files is provisional until [`Self::keeps`] has seen the contents.
    pub fn wants_file(&self, path: &str, mode: u32, size: u64) -> bool {
        self.exact.contains(path)
            || self.children_of.contains(path::parent(path))
            || self
                .patterns
                .iter()
                .any(|p| p.matches_path(path, mode, size))
    }

    /// Whether to keep a file read because [`Self::wants_file`] said so: exact and directory
    /// selections always; pattern selections when some matching pattern accepts the contents.
    pub fn keeps(&self, path: &str, mode: u32, data: &[u8]) -> bool {
        self.exact.contains(path)
            || self.children_of.contains(path::parent(path))
            || self
                .patterns
                .iter()
                .any(|p| p.matches_path(path, mode, data.len() as u64) && p.matches_data(data))
    }

    /// When every selection wanting this file reads it by offset: the marker bytes its
    /// contents must hold (empty: none needed). `None` when some selection wants it in
    /// memory, or none wants it.
    pub fn offset_needles(&self, path: &str, mode: u32, size: u64) -> Option<Vec<Vec<u8>>> {
        if self.exact.contains(path) || self.children_of.contains(path::parent(path)) {
            return None;
        }
        let matching: Vec<&PathPattern> = self
            .patterns
            .iter()
            .filter(|p| p.matches_path(path, mode, size))
            .collect();
        if matching.is_empty() || matching.iter().any(|p| !p.by_offset) {
            return None;
        }
        if matching
            .iter()
            .any(|p| p.contains.as_ref().is_none_or(Vec::is_empty))
        {
            return Some(Vec::new());
        }
        Some(matching.iter().filter_map(|p| p.contains.clone()).collect())
    }

    /// Whether any pattern is selected (a root filesystem must then be walked whole).
    pub fn has_patterns(&self) -> bool {
        !self.patterns.is_empty()
    }

    /// The exact paths wanted.
    pub fn exact_paths(&self) -> impl Iterator<Item = &str> {
        self.exact.iter().map(String::as_str)
    }

    /// The directories whose files are wanted.
    pub fn dirs(&self) -> impl Iterator<Item = &str> {
        self.children_of.iter().map(String::as_str)
    }

    /// A stable fingerprint of what is selected (part of the layer cache key).
    pub fn fingerprint(&self) -> String {
        let mut s = String::new();
        for p in &self.exact {
            s.push_str("f:");
            s.push_str(p);
            s.push('\n');
        }
        for p in &self.children_of {
            s.push_str("d:");
            s.push_str(p);
            s.push('\n');
        }
        for p in &self.patterns {
            s.push_str("p:");
            s.push_str(&serde_json::to_string(p).unwrap_or_default());
            s.push('\n');
        }
        clair_types::Digest::sha256_of(s.as_bytes()).to_string()
    }
}

/// A file read from an image: its canonical path (symlinks resolved) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    /// Canonical path inside the image (no symlinks), without a leading `/`.
    pub path: &'a str,
    /// Contents, when held in memory (empty for a [`Self::large`] file).
    pub data: &'a [u8],
    /// A big file of a scanner that reads by offset ([`PathPattern::by_offset`]), spooled or
    /// on disk; `data` is then empty.
    pub large: Option<&'a LargeFile>,
}

/// Read access to the selected files of a layer or of a whole image.
///
/// Implementations resolve symlinks inside the image root only ([`path::resolve_in_root`]).
pub trait FileView {
    /// The regular file at `path` (symlinks followed), if it exists and was selected.
    fn open(&self, path: &str) -> Option<FileRef<'_>>;

    /// Canonical paths of the selected regular files directly inside `dir` (after resolving
    /// symlinks in `dir` itself), sorted.
    fn list_dir(&self, dir: &str) -> Vec<String>;

    /// Canonical paths of every readable selected regular file, sorted (for scanners that
    /// select by [`PathPattern`]).
    fn paths(&self) -> Vec<String>;
}

/// The scanner-relevant contents of one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerContents {
    /// Selected regular files and their contents.
    pub files: BTreeMap<String, Arc<[u8]>>,
    /// Every symlink in the layer: path → raw target.
    pub symlinks: BTreeMap<String, String>,
    /// Every directory entry in the layer.
    pub dirs: BTreeSet<String>,
    /// Paths deleted from lower layers (`.wh.NAME`).
    pub whiteouts: BTreeSet<String>,
    /// Directories whose lower-layer contents are hidden (`.wh..wh..opq`).
    pub opaque_dirs: BTreeSet<String>,
    /// Selected files read by offset and too big for memory ([`crate::spool`]); never
    /// stored with the layer's results.
    #[serde(skip)]
    pub large: BTreeMap<String, LargeFile>,
    /// Selected regular files whose bytes were dropped after scanning ([`Self::elide`]): still
    /// present in the layer for stacking, but not readable.
    #[serde(default)]
    pub elided: BTreeSet<String>,
    /// Problems met while reading the layer that did not stop it (skipped entries and why).
    pub warnings: Vec<String>,
}

impl LayerContents {
    /// Record a regular file (replacing whatever this layer had at that path).
    pub fn add_file(&mut self, path: String, data: Arc<[u8]>) {
        self.symlinks.remove(&path);
        self.dirs.remove(&path);
        self.large.remove(&path);
        self.files.insert(path, data);
    }

    /// Record a big regular file read by offset (replacing whatever this layer had there).
    pub fn add_large(&mut self, path: String, file: LargeFile) {
        self.symlinks.remove(&path);
        self.dirs.remove(&path);
        self.files.remove(&path);
        self.large.insert(path, file);
    }

    /// Drop the bytes of files `keep` rejects, remembering that they exist. Large files are
    /// always dropped (they are not stored).
    pub fn elide(&mut self, keep: impl Fn(&str) -> bool) {
        let dropped: Vec<String> = self.files.keys().filter(|p| !keep(p)).cloned().collect();
        for p in dropped {
            self.files.remove(&p);
            self.elided.insert(p);
        }
        for (p, _) in std::mem::take(&mut self.large) {
            self.elided.insert(p);
        }
    }

    /// Record a symlink (replacing whatever this layer had at that path).
    pub fn add_symlink(&mut self, path: String, target: String) {
        self.files.remove(&path);
        self.large.remove(&path);
        self.dirs.remove(&path);
        self.symlinks.insert(path, target);
    }

    /// Record a directory.
    pub fn add_dir(&mut self, path: String) {
        if path.is_empty() {
            return;
        }
        self.files.remove(&path);
        self.large.remove(&path);
        self.symlinks.remove(&path);
        self.dirs.insert(path);
    }

    /// Record a path this layer does not hold but whose older version it removes: a regular file
    /// that was not selected. It still hides a lower symlink or file at the same path.
    pub fn shadow(&mut self, path: &str) {
        // Only matters if this layer recorded something at that path earlier in the tar.
        self.files.remove(path);
        self.large.remove(path);
        self.symlinks.remove(path);
    }

    /// A digest of everything recorded (files with their contents, links, whiteouts), used to
    /// name a root filesystem, which has no digest of its own.
    pub fn content_digest(&self) -> clair_types::Digest {
        let mut h = clair_types::Sha256Writer::new();
        for (p, d) in &self.files {
            h.update(format!("f {} {}\n", p.len(), d.len()).as_bytes());
            h.update(p.as_bytes());
            h.update(d);
        }
        for (p, f) in &self.large {
            h.update(format!("f {} {}\n", p.len(), f.len()).as_bytes());
            h.update(p.as_bytes());
            // An unreadable file is named by its path and length alone.
            let _ = f.for_each_chunk(|c| h.update(c));
        }
        for (p, t) in &self.symlinks {
            h.update(format!("l {} {}\n", p.len(), t.len()).as_bytes());
            h.update(p.as_bytes());
            h.update(t.as_bytes());
        }
        for p in &self.whiteouts {
            h.update(format!("w {}\n", p.len()).as_bytes());
            h.update(p.as_bytes());
        }
        for p in &self.opaque_dirs {
            h.update(format!("o {}\n", p.len()).as_bytes());
            h.update(p.as_bytes());
        }
        h.finish()
    }

    /// Bytes held in memory for selected files.
    pub fn selected_bytes(&self) -> u64 {
        self.files.values().map(|d| d.len() as u64).sum()
    }

    /// The selected regular file at exactly `path` (no symlinks followed), in memory or large.
    pub fn file_at(&self, path: &str) -> Option<FileRef<'_>> {
        if let Some((k, v)) = self.large.get_key_value(path) {
            return Some(FileRef {
                path: k,
                data: &[],
                large: Some(v),
            });
        }
        let (k, v) = self.files.get_key_value(path)?;
        Some(FileRef {
            path: k,
            data: v,
            large: None,
        })
    }

    fn resolve(&self, path: &str, follow_last: bool) -> Option<String> {
        resolve_in_root(path, follow_last, |p| {
            self.symlinks.get(p).map(String::as_str)
        })
    }
}

impl FileView for LayerContents {
    fn open(&self, path: &str) -> Option<FileRef<'_>> {
        let real = self.resolve(path, true)?;
        self.file_at(&real)
    }

    fn list_dir(&self, dir: &str) -> Vec<String> {
        let Some(real) = self.resolve(dir, true) else {
            return Vec::new();
        };
        let prefix = if real.is_empty() {
            String::new()
        } else {
            format!("{real}/")
        };
        let mut out: Vec<String> = self
            .files
            .range(prefix.clone()..)
            .map(|(k, _)| k)
            .chain(self.large.range(prefix.clone()..).map(|(k, _)| k))
            .filter(|k| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .cloned()
            .collect();
        out.sort();
        out
    }

    fn paths(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .files
            .keys()
            .chain(self.large.keys())
            .cloned()
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_matches_exact_and_children() {
        let mut s = FileSelector::new();
        s.file("/var/lib/dpkg/status")
            .dir_children("var/lib/dpkg/status.d/");
        assert!(s.wants("var/lib/dpkg/status"));
        assert!(s.wants("var/lib/dpkg/status.d/base"));
        assert!(!s.wants("var/lib/dpkg/status.d/sub/base"));
        assert!(!s.wants("var/lib/dpkg/status-old"));
        let mut t = FileSelector::new();
        t.file("etc/os-release");
        let before = s.fingerprint();
        s.merge(&t);
        assert!(s.wants("etc/os-release"));
        assert_ne!(before, s.fingerprint());
    }

    #[test]
    fn layer_view_follows_links_inside_the_layer() {
        let mut l = LayerContents::default();
        l.add_file("usr/lib/os-release".into(), Arc::from(&b"ID=debian\n"[..]));
        l.add_symlink("etc/os-release".into(), "../usr/lib/os-release".into());
        let f = l.open("etc/os-release").unwrap();
        assert_eq!(f.path, "usr/lib/os-release");
        assert_eq!(f.data, b"ID=debian\n");
        assert!(l.open("etc/lsb-release").is_none());
        l.add_file("var/lib/dpkg/status.d/a".into(), Arc::from(&b"x"[..]));
        l.add_file("var/lib/dpkg/status.d/b".into(), Arc::from(&b"y"[..]));
        l.add_file("var/lib/dpkg/status.d/sub/c".into(), Arc::from(&b"z"[..]));
        assert_eq!(
            l.list_dir("var/lib/dpkg/status.d"),
            vec!["var/lib/dpkg/status.d/a", "var/lib/dpkg/status.d/b"]
        );
    }
}
