//! The updater extension point: fetch (network, thin) and parse (pure, streaming).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use clair_types::Vulnerability;
use clair_types::{EnrichmentRecord, OpKind};
use serde::{Deserialize, Serialize};

use crate::fetch::{Download, FetchError, Http, Validators};

/// Errors of an updater run.
#[derive(Debug, thiserror::Error)]
pub enum UpdaterError {
    /// Downloading failed.
    #[error("{updater}: {source}")]
    Fetch {
        /// The updater.
        updater: String,
        /// Cause.
        #[source]
        source: FetchError,
    },
    /// A fetched file is malformed.
    #[error("{updater}: {file}: {position}: {message}")]
    Parse {
        /// The updater.
        updater: String,
        /// The file (its URL or name).
        file: String,
        /// Where: "line 12 column 5", "byte 1024", "record CVE-2023-1".
        position: String,
        /// What is wrong.
        message: String,
    },
    /// Reading a fetched file failed.
    #[error("{updater}: {file}: {source}")]
    Io {
        /// The updater.
        updater: String,
        /// The file.
        file: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Anything else (bad configuration, ...).
    #[error("{updater}: {message}")]
    Other {
        /// The updater.
        updater: String,
        /// What is wrong.
        message: String,
    },
}

/// What an updater produces.
// Records stream one at a time; boxing the common variant would add an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A vulnerability (vulnerability updaters).
    Vulnerability(Vulnerability),
    /// An enrichment record (enrichment updaters: CVSS, EPSS, KEV).
    Enrichment(EnrichmentRecord),
}

/// One downloaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedFile {
    /// Logical name, stable across runs (`debian.json`, `rhel-8.oval.xml.bz2`).
    pub name: String,
    /// Where it came from.
    pub url: String,
    /// Where it is now.
    pub path: PathBuf,
    /// Its validators.
    pub validators: Validators,
}

/// The result of fetching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Nothing changed upstream since the prior fingerprint.
    Unchanged,
    /// New data, and the fingerprint that describes it.
    Fetched {
        /// The files, in the order `parse` wants them.
        files: Vec<FetchedFile>,
        /// Opaque marker stored with the update operation and passed back next time.
        fingerprint: String,
    },
}

/// Callback receiving parsed records; returning `Err` stops the parse (the consumer went away).
pub type Emit<'a> = dyn FnMut(Record) -> Result<(), Stop> + 'a;

/// The consumer of records stopped; parsing should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// A source of vulnerability or enrichment data.
///
/// Contract: [`fetch`](Self::fetch) does all network I/O, writing files into `dir` (a private
/// temporary directory) and returning [`FetchOutcome::Unchanged`] when `prior` (the fingerprint
/// of the last stored run, empty on the first run) still describes upstream.
/// [`parse`](Self::parse) reads only those files, is deterministic, streams records through
/// `emit` and never panics on malformed input: it returns [`UpdaterError::Parse`] naming the
/// file and position instead.
pub trait Updater: Send + Sync + Debug {
    /// Stable name, persisted with update operations (`debian`, `alpine`, `nvd`).
    fn name(&self) -> &str;
    /// Version of the records [`parse`](Self::parse) writes for the same input, persisted with
    /// the updater's status. Bump it when they change (names, ranges, what is kept): the next
    /// run then ignores the prior fingerprint, so the data is fetched and stored again.
    fn version(&self) -> u32 {
        1
    }
    /// Vulnerabilities or enrichments.
    fn kind(&self) -> OpKind {
        OpKind::Vulnerability
    }
    /// Download what changed upstream since `prior`.
    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError>;
    /// Turn fetched files into records.
    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError>;
}

/// Fingerprint of a multi-file fetch: every file's validators, by logical name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Validators by file name.
    pub files: BTreeMap<String, Validators>,
}

impl Fingerprint {
    /// Parse a stored fingerprint (empty or foreign: nothing known).
    pub fn parse(s: &str) -> Fingerprint {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// Serialise.
    pub fn to_string_lossless(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Fetch a fixed list of `(name, url)` files with conditional GETs: unchanged when every file
/// is; otherwise every file is (re)downloaded so `parse` sees a complete set.
pub fn fetch_urls(
    updater: &str,
    http: &Http,
    dir: &Path,
    prior: &str,
    urls: &[(String, String)],
) -> Result<FetchOutcome, UpdaterError> {
    let prior = Fingerprint::parse(prior);
    let err = |source| UpdaterError::Fetch {
        updater: updater.to_string(),
        source,
    };
    // First pass: conditional requests.
    let mut files = Vec::new();
    let mut fp = Fingerprint::default();
    let mut changed = false;
    let mut unchanged_names = Vec::new();
    for (name, url) in urls {
        let dest = dir.join(safe_name(name));
        match http
            .download(url, &dest, prior.files.get(name))
            .map_err(err)?
        {
            Download::NotModified => unchanged_names.push((name.clone(), url.clone(), dest)),
            Download::Fetched { validators, .. } => {
                changed = true;
                fp.files.insert(name.clone(), validators.clone());
                files.push(FetchedFile {
                    name: name.clone(),
                    url: url.clone(),
                    path: dest,
                    validators,
                });
            }
        }
    }
    if !changed {
        return Ok(FetchOutcome::Unchanged);
    }
    // Some files changed: the operation must hold everything, so fetch the rest in full.
    for (name, url, dest) in unchanged_names {
        match http.download(&url, &dest, None).map_err(err)? {
            Download::Fetched { validators, .. } => {
                fp.files.insert(name.clone(), validators.clone());
                files.push(FetchedFile {
                    name,
                    url,
                    path: dest,
                    validators,
                });
            }
            Download::NotModified => {
                return Err(UpdaterError::Other {
                    updater: updater.to_string(),
                    message: format!("{url}: 304 to an unconditional GET"),
                });
            }
        }
    }
    let order: Vec<&String> = urls.iter().map(|(n, _)| n).collect();
    files.sort_by_key(|f| order.iter().position(|n| **n == f.name));
    Ok(FetchOutcome::Fetched {
        files,
        fingerprint: fp.to_string_lossless(),
    })
}

/// A file name from a logical name: path separators and odd characters replaced.
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("f{s}")
    } else {
        s
    }
}

/// Open a fetched file, decompressing gzip, bzip2, xz or zstd transparently (by magic bytes).
pub fn open_decompressed(
    updater: &str,
    f: &FetchedFile,
) -> Result<Box<dyn std::io::Read + Send>, UpdaterError> {
    let io = |source| UpdaterError::Io {
        updater: updater.to_string(),
        file: f.url.clone(),
        source,
    };
    let file = std::fs::File::open(&f.path).map_err(io)?;
    let (_, r) = clair_layer::compression::auto_decoder(file).map_err(io)?;
    Ok(r)
}
