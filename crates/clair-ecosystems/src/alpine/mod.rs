//! Alpine: SecDB (`https://secdb.alpinelinux.org/v3.18/main.json`), per release and repository.
//!
//! Keyed by origin (source) package: `secfixes` maps a fixed version to the CVEs it fixes.
//! Records are per (CVE, origin package, release) in namespace `alpine:v3.18`; a fixed version
//! of "0" means never affected and produces no record. The legacy YAML form is read too.

use std::collections::BTreeMap;
use std::path::Path;

use clair_matcher::fetch::Download;
use clair_matcher::{
    Emit, FetchOutcome, FetchedFile, Fingerprint, Http, Record, Updater, UpdaterError, safe_name,
};
use clair_types::{PackageKind, Vulnerability};
use serde::Deserialize;

use crate::feed::{
    Parsed, directory, fetch_error, json_error, other_error, parse_each, parse_error, read_all,
};

/// Default SecDB location.
pub const DEFAULT_BASE: &str = "https://secdb.alpinelinux.org/";
/// Repositories fetched per release.
pub const REPOSITORIES: [&str; 2] = ["main", "community"];

/// The Alpine updater.
#[derive(Debug, Clone)]
pub struct AlpineUpdater {
    /// SecDB base URL (a mirror may replace it).
    pub base: String,
    /// Releases (`v3.18`); empty: discovered from the base URL's index.
    pub releases: Vec<String>,
}

/// The namespace of an Alpine image's advisories: `alpine:v<major>.<minor>` from `VERSION_ID`
/// (`3.18.4` → `alpine:v3.18`); development snapshots (`3.19_alpha20230901`) are `alpine:edge`.
pub fn distribution_namespace(d: &clair_types::ReportDistribution) -> Option<String> {
    let v = &d.version_id;
    if v.contains("_alpha") || v == "edge" || d.pretty_name.ends_with(" edge") {
        return Some("alpine:edge".into());
    }
    let mut parts = v.split('.');
    let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
        return None;
    };
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    (!major.is_empty() && !minor.is_empty()).then(|| format!("alpine:v{major}.{minor}"))
}

/// Release directories named in an index page (`<a href="v3.18/">`, `edge/`).
pub fn releases_in_index(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in html.split("href=\"").skip(1) {
        let target = part.split('"').next().unwrap_or("").trim_end_matches('/');
        let is_release = target == "edge"
            || target.strip_prefix('v').is_some_and(|v| {
                let mut it = v.split('.');
                matches!((it.next(), it.next(), it.next()), (Some(a), Some(b), None)
                    if !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit()))
            });
        if is_release && !out.iter().any(|r| r == target) {
            out.push(target.to_string());
        }
    }
    out
}

impl Updater for AlpineUpdater {
    fn name(&self) -> &str {
        "alpine"
    }

    fn fetch(&self, http: &Http, dir: &Path, prior: &str) -> Result<FetchOutcome, UpdaterError> {
        let err = fetch_error(self.name());
        let base = directory(&self.base);
        let prior = Fingerprint::parse(prior);
        let releases = if self.releases.is_empty() {
            let idx = dir.join("index.html");
            http.download(&base, &idx, None).map_err(err)?;
            let html = std::fs::read_to_string(&idx).unwrap_or_default();
            let r = releases_in_index(&html);
            if r.is_empty() {
                return Err(other_error(self.name())(format!(
                    "{base}: no release directories (v3.NN/) in the index"
                )));
            }
            r
        } else {
            self.releases.clone()
        };
        let mut files = Vec::new();
        let mut fp = Fingerprint::default();
        let mut changed = false;
        for rel in &releases {
            for repo in REPOSITORIES {
                let name = format!("{rel}/{repo}.json");
                let url = format!("{base}{name}");
                let dest = dir.join(safe_name(&name));
                match http.download(&url, &dest, prior.files.get(&name)) {
                    Ok(Download::Fetched { validators, .. }) => {
                        changed = true;
                        fp.files.insert(name.clone(), validators.clone());
                        files.push(FetchedFile {
                            name,
                            url,
                            path: dest,
                            validators,
                        });
                    }
                    Ok(Download::NotModified) => {
                        // Needed if anything else changed: fetch again unconditionally below.
                        files.push(FetchedFile {
                            name: name.clone(),
                            url,
                            path: dest,
                            validators: prior.files.get(&name).cloned().unwrap_or_default(),
                        });
                    }
                    // Old releases have no community repository.
                    Err(clair_matcher::fetch::FetchError::Status { status: 404, .. })
                        if repo != "main" => {}
                    Err(e) => return Err(err(e)),
                }
            }
        }
        if !changed {
            return Ok(FetchOutcome::Unchanged);
        }
        for f in &mut files {
            if !f.path.exists()
                && let Download::Fetched { validators, .. } =
                    http.download(&f.url, &f.path, None).map_err(err)?
            {
                f.validators = validators;
            }
            fp.files.insert(f.name.clone(), f.validators.clone());
        }
        Ok(FetchOutcome::Fetched {
            files,
            fingerprint: fp.to_string_lossless(),
        })
    }

