//! PEP 440 versions (PyPI), parsed with the same grammar as PyPA `packaging`'s
//! `VERSION_PATTERN` (alternative spellings, optional separators, implicit numbers, `v` prefix,
//! case-insensitive) and ordered by its `_cmpkey`: epoch, release without trailing zeros,
//! dev-only before pre-releases (a < b < rc) before the release, post-releases after, local
//! versions after the public one.

use std::cmp::Ordering;

use crate::{Error, Scheme};

/// A number as a digit string without leading zeros (`""` is 0): arbitrary size, like Python's.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Num(String);

impl Num {
    fn new(digits: &str) -> Num {
        Num(digits.trim_start_matches('0').to_string())
    }
    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Num {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.len().cmp(&o.0.len()).then_with(|| self.0.cmp(&o.0))
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// One local-version segment: strings sort before numbers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    Str(String),
    Num(Num),
}

/// A parsed PEP 440 version.
#[derive(Clone, Debug)]
pub struct Version {
    epoch: Num,
    release: Vec<Num>,
    /// (0 = a, 1 = b, 2 = rc, number)
    pre: Option<(u8, Num)>,
    post: Option<Num>,
    dev: Option<Num>,
    local: Option<Vec<Local>>,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn sep(&mut self) -> bool {
        if matches!(self.s.get(self.i), Some(b'-' | b'_' | b'.')) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn digits(&mut self) -> Option<Num> {
        let n = self.s[self.i..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n == 0 {
            return None;
        }
        let d = std::str::from_utf8(&self.s[self.i..self.i + n]).unwrap_or("");
        self.i += n;
        Some(Num::new(d))
    }
    /// Match the first of `words` (longest first where one is a prefix of another).
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        let rest = &self.s[self.i..];
        let k = words.iter().position(|w| rest.starts_with(w.as_bytes()))?;
        self.i += words[k].len();
        Some(k)
    }
    /// `[-_.]? WORD [-_.]? N?`; restores the position when WORD does not follow.
    fn labelled(&mut self, words: &[&str]) -> Option<(usize, Option<Num>)> {
        let start = self.i;
        self.sep();
        let Some(k) = self.word(words) else {
            self.i = start;
            return None;
        };
        // Without a number the separator stays consumed, as the regular expression's greedy
        // `[-_\.]?` does; nothing after it needs it.
        self.sep();
        Some((k, self.digits()))
    }
}

impl Version {
    /// Parse a version as `packaging.version.Version` does.
    pub fn parse(s: &str) -> Result<Version, Error> {
        let err = |reason| Error::invalid(Scheme::Pep440, s, reason);
        let lower = s.trim().to_ascii_lowercase();
        let mut c = Cursor {
            s: lower.as_bytes(),
            i: 0,
        };
        if c.s.first() == Some(&b'v') {
            c.i = 1;
        }
        let first = c
            .digits()
            .ok_or_else(|| err("does not start with a number"))?;
        let (epoch, first) = if c.s.get(c.i) == Some(&b'!') {
            c.i += 1;
            (
                first,
                c.digits()
                    .ok_or_else(|| err("no release after the epoch"))?,
            )
        } else {
            (Num::new(""), first)
        };
        let mut release = vec![first];
        while c.s.get(c.i) == Some(&b'.') && c.s.get(c.i + 1).is_some_and(u8::is_ascii_digit) {
            c.i += 1;
            release.extend(c.digits());
        }
        const PRE: [&str; 8] = ["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"];
        let pre = c.labelled(&PRE).map(|(k, n)| {
            let kind = match PRE[k] {
                "alpha" | "a" => 0,
                "beta" | "b" => 1,
                _ => 2,
            };
            (kind, n.unwrap_or(Num::new("")))
        });
        let post = {
            let start = c.i;
            if c.s.get(c.i) == Some(&b'-') {
                c.i += 1;
                match c.digits() {
                    Some(n) => Some(n),
                    None => {
                        c.i = start;
                        c.labelled(&["post", "rev", "r"])
                            .map(|(_, n)| n.unwrap_or(Num::new("")))
                    }
                }
            } else {
                c.labelled(&["post", "rev", "r"])
                    .map(|(_, n)| n.unwrap_or(Num::new("")))
            }
        };
        let dev = c.labelled(&["dev"]).map(|(_, n)| n.unwrap_or(Num::new("")));
        let local = if c.s.get(c.i) == Some(&b'+') {
            c.i += 1;
            let rest = std::str::from_utf8(&c.s[c.i..]).unwrap_or("");
            c.i = c.s.len();
            let mut parts = Vec::new();
            for p in rest.split(['-', '_', '.']) {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(err("bad local version label"));
                }
                parts.push(if p.bytes().all(|b| b.is_ascii_digit()) {
                    Local::Num(Num::new(p))
                } else {
                    Local::Str(p.to_string())
                });
            }
            Some(parts)
        } else {
            None
        };
        if c.i != c.s.len() {
            return Err(err("unexpected text after the version"));
        }
        while release.last().is_some_and(Num::is_zero) {
            release.pop();
        }
        Ok(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// Whether it is a pre- or dev release.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    fn key(&self) -> (i8, &Num, u8, Option<&Num>, u8, Option<&Num>) {
        static ZERO: std::sync::LazyLock<Num> = std::sync::LazyLock::new(|| Num::new(""));
        let (pre_rank, pre_n) = match (&self.pre, &self.post, &self.dev) {
            (None, None, Some(_)) => (-1, &*ZERO),
            (None, _, _) => (3, &*ZERO),
            (Some((k, n)), _, _) => (*k as i8, n),
        };
        (
            pre_rank,
            pre_n,
            u8::from(self.post.is_some()),
            self.post.as_ref(),
            u8::from(self.dev.is_none()),
            self.dev.as_ref(),
        )
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        self.epoch
            .cmp(&o.epoch)
            .then_with(|| self.release.cmp(&o.release))
            .then_with(|| self.key().cmp(&o.key()))
            .then_with(|| self.local.cmp(&o.local))
    }
}

eq_by_order!(Version);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn spellings_normalise() {
        // PEP 440's normalisation section.
        for (a, b) in [
            ("1.0ALPHA1", "1.0a1"),
            ("1.1c3", "1.1rc3"),
            ("1.0-preview2", "1.0rc2"),
            ("1.0.a.1", "1.0a1"),
            ("1.0a", "1.0a0"),
            ("1.0-1", "1.0.post1"),
            ("1.0-r4", "1.0.post4"),
            ("1.0rev", "1.0.post0"),
            ("1.0-dev_2", "1.0.dev2"),
            ("v1.0", "1.0"),
            (" 1.0\n", "1.0"),
            ("1.0+ubuntu-1", "1.0+ubuntu.1"),
            ("0!1.0.0", "1"),
            ("1.0+01", "1.0+1"),
        ] {
            assert_eq!(v(a), v(b), "{a} == {b}");
        }
    }

    #[test]
    fn rejects_what_packaging_rejects() {
        for bad in [
            "",
            "french toast",
            "1.0+",
            "1.0+a+b",
            "1.0.",
            "1.0a1a",
            "1!",
            "1.0 1",
            "1..0",
            "1.0-",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }
}
