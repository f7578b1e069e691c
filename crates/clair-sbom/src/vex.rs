//! VEX statements: OpenVEX and CSAF VEX documents saying that a product is not affected by a
//! vulnerability (or has it fixed), so a scan can set the finding aside and say why.
//!
//! A statement names a vulnerability (with aliases) and products by purl. It applies to a
//! finding when the vulnerability is one of the finding's names and a product — or, for an
//! OpenVEX product that is an image, one of its subcomponents — names the package (type,
//! namespace, name, and version when the statement gives one; see [`PurlKey::covers`]). An
//! OpenVEX image product without subcomponents applies to every package of that image (its
//! digest, when the purl has one, must be the scanned manifest's). Later statements override
//! earlier ones, as OpenVEX orders them, so an `affected` statement can take a suppression back.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::purl::PurlKey;

/// A statement's status (OpenVEX names; CSAF's product_status lists map onto them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The product is not affected: the finding is suppressed.
    NotAffected,
    /// The product has the fix: the finding is suppressed.
    Fixed,
    /// Affected: the finding stays.
    Affected,
    /// Under investigation: the finding stays.
    UnderInvestigation,
}

impl Status {
    /// `not_affected`, `fixed`, `affected`, `under_investigation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::Fixed => "fixed",
            Status::Affected => "affected",
            Status::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether findings it covers are set aside.
    pub fn suppresses(self) -> bool {
        matches!(self, Status::NotAffected | Status::Fixed)
    }
}

/// What a product entry of a statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Product {
    /// A package; inside the image with this digest only, for an OpenVEX image's
    /// subcomponent whose image purl names a digest.
    Package(PurlKey, Option<String>),
    /// A whole image (`pkg:oci/…`, or an `@id` that is no purl), with the digest its purl
    /// names, if any; it covers every package of that image.
    Image(Option<String>),
}

/// One statement about one vulnerability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The vulnerability id as the document writes it.
    pub vulnerability: String,
    /// Other names of the same vulnerability.
    pub aliases: Vec<String>,
    /// What it is about.
    pub products: Vec<Product>,
    /// Its status.
    pub status: Status,
    /// Why (justification, impact statement, CSAF flag or threat), for the report.
    pub justification: String,
    /// Where it comes from: the document's format and id.
    pub source: String,
}

/// The statements of one or more documents, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vex {
    /// All statements, earlier documents first.
    pub statements: Vec<Statement>,
}

impl Vex {
    /// Add the statements of an OpenVEX or CSAF VEX JSON document, detected from its contents.
    pub fn add(&mut self, data: &[u8]) -> Result<usize, Error> {
        let json = |source| Error::Json {
            format: "VEX",
            source,
        };
        let v: Value = serde_json::from_slice(data).map_err(json)?;
        let before = self.statements.len();
        if v.get("@context")
            .and_then(Value::as_str)
            .is_some_and(|c| c.contains("openvex"))
        {
            let doc: OpenVex = serde_json::from_value(v).map_err(|source| Error::Json {
                format: "OpenVEX",
                source,
            })?;
            self.add_openvex(doc);
        } else if v.pointer("/document/category").and_then(Value::as_str) == Some("csaf_vex") {
            let doc: Csaf = serde_json::from_value(v).map_err(|source| Error::Json {
                format: "CSAF",
                source,
            })?;
            self.add_csaf(doc);
        } else {
            return Err(Error::Unrecognised(
                "neither OpenVEX (@context) nor CSAF VEX (document.category csaf_vex)".into(),
            ));
        }
        Ok(self.statements.len() - before)
    }

    /// The statement that decides a finding — the last that applies — if any. `names` are the
    /// finding's vulnerability names (advisory and CVE ids), `packages` the purls of the package
    /// and of its source package, `image_digest` the scanned manifest's digest.
    pub fn decide(
        &self,
        names: &[&str],
        packages: &[PurlKey],
        image_digest: &str,
    ) -> Option<&Statement> {
        self.statements.iter().rev().find(|s| {
            let named = std::iter::once(&s.vulnerability)
                .chain(&s.aliases)
                .any(|v| names.iter().any(|n| n.eq_ignore_ascii_case(v)));
            named
                && s.products.iter().any(|p| match p {
                    Product::Package(k, within) => {
                        within.as_deref().is_none_or(|d| d == image_digest)
                            && packages.iter().any(|pk| k.covers(pk))
                    }
                    Product::Image(d) => d.as_deref().is_none_or(|d| d == image_digest),
                })
        })
    }

