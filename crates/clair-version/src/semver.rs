//! Semantic Versioning 2.0 precedence (npm, crates.io) and Go module versions
//! (`golang.org/x/mod/semver`: a `v` prefix, `v1` and `v1.2` shorthands, pseudo-versions are
//! prereleases, `+incompatible` is build metadata).
//!
//! Parsing is as lenient as node-semver's loose mode where feeds need it (a leading `v` or
//! `=`, surrounding blanks, missing minor or patch, leading zeros); ordering is exactly the
//! specification's: build metadata is ignored, a prerelease sorts before its release, numeric
//! identifiers sort numerically and before alphanumeric ones, which sort in ASCII order.

use std::cmp::Ordering;

use crate::{Error, Scheme};

/// A parsed version. Equality and order ignore build metadata.
#[derive(Clone, Debug)]
pub struct Version {
    major: String,
    minor: String,
    patch: String,
    pre: Vec<String>,
    build: String,
}

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn ident_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Version {
    /// Parse a SemVer version (npm, Cargo), loosely.
    pub fn parse(s: &str) -> Result<Version, Error> {
        let t = s.trim();
        let t = t.strip_prefix('=').unwrap_or(t).trim_start();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t).trim_start();
        Self::parse_core(s, t, Scheme::Semver, true)
    }

    /// Parse a Go module version; the `v` may be left out (OSV writes Go versions without
    /// it). Leading zeros and other looseness are rejected, as Go does.
    pub fn parse_go(s: &str) -> Result<Version, Error> {
        let t = s.strip_prefix('v').unwrap_or(s);
        Self::parse_core(s, t, Scheme::Go, false)
    }

    fn parse_core(orig: &str, t: &str, scheme: Scheme, loose: bool) -> Result<Version, Error> {
        let err = |reason| Error::invalid(scheme, orig, reason);
        let (t, build) = match t.split_once('+') {
            Some((v, b)) => {
                if !b.split('.').all(ident_ok) {
                    return Err(err("bad build metadata"));
                }
                (v, b)
            }
            None => (t, ""),
        };
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (t, None),
        };
        let mut nums = core.split('.');
        let mut next = |what| -> Result<String, Error> {
            match nums.next() {
                None => Ok("0".into()),
                Some(n) if !numeric(n) => Err(err(what)),
                Some(n) if !loose && n.len() > 1 && n.starts_with('0') => {
                    Err(err("leading zero in a number"))
                }
                Some(n) => Ok(n.to_string()),
            }
        };
        let major = next("major version is not a number")?;
        let minor = next("minor version is not a number")?;
        let patch = next("patch version is not a number")?;
        if nums.next().is_some() {
            return Err(err("more than three numbers"));
        }
        let dots = core.matches('.').count();
        if dots < 2 && (pre.is_some() || !build.is_empty()) {
            // Go accepts the v1 and v1.2 shorthands only without prerelease or build.
            if !loose {
                return Err(err("shorthand version with prerelease or build"));
            }
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => {
                let ids: Vec<String> = p.split('.').map(str::to_string).collect();
                for id in &ids {
                    if !ident_ok(id) {
                        return Err(err("empty or bad prerelease identifier"));
                    }
                    if !loose && numeric(id) && id.len() > 1 && id.starts_with('0') {
                        return Err(err("leading zero in a numeric prerelease identifier"));
                    }
                }
                ids
            }
        };
        Ok(Version {
            major,
            minor,
            patch,
            pre,
            build: build.to_string(),
        })
    }

    /// The build metadata (`""` when none).
    pub fn build(&self) -> &str {
        &self.build
    }

    /// Whether it is a prerelease.
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        cmp_num(&self.major, &o.major)
            .then_with(|| cmp_num(&self.minor, &o.minor))
            .then_with(|| cmp_num(&self.patch, &o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&o.pre) {
                        let c = match (numeric(a), numeric(b)) {
                            (true, true) => cmp_num(a, b),
                            (true, false) => Ordering::Less,
                            (false, true) => Ordering::Greater,
                            (false, false) => a.as_bytes().cmp(b.as_bytes()),
                        };
                        if c != Ordering::Equal {
                            return c;
                        }
                    }
                    self.pre.len().cmp(&o.pre.len())
                }
            })
    }
}

eq_by_order!(Version);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_forms() {
        let v = Version::parse(" =v1.2.3-beta+build.5").unwrap();
        assert_eq!(v.build(), "build.5");
        assert!(v.is_prerelease());
        assert_eq!(
            Version::parse("1.2").unwrap(),
            Version::parse("1.2.0").unwrap()
        );
        for bad in [
            "",
            "a.b.c",
            "1.2.3.4",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3+",
            "1.2.3-a_b",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_forms() {
        assert_eq!(
            Version::parse_go("v1.2").unwrap(),
            Version::parse_go("1.2.0").unwrap()
        );
        let pseudo = Version::parse_go("v0.0.0-20220314234659-1baeb1ce4c0b").unwrap();
        assert!(pseudo < Version::parse_go("v0.0.1").unwrap());
        assert!(Version::parse_go("v1.2.3+incompatible").is_ok());
        for bad in ["v01.2.3", "v1.2-pre", "v1.2.3-01", "1.2.3.4", "vx"] {
            assert!(Version::parse_go(bad).is_err(), "{bad:?}");
        }
    }
}
