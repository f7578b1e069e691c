//! RPM versions: `[epoch:]version[-release]` ordered as rpm's `rpmverCmp` (what
//! `rpm.labelCompare` and `rpmdev-vercmp` use) with `rpmvercmp` on each part: alphanumeric
//! segments, digits beating letters, `~` sorting before everything and `^` after the base version.

use std::cmp::Ordering;

/// An EVR split as rpm's `parseEVR` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evr<'a> {
    /// Epoch digits, `None` when absent (compared as `0`).
    pub epoch: Option<&'a str>,
    /// The version.
    pub version: &'a str,
    /// The release, `None` when absent.
    pub release: Option<&'a str>,
}

/// Split `evr`: leading digits followed by `:` are the epoch, the part after the last `-` the
/// release.
pub fn parse_evr(evr: &str) -> Evr<'_> {
    let digits = evr.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = if evr.as_bytes().get(digits) == Some(&b':') {
        let e = &evr[..digits];
        (Some(if e.is_empty() { "0" } else { e }), &evr[digits + 1..])
    } else {
        (None, evr)
    };
    let (version, release) = match rest.rfind('-') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    Evr {
        epoch,
        version,
        release,
    }
}

/// Order two EVR strings as `rpm.labelCompare` does: epochs (absent = 0), then versions, then
/// releases, where a missing release sorts before any release.
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    compare_parsed(&parse_evr(a), &parse_evr(b))
}

/// Order two split EVRs.
pub fn compare_parsed(a: &Evr<'_>, b: &Evr<'_>) -> Ordering {
    rpmvercmp(a.epoch.unwrap_or("0"), b.epoch.unwrap_or("0"))
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            (None, None) => Ordering::Equal,
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (Some(x), Some(y)) => rpmvercmp(x, y),
        })
}

/// rpm's `rpmvercmp` on one part.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    // C strings: a NUL ends them.
    let (a, b) = (
        crate::until_nul(a.as_bytes()),
        crate::until_nul(b.as_bytes()),
    );
    if a == b {
        return Ordering::Equal;
    }
    let (mut i, mut j) = (0usize, 0usize);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    let sep = |c: u8| c != 0 && !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < a.len() || j < b.len() {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca == b'~' || cb == b'~' {
            if ca != b'~' {
                return Ordering::Greater;
            }
            if cb != b'~' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == b'^' || cb == b'^' {
            if ca == 0 {
                return Ordering::Less;
            }
            if cb == 0 {
                return Ordering::Greater;
            }
            if ca != b'^' {
                return Ordering::Greater;
            }
            if cb != b'^' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == 0 || cb == 0 {
            break;
        }
        let isnum = ca.is_ascii_digit();
        let class = |c: u8| {
            if isnum {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (si, sj) = (i, j);
        while i < a.len() && class(a[i]) {
            i += 1;
        }
        while j < b.len() && class(b[j]) {
            j += 1;
        }
        let (mut one, mut two) = (&a[si..i], &b[sj..j]);
        // A non-NUL, non-separator byte that is neither digit nor letter (e.g. UTF-8) makes
        // an empty segment; rpm then returns -1 "arbitrarily".
        if one.is_empty() {
            return Ordering::Less;
        }
        if two.is_empty() {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        if isnum {
            while one.first() == Some(&b'0') {
                one = &one[1..];
            }
            while two.first() == Some(&b'0') {
                two = &two[1..];
            }
            match one.len().cmp(&two.len()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match one.cmp(two) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_rpm() {
        assert_eq!(
            parse_evr("1:2.3-4.el9"),
            Evr {
                epoch: Some("1"),
                version: "2.3",
                release: Some("4.el9")
            }
        );
        assert_eq!(
            parse_evr("2.3"),
            Evr {
                epoch: None,
                version: "2.3",
                release: None
            }
        );
        assert_eq!(parse_evr(":2.3-1").epoch, Some("0"));
        assert_eq!(parse_evr("a-b-c").release, Some("c"));
    }

    #[test]
    fn nul_ends_a_part() {
        // Found by the `versions` fuzz target: rpm stops at NUL; so must we, both ways round.
        assert_eq!(compare_evr("\u{3})\0\u{4}", "1.0"), Ordering::Less);
        assert_eq!(compare_evr("1.0", "\u{3})\0\u{4}"), Ordering::Greater);
        assert_eq!(rpmvercmp("1.0\0x", "1.0\0y"), Ordering::Equal);
    }
}
