//! Package URLs both ways: an installed package as the purl an SBOM names it by, and a purl as
//! the package the matchers compare.
//!
//! Types read: `deb`, `rpm`, `apk` (distribution packages; the distribution from the `distro`
//! qualifier or the purl's namespace, the source package from `upstream`), `pypi`, `npm`,
//! `golang`, `maven`, `cargo`, `gem`. What Syft and Trivy write is read as they write it:
//! `distro=debian-12`, `distro=3.18.4` (Trivy's apk), `epoch=1` (rpm), `upstream=glibc` or
//! `upstream=glibc@2.36-9` or `upstream=openssl-3.0.7-24.el9.src.rpm`.

use std::str::FromStr;

use clair_types::{Distribution, Package, PackageDbKind, SourcePackage};
use packageurl::PackageUrl;

use crate::Error;

/// The package database path a purl's packages are listed under (what an image scan of the
/// same packages would say), per kind.
pub fn conventional_db(kind: PackageDbKind) -> &'static str {
    match kind {
        PackageDbKind::Dpkg => "var/lib/dpkg/status",
        PackageDbKind::Rpm => "var/lib/rpm",
        PackageDbKind::Apk => "lib/apk/db/installed",
        PackageDbKind::Python => "sbom:pypi",
        PackageDbKind::Npm => "sbom:npm",
        PackageDbKind::Java => "sbom:maven",
        PackageDbKind::Go => "sbom:golang",
        PackageDbKind::Rust => "sbom:cargo",
        PackageDbKind::Ruby => "sbom:gem",
    }
}

/// A package read from a purl, with the distribution its qualifiers name (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurlPackage {
    /// The package as a scanner would have listed it.
    pub package: Package,
    /// The distribution named by `distro=` (distribution packages only).
    pub distribution: Option<Distribution>,
}

/// Read a purl. `Ok(None)` for a valid purl of a type no matcher handles (`pkg:github/…`,
/// `pkg:oci/…`); an error for text that is not a purl, or lacks a version.
pub fn to_package(purl: &str) -> Result<Option<PurlPackage>, Error> {
    let bad = |message: String| Error::Purl {
        purl: purl.to_string(),
        message,
    };
    let p = PackageUrl::from_str(purl).map_err(|e| bad(e.to_string()))?;
    let kind = match p.ty() {
        "deb" => PackageDbKind::Dpkg,
        "rpm" => PackageDbKind::Rpm,
        "apk" => PackageDbKind::Apk,
        "pypi" => PackageDbKind::Python,
        "npm" => PackageDbKind::Npm,
        "golang" => PackageDbKind::Go,
        "maven" => PackageDbKind::Java,
        "cargo" => PackageDbKind::Rust,
        "gem" => PackageDbKind::Ruby,
        _ => return Ok(None),
    };
    let version = p
        .version()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad("no version".into()))?;
    let q = |k: &str| {
        p.qualifiers()
            .get(k)
            .map(|v| v.as_ref())
            .filter(|v| !v.is_empty())
    };
    let name = match kind {
        // Go module paths are case-sensitive; the purl library lower-cases golang namespaces.
        PackageDbKind::Go => golang_path(purl).unwrap_or_else(|| joined(p.namespace(), p.name())),
        PackageDbKind::Java => match p.namespace() {
            Some(g) => format!("{g}:{}", p.name()),
            None => p.name().to_string(),
        },
        PackageDbKind::Npm => joined(p.namespace(), p.name()),
        _ => p.name().to_string(),
    };
    let mut version = version.to_string();
    if kind == PackageDbKind::Rpm
        && let Some(epoch) = q("epoch")
        && epoch != "0"
        && !version.contains(':')
    {
        version = format!("{epoch}:{version}");
    }
    let source = q("upstream").and_then(|u| upstream(kind, u, &version));
    let distribution = match kind {
        PackageDbKind::Dpkg | PackageDbKind::Rpm | PackageDbKind::Apk => {
            distribution(p.namespace(), q("distro"))
        }
        _ => None,
    };
    Ok(Some(PurlPackage {
        package: Package {
            name,
            version,
            arch: q("arch").unwrap_or_default().to_string(),
            source,
            db_kind: kind,
            package_db: conventional_db(kind).to_string(),
            module: None,
        },
        distribution,
    }))
}

