//! RubyGems versions (`Gem::Version`): dot-separated numbers and letters, any letter making a
//! prerelease (`1.0.a < 1.0`), `-` read as `.pre.`, trailing zeros ignored.

use std::cmp::Ordering;

use crate::{Error, Scheme};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    /// Digits without leading zeros (`""` is 0).
    Num(String),
    Str(String),
}

impl Seg {
    fn is_zero(&self) -> bool {
        matches!(self, Seg::Num(n) if n.is_empty())
    }
}

/// A parsed RubyGems version.
#[derive(Clone, Debug)]
pub struct Version {
    text: String,
    canonical: Vec<Seg>,
}

/// `Gem::Version::VERSION_PATTERN`, anchored, surrounding whitespace allowed:
/// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`, or nothing at all.
fn correct(s: &str) -> bool {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return true;
    }
    let (main, pre) = match t.split_once('-') {
        Some((m, p)) => (m, Some(p)),
        None => (t, None),
    };
    let mut parts = main.split('.');
    let first = parts.next().unwrap_or("");
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if !parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return false;
    }
    match pre {
        None => true,
        Some(p) => p
            .split('.')
            .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
    }
}

/// `partition_segments`: runs of digits or letters.
fn segments(s: &str) -> Vec<Seg> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i].is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Seg::Num(s[start..i].trim_start_matches('0').to_string()));
        } else if b[i].is_ascii_alphabetic() {
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Seg::Str(s[start..i].to_string()));
        } else {
            i += 1;
        }
    }
    out
}

fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

/// `canonical_segments`: drop trailing `.0` runs, and, in a prerelease, zero segments
/// right before the first letter.
fn canonical(v: &str) -> Vec<Seg> {
    let b = v.as_bytes();
    // sub(/(?<=[a-zA-Z.])[.0]+\z/, ""): the shortest cut whose previous byte is a letter or '.'
    let tail = b
        .iter()
        .rev()
        .take_while(|c| matches!(c, b'.' | b'0'))
        .count();
    let q = b.len() - tail;
    let mut end = b.len();
    if tail > 0 {
        if q > 0 && is_alpha(b[q - 1]) {
            end = q;
        } else if let Some(dot) = (q..b.len()).find(|&k| b[k] == b'.')
            && dot + 1 < b.len()
        {
            end = dot + 1;
        }
    }
    let mut s = v[..end].to_string();
    if v.bytes().any(is_alpha) {
        // sub!(/(?<=\.|\A)[0.]+(?=[a-zA-Z])/, ""): the first run of [0.] that starts the
        // string or follows a '.', and is followed by a letter.
        let sb = s.as_bytes();
        let mut cut = None;
        for p in 0..sb.len() {
            if !(p == 0 || sb[p - 1] == b'.') || !matches!(sb[p], b'0' | b'.') {
                continue;
            }
            let m = p + sb[p..]
                .iter()
                .take_while(|c| matches!(c, b'0' | b'.'))
                .count();
            if m < sb.len() && is_alpha(sb[m]) {
                cut = Some((p, m));
                break;
            }
        }
        if let Some((p, m)) = cut {
            s.replace_range(p..m, "");
        }
    }
    segments(&s)
}

impl Version {
    /// Parse a version as `Gem::Version.new` does.
    pub fn parse(s: &str) -> Result<Version, Error> {
        if !correct(s) {
            return Err(Error::invalid(
                Scheme::Gem,
                s,
                "malformed version number string",
            ));
        }
        let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
        let text = if t.is_empty() {
            "0".to_string()
        } else {
            t.replace('-', ".pre.")
        };
        let canonical = canonical(&text);
        Ok(Version { text, canonical })
    }

    /// Whether it is a prerelease (contains a letter).
    pub fn is_prerelease(&self) -> bool {
        self.text.bytes().any(is_alpha)
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        if self.text == o.text || self.canonical == o.canonical {
            return Ordering::Equal;
        }
        let (l, r) = (&self.canonical, &o.canonical);
        let limit = l.len().min(r.len());
        for i in 0..limit {
            let (a, b) = (&l[i], &r[i]);
            if a == b {
                continue;
            }
            return match (a, b) {
                (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
                (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
                (Seg::Num(x), Seg::Num(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
                (Seg::Str(x), Seg::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
            };
        }
        // The longer one decides: a letter makes it older, a non-zero number newer.
        if l.len() < r.len() {
            for s in &r[limit..] {
                match s {
                    Seg::Str(_) => return Ordering::Greater,
                    n if !n.is_zero() => return Ordering::Less,
                    _ => {}
                }
            }
        } else {
            for s in &l[limit..] {
                match s {
                    Seg::Str(_) => return Ordering::Less,
                    n if !n.is_zero() => return Ordering::Greater,
                    _ => {}
                }
            }
        }
        Ordering::Equal
    }
}

eq_by_order!(Version);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_segments() {
        // test_gem_version.rb, test_canonical_segments.
        let c = |s: &str| Version::parse(s).unwrap().canonical;
        let n = |x: &str| Seg::Num(x.into());
        assert_eq!(c("1.0.0"), vec![n("1")]);
        assert_eq!(c("1.0.0.a.1.0"), vec![n("1"), Seg::Str("a".into()), n("1")]);
        assert_eq!(
            c("1.2.3-1"),
            vec![n("1"), n("2"), n("3"), Seg::Str("pre".into()), n("1")]
        );
    }

    #[test]
    fn validity() {
        // test_gem_version.rb, test_initialize and test_initialize_invalid.
        for good in [
            "1.0",
            "1.0 ",
            " 1.0 ",
            "1.0\n",
            "\n1.0\n",
            "",
            "1.2.3-pre-1",
        ] {
            assert!(Version::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "junk",
            "1.0\n2.0",
            "1..2",
            "1.2 3.4",
            "2.3422222.222.222222222.22222.ads0as.dasd0.ddd2222.2.qd3e.",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }
}
