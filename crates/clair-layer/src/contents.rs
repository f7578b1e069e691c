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

/// The files scanners want to read, as exact paths and as "every file directly in this directory".
///
/// Paths are clean and relative (`etc/os-release`, not `/etc/os-release`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSelector {
    exact: BTreeSet<String>,
    children_of: BTreeSet<String>,
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

    /// Add everything `other` wants.
    pub fn merge(&mut self, other: &FileSelector) {
        self.exact.extend(other.exact.iter().cloned());
        self.children_of.extend(other.children_of.iter().cloned());
    }

    /// Does a scanner want the file at this clean path?
    pub fn wants(&self, path: &str) -> bool {
        self.exact.contains(path) || self.children_of.contains(path::parent(path))
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
        clair_types::Digest::sha256_of(s.as_bytes()).to_string()
    }
}

/// A file read from an image: its canonical path (symlinks resolved) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    /// Canonical path inside the image (no symlinks), without a leading `/`.
    pub path: &'a str,
    /// Contents.
    pub data: &'a [u8],
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
        self.files.insert(path, data);
    }

    /// Drop the bytes of files `keep` rejects, remembering that they exist.
    pub fn elide(&mut self, keep: impl Fn(&str) -> bool) {
        let dropped: Vec<String> = self.files.keys().filter(|p| !keep(p)).cloned().collect();
        for p in dropped {
            self.files.remove(&p);
            self.elided.insert(p);
        }
    }

    /// Record a symlink (replacing whatever this layer had at that path).
    pub fn add_symlink(&mut self, path: String, target: String) {
        self.files.remove(&path);
        self.dirs.remove(&path);
        self.symlinks.insert(path, target);
    }

    /// Record a directory.
    pub fn add_dir(&mut self, path: String) {
        if path.is_empty() {
            return;
        }
        self.files.remove(&path);
        self.symlinks.remove(&path);
        self.dirs.insert(path);
    }

    /// Record a path this layer does not hold but whose older version it removes: a regular file
    /// that was not selected. It still hides a lower symlink or file at the same path.
    pub fn shadow(&mut self, path: &str) {
        // Only matters if this layer recorded something at that path earlier in the tar.
        self.files.remove(path);
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

    fn resolve(&self, path: &str, follow_last: bool) -> Option<String> {
        resolve_in_root(path, follow_last, |p| {
            self.symlinks.get(p).map(String::as_str)
        })
    }
}

impl FileView for LayerContents {
    fn open(&self, path: &str) -> Option<FileRef<'_>> {
        let real = self.resolve(path, true)?;
        let (k, v) = self.files.get_key_value(real.as_str())?;
        Some(FileRef { path: k, data: v })
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
        self.files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .map(|(k, _)| k.clone())
            .collect()
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