    fn parse(&self, files: &[FetchedFile], emit: &mut Emit<'_>) -> Result<(), UpdaterError> {
        parse_each(self.name(), files, emit, parse_secdb)
    }
}

#[derive(Debug, Deserialize)]
struct SecDb {
    distroversion: String,
    #[serde(default)]
    packages: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    pkg: Pkg,
}

#[derive(Debug, Deserialize)]
struct Pkg {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<Option<String>>>>,
}

/// Parse one SecDB file (JSON, or the legacy YAML).
pub fn parse_secdb(updater: &str, f: &FetchedFile, emit: &mut Emit<'_>) -> Parsed {
    let data = read_all(updater, f, 256 << 20)?;
    let db: SecDb = if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        serde_json::from_slice(&data).map_err(|e| json_error(updater, f, "", e))?
    } else {
        serde_yaml_ng::from_slice(&data).map_err(|e| {
            let pos = e.location().map_or("document".to_string(), |l| {
                format!("line {} column {}", l.line(), l.column())
            });
            parse_error(updater, f, pos, e.to_string())
        })?
    };
    let release = db.distroversion.trim();
    if release.is_empty() {
        return Err(parse_error(updater, f, "distroversion", "empty release"));
    }
    let namespace = if release.starts_with('v') || release == "edge" {
        format!("alpine:{release}")
    } else {
        format!("alpine:v{release}")
    };
    for e in db.packages {
        for (fixed, ids) in e.pkg.secfixes {
            let fixed = fixed.trim();
            if fixed == "0" || fixed.is_empty() {
                continue;
            }
            for entry in ids.into_iter().flatten().flatten() {
                // "CVE-2019-1234 CVE-2019-5678" (two issues), "CVE-2016-6258 XSA-182" (one issue
                // and its vendor alias), "ZBX-11023" (vendor id only): every CVE on the line, or
                // the line's other identifiers when it names no CVE.
                let ids: Vec<&str> = entry
                    .split_whitespace()
                    .filter(|w| {
                        w.contains('-') && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    })
                    .collect();
                let cves: Vec<&str> = ids
                    .iter()
                    .copied()
                    .filter(|w| w.starts_with("CVE-"))
                    .collect();
                let chosen = if cves.is_empty() { ids } else { cves };
                for id in chosen {
                    let v = Vulnerability {
                        updater: updater.to_string(),
                        name: id.to_string(),
                        namespace: namespace.clone(),
                        package_name: e.pkg.name.clone(),
                        package_kind: PackageKind::Source,
                        version_scheme: "apk".into(),
                        fixed_in_version: fixed.to_string(),
                        links: format!("https://security.alpinelinux.org/vuln/{id}"),
                        ..Vulnerability::default()
                    };
                    emit(Record::Vulnerability(v))
                        .map_err(|_| parse_error(updater, f, "-", "stopped"))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::testing::vulns;

    fn parse(rel: &str) -> Vec<Vulnerability> {
        vulns(rel, |f, e| parse_secdb("alpine", f, e))
    }

    #[test]
    fn secdb_json_and_yaml() {
        let c = parse("feeds/alpine/claircore-v3.10-community.json");
        assert_eq!(c.len(), 9);
        assert!(
            c.iter()
                .all(|v| v.namespace == "alpine:v3.10" && v.version_scheme == "apk")
        );
        let botan: Vec<_> = c.iter().filter(|v| v.package_name == "botan").collect();
        assert_eq!(botan.len(), 4);
        assert!(
            botan
                .iter()
                .any(|v| v.name == "CVE-2018-20187" && v.fixed_in_version == "2.9.0-r0")
        );
        let y = parse("feeds/alpine/clair2-v34-main.yaml");
        // 104 lines with CVEs (7 also naming a Xen XSA alias) and one Zabbix ZBX-only line.
        assert_eq!(y.len(), 105);
        assert!(y.iter().any(|v| v.name == "ZBX-11023"));
        assert!(!y.iter().any(|v| v.name.starts_with("XSA-")));
        assert!(y.iter().all(|v| v.namespace == "alpine:v3.4"));
        let bb: Vec<_> = y.iter().filter(|v| v.package_name == "busybox").collect();
        assert_eq!(bb.len(), 2);
        assert!(bb.iter().all(|v| v.fixed_in_version == "1.24.2-r0"));
        let m = parse("feeds/alpine/vulnerablecode-v3.11-main.json");
        assert!(m.iter().all(|v| v.namespace == "alpine:v3.11"));
        // XSA-248, XSA-252, CVE-2018-7540 (its XSA-252 alias dropped), CVE-2017-9669, CVE-2017-9671.
        assert_eq!(m.len(), 5);
    }

    /// SecDB lists fixes by version in a map whose order means nothing: written newest first or
    /// oldest first, with packages in either order, it gives the same records.
    #[test]
    fn secfixes_in_any_order() {
        let ascending = r#"{"distroversion": "v3.18", "packages": [
            {"pkg": {"name": "openssl", "secfixes": {
                "3.1.0-r1": ["CVE-2023-0464"],
                "3.1.0-r4": ["CVE-2023-1255 CVE-2023-2650"],
                "3.1.1-r0": ["CVE-2023-0464"]}}},
            {"pkg": {"name": "busybox", "secfixes": {"0": ["CVE-2021-42374"], "1.36.1-r2": ["CVE-2022-48174"]}}}]}"#;
        let descending = r#"{"distroversion": "v3.18", "packages": [
            {"pkg": {"name": "busybox", "secfixes": {"1.36.1-r2": ["CVE-2022-48174"], "0": ["CVE-2021-42374"]}}},
            {"pkg": {"name": "openssl", "secfixes": {
                "3.1.1-r0": ["CVE-2023-0464"],
                "3.1.0-r4": ["CVE-2023-2650 CVE-2023-1255"],
                "3.1.0-r1": ["CVE-2023-0464"]}}}]}"#;
        let parse =
            |t: &str| crate::feed::testing::vulns_of_text(t, |f, e| parse_secdb("alpine", f, e));
        let (a, b) = (parse(ascending), parse(descending));
        assert_eq!(a, b);
        assert_eq!(a.len(), 5, "{a:#?}");
        // The CVE listed under two fixes: each is a record, so a version below the later fix
        // is affected whichever the file lists first.
        let fixes: Vec<&str> = a
            .iter()
            .filter(|v| v.name == "CVE-2023-0464")
            .map(|v| v.fixed_in_version.as_str())
            .collect();
        assert_eq!(fixes, vec!["3.1.0-r1", "3.1.1-r0"]);
    }

    #[test]
    fn index_discovery() {
        let html = r#"<a href="../">../</a><a href="edge/">edge/</a><a href="v3.18/">v3.18/</a>
            <a href="v3.9/">v3.9/</a><a href="last-update">last-update</a><a href="v3.x/">x</a>"#;
        assert_eq!(releases_in_index(html), vec!["edge", "v3.18", "v3.9"]);
    }
}
