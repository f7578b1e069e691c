//! OVAL definitions (Red Hat, Oracle, Ubuntu, SUSE, Photon publish their advisories this way).
//!
//! A file is read in two streaming passes, so memory holds only the small test/object/state
//! tables, never the whole document:
//! 1. [`read_index`]: tests, objects, states and constant variables (they come after the
//!    definitions in every vendor's files);
//! 2. [`for_each_definition`]: each definition with its metadata and criteria tree, handed to
//!    the caller and dropped.
//!
//! Vendor modules interpret definitions (which tests mean "package X before version V", which
//! criterion names the release) with [`clauses`], which flattens a criteria tree into the
//! alternative sets of criteria that must all hold.

mod facts;

use std::collections::HashMap;
use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::feed::XML_1_0;

pub use facts::{Fact, each_fact, facts, issued, links, number_after, release_of};

/// A malformed OVAL document.
#[derive(Debug, thiserror::Error)]
#[error("byte {position}: {message}")]
pub struct OvalError {
    /// Byte offset in the (decompressed) document.
    pub position: u64,
    /// What is wrong.
    pub message: String,
}

/// The consumer stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// A reference (`<reference source="CVE" ref_id=… ref_url=…>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    /// `CVE`, `RHSA`, `USN`, ...
    pub source: String,
    /// The id.
    pub ref_id: String,
    /// Its URL.
    pub ref_url: String,
}

/// An advisory `<cve>` element (Red Hat, Oracle).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cve {
    /// `CVE-2020-11008`.
    pub id: String,
    /// Link.
    pub href: String,
    /// `7.5/CVSS:3.1/AV:N/...` when given.
    pub cvss3: String,
    /// Per-CVE severity (Ubuntu `priority`, Red Hat `impact`).
    pub impact: String,
}

/// The criteria tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criteria {
    /// `<criteria operator="AND|OR">`.
    Node {
        /// True for AND (and ONE), false for OR.
        and: bool,
        /// `negate="true"`.
        negate: bool,
        /// Children.
        children: Vec<Criteria>,
    },
    /// `<criterion test_ref=… comment=…>`.
    Criterion {
        /// The test id.
        test_ref: String,
        /// The comment (vendors encode release and module facts here).
        comment: String,
        /// `negate="true"`.
        negate: bool,
    },
    /// `<extend_definition definition_ref=…>`.
    Extend {
        /// The definition id.
        definition_ref: String,
        /// The comment.
        comment: String,
    },
}

/// One `<definition>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Definition {
    /// `oval:com.redhat.rhsa:def:20201980`.
    pub id: String,
    /// `patch`, `vulnerability`, `inventory`.
    pub class: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Advisory severity (Red Hat `<severity>`, Ubuntu/Debian `<severity>`).
    pub severity: String,
    /// Issue date (`<issued date=…>` or Ubuntu's `<public_date>`).
    pub issued: String,
    /// References.
    pub references: Vec<Reference>,
    /// Advisory CVEs.
    pub cves: Vec<Cve>,
    /// `<affected><platform>` values.
    pub platforms: Vec<String>,
    /// `<affected_cpe_list><cpe>` values.
    pub cpes: Vec<String>,
    /// The criteria tree (None when absent).
    pub criteria: Option<Criteria>,
}

/// A test (`rpminfo_test`, `dpkginfo_test`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Test {
    /// Element local name.
    pub kind: String,
    /// `<object object_ref=…>`.
    pub object_ref: String,
    /// `<state state_ref=…>` (usually one).
    pub state_refs: Vec<String>,
    /// `check` attribute.
    pub check: String,
}

/// An object: the package name, literal or through a variable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    /// Literal `<name>`.
    pub name: String,
    /// `<name var_ref=…>`.
    pub var_ref: String,
}

/// A state field with its comparison (`<evr operation="less than">0:1.2-3</evr>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    /// `less than`, `equals`, `pattern match`, ...
    pub operation: String,
    /// The value.
    pub value: String,
    /// `datatype` attribute (`rpm_evr_string`, `debian_evr_string`, ...).
    pub datatype: String,
}

/// A state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// `<evr>`.
    pub evr: Option<Check>,
    /// `<version>`.
    pub version: Option<Check>,
    /// `<arch>`.
    pub arch: Option<Check>,
    /// `<signature_keyid>`.
    pub signature_keyid: Option<Check>,
}

