//! Amazon Linux: ALAS advisories from the yum repositories' `updateinfo.xml`.
//!
//! Fetch: a release's `mirror.list` names the repository; its `repodata/repomd.xml` names the
//! `updateinfo` file. Records are per advisory and package (binary rpm), fixed in the listed
//! `[epoch:]version-release`, namespace `amzn:<release>` (`amzn:2`, `amzn:2023`).

use std::path::Path;

use clair_matcher::{
    Emit, FetchOutcome, FetchedFile, Http, Record, Updater, UpdaterError, fetch_urls,
};
use clair_types::{PackageKind, Vulnerability};
use quick_xml::events::Event;

use crate::feed::{Parsed, XML_1_0, fetch_error, open, other_error, parse_each, parse_error};

/// Mirror lists per release.
pub const DEFAULT_MIRRORS: [(&str, &str); 2] = [
    (
        "2",
        "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list",
    ),
    (
        "2023",
        "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list",
    ),
];

/// The Amazon Linux updater.
#[derive(Debug, Clone)]
pub struct AwsUpdater {
    /// (release, mirror.list URL).
    pub mirrors: Vec<(String, String)>,
}

impl Default for AwsUpdater {
    fn default() -> Self {
        AwsUpdater {
            mirrors: DEFAULT_MIRRORS
                .iter()
                .map(|(r, u)| (r.to_string(), u.to_string()))
                .collect(),
        }
    }
}

impl Updater for AwsUpdater {
    fn name(&self) -> &str {
        "aws"
    }

    /// Each release's `mirror.list` and `repomd.xml` name its `updateinfo` file; those are
    /// fetched as a fixed list ([`fetch_urls`]).
    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        let (err, other) = (fetch_error(self.name()), other_error(self.name()));
        let mut urls = Vec::new();
        for (release, list) in &self.mirrors {
            let ml = dir.join(format!("mirror-{release}.list"));
            http.download(list, &ml, None).map_err(err)?;
            let repo = first_mirror(&std::fs::read_to_string(&ml).unwrap_or_default())
                .ok_or_else(|| other(format!("{list}: no repository URL")))?;
            let repomd = dir.join(format!("repomd-{release}.xml"));
            http.download(&format!("{repo}repodata/repomd.xml"), &repomd, None)
                .map_err(err)?;
            let href = updateinfo_location(&std::fs::read_to_string(&repomd).unwrap_or_default())
                .ok_or_else(|| {
                other(format!("{repo}repodata/repomd.xml: no updateinfo entry"))
            })?;
            if href.contains("..") || href.starts_with('/') || href.contains("://") {
                return Err(other(format!(
                    "{repo}repodata/repomd.xml: refusing location {href:?}"
                )));
            }
            urls.push((
                format!("amzn{release}-updateinfo.xml"),
                format!("{repo}{href}"),
            ));
        }
        fetch_urls(self.name(), http, dir, prior, &urls)
    }

    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        parse_each(self.name(), files, emit, parse_updateinfo)
    }
}

/// The namespace of an Amazon Linux image's advisories: `amzn:2`, `amzn:2023`, and
/// `amzn:2018.03` for Amazon Linux 1.
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    let v = d.version_id.trim();
    if v.is_empty() {
        return None;
    }
    if v.starts_with("20") && v.contains('.') {
        return Some(format!("amzn:{v}"));
    }
    crate::namespaces::major(v).map(|m| format!("amzn:{m}"))
}

/// The first repository URL of a `mirror.list`, with a trailing `/`.
pub fn first_mirror(list: &str) -> Option<String> {
    list.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| {
            l.starts_with("http://") || l.starts_with("https://") || l.starts_with("file://")
        })
        .map(|l| {
            if l.ends_with('/') {
                l.to_string()
            } else {
                format!("{l}/")
            }
        })
}

/// The `updateinfo` location in a `repomd.xml`.
pub fn updateinfo_location(repomd: &str) -> Option<String> {
    let start = repomd.find("<data type=\"updateinfo\"")?;
    let rest = &repomd[start..];
    let end = rest.find("</data>").unwrap_or(rest.len());
    let block = &rest[..end];
    let at = block.find("<location href=\"")? + "<location href=\"".len();
    Some(block[at..].split('"').next()?.to_string())
}

/// `ALAS2-2018-939` → `amzn:2`, `ALAS2023-…` → `amzn:2023`, `ALAS-…` → `amzn:2018.03`.
fn namespace_of(id: &str) -> String {
    let rest = id.strip_prefix("ALAS").unwrap_or("");
    let release: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if release.is_empty() {
        "amzn:2018.03".into()
    } else {
        format!("amzn:{release}")
    }
}

#[derive(Debug, Default)]
struct Update {
    kind: String,
    id: String,
    title: String,
    issued: String,
    severity: String,
    description: String,
    links: Vec<String>,
    packages: Vec<(String, String, String)>,
}

