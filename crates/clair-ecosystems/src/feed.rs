//! Helpers shared by the updaters of this crate.

use std::io::{BufReader, Read};

use clair_matcher::{Emit, FetchedFile, Record, UpdaterError, open_decompressed};
use clair_types::{Severity, Vulnerability};

use crate::oval::{self, Definition, Index, OvalError, Stopped};

/// A parse error naming the updater, file and position.
pub fn parse_error(
    updater: &str,
    file: &FetchedFile,
    position: impl Into<String>,
    message: impl Into<String>,
) -> UpdaterError {
    UpdaterError::Parse {
        updater: updater.to_string(),
        file: file.url.clone(),
        position: position.into(),
        message: message.into(),
    }
}

/// A buffered reader over a fetched file, decompressed.
pub fn open(
    updater: &str,
    f: &FetchedFile,
) -> Result<BufReader<Box<dyn Read + Send>>, UpdaterError> {
    Ok(BufReader::with_capacity(
        256 * 1024,
        open_decompressed(updater, f)?,
    ))
}

/// Read an OVAL file in two passes, calling `each` with the index and every definition.
pub fn each_oval_definition(
    updater: &str,
    f: &FetchedFile,
    mut each: impl FnMut(&Index, Definition) -> Result<(), Stopped>,
) -> Result<(), UpdaterError> {
    let oval_err =
        |e: OvalError| parse_error(updater, f, format!("byte {}", e.position), e.message);
    let idx = oval::read_index(open(updater, f)?).map_err(oval_err)?;
    oval::for_each_definition(open(updater, f)? as BufReader<_>, |d| each(&idx, d))
        .map_err(oval_err)
}

/// Send a vulnerability, turning a stopped consumer into [`Stopped`].
pub fn send(emit: &mut Emit<'_>, v: Vulnerability) -> Result<(), Stopped> {
    emit(Record::Vulnerability(v)).map_err(|_| Stopped)
}

/// A vendor's severity word looked up in the feed's own table, spelled exactly as there (as
/// claircore compares them); Unknown when it is not in the table.
pub fn severity_in(word: &str, table: &[(&str, Severity)]) -> Severity {
    table
        .iter()
        .find(|(w, _)| *w == word)
        .map_or(Severity::Unknown, |(_, s)| *s)
}

/// Read a whole (small) fetched file into memory, bounded.
pub fn read_all(updater: &str, f: &FetchedFile, limit: u64) -> Result<Vec<u8>, UpdaterError> {
    let mut v = Vec::new();
    open(updater, f)?
        .take(limit + 1)
        .read_to_end(&mut v)
        .map_err(|source| UpdaterError::Io {
            updater: updater.to_string(),
            file: f.url.clone(),
            source,
        })?;
    if v.len() as u64 > limit {
        return Err(parse_error(
            updater,
            f,
            "end",
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(v)
}

/// Test helpers: run a parser over a corpus file.
#[cfg(test)]
pub mod testing {
    use clair_matcher::{FetchedFile, Record, UpdaterError, Validators};
    use clair_types::Vulnerability;

    /// A corpus feed file as if it had been fetched.
    pub fn fetched(rel: &str) -> FetchedFile {
        FetchedFile {
            name: rel.rsplit('/').next().unwrap_or(rel).to_string(),
            url: format!("file://{rel}"),
            path: crate::test_corpus::corpus(rel),
            validators: Validators::default(),
        }
    }

    /// Check a feed's severity mapping against `(vendor word, normalized)` cases.
    pub fn check_severities(
        normalize: impl Fn(&str) -> clair_types::Severity,
        cases: &[(&str, clair_types::Severity)],
    ) {
        for (word, want) in cases {
            assert_eq!(normalize(word), *want, "{word:?}");
        }
    }

    /// Every vulnerability a parser emits for a corpus file.
    pub fn vulns(
        rel: &str,
        parse: impl Fn(&FetchedFile, &mut clair_matcher::Emit<'_>) -> Result<(), UpdaterError>,
    ) -> Vec<Vulnerability> {
        let f = fetched(rel);
        let mut out = Vec::new();
        parse(&f, &mut |r| {
            if let Record::Vulnerability(v) = r {
                out.push(v);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
        out
    }
}