/// Tests, objects, states and variables by id.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Tests.
    pub tests: HashMap<String, Test>,
    /// Objects.
    pub objects: HashMap<String, Object>,
    /// States.
    pub states: HashMap<String, State>,
    /// Constant variables: values by id.
    pub variables: HashMap<String, Vec<String>>,
}

impl Index {
    /// The package names a test's object designates (a variable may name several).
    pub fn package_names(&self, test: &Test) -> Vec<String> {
        let Some(o) = self.objects.get(&test.object_ref) else {
            return Vec::new();
        };
        if !o.name.is_empty() {
            return vec![o.name.clone()];
        }
        self.variables.get(&o.var_ref).cloned().unwrap_or_default()
    }

    /// The first state of a test.
    pub fn state(&self, test: &Test) -> Option<&State> {
        test.state_refs.iter().find_map(|s| self.states.get(s))
    }
}

fn err(r: &Reader<impl BufRead>, message: impl Into<String>) -> OvalError {
    OvalError {
        position: r.buffer_position(),
        message: message.into(),
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> String {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| a.normalized_value(XML_1_0).ok().map(|v| v.into_owned()))
        .unwrap_or_default()
}

fn local(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

/// Read text up to the end of the current element (entity references resolved, nested
/// elements' text included).
fn read_text<R: BufRead>(r: &mut Reader<R>, buf: &mut Vec<u8>) -> Result<String, OvalError> {
    let mut out = String::new();
    let mut depth = 0usize;
    loop {
        buf.clear();
        match r.read_event_into(buf).map_err(|e| err(r, e.to_string()))? {
            Event::Text(t) => {
                out.push_str(&t.xml_content(XML_1_0).map_err(|e| err(r, e.to_string()))?)
            }
            Event::CData(t) => out.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(g) => {
                let name = String::from_utf8_lossy(&g).into_owned();
                out.push_str(&resolve_entity(&name));
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                if depth == 0 {
                    return Ok(out);
                }
                depth -= 1;
            }
            Event::Eof => return Err(err(r, "unexpected end of document inside an element")),
            _ => {}
        }
    }
}

fn resolve_entity(name: &str) -> String {
    match name {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        n => {
            let code = n
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()));
            code.and_then(char::from_u32)
                .map(String::from)
                .unwrap_or_else(|| format!("&{n};"))
        }
    }
}

fn reader<R: BufRead>(input: R) -> Reader<R> {
    let mut r = Reader::from_reader(input);
    r.config_mut().trim_text(false);
    r
}

/// Skip the rest of the current element.
fn skip<R: BufRead>(r: &mut Reader<R>, buf: &mut Vec<u8>) -> Result<(), OvalError> {
    read_text(r, buf).map(|_| ())
}

