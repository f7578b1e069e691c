//! Findings set aside by VEX statements and the ignore file: taken out of the report, kept
//! with the reason for every output format to show.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clair_sbom::ignore::IgnoreFile;
use clair_sbom::purl::PurlKey;
use clair_sbom::vex::Vex;
use clair_types::{ReportPackage, ReportVulnerability, VulnerabilityReport};
use serde::Serialize;

use crate::cli::SuppressArgs;

/// Largest VEX document or ignore file read.
const MAX_DOCUMENT: u64 = 64 << 20;

/// One finding set aside.
#[derive(Debug, Clone, Serialize)]
pub struct Suppressed {
    /// The package's id in the report.
    pub package_id: String,
    /// The vulnerability's id in the report.
    pub vulnerability_id: String,
    /// The package.
    #[serde(skip)]
    pub package: ReportPackage,
    /// The vulnerability.
    #[serde(skip)]
    pub vulnerability: ReportVulnerability,
    /// `not_affected` or `fixed` (VEX), `ignored` (ignore file).
    pub status: String,
    /// Why, as the statement or the entry says.
    pub justification: String,
    /// Which document and statement: `OpenVEX <id>`, `CSAF <id>`, `FILE line N`.
    pub source: String,
}

/// What to set aside, loaded once.
pub struct Suppressions {
    vex: Vex,
    ignore: Option<(PathBuf, IgnoreFile)>,
    today: jiff::civil::Date,
}

fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut data = Vec::new();
    f.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("reading {}", path.display()))?;
    if data.len() as u64 > MAX_DOCUMENT {
        anyhow::bail!("{}: over {MAX_DOCUMENT} bytes", path.display());
    }
    Ok(data)
}

impl Suppressions {
    /// Read `--vex` documents and the ignore file (`--ignore-file`, else `./.clairignore`).
    pub fn load(args: &SuppressArgs) -> anyhow::Result<Suppressions> {
        let mut vex = Vex::default();
        for path in &args.vex {
            let n = vex
                .add(&read_bounded(path)?)
                .with_context(|| format!("reading the VEX document {}", path.display()))?;
            tracing::info!(vex = %path.display(), statements = n, "VEX read");
        }
        let path = match &args.ignore_file {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from(".clairignore")).filter(|p| p.is_file()),
        };
        let ignore = match path {
            Some(p) => {
                let text = String::from_utf8(read_bounded(&p)?)
                    .with_context(|| format!("{}: not UTF-8", p.display()))?;
                let f = IgnoreFile::parse(&text)
                    .with_context(|| format!("reading the ignore file {}", p.display()))?;
                Some((p, f))
            }
            None => None,
        };
        let today = jiff::Zoned::now().date();
        Ok(Suppressions { vex, ignore, today })
    }

    /// Ignore-file entries past their date, as messages naming the file and line.
    pub fn expired(&self) -> Vec<String> {
        let Some((path, f)) = &self.ignore else {
            return Vec::new();
        };
        f.expired(self.today)
            .map(|e| {
                format!(
                    "{} line {}: {}{} expired on {}; it no longer applies{}",
                    path.display(),
                    e.line,
                    e.vulnerability,
                    e.package
                        .as_ref()
                        .map_or(String::new(), |p| format!(" ({p})")),
                    e.expires.map_or(String::new(), |d| d.to_string()),
                    if e.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" (reason was: {})", e.reason)
                    }
                )
            })
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.vex.statements.is_empty() && self.ignore.is_none()
    }

    /// Take the findings they cover out of `report`; return them.
    pub fn apply(&self, report: &mut VulnerabilityReport) -> Vec<Suppressed> {
        if self.is_empty() {
            return Vec::new();
        }
        let image = report.manifest_hash.to_string();
        let mut out = Vec::new();
        let pids: Vec<String> = report.package_vulnerabilities.keys().cloned().collect();
        for pid in pids {
            let Some(package) = report.packages.get(&pid).cloned() else {
                continue;
            };
            let purls = package_purls(report, &pid);
            let mut names_of_package = vec![package.name.as_str()];
            if let Some(s) = &package.source {
                names_of_package.push(s.name.as_str());
            }
            let vids = report
                .package_vulnerabilities
                .get(&pid)
                .cloned()
                .unwrap_or_default();
            let mut keep = Vec::new();
            for vid in vids {
                let Some(v) = report.vulnerabilities.get(&vid) else {
                    continue;
                };
                let cves = clair_matcher::matching::cve_ids(v);
                let names: Vec<&str> = std::iter::once(v.name.as_str())
                    .chain(cves.iter().map(String::as_str))
                    .collect();
                let decided = if let Some(s) = self
                    .vex
                    .decide(&names, &purls, &image)
                    .filter(|s| s.status.suppresses())
                {
                    Some((
                        s.status.as_str().to_string(),
                        s.justification.clone(),
                        s.source.clone(),
                    ))
                } else if let Some((path, f)) = &self.ignore
                    && let Some(e) = f.decide(self.today, &names, &names_of_package, &purls)
                {
                    Some((
                        "ignored".to_string(),
                        e.reason.clone(),
                        format!("{} line {}", path.display(), e.line),
                    ))
                } else {
                    None
                };
                match decided {
                    Some((status, justification, source)) => out.push(Suppressed {
                        package_id: pid.clone(),
                        vulnerability_id: vid.clone(),
                        package: package.clone(),
                        vulnerability: v.clone(),
                        status,
                        justification,
                        source,
                    }),
                    None => keep.push(vid),
                }
            }
            report.package_vulnerabilities.insert(pid, keep);
        }
        report.package_vulnerabilities.retain(|_, l| !l.is_empty());
        let used: std::collections::BTreeSet<&String> =
            report.package_vulnerabilities.values().flatten().collect();
        let unused: Vec<String> = report
            .vulnerabilities
            .keys()
            .filter(|k| !used.contains(k))
            .cloned()
            .collect();
        for k in unused {
            report.vulnerabilities.remove(&k);
        }
        out.sort_by(|a, b| {
            (&a.package.name, &a.vulnerability.name).cmp(&(&b.package.name, &b.vulnerability.name))
        });
        out
    }
}

/// The purls of a report package and of its source package, for comparing with statements.
fn package_purls(report: &VulnerabilityReport, pid: &str) -> Vec<PurlKey> {
    let Some(p) = report.packages.get(pid) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let own = crate::output::purl(report, pid);
    out.extend(own.as_deref().and_then(|u| PurlKey::parse(u).ok()));
    if let (Some(s), Some(own)) = (&p.source, out.first().cloned()) {
        out.push(PurlKey {
            name: s.name.clone(),
            version: Some(s.version.clone()),
            ..own
        });
    }
    out
}
