//! Red Hat CSAF/VEX (`https://security.access.redhat.com/data/csaf/v2/vex/`): one document per
//! CVE, published as a tar.zst archive (`archive_latest.txt` names the current one).
//!
//! For each CVE, `product_status.fixed` product ids resolve (through the product tree's
//! relationships) to a product (with its CPE) and a component (an rpm purl or NEVRA): one record
//! per package and fixed version, its architectures joined as an alternation (`aarch64|x86_64`).
//! `known_affected` components are unfixed records. `known_not_affected` and
//! `under_investigation` produce none. Namespaces come from the product CPE (`rhel:9` for
//! `cpe:/o:redhat:enterprise_linux:9::baseos`, `cpe:/a:redhat:rhel_eus:8.6::appstream` or
//! `…::el9` layered products); the CPE itself is kept in `repository`. Old CSAF advisories
//! (`RHSA-…`) read the same way, named by the advisory id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use clair_layer::tar::{EntryKind, StreamSkip, TarLimits, TarReader};
use clair_matcher::{
    Emit, FetchOutcome, FetchedFile, Http, Record, Updater, UpdaterError, fetch_urls,
};
use clair_types::{PackageKind, Severity, Vulnerability};
use serde::Deserialize;

use super::severity;
use crate::feed::{
    Parsed, fetch_error, io_error, json_error, other_error, parse_each, parse_error,
};

/// Default base URL.
pub const DEFAULT_BASE: &str = "https://security.access.redhat.com/data/csaf/v2/vex/";
/// Largest single document read from an archive.
const MAX_DOC: u64 = 64 << 20;

/// The Red Hat VEX updater.
#[derive(Debug, Clone)]
pub struct RhelVexUpdater {
    /// Base URL (holding `archive_latest.txt`), or the URL of one archive or document.
    pub base: String,
}

impl Updater for RhelVexUpdater {
    fn name(&self) -> &str {
        "rhel-vex"
    }

    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        let err = fetch_error(self.name());
        // A direct file URL (a mirror of one archive, or a single document).
        let archive_url = if self.base.ends_with('/') {
            let latest = dir.join("archive_latest.txt");
            http.download(&format!("{}archive_latest.txt", self.base), &latest, None)
                .map_err(err)?;
            let name = std::fs::read_to_string(&latest)
                .unwrap_or_default()
                .trim()
                .to_string();
            if name.is_empty() || name.contains('/') || name.contains("..") {
                return Err(other_error(self.name())(format!(
                    "{}archive_latest.txt: unexpected content {name:?}",
                    self.base
                )));
            }
            format!("{}{name}", self.base)
        } else {
            self.base.clone()
        };
        fetch_urls(
            self.name(),
            http,
            dir,
            prior,
            &[("archive".into(), archive_url)],
        )
    }

    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        parse_each(self.name(), files, emit, parse_vex_file)
    }
}