fn joined(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// The module path of a `pkg:golang/` purl with its case kept (percent-decoded).
fn golang_path(purl: &str) -> Option<String> {
    let rest = purl.strip_prefix("pkg:golang/")?;
    let end = rest.find(['@', '?', '#']).unwrap_or(rest.len());
    percent_decode(rest.get(..end)?.trim_matches('/'))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The source package from an `upstream` qualifier: `name`, `name@version`, or (rpm) the
/// source rpm's file name.
fn upstream(kind: PackageDbKind, u: &str, version: &str) -> Option<SourcePackage> {
    if kind == PackageDbKind::Rpm
        && let Some(stem) = u.strip_suffix(".src.rpm")
    {
        // name-version-release: the last two dashes separate version and release.
        let (rest, release) = stem.rsplit_once('-')?;
        let (name, v) = rest.rsplit_once('-')?;
        return Some(SourcePackage {
            name: name.to_string(),
            version: format!("{v}-{release}"),
        });
    }
    let (name, v) = match u.split_once('@') {
        Some((n, v)) => (n, v),
        None => (u, version),
    };
    (!name.is_empty()).then(|| SourcePackage {
        name: name.to_string(),
        version: v.to_string(),
    })
}

/// The distribution of a distribution package: `distro=ID-VERSION` (Syft, clair-rs),
/// `distro=VERSION` with the id from the namespace (Trivy's apk), or only a namespace.
fn distribution(namespace: Option<&str>, distro: Option<&str>) -> Option<Distribution> {
    let ns_id = namespace.filter(|n| *n != "unknown").map(|n| match n {
        "redhat" => "rhel",
        "amazon" => "amzn",
        "oracle" => "ol",
        other => other,
    });
    let (did, version_id) = match distro {
        Some(d) => match d
            .char_indices()
            .rev()
            .find(|&(i, c)| c == '-' && d[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
        {
            Some((i, _)) => (d[..i].to_string(), d[i + 1..].to_string()),
            None if d.starts_with(|c: char| c.is_ascii_digit()) => {
                (ns_id?.to_string(), d.to_string())
            }
            // A code name (`distro=bookworm`).
            None => {
                return Some(Distribution {
                    did: ns_id.unwrap_or_default().to_string(),
                    version_code_name: d.to_string(),
                    ..Distribution::default()
                });
            }
        },
        None => (ns_id?.to_string(), String::new()),
    };
    Some(os_distribution(&did, &version_id))
}

/// A distribution from an os-release id and version, as the release files would describe it.
pub fn os_distribution(did: &str, version: &str) -> Distribution {
    let did = did.to_ascii_lowercase();
    let did = match did.as_str() {
        "redhat" | "red hat enterprise linux" => "rhel".to_string(),
        "amazon" | "amazonlinux" => "amzn".to_string(),
        "oracle" | "oraclelinux" => "ol".to_string(),
        _ => did,
    };
    Distribution {
        pretty_name: format!("{did} {version}").trim().to_string(),
        name: did.clone(),
        version: version.to_string(),
        version_id: version.to_string(),
        did,
        ..Distribution::default()
    }
}

/// The purl of an installed package: its ecosystem's type, and for distribution packages
/// the distribution as namespace with `arch`, `distro` and `upstream` qualifiers.
pub fn from_package(
    kind: PackageDbKind,
    name: &str,
    version: &str,
    arch: &str,
    source: Option<&SourcePackage>,
    distribution: Option<&Distribution>,
) -> Option<String> {
    let (ty, namespace, short): (&str, Option<&str>, &str) = match kind {
        PackageDbKind::Dpkg => ("deb", None, name),
        PackageDbKind::Rpm => ("rpm", None, name),
        PackageDbKind::Apk => ("apk", None, name),
        PackageDbKind::Python => ("pypi", None, name),
        PackageDbKind::Npm => match name.split_once('/') {
            Some((scope, n)) if scope.starts_with('@') => ("npm", Some(scope), n),
            _ => ("npm", None, name),
        },
        PackageDbKind::Java => match name.split_once(':') {
            Some((g, a)) => ("maven", Some(g), a),
            None => ("maven", None, name),
        },
        PackageDbKind::Go => match name.rsplit_once('/') {
            Some((ns, n)) => ("golang", Some(ns), n),
            None => ("golang", None, name),
        },
        PackageDbKind::Rust => ("cargo", None, name),
        PackageDbKind::Ruby => ("gem", None, name),
    };
    let mut p = PackageUrl::new(ty, short).ok()?;
    if matches!(
        kind,
        PackageDbKind::Dpkg | PackageDbKind::Rpm | PackageDbKind::Apk
    ) {
        let did = distribution.map_or("", |d| d.did.as_str());
        let ns = match (kind, did) {
            (PackageDbKind::Rpm, "rhel") => "redhat",
            (_, "") => "unknown",
            (_, d) => d,
        };
        p.with_namespace(ns.to_string()).ok()?;
        if !arch.is_empty() {
            p.add_qualifier("arch", arch.to_string()).ok()?;
        }
        if let Some(d) = distribution.filter(|d| !d.did.is_empty()) {
            let v = if d.version_id.is_empty() {
                &d.version_code_name
            } else {
                &d.version_id
            };
            p.add_qualifier("distro", format!("{}-{v}", d.did)).ok()?;
        }
        if let Some(s) = source.filter(|s| s.name != name || s.version != version) {
            let u = if s.version == version || s.version.is_empty() {
                s.name.clone()
            } else {
                format!("{}@{}", s.name, s.version)
            };
            p.add_qualifier("upstream", u).ok()?;
        }
    } else if let Some(ns) = namespace {
        p.with_namespace(ns.to_string()).ok()?;
    }
    p.with_version(version.to_string()).ok()?;
    let s = p.to_string();
    // Keep the Go module path's case (the library lower-cases golang namespaces).
    Some(match (kind, namespace) {
        (PackageDbKind::Go, Some(ns)) => s.replacen(&ns.to_ascii_lowercase(), ns, 1),
        _ => s,
    })
}

/// The parts of a purl that identify a package, for comparing a VEX product with a finding:
/// type, namespace, name and version; qualifiers and subpath are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurlKey {
    /// purl type.
    pub ty: String,
    /// Namespace, when present.
    pub namespace: Option<String>,
    /// Name (for Go, Maven and scoped npm: the full name as [`to_package`] gives it).
    pub name: String,
    /// Version, when present.
    pub version: Option<String>,
}

impl PurlKey {
    /// Parse the identifying parts of a purl.
    pub fn parse(purl: &str) -> Result<PurlKey, Error> {
        let p = PackageUrl::from_str(purl).map_err(|e| Error::Purl {
            purl: purl.to_string(),
            message: e.to_string(),
        })?;
        let mut version = p.version().map(str::to_string);
        // rpm: the epoch as the version's prefix, as rpm and clair-rs write versions.
        if p.ty() == "rpm"
            && let (Some(v), Some(e)) = (&version, p.qualifiers().get("epoch"))
            && e != "0"
            && !v.contains(':')
        {
            version = Some(format!("{e}:{v}"));
        }
        Ok(PurlKey {
            ty: p.ty().to_string(),
            namespace: p.namespace().map(str::to_string),
            name: p.name().to_string(),
            version,
        })
    }

    /// Whether `self` (a statement's product, perhaps without version or namespace) names
    /// `other` (a package's purl).
    pub fn covers(&self, other: &PurlKey) -> bool {
        self.ty == other.ty
            && self.name.eq_ignore_ascii_case(&other.name)
            && match (&self.namespace, &other.namespace) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => true,
            }
            && self
                .version
                .as_ref()
                .is_none_or(|v| other.version.as_ref() == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distribution a package's purl names, as (id, version).
    fn distro(p: &PurlPackage) -> (&str, &str) {
        let d = p.distribution.as_ref().expect("distro");
        (d.did.as_str(), d.version_id.as_str())
    }

    /// The source package a package's purl names, as (name, version).
    fn upstream(p: &PurlPackage) -> (&str, &str) {
        let s = p.package.source.as_ref().expect("upstream");
        (s.name.as_str(), s.version.as_str())
    }

    fn pkg(purl: &str) -> PurlPackage {
        to_package(purl)
            .unwrap_or_else(|e| panic!("{purl}: {e}"))
            .unwrap_or_else(|| panic!("{purl}: not a package type"))
    }

    #[test]
    fn distribution_packages_as_syft_and_trivy_write_them() {
        let p =
            pkg("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc&distro=debian-12");
        assert_eq!(p.package.name, "libc6");
        assert_eq!(p.package.version, "2.36-9+deb12u4");
        assert_eq!(p.package.arch, "amd64");
        assert_eq!(p.package.db_kind, PackageDbKind::Dpkg);
        assert_eq!(upstream(&p), ("glibc", "2.36-9+deb12u4"));
        assert_eq!(distro(&p), ("debian", "12"));

        // Trivy: apk distro without the id.
        let p = pkg("pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.18.4");
        assert_eq!(distro(&p), ("alpine", "3.18.4"));

        // rpm: epoch qualifier, source rpm file name, redhat namespace.
        let p = pkg(
            "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm&distro=rhel-9.2",
        );
        assert_eq!(p.package.version, "1:3.0.7-24.el9");
        assert_eq!(upstream(&p), ("openssl", "3.0.7-24.el9"));
        assert_eq!(distro(&p), ("rhel", "9.2"));

        // A distro id with a dash.
        let p = pkg("pkg:rpm/opensuse/zlib@1.2.13-1.1?distro=opensuse-leap-15.5");
        assert_eq!(distro(&p), ("opensuse-leap", "15.5"));
    }

    #[test]
    fn language_packages() {
        for (purl, kind, name, version) in [
            (
                "pkg:pypi/requests@2.31.0",
                PackageDbKind::Python,
                "requests",
                "2.31.0",
            ),
            (
                "pkg:npm/%40babel/core@7.22.0",
                PackageDbKind::Npm,
                "@babel/core",
                "7.22.0",
            ),
            (
                "pkg:npm/lodash@4.17.20",
                PackageDbKind::Npm,
                "lodash",
                "4.17.20",
            ),
            (
                "pkg:golang/github.com/BurntSushi/toml@v1.3.2",
                PackageDbKind::Go,
                "github.com/BurntSushi/toml",
                "v1.3.2",
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                PackageDbKind::Java,
                "org.apache.logging.log4j:log4j-core",
                "2.14.1",
            ),
            (
                "pkg:cargo/smallvec@1.6.0",
                PackageDbKind::Rust,
                "smallvec",
                "1.6.0",
            ),
            ("pkg:gem/rack@2.2.3", PackageDbKind::Ruby, "rack", "2.2.3"),
        ] {
            let p = pkg(purl);
            assert_eq!(p.package.db_kind, kind, "{purl}");
            assert_eq!(p.package.name, name, "{purl}");
            assert_eq!(p.package.version, version, "{purl}");
            assert_eq!(p.distribution, None, "{purl}");
        }
    }

    #[test]
    fn other_types_and_bad_purls() {
        assert_eq!(
            to_package("pkg:github/package-url/purl-spec@244fd47").unwrap(),
            None
        );
        assert_eq!(to_package("pkg:oci/debian@sha256%3Aabc").unwrap(), None);
        let e = to_package("pkg:pypi/requests").unwrap_err().to_string();
        assert!(
            e.contains("pkg:pypi/requests") && e.contains("no version"),
            "{e}"
        );
        assert!(to_package("not a purl").is_err());
    }

    #[test]
    fn round_trip() {
        let deb = os_distribution("debian", "12");
        let src = SourcePackage {
            name: "glibc".into(),
            version: "2.36-9+deb12u4".into(),
        };
        for (kind, name, version, arch, source, dist) in [
            (
                PackageDbKind::Dpkg,
                "libc6",
                "2.36-9+deb12u4",
                "amd64",
                Some(&src),
                Some(&deb),
            ),
            (
                PackageDbKind::Rpm,
                "bash",
                "5.1.8-6.el9",
                "x86_64",
                None,
                None,
            ),
            (PackageDbKind::Npm, "@babel/core", "7.22.0", "", None, None),
            (
                PackageDbKind::Java,
                "org.apache:commons-text",
                "1.9",
                "",
                None,
                None,
            ),
            (
                PackageDbKind::Go,
                "github.com/BurntSushi/toml",
                "v1.3.2",
                "",
                None,
                None,
            ),
            (PackageDbKind::Python, "PyYAML", "5.3", "", None, None),
        ] {
            let purl = from_package(kind, name, version, arch, source, dist).expect("purl");
            let back = pkg(&purl);
            assert_eq!(back.package.db_kind, kind, "{purl}");
            let want_name = if kind == PackageDbKind::Python {
                name.to_lowercase()
            } else {
                name.to_string()
            };
            assert_eq!(back.package.name, want_name, "{purl}");
            assert_eq!(back.package.version, version, "{purl}");
            assert_eq!(back.package.arch, arch, "{purl}");
            assert_eq!(back.package.source.as_ref(), source, "{purl}");
            assert_eq!(
                back.distribution.map(|d| d.did),
                dist.map(|d| d.did.clone()),
                "{purl}"
            );
        }
    }

    #[test]
    fn product_keys() {
        let pkg = PurlKey::parse("pkg:deb/debian/libc6@2.36-9?arch=amd64").unwrap();
        assert!(PurlKey::parse("pkg:deb/debian/libc6").unwrap().covers(&pkg));
        assert!(PurlKey::parse("pkg:deb/libc6@2.36-9").unwrap().covers(&pkg));
        assert!(
            !PurlKey::parse("pkg:deb/debian/libc6@2.36-10")
                .unwrap()
                .covers(&pkg)
        );
        assert!(!PurlKey::parse("pkg:rpm/debian/libc6").unwrap().covers(&pkg));
    }
}