    fn add_openvex(&mut self, doc: OpenVex) {
        let source = format!("OpenVEX {}", doc.id);
        for st in doc.statements {
            let mut products = Vec::new();
            for p in &st.products {
                let own = p.purl().map(PurlKey::parse);
                let within = match &own {
                    Some(Ok(k)) if k.ty == "oci" => k.version.clone(),
                    _ => None,
                };
                let subs: Vec<_> = p
                    .subcomponents
                    .iter()
                    .filter_map(|s| s.purl())
                    .filter_map(|u| PurlKey::parse(u).ok())
                    .map(|k| Product::Package(k, within.clone()))
                    .collect();
                match own {
                    Some(Ok(k)) if k.ty != "oci" => products.push(Product::Package(k, None)),
                    _ if !subs.is_empty() => products.extend(subs),
                    Some(Ok(k)) => products.push(Product::Image(k.version)),
                    _ => products.push(Product::Image(None)),
                }
            }
            let status = match st.status.as_str() {
                "not_affected" => Status::NotAffected,
                "fixed" => Status::Fixed,
                "affected" => Status::Affected,
                _ => Status::UnderInvestigation,
            };
            let justification = [st.justification, st.impact_statement, st.status_notes]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            self.statements.push(Statement {
                vulnerability: st.vulnerability.name,
                aliases: st.vulnerability.aliases,
                products,
                status,
                justification,
                source: source.clone(),
            });
        }
    }

