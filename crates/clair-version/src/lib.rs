//! Version schemes: how each ecosystem orders its versions, and whether a version falls in an
//! affected range; [`osv`] evaluates OSV ranges by the specification's algorithm.
//!
//! Every scheme follows its upstream implementation exactly (dpkg's `verrevcmp`, rpm's
//! `rpmvercmp`, apk-tools' tokenizer, the SemVer 2.0 precedence rules, PyPA `packaging`,
//! Maven's `ComparableVersion`, `golang.org/x/mod/semver`, RubyGems' `Gem::Version`); the vector
//! files under `testdata/` come from those projects' own test suites.
//!
//! ```
//! use clair_version::{Range, Scheme};
//! use std::cmp::Ordering;
//!
//! assert_eq!(Scheme::Dpkg.compare("1.0~rc1", "1.0").unwrap(), Ordering::Less);
//! let range = Range { fixed: Some("3.0.11-1~deb12u1"), ..Range::default() };
//! assert!(Scheme::Dpkg.in_range("3.0.9-1", &range).unwrap());
//! assert!(!Scheme::Dpkg.in_range("3.0.11-1~deb12u2", &range).unwrap());
//! ```

#![forbid(unsafe_code)]

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// `PartialOrd`, `PartialEq` and `Eq` for a version type from its `Ord`: two versions are equal
/// when the scheme orders them equal (`1.0` and `1.0.0`), not when they are spelled alike.
macro_rules! eq_by_order {
    ($t:ty) => {
        impl PartialOrd for $t {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }

        impl PartialEq for $t {
            fn eq(&self, o: &Self) -> bool {
                self.cmp(o) == std::cmp::Ordering::Equal
            }
        }

        impl Eq for $t {}
    };
}

pub mod apk;
pub mod dpkg;
pub mod gem;
pub mod maven;
pub mod osv;
pub mod pep440;
pub mod rpm;
pub mod semver;

/// Errors of this crate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A version string the scheme cannot order.
    #[error("{scheme}: invalid version {version:?}: {reason}")]
    Invalid {
        /// The scheme's name.
        scheme: &'static str,
        /// The offending text (truncated to 200 bytes).
        version: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A scheme name nobody implements.
    #[error("unknown version scheme {0:?} (known: dpkg, rpm, apk, semver, pep440, maven, go, gem)")]
    UnknownScheme(String),
}

impl Error {
    pub(crate) fn invalid(scheme: Scheme, version: &str, reason: &'static str) -> Error {
        let mut v = version.to_string();
        if v.len() > 200 {
            let mut cut = 200;
            while !v.is_char_boundary(cut) {
                cut -= 1;
            }
            v.truncate(cut);
        }
        Error::Invalid {
            scheme: scheme.name(),
            version: v,
            reason,
        }
    }
}

