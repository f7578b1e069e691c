//! Helpers shared by the updaters of this crate.

use std::io::{BufReader, Read};
use std::path::Path;

use clair_matcher::fetch::FetchError;
use clair_matcher::{
    Emit, FetchOutcome, FetchedFile, Http, Record, Updater, UpdaterError, fetch_urls,
    open_decompressed,
};
use clair_types::OpKind;
use clair_types::{PackageKind, Severity, Vulnerability};

use crate::oval::{self, Definition, Fact, Index, Leaf, OvalError, Stopped};

/// A parser of one fetched file, streaming its records through `emit`.
pub type ParseFile = fn(&str, &FetchedFile, &mut Emit<'_>) -> Parsed;

/// An updater whose files are a fixed list of `(name, url)` fetched with conditional GETs
/// ([`fetch_urls`]), each read by the same parser: what most feeds are. The list of them and
/// how settings build them is `registry.rs`; each feed's module holds its parser and defaults.
#[derive(Debug, Clone)]
pub struct FileFeed {
    /// Stable name, persisted with update operations.
    pub name: String,
    /// Version of the records the parser writes (see [`Updater::version`]).
    pub version: u32,
    /// Vulnerabilities or enrichments.
    pub kind: OpKind,
    /// `(logical name, URL)` of every file, in the order the parser wants them.
    pub files: Vec<(String, String)>,
    /// The parser of one file.
    pub parse: ParseFile,
}

impl FileFeed {
    /// A vulnerability feed of version 1.
    pub fn new(name: &str, files: Vec<(String, String)>, parse: ParseFile) -> FileFeed {
        FileFeed {
            name: name.to_string(),
            version: 1,
            kind: OpKind::Vulnerability,
            files,
            parse,
        }
    }
}

impl Updater for FileFeed {
    fn name(&self) -> &str {
        &self.name
    }
    fn version(&self) -> u32 {
        self.version
    }
    fn kind(&self) -> OpKind {
        self.kind
    }
    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        fetch_urls(&self.name, http, dir, prior, &self.files)
    }
    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        parse_each(&self.name, files, emit, self.parse)
    }
}

/// Parse every fetched file, in order, with one parser.
pub fn parse_each(
    updater: &str,
    files: &[FetchedFile],
    emit: &mut Emit<'_>,
    parse: ParseFile,
) -> Result<(), UpdaterError> {
    files.iter().try_for_each(|f| parse(updater, f, emit))
}

/// `base` as a directory URL: with one trailing `/`.
pub fn directory(base: &str) -> String {
    if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    }
}

/// `(name, URL)` of files under a base URL, each given as `(name, path relative to base)`.
pub fn files_under(
    base: &str,
    files: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let base = directory(base);
    files
        .into_iter()
        .map(|(name, path)| (name, format!("{base}{path}")))
        .collect()
}

/// `(name, name)` for each file name: files fetched under their own names.
pub fn named(names: impl IntoIterator<Item = String>) -> impl Iterator<Item = (String, String)> {
    names.into_iter().map(|n| (n.clone(), n))
}

