//! Helpers shared by the updaters of this crate.

use std::io::{BufReader, Read};

use clair_matcher::{Emit, FetchedFile, Record, UpdaterError, open_decompressed};
use clair_types::{Severity, Vulnerability};

use crate::oval::{self, Definition, Index, OvalError, Stopped};

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