/// A version scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// Debian and Ubuntu packages (`[epoch:]upstream[-revision]`, `~` sorts first).
    Dpkg,
    /// RPM packages (`[epoch:]version[-release]`, rpmvercmp with `~` and `^`).
    Rpm,
    /// Alpine packages (`1.2.3_rc1-r0`).
    Apk,
    /// Semantic Versioning 2.0 (npm, crates.io).
    Semver,
    /// PEP 440 (PyPI).
    Pep440,
    /// Maven's `ComparableVersion`.
    Maven,
    /// Go module versions (`v1.2.3`, pseudo-versions, `+incompatible`).
    Go,
    /// RubyGems' `Gem::Version`.
    Gem,
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 8] = [
        Scheme::Dpkg,
        Scheme::Rpm,
        Scheme::Apk,
        Scheme::Semver,
        Scheme::Pep440,
        Scheme::Maven,
        Scheme::Go,
        Scheme::Gem,
    ];

    /// The name feeds and the store use (`Vulnerability::version_scheme`).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Semver => "semver",
            Scheme::Pep440 => "pep440",
            Scheme::Maven => "maven",
            Scheme::Go => "go",
            Scheme::Gem => "gem",
        }
    }

    /// Order two versions. Lenient schemes (dpkg, rpm, apk) order any string the way their
    /// tools do; the others reject what their upstream parser rejects.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, Error> {
        Ok(match self {
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Rpm => rpm::compare_evr(a, b),
            Scheme::Apk => apk::compare(a, b),
            Scheme::Semver => semver::Version::parse(a)?.cmp(&semver::Version::parse(b)?),
            Scheme::Pep440 => pep440::Version::parse(a)?.cmp(&pep440::Version::parse(b)?),
            Scheme::Maven => maven::Version::parse(a).cmp(&maven::Version::parse(b)),
            Scheme::Go => semver::Version::parse_go(a)?.cmp(&semver::Version::parse_go(b)?),
            Scheme::Gem => gem::Version::parse(a)?.cmp(&gem::Version::parse(b)?),
        })
    }

    /// Whether the scheme's upstream parser accepts `v` (dpkg: `dpkg`'s errors, not its warnings).
    pub fn validate(self, v: &str) -> Result<(), Error> {
        match self {
            Scheme::Dpkg => dpkg::validate(v),
            Scheme::Rpm => {
                if v.trim().is_empty() {
                    Err(Error::invalid(self, v, "empty"))
                } else {
                    Ok(())
                }
            }
            Scheme::Apk => {
                if apk::is_valid(v) {
                    Ok(())
                } else {
                    Err(Error::invalid(
                        self,
                        v,
                        "not digit{.digit}[letter]{_suffix[N]}[~hash][-rN]",
                    ))
                }
            }
            Scheme::Semver => semver::Version::parse(v).map(drop),
            Scheme::Pep440 => pep440::Version::parse(v).map(drop),
            Scheme::Maven => {
                if v.trim().is_empty() {
                    Err(Error::invalid(self, v, "empty"))
                } else {
                    Ok(())
                }
            }
            Scheme::Go => semver::Version::parse_go(v).map(drop),
            Scheme::Gem => gem::Version::parse(v).map(drop),
        }
    }

    /// Whether `a` and `b` name the same version: the same string, or equal in the scheme's
    /// order (PEP 440 `1.0` and `1.0.0`, SemVer versions differing only in build metadata,
    /// Maven's `1.0` and `1`). A version the scheme cannot read equals only itself.
    pub fn same_version(self, a: &str, b: &str) -> bool {
        a == b || self.compare(a, b) == Ok(Ordering::Equal)
    }

    /// Whether `version` lies in `range`: `introduced <= version`, `version < fixed`,
    /// `version <= last_affected`, `version < limit`, each bound only when given. An empty
    /// range contains everything (the package is affected and unfixed).
    pub fn in_range(self, version: &str, range: &Range<'_>) -> Result<bool, Error> {
        // Each bound, with the orderings of `version` against it that put it outside.
        type Outside = fn(Ordering) -> bool;
        let bounds: [(Option<&str>, Outside); 4] = [
            (range.introduced, Ordering::is_lt),
            (range.fixed, Ordering::is_ge),
            (range.last_affected, Ordering::is_gt),
            (range.limit, Ordering::is_ge),
        ];
        for (bound, outside) in bounds {
            if let Some(b) = bound
                && outside(self.compare(version, b)?)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scheme::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| Error::UnknownScheme(s.to_string()))
    }
}

/// The bytes before the first NUL, as C code (dpkg, rpm) sees a string.
pub(crate) fn until_nul(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// An affected range; `None` bounds are open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range<'a> {
    /// First affected version (inclusive).
    pub introduced: Option<&'a str>,
    /// First fixed version (exclusive).
    pub fixed: Option<&'a str>,
    /// Last affected version (inclusive).
    pub last_affected: Option<&'a str>,
    /// Upper bound that is not a fix (exclusive): an OSV range's `limit`.
    pub limit: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scheme::ALL {
            assert_eq!(s.name().parse::<Scheme>(), Ok(s));
        }
        assert!(matches!(
            "npm".parse::<Scheme>(),
            Err(Error::UnknownScheme(_))
        ));
    }

    #[test]
    fn same_version_is_string_or_order_equality() {
        assert!(Scheme::Pep440.same_version("1.0", "1.0.0"));
        assert!(!Scheme::Pep440.same_version("1.0", "1.0+local"));
        assert!(Scheme::Semver.same_version("1.0.0+a", "1.0.0+b"));
        assert!(Scheme::Maven.same_version("1.0", "1"));
        assert!(Scheme::Gem.same_version("1.0", "1.0.0"));
        assert!(Scheme::Pep440.same_version("not pep 440", "not pep 440"));
        assert!(!Scheme::Pep440.same_version("not pep 440", "1.0"));
    }

    #[test]
    fn ranges() {
        let r = Range {
            introduced: Some("1.2"),
            fixed: Some("1.4"),
            ..Range::default()
        };
        let s = Scheme::Semver;
        assert!(!s.in_range("1.1.9", &r).unwrap());
        assert!(s.in_range("1.2.0", &r).unwrap());
        assert!(s.in_range("1.3.99", &r).unwrap());
        assert!(s.in_range("1.4.0-rc.1", &r).unwrap());
        assert!(!s.in_range("1.4.0", &r).unwrap());
        let l = Range {
            last_affected: Some("2.0"),
            ..Range::default()
        };
        assert!(s.in_range("2.0.0", &l).unwrap());
        assert!(!s.in_range("2.0.1", &l).unwrap());
        assert!(
            Scheme::Dpkg
                .in_range("anything", &Range::default())
                .unwrap()
        );
        let capped = Range {
            limit: Some("1.3"),
            ..r
        };
        assert!(s.in_range("1.2.9", &capped).unwrap());
        assert!(!s.in_range("1.3.0", &capped).unwrap());
        let err = s.in_range("not a version", &r).unwrap_err();
        assert!(
            err.to_string()
                .contains("semver: invalid version \"not a version\""),
            "{err}"
        );
    }
}
