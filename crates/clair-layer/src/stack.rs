//! Layer stacking: the final filesystem of an image, as a container runtime sees it.
//!
//! Layers are applied bottom to top with OCI / overlayfs semantics:
//! - `dir/.wh.NAME` deletes `dir/NAME` (and everything under it) from *lower* layers;
//! - `dir/.wh..wh..opq` hides everything lower layers had under `dir`;
//! - an entry replaces whatever lower layers had at its path; a non-directory also hides
//!   everything lower layers had beneath that path, and a directory replaces a lower
//!   non-directory at an ancestor path;
//! - whiteouts of a layer never hide that same layer's entries.
//!
//! Only selected files, symlinks and the structure above are tracked, so a stack of a large
//! image stays small.

use std::collections::BTreeMap;

use crate::contents::{FileRef, FileView, LayerContents};
use crate::path::resolve_in_root;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    File(usize),
    Symlink(usize),
}

/// Layers stacked into one view; push layers bottom first.
#[derive(Debug, Default)]
pub struct Stack<'a> {
    layers: Vec<&'a LayerContents>,
    nodes: BTreeMap<String, Node>,
}

impl<'a> Stack<'a> {
    /// An empty stack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stack all `layers`, bottom first.
    pub fn from_layers(layers: impl IntoIterator<Item = &'a LayerContents>) -> Self {
        let mut s = Self::new();
        for l in layers {
            s.push(l);
        }
        s
    }

    /// Number of layers pushed so far.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when no layer was pushed.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Apply the next layer on top.
    pub fn push(&mut self, layer: &'a LayerContents) {
        let idx = self.layers.len();
        self.layers.push(layer);
        // Whiteouts and opaque markers act on lower layers only, so they go first.
        for w in &layer.whiteouts {
            self.nodes.remove(w);
            self.remove_below(w);
        }
        for o in &layer.opaque_dirs {
            self.remove_below(o);
        }
        for d in &layer.dirs {
            self.nodes.remove(d);
            self.remove_non_dir_ancestors(d);
        }
        for s in layer.symlinks.keys() {
            self.remove_below(s);
            self.remove_non_dir_ancestors(s);
            self.nodes.insert(s.clone(), Node::Symlink(idx));
        }
        for f in layer
            .files
            .keys()
            .chain(layer.large.keys())
            .chain(&layer.elided)
        {
            self.remove_below(f);
            self.remove_non_dir_ancestors(f);
            self.nodes.insert(f.clone(), Node::File(idx));
        }
    }

    /// The index of the layer whose regular file is at exactly `path` in the stacked view
    /// (symlinks are not followed).
    pub fn provider(&self, path: &str) -> Option<usize> {
        match self.nodes.get(path) {
            Some(Node::File(i)) => Some(*i),
            _ => None,
        }
    }

    /// Resolve `path` to its canonical path in the stacked view (symlinks followed, never
    /// leaving the image root).
    pub fn canonical(&self, path: &str) -> Option<String> {
        resolve_in_root(path, true, |p| self.link_target(p))
    }

    fn link_target(&self, p: &str) -> Option<&'a str> {
        match self.nodes.get(p) {
            Some(Node::Symlink(i)) => self.layers[*i].symlinks.get(p).map(String::as_str),
            _ => None,
        }
    }

    fn remove_below(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    fn remove_non_dir_ancestors(&mut self, path: &str) {
        let mut end = 0;
        while let Some(pos) = path[end..].find('/') {
            let ancestor = &path[..end + pos];
            self.nodes.remove(ancestor);
            end += pos + 1;
        }
    }
}