/// Parse a VEX archive (tar, optionally zstd/gzip/xz compressed) or one JSON document.
pub fn parse_vex_file(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    let io = io_error(updater, f);
    let file = std::fs::File::open(&f.path).map_err(io)?;
    let (_, mut r) = clair_layer::compression::auto_decoder(file).map_err(io)?;
    let mut head = vec![0u8; 512];
    let mut filled = 0;
    while filled < head.len() {
        let n = r.read(&mut head[filled..]).map_err(io)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let stream = std::io::Cursor::new(head).chain(r);
    if first == Some(b'{') {
        let mut data = Vec::new();
        stream
            .take(MAX_DOC + 1)
            .read_to_end(&mut data)
            .map_err(io)?;
        return parse_document(updater, f, &f.url, &data, emit);
    }
    let mut tar = TarReader::new(StreamSkip(stream), TarLimits::default());
    while let Some(e) = tar
        .next_entry()
        .map_err(|e| parse_error(updater, f, "archive", e.to_string()))?
    {
        if e.kind != EntryKind::File || !e.name.ends_with(".json") {
            continue;
        }
        let Some(data) = tar
            .read_data_to_vec(MAX_DOC)
            .map_err(|x| parse_error(updater, f, e.name.clone(), x.to_string()))?
        else {
            return Err(parse_error(
                updater,
                f,
                e.name,
                "document larger than 64 MiB",
            ));
        };
        parse_document(updater, f, &e.name, &data, emit)?;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct Doc {
    document: DocMeta,
    #[serde(default)]
    product_tree: Option<ProductTree>,
    #[serde(default)]
    vulnerabilities: Vec<Vuln>,
}

#[derive(Debug, Deserialize)]
struct DocMeta {
    #[serde(default)]
    category: String,
    #[serde(default)]
    aggregate_severity: Option<Text>,
    #[serde(default)]
    tracking: Option<Tracking>,
}

#[derive(Debug, Deserialize)]
struct Text {
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct Tracking {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: String,
}

#[derive(Debug, Default, Deserialize)]
struct ProductTree {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    relationships: Vec<Relationship>,
}

#[derive(Debug, Deserialize)]
struct Branch {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    product: Option<Product>,
}

#[derive(Debug, Deserialize)]
struct Product {
    product_id: String,
    #[serde(default)]
    product_identification_helper: Option<Helper>,
}

#[derive(Debug, Deserialize)]
struct Helper {
    #[serde(default)]
    cpe: Option<String>,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Relationship {
    full_product_name: FullName,
    product_reference: String,
    relates_to_product_reference: String,
}

#[derive(Debug, Deserialize)]
struct FullName {
    product_id: String,
}

#[derive(Debug, Deserialize)]
struct Vuln {
    #[serde(default)]
    cve: String,
    #[serde(default)]
    product_status: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    notes: Vec<Note>,
    #[serde(default)]
    threats: Vec<Threat>,
    #[serde(default)]
    references: Vec<Ref>,
    #[serde(default)]
    release_date: String,
}

#[derive(Debug, Deserialize)]
struct Note {
    #[serde(default)]
    category: String,
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct Threat {
    #[serde(default)]
    category: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    product_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Ref {
    #[serde(default)]
    url: String,
}

/// (namespace, repository CPE, component without arch, source package?).
type GroupKey = (String, String, Component, bool);

/// A component: package name, `[epoch:]version-release` (empty: any), arch, module.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Component {
    name: String,
    evr: String,
    arch: String,
    module: String,
}

/// `pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&epoch=1&rpmmod=…`.
fn from_purl(purl: &str) -> Option<Component> {
    let rest = purl.strip_prefix("pkg:rpm/")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let name_ver = path.rsplit('/').next()?;
    let (name, version) = name_ver.split_once('@').unwrap_or((name_ver, ""));
    let mut c = Component {
        name: name.to_string(),
        ..Component::default()
    };
    let mut epoch = String::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match (k.as_ref(), v.as_ref()) {
            ("arch", a) => c.arch = a.to_string(),
            ("epoch", e) => epoch = e.to_string(),
            ("rpmmod", m) => {
                // name:stream[:version:context]
                let mut p = m.split(':');
                if let (Some(n), Some(s)) = (p.next(), p.next()) {
                    c.module = format!("{n}:{s}");
                }
            }
            _ => {}
        }
    }
    // A module component has the module stream, not an rpm version, after '@'.
    if !version.is_empty() && c.module.is_empty() {
        c.evr = if epoch.is_empty() || epoch == "0" {
            version.to_string()
        } else {
            format!("{epoch}:{version}")
        };
    }
    Some(c)
}

/// `telnet-1:0.17-65.el7_6.x86_64` (name-[epoch:]version-release.arch).
fn from_nevra(s: &str) -> Option<Component> {
    let (rest, arch) = s.rsplit_once('.')?;
    let (rest, release) = rest.rsplit_once('-')?;
    let (name, ev) = rest.rsplit_once('-')?;
    let evr = match ev.split_once(':') {
        Some(("0", v)) => format!("{v}-{release}"),
        Some((e, v)) => format!("{e}:{v}-{release}"),
        None => format!("{ev}-{release}"),
    };
    Some(Component {
        name: name.to_string(),
        evr,
        arch: arch.to_string(),
        module: String::new(),
    })
}

/// `rhel:<major>` from a Red Hat product CPE.
fn namespace_of(cpe: &str) -> Option<String> {
    let parts: Vec<&str> = cpe.split(':').collect();
    // cpe:/o:redhat:PRODUCT:VERSION:UPDATE:EDITION
    let product = parts.get(3).copied().unwrap_or("");
    let version = parts.get(4).copied().unwrap_or("");
    if product == "enterprise_linux" || product.starts_with("rhel") {
        let major: String = version.chars().take_while(char::is_ascii_digit).collect();
        if !major.is_empty() {
            return Some(format!("rhel:{major}"));
        }
    }
    let last = parts.last().copied().unwrap_or("");
    let el = last.strip_prefix("el")?;
    let major: String = el.chars().take_while(char::is_ascii_digit).collect();
    (!major.is_empty()).then(|| format!("rhel:{major}"))
}

fn parse_document(
    updater: &str,
    f: &FetchedFile,
    member: &str,
    data: &[u8],
    emit: &mut Emit<'_>,
) -> Result<(), UpdaterError> {
    let doc: Doc = serde_json::from_slice(data).map_err(|e| json_error(updater, f, member, e))?;
    let tracking = doc.document.tracking.as_ref();
    if tracking.is_some_and(|t| t.status == "deleted") {
        return Ok(());
    }
    let tree = doc.product_tree.unwrap_or_default();
    let mut cpes: HashMap<String, String> = HashMap::new();
    let mut components: HashMap<String, Component> = HashMap::new();
    fn walk(
        b: &[Branch],
        cpes: &mut HashMap<String, String>,
        comps: &mut HashMap<String, Component>,
    ) {
        for x in b {
            if let Some(p) = &x.product {
                let h = p.product_identification_helper.as_ref();
                if let Some(cpe) = h.and_then(|h| h.cpe.clone()) {
                    cpes.insert(p.product_id.clone(), cpe);
                } else if let Some(c) = h.and_then(|h| h.purl.as_deref()).and_then(from_purl) {
                    comps.insert(p.product_id.clone(), c);
                } else if let Some(c) = from_nevra(&p.product_id) {
                    comps.insert(p.product_id.clone(), c);
                }
            }
            walk(&x.branches, cpes, comps);
        }
    }
    walk(&tree.branches, &mut cpes, &mut components);
    let rels: HashMap<&str, (&str, &str)> = tree
        .relationships
        .iter()
        .map(|r| {
            (
                r.full_product_name.product_id.as_str(),
                (
                    r.product_reference.as_str(),
                    r.relates_to_product_reference.as_str(),
                ),
            )
        })
        .collect();
    let advisory = doc.document.category == "csaf_security_advisory";
    let doc_severity = doc
        .document
        .aggregate_severity
        .map(|s| s.text)
        .unwrap_or_default();
    for v in doc.vulnerabilities {
        let name = if advisory {
            tracking
                .map(|t| t.id.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or(v.cve.clone())
        } else {
            v.cve.clone()
        };
        if name.is_empty() {
            continue;
        }
        let description = v
            .notes
            .iter()
            .find(|n| n.category == "description")
            .or_else(|| v.notes.first())
            .map(|n| n.text.clone())
            .unwrap_or_default();
        let links = v
            .references
            .iter()
            .map(|r| r.url.as_str())
            .filter(|u| !u.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let threat_of = |pid: &str| -> Option<String> {
            v.threats
                .iter()
                .find(|t| t.category == "impact" && t.product_ids.iter().any(|p| p == pid))
                .map(|t| t.details.clone())
        };
        // (namespace, repository, component without arch, source?) → (arches, vendor severity
        // (the product's impact, else the document's), normalized severity (the product's
        // impact only, as claircore: Unknown without one))
        let mut groups: BTreeMap<GroupKey, (BTreeSet<String>, String, Severity)> = BTreeMap::new();
        for (status, fixed) in [("fixed", true), ("known_affected", false)] {
            for pid in v.product_status.get(status).into_iter().flatten() {
                let Some((comp_ref, prod_ref)) = rels.get(pid.as_str()).copied().or_else(|| {
                    // "product:component" without a relationship entry.
                    pid.split_once(':').map(|(p, c)| (c, p))
                }) else {
                    continue;
                };
                let Some(cpe) = cpes.get(prod_ref) else {
                    continue;
                };
                let Some(ns) = namespace_of(cpe) else {
                    continue;
                };
                let Some(mut comp) = components
                    .get(comp_ref)
                    .cloned()
                    .or_else(|| from_nevra(comp_ref))
                    .or_else(|| {
                        // "module:stream/package" or a bare package name.
                        let (module, pkg) = comp_ref.rsplit_once('/').unwrap_or(("", comp_ref));
                        Some(Component {
                            name: pkg.to_string(),
                            module: module.to_string(),
                            ..Component::default()
                        })
                    })
                else {
                    continue;
                };
                // Fixed versions are listed per binary rpm (the .src entry repeats them); an
                // affected source component means every binary built from it.
                let source = comp.arch == "src";
                if fixed && source {
                    continue;
                }
                if !fixed {
                    comp.evr.clear();
                } else if comp.evr.is_empty() {
                    continue;
                }
                let arch = if source {
                    String::new()
                } else {
                    std::mem::take(&mut comp.arch)
                };
                comp.arch.clear();
                let entry = groups
                    .entry((ns, cpe.clone(), comp, source))
                    .or_insert_with(|| {
                        let threat = threat_of(pid);
                        let normalized = severity(threat.as_deref().unwrap_or(""));
                        (
                            BTreeSet::new(),
                            threat.unwrap_or_else(|| doc_severity.clone()),
                            normalized,
                        )
                    });
                if !arch.is_empty() {
                    entry.0.insert(arch);
                }
            }
        }
        for ((ns, cpe, comp, source), (arches, sev, normalized)) in groups {
            let rec = Vulnerability {
                updater: updater.to_string(),
                name: name.clone(),
                namespace: ns,
                package_name: comp.name,
                package_kind: if source {
                    PackageKind::Source
                } else {
                    PackageKind::Binary
                },
                version_scheme: "rpm".into(),
                fixed_in_version: comp.evr,
                arch: arches.into_iter().collect::<Vec<_>>().join("|"),
                module: comp.module,
                repository: cpe,
                normalized_severity: normalized,
                severity: sev,
                description: description.clone(),
                links: links.clone(),
                issued: v.release_date.clone(),
                ..Vulnerability::default()
            };
            emit(Record::Vulnerability(rec))
                .map_err(|_| parse_error(updater, f, member.to_string(), "stopped"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clair_types::Severity;

    use super::*;
    use crate::feed::testing::vulns;

    fn parse(rel: &str) -> Vec<Vulnerability> {
        vulns(rel, |f, e| parse_vex_file("rhel-vex", f, e))
    }

    #[test]
    fn openssl_fixed_and_affected() {
        let v = parse("feeds/rhel-csaf/claircore-cve-2024-0727-openssl.json");
        assert!(v.iter().all(|v| v.name == "CVE-2024-0727"));
        let fixed = v
            .iter()
            .find(|v| {
                v.package_name == "openssl"
                    && v.namespace == "rhel:9"
                    && !v.fixed_in_version.is_empty()
            })
            .unwrap();
        assert_eq!(fixed.fixed_in_version, "1:3.0.7-27.el9");
        assert!(
            fixed.arch.contains("x86_64") && fixed.arch.contains('|'),
            "{}",
            fixed.arch
        );
        assert!(
            fixed
                .repository
                .starts_with("cpe:/a:redhat:enterprise_linux:9"),
            "{}",
            fixed.repository
        );
        let unfixed: Vec<_> = v.iter().filter(|v| v.fixed_in_version.is_empty()).collect();
        assert!(
            unfixed
                .iter()
                .any(|v| v.namespace == "rhel:6" && v.package_name == "openssl")
        );
        assert!(v.iter().all(|v| v.arch != "src"));
        assert_eq!(fixed.normalized_severity, Severity::Low);
    }

    #[test]
    fn other_documents() {
        let m = parse("feeds/rhel-csaf/claircore-cve-2024-24786-illegal-module.json");
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].package_name.as_str(), m[0].module.as_str()),
            ("go-toolset", "go-toolset:rhel8")
        );
        assert_eq!(
            m[0].package_kind,
            PackageKind::Source,
            "an affected .src component"
        );
        assert_eq!(m[0].fixed_in_version, "");
        assert_eq!(m[0].namespace, "rhel:8");
        let a = parse("feeds/rhel-csaf/claircore-rhsa-2022-0011.json");
        assert!(!a.is_empty());
        assert!(
            a.iter()
                .all(|v| v.name == "RHSA-2022:0011" && v.namespace == "rhel:7")
        );
        assert!(
            a.iter()
                .any(|v| v.package_name == "telnet" && v.fixed_in_version == "1:0.17-65.el7_6")
        );
        assert!(
            parse("feeds/rhel-csaf/claircore-delete_CVE-2023-0030.json").is_empty(),
            "deleted"
        );
        let curl = parse("feeds/rhel-csaf/claircore-cve-2023-38545.json");
        assert!(!curl.is_empty());
        for f in [
            "claircore-cve-2021-0084.json",
            "claircore-cve-2023-4154.json",
            "claircore-cve-2024-24786-simple.json",
            "claircore-cve-2026-0968.json",
        ] {
            parse(&format!("feeds/rhel-csaf/{f}"));
        }
    }

    /// The product tree, relationships, status lists and threats in any order give the same
    /// records (fixed versions, arches, severities).
    #[test]
    fn documents_in_any_order() {
        for f in [
            "claircore-cve-2024-0727-openssl.json",
            "claircore-cve-2023-38545.json",
            "claircore-cve-2024-24786-illegal-module.json",
            "claircore-rhsa-2022-0011.json",
        ] {
            let (asis, reordered) = crate::feed::testing::records_both_ways(
                &format!("feeds/rhel-csaf/{f}"),
                "rhel-vex",
                parse_vex_file,
                |t| {
                    crate::feed::testing::reverse_json(
                        t,
                        &[
                            "branches",
                            "relationships",
                            "vulnerabilities",
                            "fixed",
                            "known_affected",
                            "known_not_affected",
                            "under_investigation",
                            "threats",
                            "product_ids",
                        ],
                    )
                },
            );
            assert!(!asis.is_empty(), "{f}");
            crate::feed::testing::assert_same_records(f, &asis, &reordered);
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(
            namespace_of("cpe:/a:redhat:rhel_eus:8.6::appstream").as_deref(),
            Some("rhel:8")
        );
        assert_eq!(
            namespace_of("cpe:/a:redhat:openshift:4.16::el9").as_deref(),
            Some("rhel:9")
        );
        assert_eq!(namespace_of("cpe:/a:redhat:quay:3"), None);
        let c = from_purl("pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&epoch=1").unwrap();
        assert_eq!(
            (c.name.as_str(), c.evr.as_str(), c.arch.as_str()),
            ("openssl", "1:3.0.7-27.el9", "x86_64")
        );
        let n = from_nevra("telnet-debuginfo-1:0.17-65.el7_6.x86_64").unwrap();
        assert_eq!(
            (n.name.as_str(), n.evr.as_str()),
            ("telnet-debuginfo", "1:0.17-65.el7_6")
        );
    }
}