/// Pass 1: the tests, objects, states and variables of a document.
pub fn read_index<R: BufRead>(input: R) -> Result<Index, OvalError> {
    let mut r = reader(input);
    let mut buf = Vec::new();
    let mut idx = Index::default();
    let mut section = String::new();
    let mut saw_root = false;
    loop {
        buf.clear();
        let ev = r
            .read_event_into(&mut buf)
            .map_err(|e| err(&r, e.to_string()))?;
        match ev {
            Event::Start(e) => {
                let name = local(&e);
                match name.as_str() {
                    "oval_definitions" => saw_root = true,
                    "definitions" | "tests" | "objects" | "states" | "variables" => section = name,
                    // Definitions are pass 2's business.
                    _ if section == "definitions" => skip(&mut r, &mut Vec::new())?,
                    _ if section == "tests" => {
                        let t = read_test(&mut r, &e)?;
                        idx.tests.insert(attr(&e, "id"), t);
                    }
                    _ if section == "objects" => {
                        let id = attr(&e, "id");
                        let o = read_object(&mut r)?;
                        idx.objects.insert(id, o);
                    }
                    _ if section == "states" => {
                        let id = attr(&e, "id");
                        let s = read_state(&mut r)?;
                        idx.states.insert(id, s);
                    }
                    _ if section == "variables" => {
                        let id = attr(&e, "id");
                        let v = read_values(&mut r)?;
                        idx.variables.insert(id, v);
                    }
                    _ => {}
                }
            }
            Event::Empty(e) => {
                let name = local(&e);
                if section == "tests" {
                    // A test without children (no object): record it anyway.
                    idx.tests.insert(
                        attr(&e, "id"),
                        Test {
                            kind: name,
                            check: attr(&e, "check"),
                            ..Test::default()
                        },
                    );
                }
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == section {
                    section.clear();
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(err(
            &r,
            "not an OVAL document (no oval_definitions element)",
        ));
    }
    Ok(idx)
}

fn read_test<R: BufRead>(r: &mut Reader<R>, start: &BytesStart<'_>) -> Result<Test, OvalError> {
    let mut t = Test {
        kind: local(start),
        check: attr(start, "check"),
        ..Test::default()
    };
    let mut buf = Vec::new();
    let mut depth = 0usize;
    loop {
        buf.clear();
        match r
            .read_event_into(&mut buf)
            .map_err(|e| err(r, e.to_string()))?
        {
            Event::Start(e) => {
                match local(&e).as_str() {
                    "object" => t.object_ref = attr(&e, "object_ref"),
                    "state" => t.state_refs.push(attr(&e, "state_ref")),
                    _ => {}
                }
                depth += 1;
            }
            Event::Empty(e) => match local(&e).as_str() {
                "object" => t.object_ref = attr(&e, "object_ref"),
                "state" => t.state_refs.push(attr(&e, "state_ref")),
                _ => {}
            },
            Event::End(_) => {
                if depth == 0 {
                    return Ok(t);
                }
                depth -= 1;
            }
            Event::Eof => return Err(err(r, "unexpected end of document in a test")),
            _ => {}
        }
    }
}

fn read_object<R: BufRead>(r: &mut Reader<R>) -> Result<Object, OvalError> {
    let mut o = Object::default();
    let mut buf = Vec::new();
    let mut depth = 0usize;
    loop {
        buf.clear();
        match r
            .read_event_into(&mut buf)
            .map_err(|e| err(r, e.to_string()))?
        {
            Event::Start(e) => {
                if local(&e) == "name" {
                    o.var_ref = attr(&e, "var_ref");
                    o.name = read_text(r, &mut Vec::new())?.trim().to_string();
                } else {
                    depth += 1;
                }
            }
            Event::Empty(e) if local(&e) == "name" => o.var_ref = attr(&e, "var_ref"),
            Event::End(_) => {
                if depth == 0 {
                    return Ok(o);
                }
                depth -= 1;
            }
            Event::Eof => return Err(err(r, "unexpected end of document in an object")),
            _ => {}
        }
    }
}

fn read_state<R: BufRead>(r: &mut Reader<R>) -> Result<State, OvalError> {
    let mut s = State::default();
    let mut buf = Vec::new();
    let mut depth = 0usize;
    loop {
        buf.clear();
        match r
            .read_event_into(&mut buf)
            .map_err(|e| err(r, e.to_string()))?
        {
            Event::Start(e) => {
                let name = local(&e);
                let check = |r: &mut Reader<R>| -> Result<Check, OvalError> {
                    Ok(Check {
                        operation: attr(&e, "operation"),
                        datatype: attr(&e, "datatype"),
                        value: read_text(r, &mut Vec::new())?.trim().to_string(),
                    })
                };
                match name.as_str() {
                    "evr" => s.evr = Some(check(r)?),
                    "version" => s.version = Some(check(r)?),
                    "arch" => s.arch = Some(check(r)?),
                    "signature_keyid" => s.signature_keyid = Some(check(r)?),
                    _ => depth += 1,
                }
            }
            Event::End(_) => {
                if depth == 0 {
                    return Ok(s);
                }
                depth -= 1;
            }
            Event::Eof => return Err(err(r, "unexpected end of document in a state")),
            _ => {}
        }
    }
}

fn read_values<R: BufRead>(r: &mut Reader<R>) -> Result<Vec<String>, OvalError> {
    let mut v = Vec::new();
    let mut buf = Vec::new();
    let mut depth = 0usize;
    loop {
        buf.clear();
        match r
            .read_event_into(&mut buf)
            .map_err(|e| err(r, e.to_string()))?
        {
            Event::Start(e) => {
                if local(&e) == "value" {
                    v.push(read_text(r, &mut Vec::new())?.trim().to_string());
                } else {
                    depth += 1;
                }
            }
            Event::End(_) => {
                if depth == 0 {
                    return Ok(v);
                }
                depth -= 1;
            }
            Event::Eof => return Err(err(r, "unexpected end of document in a variable")),
            _ => {}
        }
    }
}

/// Pass 2: call `f` with every definition, in document order.
pub fn for_each_definition<R: BufRead>(
    input: R,
    mut f: impl FnMut(Definition) -> Result<(), Stopped>,
) -> Result<(), OvalError> {
    let mut r = reader(input);
    let mut buf = Vec::new();
    let mut in_definitions = false;
    loop {
        buf.clear();
        match r
            .read_event_into(&mut buf)
            .map_err(|e| err(&r, e.to_string()))?
        {
            Event::Start(e) => {
                let name = local(&e);
                if name == "definitions" {
                    in_definitions = true;
                } else if in_definitions && name == "definition" {
                    let mut d = Definition {
                        id: attr(&e, "id"),
                        class: attr(&e, "class"),
                        ..Definition::default()
                    };
                    read_definition(&mut r, &mut d)?;
                    if f(d).is_err() {
                        return Ok(());
                    }
                } else if !in_definitions
                    && matches!(name.as_str(), "tests" | "objects" | "states" | "variables")
                {
                    skip(&mut r, &mut Vec::new())?;
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"definitions" => in_definitions = false,
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

fn read_definition<R: BufRead>(r: &mut Reader<R>, d: &mut Definition) -> Result<(), OvalError> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r
            .read_event_into(&mut buf)
            .map_err(|e| err(r, e.to_string()))?
        {
            Event::Start(e) => {
                let name = local(&e);
                match name.as_str() {
                    "title" => d.title = read_text(r, &mut Vec::new())?.trim().to_string(),
                    "description" => {
                        d.description = read_text(r, &mut Vec::new())?.trim().to_string()
                    }
                    "severity" => d.severity = read_text(r, &mut Vec::new())?.trim().to_string(),
                    "public_date" if d.issued.is_empty() => {
                        d.issued = read_text(r, &mut Vec::new())?.trim().to_string();
                    }
                    "platform" => d
                        .platforms
                        .push(read_text(r, &mut Vec::new())?.trim().to_string()),
                    "cpe" => d
                        .cpes
                        .push(read_text(r, &mut Vec::new())?.trim().to_string()),
                    "cve" => {
                        let mut c = Cve {
                            href: attr(&e, "href"),
                            cvss3: attr(&e, "cvss3"),
                            impact: {
                                let i = attr(&e, "impact");
                                if i.is_empty() {
                                    attr(&e, "priority")
                                } else {
                                    i
                                }
                            },
                            ..Cve::default()
                        };
                        c.id = read_text(r, &mut Vec::new())?.trim().to_string();
                        d.cves.push(c);
                    }
                    "reference" => {
                        d.references.push(Reference {
                            source: attr(&e, "source"),
                            ref_id: attr(&e, "ref_id"),
                            ref_url: attr(&e, "ref_url"),
                        });
                        skip(r, &mut Vec::new())?;
                    }
                    "issued" => {
                        d.issued = attr(&e, "date");
                        skip(r, &mut Vec::new())?;
                    }
                    "criteria" => d.criteria = Some(read_criteria(r, &e, 0)?),
                    _ => {}
                }
            }
            Event::Empty(e) => match local(&e).as_str() {
                "reference" => d.references.push(Reference {
                    source: attr(&e, "source"),
                    ref_id: attr(&e, "ref_id"),
                    ref_url: attr(&e, "ref_url"),
                }),
                "issued" => d.issued = attr(&e, "date"),
                "criteria" => {
                    d.criteria = Some(Criteria::Node {
                        and: attr(&e, "operator") != "OR",
                        negate: attr(&e, "negate") == "true",
                        children: Vec::new(),
                    })
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == b"definition" => return Ok(()),
            Event::Eof => {
                return Err(err(
                    r,
                    format!("unexpected end of document in definition {}", d.id),
                ));
            }
            _ => {}
        }
    }
}

/// Deepest criteria nesting accepted (real files nest a handful of levels).
const MAX_DEPTH: usize = 64;

fn read_criteria<R: BufRead>(
    r: &mut Reader<R>,
    start: &BytesStart<'_>,
    depth: usize,
) -> Result<Criteria, OvalError> {
    if depth > MAX_DEPTH {
        return Err(err(r, "criteria nested too deeply"));
    }
    let and = attr(start, "operator") != "OR";
    let negate = attr(start, "negate") == "true";
    let mut children = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r
            .read_event_into(&mut buf)
            .map_err(|e| err(r, e.to_string()))?
        {
            Event::Start(e) => match local(&e).as_str() {
                "criteria" => children.push(read_criteria(r, &e, depth + 1)?),
                "criterion" => {
                    children.push(Criteria::Criterion {
                        test_ref: attr(&e, "test_ref"),
                        comment: attr(&e, "comment"),
                        negate: attr(&e, "negate") == "true",
                    });
                    skip(r, &mut Vec::new())?;
                }
                "extend_definition" => {
                    children.push(Criteria::Extend {
                        definition_ref: attr(&e, "definition_ref"),
                        comment: attr(&e, "comment"),
                    });
                    skip(r, &mut Vec::new())?;
                }
                _ => skip(r, &mut Vec::new())?,
            },
            Event::Empty(e) => match local(&e).as_str() {
                "criterion" => children.push(Criteria::Criterion {
                    test_ref: attr(&e, "test_ref"),
                    comment: attr(&e, "comment"),
                    negate: attr(&e, "negate") == "true",
                }),
                "extend_definition" => children.push(Criteria::Extend {
                    definition_ref: attr(&e, "definition_ref"),
                    comment: attr(&e, "comment"),
                }),
                "criteria" => children.push(Criteria::Node {
                    and: attr(&e, "operator") != "OR",
                    negate: attr(&e, "negate") == "true",
                    children: Vec::new(),
                }),
                _ => {}
            },
            Event::End(_) => {
                return Ok(Criteria::Node {
                    and,
                    negate,
                    children,
                });
            }
            Event::Eof => return Err(err(r, "unexpected end of document in criteria")),
            _ => {}
        }
    }
}

/// One leaf of a criteria tree, as it appears in a clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// The test id (empty for `extend_definition`).
    pub test_ref: String,
    /// The comment.
    pub comment: String,
    /// Negated (by itself or an enclosing criteria).
    pub negate: bool,
}

/// Most clauses produced for one definition (the expansion is exponential in theory).
pub const MAX_CLAUSES: usize = 4096;

/// Flatten a criteria tree into disjunctive normal form: the list of alternative clauses, each
/// a set of leaves that must all hold. Negated subtrees are kept as negated leaves (they are
/// context such as "is not signed", which interpreters ignore). Stops at [`MAX_CLAUSES`].
pub fn clauses(c: &Criteria) -> Vec<Vec<Leaf>> {
    fn go(c: &Criteria, negated: bool) -> Vec<Vec<Leaf>> {
        match c {
            Criteria::Criterion {
                test_ref,
                comment,
                negate,
            } => vec![vec![Leaf {
                test_ref: test_ref.clone(),
                comment: comment.clone(),
                negate: *negate ^ negated,
            }]],
            Criteria::Extend {
                definition_ref: _,
                comment,
            } => vec![vec![Leaf {
                test_ref: String::new(),
                comment: comment.clone(),
                negate: negated,
            }]],
            Criteria::Node {
                and,
                negate,
                children,
            } => {
                let neg = *negate ^ negated;
                if children.is_empty() {
                    return vec![Vec::new()];
                }
                if *and {
                    let mut acc: Vec<Vec<Leaf>> = vec![Vec::new()];
                    for ch in children {
                        let sub = go(ch, neg);
                        let mut next = Vec::new();
                        'outer: for a in &acc {
                            for b in &sub {
                                if next.len() >= MAX_CLAUSES {
                                    break 'outer;
                                }
                                let mut c = a.clone();
                                c.extend(b.iter().cloned());
                                next.push(c);
                            }
                        }
                        acc = next;
                    }
                    acc
                } else {
                    let mut out = Vec::new();
                    for ch in children {
                        for c in go(ch, neg) {
                            if out.len() >= MAX_CLAUSES {
                                return out;
                            }
                            out.push(c);
                        }
                    }
                    out
                }
            }
        }
    }
    go(c, false)
}

#[cfg(test)]
mod tests;
