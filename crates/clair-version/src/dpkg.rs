//! Debian versions: `[epoch:]upstream_version[-debian_revision]`, ordered as dpkg's
//! `verrevcmp` does (deb-version(7)): letters sort before non-letters, `~` before anything,
//! even the end of the string; digit runs compare numerically.

use std::cmp::Ordering;

use crate::{Error, Scheme};

/// A version split into its parts, as dpkg's `parseversion` does (lenient: never fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    /// The epoch digits (`""` means 0).
    pub epoch: &'a str,
    /// The upstream version.
    pub upstream: &'a str,
    /// The Debian revision (`""` when absent).
    pub revision: &'a str,
}

/// Split `v` (surrounding blanks ignored): the epoch is everything before the first `:` when it
/// is all digits, the revision everything after the last `-`.
pub fn parts(v: &str) -> Parts<'_> {
    let v = v.trim_matches([' ', '\t']);
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => (e, rest),
        _ => ("", v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    Parts {
        epoch,
        upstream,
        revision,
    }
}

/// Check `v` as dpkg does, failing on what dpkg reports as an error.
pub fn validate(v: &str) -> Result<(), Error> {
    let err = |reason| Err(Error::invalid(Scheme::Dpkg, v, reason));
    let t = v.trim_matches([' ', '\t']);
    if t.is_empty() {
        return err("version string is empty");
    }
    if t.contains([' ', '\t']) {
        return err("version string has embedded spaces");
    }
    if let Some((e, rest)) = t.split_once(':') {
        if e.is_empty() {
            return err("epoch in version is empty");
        }
        if !e.bytes().all(|b| b.is_ascii_digit()) {
            return err("epoch in version is not number");
        }
        if e.trim_start_matches('0').len() > 10
            || e.parse::<u64>().map_or(true, |n| n > i32::MAX as u64)
        {
            return err("epoch in version is too big");
        }
        if rest.is_empty() {
            return err("nothing after colon in version number");
        }
    }
    let p = parts(t);
    if t.rsplit_once('-').is_some() && p.revision.is_empty() {
        return err("revision number is empty");
    }
    if p.upstream.is_empty() {
        return err("version number is empty");
    }
    Ok(())
}

/// Order two Debian versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (parts(a), parts(b));
    compare_numbers(a.epoch, b.epoch)
        .then_with(|| verrevcmp(a.upstream.as_bytes(), b.upstream.as_bytes()))
        .then_with(|| verrevcmp(a.revision.as_bytes(), b.revision.as_bytes()))
}

/// Compare digit strings numerically, whatever their length.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// dpkg's character weight: end and digits 0, `~` -1, letters their code, others code + 256.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        // dpkg indexes a signed `char`: bytes above 127 weigh less than ASCII punctuation.
        Some(c) => i32::from(c as i8) + 256,
    }
}

/// dpkg's `verrevcmp`.
pub fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (crate::until_nul(a), crate::until_nul(b));
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_dpkg() {
        assert_eq!(
            parts("1:2.30-1~deb12u1"),
            Parts {
                epoch: "1",
                upstream: "2.30",
                revision: "1~deb12u1"
            }
        );
        assert_eq!(parts("2.30-a-b").upstream, "2.30-a");
        assert_eq!(
            parts("a:1").epoch,
            "",
            "a non-numeric epoch is part of the version"
        );
        assert_eq!(parts(" 1.0 ").upstream, "1.0");
    }

    #[test]
    fn validates_like_dpkg() {
        for ok in ["1.0", "1:1.0-1", "0:0", "1.0~rc1+dfsg-2ubuntu0.1"] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("1.0 2", "embedded spaces"),
            (":1.0", "epoch in version is empty"),
            ("a:1.0", "not number"),
            ("1:", "nothing after colon"),
            ("1.0-", "revision number is empty"),
            ("-1", "version number is empty"),
            ("99999999999:1", "too big"),
        ] {
            let e = validate(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
