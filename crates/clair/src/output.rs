//! Human-readable output.

use std::io::{self, Write};

use clair_indexer::Indexed;
use clair_layer::Image;
use serde_json::json;

use crate::cli::ScanFormat;
use crate::commands::scan::Scanned;

/// Pretty JSON and a newline.
pub fn write_json(out: &mut impl Write, v: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)
}

/// A scan in the chosen format.
pub fn write_scan(out: &mut impl Write, format: ScanFormat, s: &Scanned) -> io::Result<()> {
    match format {
        ScanFormat::Json => write_json(out, &scan_json(s)),
        ScanFormat::Table => scan_table(out, s),
        ScanFormat::Sarif => write_json(out, &sarif(s)),
        ScanFormat::Cyclonedx => write_json(out, &cyclonedx(s)),
        ScanFormat::Spdx => write_json(out, &spdx(&s.image.reference, &s.report)),
        ScanFormat::Html => out.write_all(crate::html::scan(s).as_bytes()),
    }
}

/// `clair scan --format json`: the Clair v4 `VulnerabilityReport` (its fields in Clair's
/// order), plus `suppressed` (what VEX or the ignore file set aside, and why) and
/// `expired_ignores` when there are any.
pub fn scan_json(s: &Scanned) -> impl serde::Serialize + '_ {
    #[derive(serde::Serialize)]
    struct Json<'a> {
        #[serde(flatten)]
        report: &'a clair_types::VulnerabilityReport,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        suppressed: Vec<serde_json::Value>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        expired_ignores: &'a [String],
    }
    Json {
        report: &s.report,
        suppressed: s
            .suppressed
            .iter()
            .map(|x| {
                json!({
                    "package_id": x.package_id,
                    "package": x.package.name,
                    "version": x.package.version,
                    "vulnerability_id": x.vulnerability_id,
                    "vulnerability": x.vulnerability.name,
                    "normalized_severity": x.vulnerability.normalized_severity,
                    "status": x.status,
                    "justification": x.justification,
                    "source": x.source,
                })
            })
            .collect(),
        expired_ignores: &s.expired,
    }
}

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
    let layer_no = |d: &clair_types::Digest| layer_number(&indexed.layers, d);
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
pub fn cvss_score(report: &clair_types::VulnerabilityReport, vuln_id: &str) -> Option<f64> {
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
    /// Set aside by VEX or the ignore file.
    suppressed: Option<&'a crate::commands::suppress::Suppressed>,
}

/// The findings reported, then those set aside.
fn all_findings(s: &Scanned) -> Vec<Finding<'_>> {
    let mut out = findings(&s.report);
    out.extend(s.suppressed.iter().map(|x| {
        Finding {
            package_id: &x.package_id,
            package: &x.package,
            vuln_id: &x.vulnerability_id,
            vuln: &x.vulnerability,
            env: s
                .report
                .environments
                .get(&x.package_id)
                .and_then(|e| e.first()),
            suppressed: Some(x),
        }
    }));
    out
}

/// Every (package id, package, vulnerability id, vulnerability) the report pairs, skipping ids
/// it does not define.
pub fn affected_pairs(
    r: &clair_types::VulnerabilityReport,
) -> impl Iterator<
    Item = (
        &String,
        &clair_types::ReportPackage,
        &String,
        &clair_types::ReportVulnerability,
    ),
> {
    r.package_vulnerabilities
        .iter()
        .filter_map(|(pid, ids)| r.packages.get(pid).map(|p| (pid, p, ids)))
        .flat_map(move |(pid, p, ids)| {
            ids.iter()
                .filter_map(move |vid| r.vulnerabilities.get(vid).map(|v| (pid, p, vid, v)))
        })
}

fn findings(r: &clair_types::VulnerabilityReport) -> Vec<Finding<'_>> {
    let mut out: Vec<Finding<'_>> = affected_pairs(r)
        .map(|(pid, package, id, vuln)| Finding {
            package_id: pid,
            package,
            vuln_id: id,
            vuln,
            env: r.environments.get(pid).and_then(|e| e.first()),
            suppressed: None,
        })
        .collect();
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

/// The first columns of every table of findings.
const FINDING_COLUMNS: [&str; 4] = ["PACKAGE", "VERSION", "VULNERABILITY", "SEVERITY"];

/// The 1-based position of the layer `d` in `layers`, "?" when it is not one of them.
pub fn layer_number(layers: &[clair_types::Digest], d: &clair_types::Digest) -> String {
    layers
        .iter()
        .position(|l| l == d)
        .map_or("?".to_string(), |i| (i + 1).to_string())
}

