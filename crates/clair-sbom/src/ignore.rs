//! `.clairignore`: findings a team has decided to accept, one per line, each until a date.
//!
//! ```text
//! # vulnerability [package] [exp:YYYY-MM-DD]   # reason
//! CVE-2023-4911                                # not reachable: no setuid binaries
//! CVE-2024-2961 libc6 exp:2025-06-30           # iconv not used; revisit after the rebuild
//! GHSA-j8r2-6x86-q33q pkg:pypi/requests        # internal hosts only
//! ```
//!
//! The package is a name (binary or source package) or a purl (see [`PurlKey::covers`]). An
//! entry past its expiry date no longer applies and is reported, so an acceptance cannot be
//! forgotten. The `exp:` spelling is Trivy's `.trivyignore`, so its files are read as well.

use jiff::civil::Date;

use crate::Error;
use crate::purl::PurlKey;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its line (1-based).
    pub line: usize,
    /// The vulnerability id (advisory or CVE).
    pub vulnerability: String,
    /// The package it is limited to, if any.
    pub package: Option<PackageRef>,
    /// The last day it applies, if any.
    pub expires: Option<Date>,
    /// The comment after `#`.
    pub reason: String,
}

/// How an entry names a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageRef {
    /// A package or source package name.
    Name(String),
    /// A purl.
    Purl(PurlKey),
}

impl std::fmt::Display for PackageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackageRef::Name(n) => f.write_str(n),
            PackageRef::Purl(k) => write!(f, "pkg:{}/{}", k.ty, k.name),
        }
    }
}

/// The entries of an ignore file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreFile {
    /// In file order.
    pub entries: Vec<Entry>,
}

impl IgnoreFile {
    /// Parse the text of an ignore file.
    pub fn parse(text: &str) -> Result<IgnoreFile, Error> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let (body, reason) = match raw.split_once('#') {
                Some((b, r)) => (b, r.trim()),
                None => (raw, ""),
            };
            let mut tokens = body.split_whitespace();
            let Some(vulnerability) = tokens.next() else {
                continue;
            };
            let bad = |message: String| Error::Line { line, message };
            let mut entry = Entry {
                line,
                vulnerability: vulnerability.to_string(),
                package: None,
                expires: None,
                reason: reason.to_string(),
            };
            for t in tokens {
                if let Some(d) = t.strip_prefix("exp:") {
                    let date: Date = d
                        .parse()
                        .map_err(|e| bad(format!("exp:{d}: not a YYYY-MM-DD date ({e})")))?;
                    if entry.expires.replace(date).is_some() {
                        return Err(bad("two exp: dates".into()));
                    }
                } else {
                    let p = if t.starts_with("pkg:") {
                        PackageRef::Purl(PurlKey::parse(t).map_err(|e| bad(e.to_string()))?)
                    } else {
                        PackageRef::Name(t.to_string())
                    };
                    if entry.package.replace(p).is_some() {
                        return Err(bad(format!(
                            "{t}: a second package (one entry names at most one; write two lines)"
                        )));
                    }
                }
            }
            entries.push(entry);
        }
        Ok(IgnoreFile { entries })
    }

    /// Entries whose date has passed on `today`.
    pub fn expired(&self, today: Date) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |e| e.expires.is_some_and(|d| d < today))
    }

    /// The entry that applies to a finding on `today`: `names` are the vulnerability's names,
    /// `package` and `source` the package's and its source package's names, `purls` their purls.
    pub fn decide(
        &self,
        today: Date,
        names: &[&str],
        package_names: &[&str],
        purls: &[PurlKey],
    ) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.expires.is_none_or(|d| d >= today)
                && names
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&e.vulnerability))
                && match &e.package {
                    None => true,
                    Some(PackageRef::Name(n)) => package_names.iter().any(|p| p == n),
                    Some(PackageRef::Purl(k)) => purls.iter().any(|p| k.covers(p)),
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expiry_and_decisions() {
        let f = IgnoreFile::parse(
            "# accepted risks\n\
             CVE-2023-4911   # no setuid binaries\n\
             \n\
             CVE-2024-2961 libc6 exp:2025-06-30 # iconv unused\n\
             GHSA-j8r2-6x86-q33q pkg:pypi/requests exp:2099-01-01\n",
        )
        .unwrap();
        assert_eq!(f.entries.len(), 3);
        assert_eq!(f.entries[0].reason, "no setuid binaries");
        assert_eq!(f.entries[1].line, 4);
        let day = |s: &str| -> Date { s.parse().unwrap() };
        let libc = PurlKey::parse("pkg:deb/debian/libc6@2.36-9").unwrap();
        assert_eq!(
            f.decide(
                day("2025-06-30"),
                &["CVE-2024-2961"],
                &["libc6", "glibc"],
                std::slice::from_ref(&libc)
            )
            .map(|e| e.line),
            Some(4),
            "applies on its last day"
        );
        assert!(
            f.decide(
                day("2025-07-01"),
                &["CVE-2024-2961"],
                &["libc6"],
                std::slice::from_ref(&libc)
            )
            .is_none()
        );
        assert!(
            f.decide(day("2025-01-01"), &["CVE-2024-2961"], &["libc-bin"], &[])
                .is_none(),
            "other package"
        );
        assert_eq!(
            f.expired(day("2025-07-01"))
                .map(|e| e.line)
                .collect::<Vec<_>>(),
            [4]
        );
        let req = PurlKey::parse("pkg:pypi/requests@2.19.0").unwrap();
        assert!(
            f.decide(
                day("2025-01-01"),
                &["GHSA-j8r2-6x86-q33q"],
                &["requests"],
                &[req]
            )
            .is_some()
        );
        assert!(
            f.decide(day("2030-01-01"), &["cve-2023-4911"], &["x"], &[])
                .is_some(),
            "any package, case-insensitive id"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = IgnoreFile::parse("CVE-1\nCVE-2 exp:2025-13-01\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2: exp:2025-13-01"), "{e}");
        let e = IgnoreFile::parse("CVE-1 a b\n").unwrap_err().to_string();
        assert!(e.contains("a second package"), "{e}");
    }
}