impl FileView for Stack<'_> {
    fn open(&self, path: &str) -> Option<FileRef<'_>> {
        let real = self.canonical(path)?;
        let Some(Node::File(i)) = self.nodes.get(real.as_str()) else {
            return None;
        };
        self.layers[*i].file_at(&real)
    }

    fn list_dir(&self, dir: &str) -> Vec<String> {
        let Some(real) = self.canonical(dir) else {
            return Vec::new();
        };
        let prefix = if real.is_empty() {
            String::new()
        } else {
            format!("{real}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, n)| !k[prefix.len()..].contains('/') && matches!(n, Node::File(_)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn paths(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(k, n)| match n {
                Node::File(i) => {
                    self.layers[*i].files.contains_key(k.as_str())
                        || self.layers[*i].large.contains_key(k.as_str())
                }
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn file(l: &mut LayerContents, p: &str, d: &str) {
        l.add_file(p.to_string(), Arc::from(d.as_bytes()));
    }

    #[test]
    fn upper_layers_override_and_whiteout() {
        let mut l1 = LayerContents::default();
        file(&mut l1, "usr/lib/os-release", "ID=debian\nVERSION_ID=11\n");
        l1.add_symlink("etc/os-release".into(), "../usr/lib/os-release".into());
        file(&mut l1, "etc/motd", "hi");
        file(&mut l1, "usr/share/doc/a/copyright", "a");
        let mut l2 = LayerContents::default();
        file(&mut l2, "usr/lib/os-release", "ID=debian\nVERSION_ID=12\n");
        l2.whiteouts.insert("etc/motd".into());
        l2.opaque_dirs.insert("usr/share/doc".into());
        file(&mut l2, "usr/share/doc/README", "r");
        let s = Stack::from_layers([&l1, &l2]);
        let f = s.open("etc/os-release").unwrap();
        assert_eq!(f.data, b"ID=debian\nVERSION_ID=12\n");
        assert_eq!(s.provider("usr/lib/os-release"), Some(1));
        assert!(s.open("etc/motd").is_none());
        assert!(s.open("usr/share/doc/a/copyright").is_none());
        assert_eq!(s.list_dir("usr/share/doc"), vec!["usr/share/doc/README"]);
    }

    #[test]
    fn whiteout_does_not_hide_same_layer() {
        let mut l1 = LayerContents::default();
        file(&mut l1, "var/lib/dpkg/status", "old");
        let mut l2 = LayerContents::default();
        l2.whiteouts.insert("var/lib/dpkg/status".into());
        file(&mut l2, "var/lib/dpkg/status", "new");
        let s = Stack::from_layers([&l1, &l2]);
        assert_eq!(s.open("var/lib/dpkg/status").unwrap().data, b"new");
        assert_eq!(s.provider("var/lib/dpkg/status"), Some(1));
    }

    #[test]
    fn whiteout_of_directory_removes_subtree() {
        let mut l1 = LayerContents::default();
        file(&mut l1, "var/lib/dpkg/status.d/base", "x");
        let mut l2 = LayerContents::default();
        l2.whiteouts.insert("var/lib/dpkg".into());
        let s = Stack::from_layers([&l1, &l2]);
        assert!(s.list_dir("var/lib/dpkg/status.d").is_empty());
        assert_eq!(s.provider("var/lib/dpkg/status.d/base"), None);
    }

    #[test]
    fn symlink_replaced_by_directory() {
        let mut l1 = LayerContents::default();
        l1.add_symlink("var/lib/rpm".into(), "../../usr/lib/sysimage/rpm".into());
        file(&mut l1, "usr/lib/sysimage/rpm/rpmdb.sqlite", "a");
        let s = Stack::from_layers([&l1]);
        assert_eq!(s.open("var/lib/rpm/rpmdb.sqlite").unwrap().data, b"a");
        let mut l2 = LayerContents::default();
        l2.add_dir("var/lib/rpm".into());
        let s = Stack::from_layers([&l1, &l2]);
        assert!(s.open("var/lib/rpm/rpmdb.sqlite").is_none());
        // A file below a lower symlink's path replaces the symlink with a directory.
        let mut l3 = LayerContents::default();
        file(&mut l3, "var/lib/rpm/Packages", "b");
        let s = Stack::from_layers([&l1, &l3]);
        assert_eq!(s.open("var/lib/rpm/Packages").unwrap().data, b"b");
        assert!(s.open("var/lib/rpm/rpmdb.sqlite").is_none());
    }

    #[test]
    fn file_replaced_by_symlink_and_back() {
        let mut l1 = LayerContents::default();
        file(&mut l1, "etc/os-release", "ID=a\n");
        file(&mut l1, "usr/lib/os-release", "ID=b\n");
        let mut l2 = LayerContents::default();
        l2.add_symlink("etc/os-release".into(), "/usr/lib/os-release".into());
        let s = Stack::from_layers([&l1, &l2]);
        assert_eq!(s.open("etc/os-release").unwrap().data, b"ID=b\n");
        assert_eq!(s.provider("etc/os-release"), None);
        let mut l3 = LayerContents::default();
        file(&mut l3, "etc/os-release", "ID=c\n");
        let s = Stack::from_layers([&l1, &l2, &l3]);
        assert_eq!(s.open("etc/os-release").unwrap().data, b"ID=c\n");
    }

    #[test]
    fn elided_files_still_provide_their_path() {
        let mut l1 = LayerContents::default();
        file(&mut l1, "var/lib/dpkg/status", "big");
        file(&mut l1, "etc/os-release", "ID=debian\n");
        l1.elide(|p| p.starts_with("etc/"));
        assert!(l1.elided.contains("var/lib/dpkg/status"));
        let mut l2 = LayerContents::default();
        file(&mut l2, "etc/motd", "x");
        let s = Stack::from_layers([&l1, &l2]);
        assert_eq!(s.provider("var/lib/dpkg/status"), Some(0));
        assert!(s.open("var/lib/dpkg/status").is_none(), "bytes are gone");
        assert_eq!(s.open("etc/os-release").unwrap().data, b"ID=debian\n");
        let mut l3 = LayerContents::default();
        l3.whiteouts.insert("var/lib/dpkg".into());
        let s = Stack::from_layers([&l1, &l2, &l3]);
        assert_eq!(s.provider("var/lib/dpkg/status"), None);
    }

    #[test]
    fn escaping_links_stay_inside() {
        let mut l1 = LayerContents::default();
        l1.add_symlink("etc/os-release".into(), "../../../../etc/os-release".into());
        file(&mut l1, "etc/passwd", "root");
        let s = Stack::from_layers([&l1]);
        // ../../../../etc/os-release from etc/ clamps at the root: etc/os-release again → loop.
        assert!(s.open("etc/os-release").is_none());
        let mut l2 = LayerContents::default();
        l2.add_symlink("x".into(), "/../../etc/passwd".into());
        let s = Stack::from_layers([&l1, &l2]);
        assert_eq!(s.open("x").unwrap().data, b"root");
    }
}
