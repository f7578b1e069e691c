//! Path hygiene: every path inside an image is a clean, relative, `/`-separated string.
//!
//! Tar member names come from hostile input. They are normalised once, at the edge: leading `/`
//! and `./` are dropped, `.` and empty components removed, and any `..` component makes the
//! name invalid. Nothing in clair-rs ever writes a member to disk, but a name that climbs out of
//! the root is a sign of a malicious or broken layer and is reported.

/// Why a member name was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadPath {
    /// A `..` component.
    Traversal,
    /// A NUL byte.
    Nul,
}

/// Normalise a tar member name to a clean relative path (`""` is the root).
pub fn clean_member_name(name: &str) -> Result<String, BadPath> {
    if name.contains('\0') {
        return Err(BadPath::Nul);
    }
    let mut out = String::with_capacity(name.len());
    for comp in name.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err(BadPath::Traversal),
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    Ok(out)
}

/// The parent directory of a clean path (`""` for top-level entries).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// The last component of a clean path.
pub fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, n)| n)
}

/// Join a clean directory and a clean relative path.
pub fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else if rel.is_empty() {
        dir.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// Maximum number of symlinks followed while resolving one path (as Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Resolve `path` inside an image root, following symlinks looked up with `link_of`.
///
/// Absolute link targets are relative to the image root and `..` never climbs above it, exactly
/// as `openat2(RESOLVE_IN_ROOT)` does, so a link can never lead outside the image. With
/// `follow_last` false the final component is not followed (like `lstat`). Returns `None` when
/// there are too many links (a loop).
pub fn resolve_in_root<S: AsRef<str>>(
    path: &str,
    follow_last: bool,
    link_of: impl Fn(&str) -> Option<S>,
) -> Option<String> {
    let mut resolved: Vec<String> = Vec::new();
    // Components still to walk, in reverse order (so pop() yields the next one).
    let mut todo: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let mut hops = 0;
    while let Some(comp) = todo.pop() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let is_last = todo.is_empty();
        let candidate = if resolved.is_empty() {
            comp.clone()
        } else {
            format!("{}/{}", resolved.join("/"), comp)
        };
        match link_of(&candidate) {
            Some(target) if follow_last || !is_last => {
                let target = target.as_ref();
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                if target.starts_with('/') {
                    resolved.clear();
                }
                todo.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(str::to_string),
                );
            }
            _ => resolved.push(comp),
        }
    }
    Some(resolved.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn cleans_member_names() {
        assert_eq!(
            clean_member_name("./etc/os-release").unwrap(),
            "etc/os-release"
        );
        assert_eq!(clean_member_name("/etc//passwd").unwrap(), "etc/passwd");
        assert_eq!(
            clean_member_name("usr/share/doc/").unwrap(),
            "usr/share/doc"
        );
        assert_eq!(clean_member_name("./").unwrap(), "");
        assert_eq!(clean_member_name("a/../b"), Err(BadPath::Traversal));
        assert_eq!(
            clean_member_name("../../etc/shadow"),
            Err(BadPath::Traversal)
        );
        assert_eq!(clean_member_name("a\0b"), Err(BadPath::Nul));
        // A name that merely contains dots is fine.
        assert_eq!(clean_member_name("a/..b/c..").unwrap(), "a/..b/c..");
    }

    /// `path` resolved among `links` (path → target), following its last component when
    /// `follow`.
    fn resolve(links: &[(&str, &str)], path: &str, follow: bool) -> Option<String> {
        let l: BTreeMap<&str, &str> = links.iter().copied().collect();
        resolve_in_root(path, follow, |p| l.get(p).copied())
    }

    #[test]
    fn resolves_debian_os_release() {
        let l = [("etc/os-release", "../usr/lib/os-release")];
        let r = resolve(&l, "etc/os-release", true);
        assert_eq!(r.as_deref(), Some("usr/lib/os-release"));
        let r = resolve(&l, "etc/os-release", false);
        assert_eq!(r.as_deref(), Some("etc/os-release"));
    }

    #[test]
    fn never_leaves_the_root() {
        let l = [
            ("etc/os-release", "../../../../../../host/etc/os-release"),
            ("abs", "/../../etc/shadow"),
        ];
        let r = resolve(&l, "etc/os-release", true);
        assert_eq!(r.as_deref(), Some("host/etc/os-release"));
        assert_eq!(resolve(&l, "abs", true).as_deref(), Some("etc/shadow"));
    }

    #[test]
    fn directory_links_and_loops() {
        let l = [
            ("var/lib/rpm", "../../usr/lib/sysimage/rpm"),
            ("lib", "usr/lib"),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
        ];
        let r = resolve(&l, "var/lib/rpm/rpmdb.sqlite", false);
        assert_eq!(r.as_deref(), Some("usr/lib/sysimage/rpm/rpmdb.sqlite"));
        let r = resolve(&l, "lib/os-release", true);
        assert_eq!(r.as_deref(), Some("usr/lib/os-release"));
        assert_eq!(resolve(&l, "loop1", true), None);
        assert_eq!(resolve(&l, "loop1/x", false), None);
    }
}