pub fn write_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
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
        return suppressed_table(out, s);
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|f| {
            let mut row = finding_cells(f.package, f.vuln);
            row.extend([
                cvss_score(r, f.vuln_id).map_or(String::new(), |c| {
                    format!("{c:.1} {}", clair_types::Severity::from_cvss_score(c))
                }),
                if crate::commands::scan::has_fix(&f.vuln.fixed_in_version) {
                    f.vuln.fixed_in_version.clone()
                } else {
                    "(no fix)".into()
                },
                f.env.map_or(String::new(), |e| layer_no(&e.introduced_in)),
            ]);
            row
        })
        .collect();
    write_table(
        out,
        &[
            FINDING_COLUMNS.as_slice(),
            &["CVSS (NVD)", "FIXED IN", "LAYER"],
        ]
        .concat(),
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
    suppressed_table(out, s)
}

/// The first cells of a finding's row: package, version, vulnerability, severity.
fn finding_cells(
    p: &clair_types::ReportPackage,
    v: &clair_types::ReportVulnerability,
) -> Vec<String> {
    vec![
        p.name.clone(),
        p.version.clone(),
        v.name.clone(),
        v.normalized_severity.to_string(),
    ]
}

/// The findings VEX statements and the ignore file set aside, with why.
fn suppressed_table(out: &mut impl Write, s: &Scanned) -> io::Result<()> {
    if s.suppressed.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Suppressed ({}):", s.suppressed.len())?;
    let mut rows: Vec<Vec<String>> = s
        .suppressed
        .iter()
        .map(|x| {
            let mut row = finding_cells(&x.package, &x.vulnerability);
            row.extend([
                x.status.clone(),
                if x.justification.is_empty() {
                    x.source.clone()
                } else {
                    format!("{} ({})", x.justification, x.source)
                },
            ]);
            row
        })
        .collect();
    rows.sort();
    write_table(
        out,
        &[FINDING_COLUMNS.as_slice(), &["STATUS", "WHY"]].concat(),
        &rows,
    )
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
    let found = all_findings(s);
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
        let mut result = json!({
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
        });
        // SARIF's own way to say a result was looked at and accepted.
        if let Some(x) = f.suppressed {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": format!(
                    "{}{} ({})",
                    x.status,
                    if x.justification.is_empty() { String::new() } else { format!(": {}", x.justification) },
                    x.source
                ),
            }]);
        }
        results.push(result);
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

/// The package database kind of a report package: its language repository, else the
/// database path's format.
fn package_kind(
    r: &clair_types::VulnerabilityReport,
    env: &clair_types::Environment,
) -> Option<clair_types::PackageDbKind> {
    use clair_types::PackageDbKind as K;
    if let Some(repo) = env
        .repository_ids
        .iter()
        .filter_map(|id| r.repository.get(id))
        .next()
    {
        return [K::Python, K::Npm, K::Java, K::Go, K::Rust, K::Ruby]
            .into_iter()
            .find(|k| k.ecosystem() == Some(repo.name.as_str()));
    }
    let db = env.package_db.as_str();
    if db.contains("dpkg") {
        Some(K::Dpkg)
    } else if db.contains("rpm") {
        Some(K::Rpm)
    } else if db.contains("apk") {
        Some(K::Apk)
    } else {
        None
    }
}

/// The package URL of a report package (what `clair scan sbom:FILE` reads back).
pub fn purl(r: &clair_types::VulnerabilityReport, package_id: &str) -> Option<String> {
    let p = r.packages.get(package_id)?;
    let env = r.environments.get(package_id)?.first()?;
    let kind = package_kind(r, env)?;
    let source = p.source.as_ref().map(|s| clair_types::SourcePackage {
        name: s.name.clone(),
        version: s.version.clone(),
    });
    let dist = r
        .distributions
        .get(&env.distribution_id)
        .map(|d| clair_types::Distribution {
            did: d.did.clone(),
            version_id: d.version_id.clone(),
            version_code_name: d.version_code_name.clone(),
            ..Default::default()
        });
    clair_sbom::purl::from_package(
        kind,
        &p.name,
        &p.version,
        &p.arch,
        source.as_ref(),
        dist.as_ref(),
    )
}

/// An index report in a vulnerability report's shape, with no vulnerabilities (so `clair
/// index` and `clair scan` share the SBOM writers).
pub fn without_vulnerabilities(r: &clair_types::IndexReport) -> clair_types::VulnerabilityReport {
    clair_types::VulnerabilityReport {
        manifest_hash: r.manifest_hash.clone(),
        packages: r.packages.clone(),
        distributions: r.distributions.clone(),
        repository: r.repository.clone(),
        environments: r.environments.clone(),
        vulnerabilities: Default::default(),
        package_vulnerabilities: Default::default(),
        enrichments: Default::default(),
    }
}

