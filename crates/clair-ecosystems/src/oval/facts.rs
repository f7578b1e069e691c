//! From OVAL clauses to package facts ("package P before version V", "package P installed").

use std::cmp::Ordering;

use clair_version::Scheme;

use super::{Definition, Index, Leaf, Stopped, clauses};

/// A package condition found in one clause.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fact {
    /// Package name.
    pub name: String,
    /// First fixed version (the `less than` value); empty when the package is affected in every
    /// version (a test with no state: "is installed", "is affected and needs fixing").
    pub fixed: String,
    /// Architectures (`aarch64|ppc64le|s390x|x86_64`), when the state restricts them.
    pub arch: String,
}

/// The package facts of a clause, from its non-negated tests of the given kinds
/// (`rpminfo_test`, `dpkginfo_test`). Tests whose state checks something other than the version
/// (signing key, release package version) are context, not facts.
///
/// A criterion whose test is missing from the document (abbreviated files exist) falls back on
/// the comment Red Hat-style generators write: "NAME is earlier than EVR", "NAME is installed".
///
/// Every test of a clause must hold, whatever order the file writes them in: for one package,
/// "before V1" and "before V2" is "before the lower of them" (in the test's version scheme:
/// dpkg for `dpkginfo_test`, rpm otherwise), and "before V" beats "installed".
pub fn facts(idx: &Index, clause: &[Leaf], kinds: &[&str]) -> Vec<Fact> {
    let mut out: Vec<Fact> = Vec::new();
    let mut add = |name: String, fixed: String, arch: String, scheme: Scheme| {
        if let Some(prev) = out.iter_mut().find(|f| f.name == name && f.arch == arch) {
            let lower = !fixed.is_empty()
                && (prev.fixed.is_empty()
                    || scheme.compare(&fixed, &prev.fixed) == Ok(Ordering::Less));
            if lower {
                prev.fixed = fixed;
            }
            return;
        }
        out.push(Fact { name, fixed, arch });
    };
    for leaf in clause.iter().filter(|l| !l.negate) {
        let Some(t) = idx.tests.get(&leaf.test_ref) else {
            if let Some((name, fixed)) = from_comment(&leaf.comment) {
                add(name, fixed, String::new(), Scheme::Rpm);
            }
            continue;
        };
        let scheme = if t.kind == "dpkginfo_test" {
            Scheme::Dpkg
        } else {
            Scheme::Rpm
        };
        if !kinds.contains(&t.kind.as_str()) {
            continue;
        }
        let (fixed, arch) = match idx.state(t) {
            None if t.state_refs.is_empty() => (String::new(), String::new()),
            None => continue,
            Some(s) => match &s.evr {
                Some(evr) if evr.operation == "less than" => (
                    evr.value.clone(),
                    s.arch.as_ref().map(|a| a.value.clone()).unwrap_or_default(),
                ),
                _ => continue,
            },
        };
        for name in idx.package_names(t) {
            if !name.is_empty() {
                add(name, fixed.clone(), arch.clone(), scheme);
            }
        }
    }
    out
}

/// "NAME is earlier than EVR" → (NAME, EVR); "NAME is installed" → (NAME, ""), except the
/// release and module criteria that share the wording.
fn from_comment(c: &str) -> Option<(String, String)> {
    let c = c.trim();
    if let Some((name, evr)) = c.split_once(" is earlier than ") {
        let (name, evr) = (name.trim(), evr.trim());
        if !name.contains(' ') && !evr.is_empty() && !evr.contains(' ') {
            return Some((name.to_string(), evr.to_string()));
        }
        return None;
    }
    let name = c.strip_suffix(" is installed")?.trim();
    (!name.is_empty() && !name.contains(' ')).then(|| (name.to_string(), String::new()))
}

/// Links of a definition: reference URLs and CVE links, deduplicated, in order.
pub fn links(d: &Definition) -> String {
    let mut v: Vec<&str> = Vec::new();
    for u in d
        .references
        .iter()
        .map(|r| r.ref_url.as_str())
        .chain(d.cves.iter().map(|c| c.href.as_str()))
    {
        if !u.is_empty() && !v.contains(&u) {
            v.push(u);
        }
    }
    v.join(" ")
}

/// `2020-04-30` → `2020-04-30T00:00:00Z`; RFC 3339 values kept; anything else dropped.
pub fn issued(s: &str) -> String {
    let s = s.trim();
    if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') && s.as_bytes().get(7) == Some(&b'-') {
        format!("{s}T00:00:00Z")
    } else if s.parse::<jiff::Timestamp>().is_ok() {
        s.to_string()
    } else {
        String::new()
    }
}

/// Call `each` with every distinct `(key, fact)` of a definition: for each clause of its
/// criteria that `key` places (a release, a module stream; `None` passes the clause over), the
/// [`facts`] of its tests of `kinds` not yet seen under that key. The walk every vendor's
/// records share; a definition without criteria has none.
pub fn each_fact<K: Ord + Clone>(
    idx: &Index,
    d: &Definition,
    kinds: &[&str],
    mut key: impl FnMut(&[Leaf]) -> Option<K>,
    mut each: impl FnMut(&K, Fact) -> Result<(), Stopped>,
) -> Result<(), Stopped> {
    let Some(criteria) = &d.criteria else {
        return Ok(());
    };
    let mut seen = std::collections::BTreeSet::new();
    for clause in clauses(criteria) {
        let Some(k) = key(&clause) else { continue };
        for fact in facts(idx, &clause, kinds) {
            if seen.insert((k.clone(), fact.clone())) {
                each(&k, fact)?;
            }
        }
    }
    Ok(())
}

/// The release number a clause names: the first number after `prefix` in its criteria's
/// comments, else after `platform_prefix` in the definition's platforms.
pub fn release_of(
    clause: &[Leaf],
    d: &Definition,
    prefix: &str,
    platform_prefix: &str,
) -> Option<String> {
    number_after(clause.iter().map(|l| l.comment.as_str()), prefix)
        .or_else(|| number_after(d.platforms.iter().map(String::as_str), platform_prefix))
}

/// The first number after `prefix` in any of `texts` ("Red Hat Enterprise Linux 8 is installed"
/// with prefix "Red Hat Enterprise Linux " → "8").
pub fn number_after<'a>(texts: impl IntoIterator<Item = &'a str>, prefix: &str) -> Option<String> {
    for t in texts {
        if let Some(rest) = t.find(prefix).map(|i| &t[i + prefix.len()..]) {
            let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !n.is_empty() {
                return Some(n);
            }
        }
    }
    None
}