/// Parse an `updateinfo.xml` (plain or compressed).
pub fn parse_updateinfo(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    let mut r = quick_xml::Reader::from_reader(open(updater, f)?);
    let mut buf = Vec::new();
    let mut cur: Option<Update> = None;
    let mut text_for: Option<String> = None;
    let mut text = String::new();
    loop {
        buf.clear();
        let pos = r.buffer_position();
        let ev = r
            .read_event_into(&mut buf)
            .map_err(|e| parse_error(updater, f, format!("byte {pos}"), e.to_string()))?;
        let attr = |e: &quick_xml::events::BytesStart<'_>, n: &str| {
            e.try_get_attribute(n)
                .ok()
                .flatten()
                .and_then(|a| a.normalized_value(XML_1_0).ok().map(|v| v.into_owned()))
                .unwrap_or_default()
        };
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match name.as_str() {
                    "update" => {
                        cur = Some(Update {
                            kind: attr(&e, "type"),
                            ..Update::default()
                        })
                    }
                    "id" | "title" | "severity" | "description" if cur.is_some() => {
                        text_for = Some(name);
                        text.clear();
                    }
                    "issued" => {
                        if let Some(u) = &mut cur {
                            u.issued = attr(&e, "date");
                        }
                    }
                    "reference" => {
                        if let Some(u) = &mut cur {
                            let href = attr(&e, "href");
                            if !href.is_empty() {
                                u.links.push(href);
                            }
                        }
                    }
                    "package" => {
                        if let Some(u) = &mut cur {
                            let epoch = attr(&e, "epoch");
                            let vr = format!("{}-{}", attr(&e, "version"), attr(&e, "release"));
                            let evr = if epoch.is_empty() || epoch == "0" {
                                vr
                            } else {
                                format!("{epoch}:{vr}")
                            };
                            u.packages.push((attr(&e, "name"), evr, attr(&e, "arch")));
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if text_for.is_some() => {
                text.push_str(&t.xml_content(XML_1_0).unwrap_or_default());
            }
            Event::GeneralRef(g) if text_for.is_some() => {
                let n = String::from_utf8_lossy(&g).into_owned();
                text.push_str(match n.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if text_for.as_deref() == Some(name.as_str()) {
                    if let Some(u) = &mut cur {
                        let t = text.trim().to_string();
                        match name.as_str() {
                            "id" => u.id = t,
                            "title" => u.title = t,
                            "severity" => u.severity = t,
                            "description" => u.description = t,
                            _ => {}
                        }
                    }
                    text_for = None;
                } else if name == "update"
                    && let Some(u) = cur.take()
                {
                    emit_update(updater, u, emit)
                        .map_err(|_| parse_error(updater, f, format!("byte {pos}"), "stopped"))?;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

fn emit_update(updater: &str, u: Update, emit: &mut Emit<'_>) -> Result<(), ()> {
    if u.kind != "security" || u.id.is_empty() {
        return Ok(());
    }
    let ns = namespace_of(&u.id);
    let issued = u
        .issued
        .split_whitespace()
        .next()
        .map(crate::oval::issued)
        .unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    for (name, evr, arch) in u.packages {
        if arch == "src" || !seen.insert((name.clone(), evr.clone())) {
            continue;
        }
        let v = Vulnerability {
            updater: updater.to_string(),
            name: u.id.clone(),
            namespace: ns.clone(),
            package_name: name,
            package_kind: PackageKind::Binary,
            version_scheme: "rpm".into(),
            fixed_in_version: evr,
            severity: u.severity.clone(),
            normalized_severity: severity(&u.severity),
            description: if u.description.is_empty() {
                u.title.clone()
            } else {
                u.description.clone()
            },
            links: u.links.join(" "),
            issued: issued.clone(),
            ..Vulnerability::default()
        };
        emit(Record::Vulnerability(v)).map_err(|_| ())?;
    }
    Ok(())
}

/// The normalized severity of an ALAS advisory's severity, exactly as Clair v4 (claircore
/// `aws/normalizeseverity.go`): `low`, `medium`, `important`, `critical` as Amazon writes them.
pub(crate) fn severity(alas: &str) -> clair_types::Severity {
    crate::feed::severity_in(alas, &["", "low", "medium", "important", "critical"])
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

    use super::*;
    use crate::feed::testing::vulns;

    #[test]
    fn al2_sample() {
        let v = vulns(
            "feeds/amazon/clair2-amazon_linux_2_updateinfo.xml",
            |f, e| parse_updateinfo("aws", f, e),
        );
        assert!(!v.is_empty());
        let k = v
            .iter()
            .find(|v| v.name == "ALAS2-2018-939" && v.package_name == "kernel")
            .unwrap();
        assert_eq!(k.namespace, "amzn:2");
        assert_eq!(k.normalized_severity, Severity::Critical);
        assert!(k.links.contains("CVE-2017-5754"));
        assert!(!v.iter().any(|v| v.fixed_in_version.is_empty()));
        // One record per package and fixed version, whatever the number of arches listed.
        let mut keys: Vec<_> = v
            .iter()
            .map(|v| (&v.name, &v.package_name, &v.fixed_in_version))
            .collect();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    /// Updates and their package lists in any order give the same records.
    #[test]
    fn updateinfo_in_any_order() {
        let (asis, reordered) = crate::feed::testing::records_both_ways(
            "feeds/amazon/clair2-amazon_linux_2_updateinfo.xml",
            "aws",
            parse_updateinfo,
            |t| {
                crate::feed::testing::reverse_xml_children(t, &["updates", "collection", "pkglist"])
            },
        );
        assert!(!asis.is_empty());
        assert_eq!(reordered, asis);
    }

    #[test]
    fn mirror_list() {
        let text = crate::test_corpus::corpus_text("feeds/amazon/claircore-mirrors_linux2023.txt");
        let m = first_mirror(&text).unwrap();
        assert!(
            m.starts_with("https://cdn.amazonlinux.com/al2023/core/guids/")
                && m.ends_with("/x86_64/"),
            "{m}"
        );
        assert_eq!(first_mirror("# nothing\n\n"), None);
        assert_eq!(first_mirror("ftp://x\n"), None);
    }

    #[test]
    fn repomd_location() {
        let repomd = crate::test_corpus::corpus_text("feeds/amazon/claircore-alas-repomd.xml");
        let loc = updateinfo_location(&repomd).unwrap();
        assert!(
            loc.starts_with("repodata/") && loc.contains("updateinfo"),
            "{loc}"
        );
    }
}