/// A list of borrowed strings, owned.
pub fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The records of an OVAL definition whose facts are rpm packages per release (Oracle, Photon,
/// SUSE): for each clause `namespace` places (`None`: passed over), one record per name of
/// `names` and distinct (namespace, package fact), with the definition's severity.
pub fn rpm_oval_records(
    updater: &str,
    (idx, d): (&Index, &Definition),
    names: &[String],
    namespace: impl FnMut(&[Leaf]) -> Option<String>,
    severity: fn(&str) -> Severity,
    emit: &mut Emit<'_>,
) -> Result<(), Stopped> {
    let sev = (d.severity.as_str(), severity(&d.severity));
    oval::each_fact(idx, d, &["rpminfo_test"], namespace, |ns, fact| {
        for name in names {
            let v = oval_vulnerability(updater, name, ns.clone(), "rpm", (d, fact.clone()), sev);
            send(emit, v)?;
        }
        Ok(())
    })
}

/// The vulnerability an OVAL definition states about one package fact, with the fields every
/// vendor fills the same way (name, package, fix, description, links, date); the caller sets
/// what its feed says otherwise (`module`, `repository`) on the result.
pub fn oval_vulnerability(
    updater: &str,
    name: &str,
    namespace: String,
    scheme: &str,
    (d, fact): (&Definition, Fact),
    (severity, normalized): (&str, Severity),
) -> Vulnerability {
    Vulnerability {
        updater: updater.to_string(),
        name: name.to_string(),
        namespace,
        package_name: fact.name,
        package_kind: PackageKind::Binary,
        version_scheme: scheme.into(),
        fixed_in_version: fact.fixed,
        arch: fact.arch,
        severity: severity.to_string(),
        normalized_severity: normalized,
        description: d.description.clone(),
        links: oval::links(d),
        issued: oval::issued(&d.issued),
        ..Vulnerability::default()
    }
}

/// A parse error naming the updater, file and position.
/// The XML version feeds are read as (OVAL and updateinfo documents are XML 1.0): text and
/// attribute values are normalized by its rules.
pub const XML_1_0: quick_xml::XmlVersion = quick_xml::XmlVersion::Implicit1_0;

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

/// The error of a download.
pub fn fetch_error(updater: &str) -> impl Fn(FetchError) -> UpdaterError + Copy {
    move |source| UpdaterError::Fetch {
        updater: updater.to_string(),
        source,
    }
}

/// Any other error of an updater (what it downloaded says something unexpected).
pub fn other_error(updater: &str) -> impl Fn(String) -> UpdaterError + Copy {
    move |message| UpdaterError::Other {
        updater: updater.to_string(),
        message,
    }
}

/// The error of reading a fetched file.
pub fn io_error(updater: &str, f: &FetchedFile) -> impl Fn(std::io::Error) -> UpdaterError + Copy {
    move |source| UpdaterError::Io {
        updater: updater.to_string(),
        file: f.url.clone(),
        source,
    }
}

/// A JSON syntax or shape error of a fetched file, at its line and column (of `member`, one
/// document of an archive, when not empty).
pub fn json_error(
    updater: &str,
    f: &FetchedFile,
    member: &str,
    e: serde_json::Error,
) -> UpdaterError {
    let at = format!("line {} column {}", e.line(), e.column());
    let position = if member.is_empty() {
        at
    } else {
        format!("{member} {at}")
    };
    parse_error(updater, f, position, e.to_string())
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

/// What a parser of fetched files returns.
pub type Parsed = Result<(), UpdaterError>;

/// A vendor's reading of one OVAL definition: the records it states, sent through `emit`.
pub type OvalRecords = fn(&str, &Index, &Definition, &mut Emit<'_>) -> Result<(), Stopped>;

/// Parse an OVAL file: read it in two passes, calling `records` with the index and every
/// definition.
pub fn parse_oval(
    updater: &str,
    f: &FetchedFile,
    emit: &mut Emit<'_>,
    records: OvalRecords,
) -> Parsed {
    let oval_err =
        |e: OvalError| parse_error(updater, f, format!("byte {}", e.position), e.message);
    let idx = oval::read_index(open(updater, f)?).map_err(oval_err)?;
    oval::for_each_definition(open(updater, f)? as BufReader<_>, |d| {
        records(updater, &idx, &d, emit)
    })
    .map_err(oval_err)
}

/// Send a vulnerability, turning a stopped consumer into [`Stopped`].
pub fn send(emit: &mut Emit<'_>, v: Vulnerability) -> Result<(), Stopped> {
    emit(Record::Vulnerability(v)).map_err(|_| Stopped)
}

/// The normalized severity of a vendor's severity word, from the feed's word for each level in
/// Clair v4's order — negligible, low, medium, high, critical (`""` where the feed has none) —
/// spelled exactly as there (claircore compares them so); Unknown for any other word.
pub fn severity_in(word: &str, words: &[&str; 5]) -> Severity {
    const LEVELS: [Severity; 5] = [
        Severity::Negligible,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    words
        .iter()
        .position(|w| !w.is_empty() && *w == word)
        .map_or(Severity::Unknown, |i| LEVELS[i])
}

/// Read a whole (small) fetched file into memory, bounded.
pub fn read_all(updater: &str, f: &FetchedFile, limit: u64) -> Result<Vec<u8>, UpdaterError> {
    let mut v = Vec::new();
    open(updater, f)?
        .take(limit + 1)
        .read_to_end(&mut v)
        .map_err(io_error(updater, f))?;
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

    /// Every enrichment a parser emits for a corpus file.
    pub fn enrichments(
        rel: &str,
        updater: &str,
        parse: super::ParseFile,
    ) -> Vec<clair_types::EnrichmentRecord> {
        let mut out = Vec::new();
        parse(updater, &fetched(rel), &mut |r| {
            if let Record::Enrichment(e) = r {
                out.push(e);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
        out
    }

    /// Every vulnerability a parser emits for a document given as text (written to a
    /// temporary file), sorted: for comparing what two spellings of one feed produce.
    pub fn vulns_of_text(
        text: &str,
        parse: impl Fn(&FetchedFile, &mut clair_matcher::Emit<'_>) -> Result<(), UpdaterError>,
    ) -> Vec<Vulnerability> {
        let dir = tempfile::tempdir().unwrap();
        let mut f = fetched("feed");
        f.path = dir.path().join("feed");
        std::fs::write(&f.path, text).unwrap();
        let mut out = collect(&f, parse).unwrap_or_else(|e| panic!("{e}"));
        out.sort();
        out
    }

    /// What a parser emits for a corpus file's text as written and as `reorder` rewrites it
    /// (which must change it), each sorted: for checking that a feed's order does not matter.
    pub fn records_both_ways(
        rel: &str,
        updater: &str,
        parse: super::ParseFile,
        reorder: impl Fn(&str) -> String,
    ) -> (Vec<Vulnerability>, Vec<Vulnerability>) {
        let text = crate::test_corpus::corpus_text(rel);
        let reordered = reorder(&text);
        assert_ne!(reordered, text);
        let records = |t: &str| vulns_of_text(t, |f, e| parse(updater, f, e));
        (records(&text), records(&reordered))
    }

    /// Both lists hold the same records (`what` names the case in the failure message).
    pub fn assert_same_records(what: &str, a: &[Vulnerability], b: &[Vulnerability]) {
        assert_eq!(a.len(), b.len(), "{what}: as many records");
        if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
            panic!("{what}: first difference\n{:#?}\n{:#?}", a[i], b[i]);
        }
    }

    /// An XML document with the children of every element named in `parents` in reverse
    /// order (definitions, criteria, packages, ...): the same feed, written in another order.
    pub fn reverse_xml_children(xml: &str, parents: &[&str]) -> String {
        use quick_xml::events::Event;
        enum Node {
            Element(Event<'static>, Vec<Node>, Option<Event<'static>>),
            Leaf(Event<'static>),
        }
        fn write(w: &mut quick_xml::Writer<Vec<u8>>, nodes: &[Node]) {
            for n in nodes {
                match n {
                    Node::Leaf(e) => w.write_event(e.clone()).unwrap(),
                    Node::Element(start, children, end) => {
                        w.write_event(start.clone()).unwrap();
                        write(w, children);
                        if let Some(end) = end {
                            w.write_event(end.clone()).unwrap();
                        }
                    }
                }
            }
        }
        let mut r = quick_xml::Reader::from_str(xml);
        let mut stack: Vec<(Option<Event<'static>>, Vec<Node>)> = vec![(None, Vec::new())];
        loop {
            match r.read_event().unwrap() {
                Event::Eof => break,
                Event::Start(s) => stack.push((Some(Event::Start(s.into_owned())), Vec::new())),
                Event::End(e) => {
                    let (start, mut children) = stack.pop().unwrap();
                    let Some(Event::Start(s)) = &start else {
                        panic!("unbalanced document");
                    };
                    let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                    if parents.contains(&name.as_str()) {
                        children.reverse();
                    }
                    let node =
                        Node::Element(start.unwrap(), children, Some(Event::End(e.into_owned())));
                    stack.last_mut().unwrap().1.push(node);
                }
                e => stack.last_mut().unwrap().1.push(Node::Leaf(e.into_owned())),
            }
        }
        let mut w = quick_xml::Writer::new(Vec::new());
        write(&mut w, &stack.pop().unwrap().1);
        String::from_utf8(w.into_inner()).unwrap()
    }

    /// A JSON document written in another order: every object's keys in reverse (sorted)
    /// order, and the arrays held by the keys in `arrays` reversed.
    pub fn reverse_json(text: &str, arrays: &[&str]) -> String {
        fn go(v: &serde_json::Value, reverse: bool, arrays: &[&str], out: &mut String) {
            match v {
                serde_json::Value::Object(m) => {
                    out.push('{');
                    for (i, (k, v)) in m.iter().rev().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&serde_json::to_string(k).unwrap());
                        out.push(':');
                        go(v, arrays.contains(&k.as_str()), arrays, out);
                    }
                    out.push('}');
                }
                serde_json::Value::Array(a) => {
                    out.push('[');
                    let items: Vec<&serde_json::Value> = if reverse {
                        a.iter().rev().collect()
                    } else {
                        a.iter().collect()
                    };
                    for (i, v) in items.into_iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        go(v, false, arrays, out);
                    }
                    out.push(']');
                }
                v => out.push_str(&v.to_string()),
            }
        }
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut out = String::new();
        go(&v, false, arrays, &mut out);
        out
    }

    /// Every vulnerability a parser emits for a corpus file.
    pub fn vulns(
        rel: &str,
        parse: impl Fn(&FetchedFile, &mut clair_matcher::Emit<'_>) -> Result<(), UpdaterError>,
    ) -> Vec<Vulnerability> {
        collect(&fetched(rel), parse).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn collect(
        f: &FetchedFile,
        parse: impl Fn(&FetchedFile, &mut clair_matcher::Emit<'_>) -> Result<(), UpdaterError>,
    ) -> Result<Vec<Vulnerability>, UpdaterError> {
        let mut out = Vec::new();
        parse(f, &mut |r| {
            if let Record::Vulnerability(v) = r {
                out.push(v);
            }
            Ok(())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    /// Every feed's vendor words (urgency, impact) normalize exactly as Clair v4 normalizes them
    /// (claircore `<feed>/normalizeseverity.go`, `debian/severity.go`, `rhel/internal/common`).
    #[test]
    fn severities_as_clair_v4_normalizes_them() {
        use clair_types::Severity as S;
        type Normalize = fn(&str) -> S;
        type Cases<'a> = &'a [(&'a str, S)];
        let feeds: [(&str, Normalize, Cases); 7] = [
            (
                "ubuntu",
                crate::ubuntu::severity,
                &[
                    ("Negligible", S::Negligible),
                    ("Low", S::Low),
                    ("Medium", S::Medium),
                    ("High", S::High),
                    ("Critical", S::Critical),
                    ("Untriaged", S::Unknown),
                    ("medium", S::Unknown),
                    ("", S::Unknown),
                ],
            ),
            (
                "photon",
                crate::photon::severity,
                &[
                    ("Low", S::Low),
                    ("Moderate", S::Medium),
                    ("Important", S::High),
                    ("Critical", S::Critical),
                    ("important", S::Unknown),
                    ("", S::Unknown),
                ],
            ),
            (
                "oracle",
                crate::oracle::severity,
                &[
                    ("LOW", S::Low),
                    ("MODERATE", S::Medium),
                    ("IMPORTANT", S::High),
                    ("CRITICAL", S::Critical),
                    ("N/A", S::Unknown),
                    ("moderate", S::Unknown),
                ],
            ),
            (
                "suse",
                crate::suse::severity,
                &[
                    ("Low", S::Low),
                    ("Moderate", S::Medium),
                    ("Important", S::High),
                    ("Critical", S::Critical),
                    ("None", S::Unknown),
                    ("moderate", S::Unknown),
                ],
            ),
            (
                "aws",
                crate::aws::severity,
                &[
                    ("low", S::Low),
                    ("medium", S::Medium),
                    ("important", S::High),
                    ("critical", S::Critical),
                    ("Important", S::Unknown),
                    ("", S::Unknown),
                ],
            ),
            (
                "debian",
                crate::debian::severity,
                &[
                    ("unimportant", S::Low),
                    ("low", S::Medium),
                    ("Medium", S::High),
                    ("high", S::Critical),
                    ("not yet assigned", S::Unknown),
                    ("end-of-life", S::Unknown),
                    ("low**", S::Unknown),
                    ("", S::Unknown),
                ],
            ),
            (
                "rhel",
                crate::rhel::severity,
                &[
                    ("Low", S::Low),
                    ("moderate", S::Medium),
                    ("Important", S::High),
                    ("CRITICAL", S::Critical),
                    ("None", S::Unknown),
                    ("", S::Unknown),
                ],
            ),
        ];
        for (feed, normalize, cases) in feeds {
            for (word, want) in cases {
                assert_eq!(normalize(word), *want, "{feed}: {word:?}");
            }
        }
    }
}