    fn add_csaf(&mut self, doc: Csaf) {
        let source = format!("CSAF {}", doc.document.tracking.id);
        let purls = doc.product_tree.purls();
        for v in doc.vulnerabilities {
            let Some(name) = v
                .cve
                .clone()
                .or_else(|| v.ids.first().map(|i| i.text.clone()))
            else {
                continue;
            };
            let aliases: Vec<String> = v.ids.iter().map(|i| i.text.clone()).collect();
            let lists = [
                (Status::Fixed, &v.product_status.fixed),
                (Status::NotAffected, &v.product_status.known_not_affected),
                (Status::Affected, &v.product_status.known_affected),
                (
                    Status::UnderInvestigation,
                    &v.product_status.under_investigation,
                ),
            ];
            for (status, ids) in lists {
                for pid in ids {
                    let products: Vec<Product> = purls
                        .get(pid.as_str())
                        .into_iter()
                        .flatten()
                        .filter_map(|u| PurlKey::parse(u).ok())
                        .map(|k| Product::Package(k, None))
                        .collect();
                    if products.is_empty() {
                        continue;
                    }
                    let mut why: Vec<String> = v
                        .flags
                        .iter()
                        .filter(|f| f.product_ids.iter().any(|p| p == pid))
                        .map(|f| f.label.clone())
                        .collect();
                    why.extend(
                        v.threats
                            .iter()
                            .filter(|t| {
                                t.category == "impact" && t.product_ids.iter().any(|p| p == pid)
                            })
                            .map(|t| t.details.clone()),
                    );
                    self.statements.push(Statement {
                        vulnerability: name.clone(),
                        aliases: aliases.clone(),
                        products,
                        status,
                        justification: why.join(": "),
                        source: source.clone(),
                    });
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct OpenVex {
    #[serde(rename = "@id", default)]
    id: String,
    #[serde(default)]
    statements: Vec<OpenVexStatement>,
}

#[derive(Deserialize)]
struct OpenVexStatement {
    vulnerability: OpenVexVulnerability,
    #[serde(default)]
    products: Vec<OpenVexProduct>,
    status: String,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    impact_statement: String,
    #[serde(default)]
    status_notes: String,
}

#[derive(Deserialize)]
struct OpenVexVulnerability {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Deserialize)]
struct OpenVexProduct {
    #[serde(rename = "@id", default)]
    id: String,
    #[serde(default)]
    identifiers: BTreeMap<String, String>,
    #[serde(default)]
    subcomponents: Vec<OpenVexProduct>,
}

impl OpenVexProduct {
    fn purl(&self) -> Option<&str> {
        self.identifiers
            .get("purl")
            .map(String::as_str)
            .or_else(|| self.id.starts_with("pkg:").then_some(self.id.as_str()))
    }
}

#[derive(Deserialize)]
struct Csaf {
    document: CsafDocument,
    #[serde(default)]
    product_tree: ProductTree,
    #[serde(default)]
    vulnerabilities: Vec<CsafVulnerability>,
}

#[derive(Deserialize)]
struct CsafDocument {
    tracking: CsafTracking,
}

#[derive(Deserialize)]
struct CsafTracking {
    #[serde(default)]
    id: String,
}

#[derive(Deserialize, Default)]
struct ProductTree {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    full_product_names: Vec<FullProductName>,
    #[serde(default)]
    relationships: Vec<Relationship>,
}

#[derive(Deserialize)]
struct Branch {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    product: Option<FullProductName>,
}

#[derive(Deserialize)]
struct FullProductName {
    product_id: String,
    #[serde(default)]
    product_identification_helper: Option<Helper>,
}

#[derive(Deserialize)]
struct Helper {
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct Relationship {
    product_reference: String,
    full_product_name: FullProductName,
}

impl ProductTree {
    /// Product id → the purls that identify it; a relationship's product (a component in a
    /// platform) is identified by its component's purls.
    fn purls(&self) -> HashMap<&str, Vec<&str>> {
        let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut stack: Vec<&Branch> = self.branches.iter().collect();
        let mut named: Vec<&FullProductName> = self.full_product_names.iter().collect();
        while let Some(b) = stack.pop() {
            named.extend(b.product.as_ref());
            stack.extend(&b.branches);
        }
        for p in named {
            if let Some(u) = p
                .product_identification_helper
                .as_ref()
                .and_then(|h| h.purl.as_deref())
            {
                out.entry(p.product_id.as_str()).or_default().push(u);
            }
        }
        for r in &self.relationships {
            let own = r
                .full_product_name
                .product_identification_helper
                .as_ref()
                .and_then(|h| h.purl.as_deref());
            let component: Vec<&str> = own
                .into_iter()
                .chain(
                    out.get(r.product_reference.as_str())
                        .into_iter()
                        .flatten()
                        .copied(),
                )
                .collect();
            out.entry(r.full_product_name.product_id.as_str())
                .or_default()
                .extend(component);
        }
        out
    }
}

#[derive(Deserialize)]
struct CsafVulnerability {
    #[serde(default)]
    cve: Option<String>,
    #[serde(default)]
    ids: Vec<CsafId>,
    #[serde(default)]
    product_status: ProductStatus,
    #[serde(default)]
    flags: Vec<Flag>,
    #[serde(default)]
    threats: Vec<Threat>,
}

#[derive(Deserialize)]
struct CsafId {
    text: String,
}

#[derive(Deserialize, Default)]
struct ProductStatus {
    #[serde(default)]
    fixed: Vec<String>,
    #[serde(default)]
    known_not_affected: Vec<String>,
    #[serde(default)]
    known_affected: Vec<String>,
    #[serde(default)]
    under_investigation: Vec<String>,
}

#[derive(Deserialize)]
struct Flag {
    label: String,
    #[serde(default)]
    product_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Threat {
    category: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    product_ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: &str) -> PurlKey {
        PurlKey::parse(p).unwrap()
    }

    const IMAGE: &str = "sha256:fe5c5314bcf84e2b6cc30d63a6e284af7efa42d9f352b5b55bf04225069fd9ac";

    #[test]
    fn openvex_statements() {
        let mut v = Vex::default();
        assert_eq!(
            v.add(include_bytes!("../testdata/openvex.json")).unwrap(),
            5
        );
        let libc = [key(
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        )];
        // Subcomponent of the image, found by an alias too.
        let s = v.decide(&["DSA-5514-1"], &libc, IMAGE).expect("statement");
        assert_eq!(s.status, Status::NotAffected);
        assert_eq!(
            s.justification,
            "vulnerable_code_not_in_execute_path: no setuid binaries in this image"
        );
        assert_eq!(
            s.source,
            "OpenVEX https://example.com/vex/bookworm-2024-001"
        );
        // …but only in that image.
        assert!(v.decide(&["CVE-2023-4911"], &libc, "sha256:00").is_none());
        // A versioned package product.
        assert_eq!(
            v.decide(&["CVE-2024-2961"], &libc, IMAGE).map(|s| s.status),
            Some(Status::Fixed)
        );
        let other = [key("pkg:deb/debian/libc6@2.36-9%2Bdeb12u7")];
        assert!(
            v.decide(&["CVE-2024-2961"], &other, IMAGE).is_none(),
            "other version"
        );
        // A later `affected` statement takes an image-wide one back.
        let s = v
            .decide(&["CVE-2024-33599"], &libc, IMAGE)
            .expect("statement");
        assert_eq!(s.status, Status::Affected);
        assert!(!s.status.suppresses());
        let zlib = [key("pkg:deb/debian/zlib1g@1.2.13")];
        assert_eq!(
            v.decide(&["CVE-2024-33599"], &zlib, IMAGE)
                .map(|s| s.status),
            Some(Status::NotAffected),
            "the image-wide statement for other packages"
        );
    }

    #[test]
    fn csaf_statements() {
        let mut v = Vex::default();
        assert_eq!(
            v.add(include_bytes!("../testdata/csaf-vex.json")).unwrap(),
            2
        );
        // The source rpm's purl (epoch qualifier) names the binary's source package.
        let src = [
            key("pkg:rpm/redhat/openssl-libs@1:3.0.7-24.el9?arch=x86_64"),
            key("pkg:rpm/redhat/openssl@1:3.0.7-24.el9"),
        ];
        let s = v.decide(&["CVE-2023-5678"], &src, IMAGE).expect("fixed");
        assert_eq!(
            (s.status, s.source.as_str()),
            (Status::Fixed, "CSAF EX-2024-0042")
        );
        assert!(
            v.decide(&["EX-2023-5678"], &src, IMAGE).is_some(),
            "by its id"
        );
        let curl = [key("pkg:rpm/redhat/curl@7.76.1-26.el9?arch=x86_64")];
        let s = v
            .decide(&["CVE-2023-38545"], &curl, IMAGE)
            .expect("not affected");
        assert_eq!(s.status, Status::NotAffected);
        assert_eq!(
            s.justification,
            "vulnerable_code_not_present: SOCKS5 proxy support is not built"
        );
    }

    #[test]
    fn unknown_documents() {
        let e = Vex::default()
            .add(br#"{"document":{"category":"csaf_base"}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("neither OpenVEX"), "{e}");
    }
}
