//! Human-readable output.

use std::io::{self, Write};

use clair_indexer::Indexed;
use clair_layer::Image;

/// Write an index report as a table: the distribution, then one row per package.
pub fn index_table(out: &mut impl Write, image: &Image, indexed: &Indexed) -> io::Result<()> {
    let r = &indexed.report;
    writeln!(out, "Image:        {} ({})", image.reference, image.format)?;
    writeln!(out, "Manifest:     {}", r.manifest_hash)?;
    match r.distributions.values().next() {
        Some(d) => {
            let name = if d.pretty_name.is_empty() {
                &d.name
            } else {
                &d.pretty_name
            };
            writeln!(
                out,
                "Distribution: {name} (id {}, version {})",
                d.did, d.version_id
            )?;
        }
        None => writeln!(out, "Distribution: unknown")?,
    }
    writeln!(out, "Packages:     {}", r.packages.len())?;
    writeln!(out)?;
    let layer_no = |d: &clair_types::Digest| {
        indexed
            .layers
            .iter()
            .position(|l| l == d)
            .map_or("?".to_string(), |i| (i + 1).to_string())
    };
    let mut rows: Vec<[String; 6]> = Vec::new();
    for (id, p) in &r.packages {
        let env = r.environments.get(id).and_then(|e| e.first());
        let source = p.source.as_ref().map_or(String::new(), |s| {
            if s.name == p.name && s.version == p.version {
                String::new()
            } else if s.version == p.version {
                s.name.clone()
            } else {
                format!("{} {}", s.name, s.version)
            }
        });
        rows.push([
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
            source,
            env.map_or(String::new(), |e| layer_no(&e.introduced_in)),
            env.map_or(String::new(), |e| e.package_db.clone()),
        ]);
    }
    rows.sort();
    let header = ["NAME", "VERSION", "ARCH", "SOURCE", "LAYER", "DATABASE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> io::Result<()> {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, &header)?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(out, &cells)?;
    }
    Ok(())
}

/// The CVSS base score Clair's CVSS enrichment gives a vulnerability, if any.
fn cvss_score(report: &clair_types::VulnerabilityReport, vuln_id: &str) -> Option<f64> {
    report
        .enrichments
        .get(clair_matcher::matching::CVSS_ENRICHMENT_KIND)?
        .iter()
        .filter_map(|m| m.get(vuln_id))
        .filter_map(|list| list.as_array())
        .flatten()
        .filter_map(|c| c.get("baseScore").and_then(serde_json::Value::as_f64))
        .reduce(f64::max)
}

/// The rating of NVD's CVSS base score for a vulnerability (the CVSS enrichment), if any.
pub fn cvss_severity(
    report: &clair_types::VulnerabilityReport,
    vuln_id: &str,
) -> Option<clair_types::Severity> {
    cvss_score(report, vuln_id).map(clair_types::Severity::from_cvss_score)
}

/// What `--severity-threshold` compares and the table sorts by: the feed's normalized
/// severity (as Clair v4 reports it), or, when the feed gives none (Unknown: Alpine's, a
/// Debian issue without urgency), the rating of NVD's CVSS score.
pub fn effective_severity(
    report: &clair_types::VulnerabilityReport,
    vuln_id: &str,
    v: &clair_types::ReportVulnerability,
) -> clair_types::Severity {
    match v.normalized_severity {
        clair_types::Severity::Unknown => {
            cvss_severity(report, vuln_id).unwrap_or(clair_types::Severity::Unknown)
        }
        s => s,
    }
}

/// One affected (package, vulnerability) pair, for the flat output formats.
struct Finding<'a> {
    package_id: &'a str,
    package: &'a clair_types::ReportPackage,
    vuln_id: &'a str,
    vuln: &'a clair_types::ReportVulnerability,
    env: Option<&'a clair_types::Environment>,
}