/// CycloneDX's `analysis` for a suppressed finding: VEX's `not_affected` and `fixed` map to
/// its states, an ignore-file entry to an accepted (`will_not_fix`) exploitable finding, and
/// OpenVEX/CSAF justifications to the nearest CycloneDX one.
fn cyclonedx_analysis(x: &crate::commands::suppress::Suppressed) -> serde_json::Value {
    let mut a = match x.status.as_str() {
        "not_affected" => json!({"state": "not_affected"}),
        "fixed" => json!({"state": "resolved"}),
        _ => json!({"state": "exploitable", "response": ["will_not_fix"]}),
    };
    let j = x.justification.as_str();
    let cdx =
        if j.starts_with("component_not_present") || j.starts_with("vulnerable_code_not_present") {
            Some("code_not_present")
        } else if j.starts_with("vulnerable_code_not_in_execute_path") {
            Some("code_not_reachable")
        } else if j.starts_with("vulnerable_code_cannot_be_controlled_by_adversary") {
            Some("requires_environment")
        } else if j.starts_with("inline_mitigations_already_exist") {
            Some("protected_by_mitigating_control")
        } else {
            None
        };
    if let Some(c) = cdx.filter(|_| x.status == "not_affected") {
        a["justification"] = json!(c);
    }
    a["detail"] = json!(if j.is_empty() {
        x.source.clone()
    } else {
        format!("{j} ({})", x.source)
    });
    a
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
        if let Some(u) = purl(r, id) {
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
    // The operating system, as Syft and Trivy list it (what `scan sbom:` reads back).
    if let Some(d) = r.distributions.values().next() {
        components.push(json!({
            "type": "operating-system",
            "bom-ref": format!("os-{}", d.id),
            "name": d.did,
            "version": d.version_id,
            "description": d.pretty_name,
        }));
    }
    // One entry per vulnerability and suppression state: a statement may set a vulnerability
    // aside for one package and not another.
    type Entry = (serde_json::Value, Vec<String>);
    let mut vulns: std::collections::BTreeMap<(&str, Option<&str>), Entry> = Default::default();
    for f in all_findings(s) {
        let v = f.vuln;
        let state = f.suppressed.map(|x| x.status.as_str());
        let entry = vulns.entry((f.vuln_id, state)).or_insert_with(|| {
            let mut ratings = vec![json!({
                "severity": v.normalized_severity.to_string().to_lowercase(),
                "method": "other",
                "source": {"name": v.updater},
            })];
            if let Some(score) = cvss_score(r, f.vuln_id) {
                ratings.push(json!({"score": score, "method": "CVSSv31", "source": {"name": "nvd"}}));
            }
            let mut out = json!({
                "bom-ref": match state {
                    None => format!("vuln-{}", f.vuln_id),
                    Some(st) => format!("vuln-{}-{st}", f.vuln_id),
                },
                "id": v.name,
                "source": {"name": v.updater},
                "ratings": ratings,
                "description": v.description,
                "advisories": v.links.split_whitespace().map(|u| json!({"url": u})).collect::<Vec<_>>(),
            });
            if crate::commands::scan::has_fix(&v.fixed_in_version) {
                out["recommendation"] = json!(format!("Upgrade {} to {}", v.package.as_ref().map_or("", |p| p.name.as_str()), v.fixed_in_version));
            }
            if let Some(x) = f.suppressed {
                out["analysis"] = cyclonedx_analysis(x);
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

/// `--format spdx`: an SPDX 2.3 JSON document. The image is the described package; each
/// package has its purl (what `clair scan sbom:` reads back) and, after a scan, a SECURITY
/// `advisory` reference per vulnerability link.
pub fn spdx(reference: &str, r: &clair_types::VulnerabilityReport) -> serde_json::Value {
    let spdx_id = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image",
        "name": reference,
        "versionInfo": r.manifest_hash.to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{"algorithm": "SHA256", "checksumValue": r.manifest_hash.hex()}],
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    for d in r.distributions.values() {
        let id = format!("SPDXRef-OperatingSystem-{}", spdx_id(&d.id));
        packages.push(json!({
            "SPDXID": id,
            "name": d.did,
            "versionInfo": d.version_id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING-SYSTEM",
            "description": d.pretty_name,
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    for (pid, p) in &r.packages {
        let id = format!("SPDXRef-Package-{}", spdx_id(pid));
        let mut refs = Vec::new();
        if let Some(u) = purl(r, pid) {
            refs.push(json!({
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": u,
            }));
        }
        for vid in r.package_vulnerabilities.get(pid).into_iter().flatten() {
            let Some(v) = r.vulnerabilities.get(vid) else {
                continue;
            };
            for link in v.links.split_whitespace().filter(|l| l.starts_with("http")) {
                refs.push(json!({
                    "referenceCategory": "SECURITY",
                    "referenceType": "advisory",
                    "referenceLocator": link,
                    "comment": format!("{} ({})", v.name, v.normalized_severity),
                }));
            }
        }
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": refs,
        });
        if let Some(s) = p
            .source
            .as_ref()
            .filter(|s| s.name != p.name || s.version != p.version)
        {
            pkg["sourceInfo"] = json!(format!("built package from: {} {}", s.name, s.version));
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": reference,
        "documentNamespace": format!(
            "https://github.com/clair-rs/clair-rs/spdx/{}/{}",
            r.manifest_hash.hex(),
            uuid::Uuid::new_v4()
        ),
        "creationInfo": {
            "created": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "creators": [format!("Tool: clair-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    })
}