fn findings(r: &clair_types::VulnerabilityReport) -> Vec<Finding<'_>> {
    let mut out = Vec::new();
    for (pid, ids) in &r.package_vulnerabilities {
        let Some(package) = r.packages.get(pid) else {
            continue;
        };
        for id in ids {
            if let Some(vuln) = r.vulnerabilities.get(id) {
                out.push(Finding {
                    package_id: pid,
                    package,
                    vuln_id: id,
                    vuln,
                    env: r.environments.get(pid).and_then(|e| e.first()),
                });
            }
        }
    }
    // Most severe first (a feed's Unknown ranked by its CVSS), then by package and advisory.
    out.sort_by(|a, b| {
        effective_severity(r, b.vuln_id, b.vuln)
            .cmp(&effective_severity(r, a.vuln_id, a.vuln))
            .then_with(|| b.vuln.normalized_severity.cmp(&a.vuln.normalized_severity))
            .then_with(|| a.package.name.cmp(&b.package.name))
            .then_with(|| a.vuln.name.cmp(&b.vuln.name))
            .then_with(|| a.vuln.fixed_in_version.cmp(&b.vuln.fixed_in_version))
    });
    out
}

fn write_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> io::Result<()> {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, header)?;
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(out, &cells)?;
    }
    Ok(())
}

/// `clair scan` as a table.
pub fn scan_table(out: &mut impl Write, s: &crate::commands::scan::Scanned) -> io::Result<()> {
    let r = &s.report;
    writeln!(
        out,
        "Image:        {} ({})",
        s.image.reference, s.image.format
    )?;
    writeln!(out, "Manifest:     {}", r.manifest_hash)?;
    match r.distributions.values().next() {
        Some(d) => writeln!(
            out,
            "Distribution: {} (id {}, version {})",
            if d.pretty_name.is_empty() {
                &d.name
            } else {
                &d.pretty_name
            },
            d.did,
            d.version_id
        )?,
        None => writeln!(out, "Distribution: unknown")?,
    }
    writeln!(
        out,
        "Packages:     {} ({} covered by vulnerability data)",
        s.stats.packages, s.stats.packages_covered
    )?;
    let data: Vec<String> = s
        .covered
        .iter()
        .map(|(n, c)| format!("{n} ({c} records)"))
        .collect();
    writeln!(
        out,
        "Data:         {}",
        if data.is_empty() {
            "none".to_string()
        } else {
            data.join(", ")
        }
    )?;
    if !s.stats.missing_namespaces.is_empty() {
        writeln!(
            out,
            "Not covered:  {} (no data stored: those packages were not checked)",
            s.stats.missing_namespaces.join(", ")
        )?;
    }
    writeln!(out)?;
    let layer_no = |d: &clair_types::Digest| {
        s.indexed
            .layers
            .iter()
            .position(|l| l == d)
            .map_or("?".to_string(), |i| (i + 1).to_string())
    };
    let found = findings(r);
    if found.is_empty() {
        writeln!(out, "No vulnerabilities found.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|f| {
            vec![
                f.package.name.clone(),
                f.package.version.clone(),
                f.vuln.name.clone(),
                f.vuln.normalized_severity.to_string(),
                cvss_score(r, f.vuln_id).map_or(String::new(), |c| {
                    format!("{c:.1} {}", clair_types::Severity::from_cvss_score(c))
                }),
                if crate::commands::scan::has_fix(&f.vuln.fixed_in_version) {
                    f.vuln.fixed_in_version.clone()
                } else {
                    "(no fix)".into()
                },
                f.env.map_or(String::new(), |e| layer_no(&e.introduced_in)),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "PACKAGE",
            "VERSION",
            "VULNERABILITY",
            "SEVERITY",
            "CVSS (NVD)",
            "FIXED IN",
            "LAYER",
        ],
        &rows,
    )?;
    writeln!(out)?;
    let mut by_sev: Vec<(clair_types::Severity, usize)> = clair_types::Severity::ALL
        .iter()
        .rev()
        .map(|sev| {
            (
                *sev,
                found
                    .iter()
                    .filter(|f| effective_severity(r, f.vuln_id, f.vuln) == *sev)
                    .count(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    by_sev.dedup();
    let packages: std::collections::BTreeSet<&str> = found.iter().map(|f| f.package_id).collect();
    writeln!(
        out,
        "{} vulnerabilities in {} packages: {} (the feed's severity, else NVD's CVSS rating)",
        found.len(),
        packages.len(),
        by_sev
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(())
}

/// SARIF's `security-severity` for a vulnerability: its CVSS score, else a value inside the
/// band GitHub maps to the same severity.
fn security_severity(score: Option<f64>, sev: clair_types::Severity) -> String {
    use clair_types::Severity::*;
    let v = score.unwrap_or(match sev {
        Critical => 9.5,
        High => 8.0,
        Medium => 5.5,
        Low => 2.0,
        Negligible | Unknown => 0.0,
    });
    format!("{v:.1}")
}

/// `clair scan --format sarif`: SARIF 2.1.0, one rule per advisory, one result per affected
/// package.
pub fn sarif(s: &crate::commands::scan::Scanned) -> serde_json::Value {
    use serde_json::json;
    let r = &s.report;
    let found = findings(r);
    let mut rules: Vec<serde_json::Value> = Vec::new();
    let mut rule_index: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut results = Vec::new();
    for f in &found {
        let v = f.vuln;
        let score = cvss_score(r, f.vuln_id);
        // The feed's severity, else NVD's CVSS rating (SARIF is read by people and gates).
        let sev = effective_severity(r, f.vuln_id, v);
        let idx = *rule_index.entry(v.name.as_str()).or_insert_with(|| {
            rules.push(json!({
                "id": v.name,
                "name": "OsPackageVulnerability",
                "shortDescription": {"text": format!("{} ({})", v.name, sev)},
                "fullDescription": {"text": if v.description.is_empty() { v.name.clone() } else { v.description.clone() }},
                "helpUri": v.links.split_whitespace().next().unwrap_or(""),
                "help": {"text": format!("{}: {}", v.name, v.links)},
                "properties": {
                    "security-severity": security_severity(score, sev),
                    "tags": ["security", "vulnerability", sev.to_string()],
                },
            }));
            rules.len() - 1
        });
        let level = match sev {
            clair_types::Severity::Critical | clair_types::Severity::High => "error",
            clair_types::Severity::Medium => "warning",
            _ => "note",
        };
        let fix = if crate::commands::scan::has_fix(&v.fixed_in_version) {
            format!("fixed in {}", v.fixed_in_version)
        } else {
            "no fixed version yet".to_string()
        };
        results.push(json!({
            "ruleId": v.name,
            "ruleIndex": idx,
            "level": level,
            "message": {"text": format!(
                "Package {} {} is affected by {} ({} severity); {}.",
                f.package.name, f.package.version, v.name, sev, fix
            )},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": f.env.map_or("", |e| e.package_db.as_str())},
                    "region": {"startLine": 1},
                },
                "message": {"text": format!("{}: {} {}", s.image.reference, f.package.name, f.package.version)},
            }],
            "properties": {
                "package": f.package.name,
                "installedVersion": f.package.version,
                "fixedVersion": v.fixed_in_version,
                "updater": v.updater,
            },
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "clair",
                "informationUri": "https://github.com/clair-rs/clair-rs",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// A package URL for a report package.
fn purl(
    r: &clair_types::VulnerabilityReport,
    p: &clair_types::ReportPackage,
    env: Option<&clair_types::Environment>,
) -> Option<String> {
    fn enc(s: &str) -> String {
        let mut o = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b".-_~".contains(&b) {
                o.push(b as char);
            } else {
                o.push_str(&format!("%{b:02X}"));
            }
        }
        o
    }
    let env = env?;
    if let Some(repo) = env
        .repository_ids
        .first()
        .and_then(|id| r.repository.get(id))
    {
        return Some(match repo.name.as_str() {
            "pypi" => format!(
                "pkg:pypi/{}@{}",
                enc(&p.name.to_lowercase()),
                enc(&p.version)
            ),
            "npm" => match p.name.split_once('/') {
                Some((scope, name)) if scope.starts_with('@') => {
                    format!("pkg:npm/{}/{}@{}", enc(scope), enc(name), enc(&p.version))
                }
                _ => format!("pkg:npm/{}@{}", enc(&p.name), enc(&p.version)),
            },
            "maven" => match p.name.split_once(':') {
                Some((g, a)) => format!("pkg:maven/{}/{}@{}", enc(g), enc(a), enc(&p.version)),
                None => format!("pkg:maven/{}@{}", enc(&p.name), enc(&p.version)),
            },
            "go" => format!("pkg:golang/{}@{}", p.name, enc(&p.version)),
            "crates.io" => format!("pkg:cargo/{}@{}", enc(&p.name), enc(&p.version)),
            "rubygems" => format!("pkg:gem/{}@{}", enc(&p.name), enc(&p.version)),
            _ => return None,
        });
    }
    let d = r.distributions.get(&env.distribution_id);
    let did = d.map_or("", |d| d.did.as_str());
    let kind = if env.package_db.contains("dpkg") {
        "deb"
    } else if env.package_db.contains("rpm") {
        "rpm"
    } else if env.package_db.contains("apk") {
        "apk"
    } else {
        return None;
    };
    let mut q = Vec::new();
    if !p.arch.is_empty() {
        q.push(format!("arch={}", enc(&p.arch)));
    }
    if let Some(d) = d {
        q.push(format!("distro={}-{}", enc(&d.did), enc(&d.version_id)));
    }
    let ns = match (kind, did) {
        ("rpm", "rhel") => "redhat",
        (_, "") => "unknown",
        (_, d) => d,
    };
    Some(format!(
        "pkg:{kind}/{ns}/{}@{}{}",
        enc(&p.name),
        enc(&p.version),
        if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        }
    ))
}

/// `clair scan --format cyclonedx`: a CycloneDX 1.5 BOM of the image's packages with the
/// vulnerabilities that affect them.
pub fn cyclonedx(s: &crate::commands::scan::Scanned) -> serde_json::Value {
    use serde_json::json;
    let r = &s.report;
    let digest = clair_types::Digest::sha256_of(r.manifest_hash.as_str().as_bytes());
    let mut b = [0u8; 16];
    for (i, x) in b.iter_mut().enumerate() {
        *x =
            u8::from_str_radix(digest.hex().get(i * 2..i * 2 + 2).unwrap_or("00"), 16).unwrap_or(0);
    }
    let serial = uuid::Builder::from_random_bytes(b).into_uuid();
    let mut components = Vec::new();
    for (id, p) in &r.packages {
        let env = r.environments.get(id).and_then(|e| e.first());
        let mut c = json!({
            "type": "library",
            "bom-ref": format!("pkg-{id}"),
            "name": p.name,
            "version": p.version,
        });
        if let Some(u) = purl(r, p, env) {
            c["purl"] = json!(u);
        }
        if let Some(e) = env {
            c["properties"] = json!([
                {"name": "clair:package_db", "value": e.package_db},
                {"name": "clair:introduced_in", "value": e.introduced_in.to_string()},
            ]);
        }
        components.push(c);
    }
    let mut vulns: std::collections::BTreeMap<&str, (serde_json::Value, Vec<String>)> =
        Default::default();
    for f in findings(r) {
        let v = f.vuln;
        let entry = vulns.entry(f.vuln_id).or_insert_with(|| {
            let mut ratings = vec![json!({
                "severity": v.normalized_severity.to_string().to_lowercase(),
                "method": "other",
                "source": {"name": v.updater},
            })];
            if let Some(score) = cvss_score(r, f.vuln_id) {
                ratings.push(json!({"score": score, "method": "CVSSv31", "source": {"name": "nvd"}}));
            }
            let mut out = json!({
                "bom-ref": format!("vuln-{}", f.vuln_id),
                "id": v.name,
                "source": {"name": v.updater},
                "ratings": ratings,
                "description": v.description,
                "advisories": v.links.split_whitespace().map(|u| json!({"url": u})).collect::<Vec<_>>(),
            });
            if crate::commands::scan::has_fix(&v.fixed_in_version) {
                out["recommendation"] = json!(format!("Upgrade {} to {}", v.package.as_ref().map_or("", |p| p.name.as_str()), v.fixed_in_version));
            }
            (out, Vec::new())
        });
        entry.1.push(format!("pkg-{}", f.package_id));
    }
    let vulnerabilities: Vec<serde_json::Value> = vulns
        .into_values()
        .map(|(mut v, refs)| {
            v["affects"] = json!(refs.iter().map(|r| json!({"ref": r})).collect::<Vec<_>>());
            v
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{serial}"),
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "clair", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {"type": "container", "bom-ref": r.manifest_hash.to_string(), "name": s.image.reference},
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    })
}
