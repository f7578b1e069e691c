//! `clair scan IMAGE`: index + match in one command; `clair explain IMAGE VULN`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clair_ecosystems::EcosystemNamespaces;
use clair_matcher::matching::{self, MatchStats, Verdict, report_namespaces};
use clair_types::{Severity, VulnerabilityReport};

use std::collections::BTreeMap;

use crate::cli::{ExplainArgs, ImageArgs, ScanArgs, ScanFormat};
use crate::commands::Global;
use crate::commands::index::index_image;
use crate::commands::suppress::{Suppressed, Suppressions};
use crate::output;

/// Exit code when no vulnerability data covers the image.
pub const NO_DATA_EXIT: u8 = 3;

/// What a scan found, before filtering for output.
pub struct Scanned {
    pub image: clair_layer::Image,
    pub indexed: clair_indexer::Indexed,
    pub report: VulnerabilityReport,
    pub stats: MatchStats,
    /// Namespaces the image needs and the store has records for.
    pub covered: Vec<(String, usize)>,
    /// Findings VEX statements or the ignore file set aside.
    pub suppressed: Vec<Suppressed>,
    /// Ignore-file entries past their date.
    pub expired: Vec<String>,
    /// Why each finding applies, by (package id, vulnerability id): the feed record and the
    /// version comparison, as `clair explain` shows them (filled for HTML only).
    pub explanations: BTreeMap<(String, String), String>,
}

impl Scanned {
    /// A report matched elsewhere (a server, a stored file), with what is known of its image.
    pub fn from_report(
        image: clair_layer::Image,
        layers: Vec<clair_types::Digest>,
        report: VulnerabilityReport,
    ) -> Scanned {
        let n = report.packages.len();
        let index = clair_types::IndexReport {
            manifest_hash: report.manifest_hash.clone(),
            state: clair_types::IndexState::IndexFinished,
            packages: report.packages.clone(),
            distributions: report.distributions.clone(),
            repository: report.repository.clone(),
            environments: report.environments.clone(),
            success: true,
            err: String::new(),
        };
        Scanned {
            image,
            indexed: clair_indexer::Indexed {
                report: index,
                layers,
                stats: clair_indexer::IndexStats::default(),
                warnings: Vec::new(),
            },
            report,
            stats: MatchStats {
                packages: n,
                packages_covered: n,
                ..Default::default()
            },
            covered: Vec::new(),
            suppressed: Vec::new(),
            expired: Vec::new(),
            explanations: BTreeMap::new(),
        }
    }
}

/// Index and match; with `explain`, also keep the reason for every finding.
pub fn scan(image: &ImageArgs, g: &Global, explain: bool) -> anyhow::Result<Scanned> {
    let store = g.store()?;
    let (image, indexed) = index_image(image, &store, g.quiet)?;
    let ns = EcosystemNamespaces;
    let wanted = report_namespaces(&indexed.report, &ns);
    let index = clair_service::load_index(store.as_ref(), Some(&wanted))
        .context("reading vulnerability data")?;
    tracing::info!(records = index.len(), namespaces = ?wanted, "vulnerability data loaded");
    let (mut report, stats) = index.report(&indexed.report, &ns);
    clair_service::add_cvss(&mut report, store.as_ref()).context("reading CVSS enrichments")?;
    let mut explanations = BTreeMap::new();
    if explain {
        let (candidates, _) = index.candidates(&indexed.report, &ns);
        for c in candidates
            .iter()
            .filter(|c| c.decision.verdict == Verdict::Affected)
        {
            explanations.insert(
                (c.package_id.to_string(), format!("{:016x}", c.record_id)),
                format!(
                    "feed record:    {}\nseverity:       {}\ndecision:       {}",
                    record_line(c.record),
                    severity_line(c.record),
                    c.decision.reason
                ),
            );
        }
    }
    let covered = index
        .namespaces()
        .iter()
        .map(|(n, c)| (n.clone(), *c))
        .collect();
    Ok(Scanned {
        image,
        indexed,
        report,
        stats,
        covered,
        suppressed: Vec::new(),
        expired: Vec::new(),
        explanations,
    })
}

/// A feed record as `clair explain` names it: updater, advisory, namespace, package.
fn record_line(r: &clair_types::Vulnerability) -> String {
    format!(
        "{} {} [{}] {} package {:?}{}",
        r.updater,
        r.name,
        r.namespace,
        match r.package_kind {
            clair_types::PackageKind::Source => "source",
            clair_types::PackageKind::Binary => "binary",
        },
        r.package_name,
        if r.arch.is_empty() {
            String::new()
        } else {
            format!(" arch {}", r.arch)
        }
    )
}

/// A record's severity, normalised and as the vendor writes it.
fn severity_line(r: &clair_types::Vulnerability) -> String {
    format!(
        "{} (vendor: {})",
        r.normalized_severity,
        if r.severity.is_empty() {
            "-"
        } else {
            &r.severity
        }
    )
}

/// Say what the vulnerability data does not cover; `Some(exit code)` when the scan must stop
/// because nothing covers the image.
pub fn check_coverage(s: &Scanned, allow_missing_data: bool) -> Option<ExitCode> {
    let missing = &s.stats.missing_namespaces;
    let no_data = s.stats.packages > 0 && s.stats.packages_covered == 0;
    let what = &s.image.reference;
    if !missing.is_empty() {
        let gap = if no_data {
            "no vulnerability data covers this image"
        } else {
            "the vulnerability data is incomplete for this image"
        };
        eprintln!(
            "warning: {gap} ({what}): nothing stored for {} (run `clair update`{}; packages there were not checked)",
            missing.join(", "),
            if no_data { "" } else { " with those updaters" }
        );
    }
    if s.stats.packages > 0 && s.indexed.report.distributions.is_empty() {
        let has_os_packages = s
            .indexed
            .report
            .environments
            .values()
            .flatten()
            .any(|e| e.repository_ids.is_empty());
        if has_os_packages {
            eprintln!(
                "warning: the distribution of {what} was not recognised: its OS packages were not checked"
            );
        }
    }
    if s.stats.undecided_count > 0 {
        eprintln!(
            "warning: {} vulnerability records could not be decided (unreadable versions), e.g.:",
            s.stats.undecided_count
        );
        for u in s.stats.undecided.iter().take(5) {
            eprintln!("  {u}");
        }
    }
    if no_data && !allow_missing_data {
        eprintln!(
            "error: refusing to report {} packages of {what} as free of vulnerabilities without data; \
             run `clair update` (or pass --allow-missing-data)",
            s.stats.packages
        );
        return Some(ExitCode::from(NO_DATA_EXIT));
    }
    None
}

/// Set aside what VEX and the ignore file cover, then drop what the user asked not to see.
pub fn settle(s: &mut Scanned, sup: &Suppressions, threshold: Severity, ignore_unfixed: bool) {
    s.suppressed = sup.apply(&mut s.report);
    s.expired = sup.expired();
    for e in &s.expired {
        eprintln!("warning: {e}");
    }
    filter(&mut s.report, threshold, ignore_unfixed);
    s.suppressed.retain(|x| {
        x.vulnerability.normalized_severity >= threshold
            && (!ignore_unfixed || has_fix(&x.vulnerability.fixed_in_version))
    });
}

/// Drop what the user asked not to see: below the threshold (the feed's severity, or NVD's
/// CVSS rating where the feed gives none: see [`crate::output::effective_severity`]), or
/// unfixed with --ignore-unfixed.
pub fn filter(report: &mut VulnerabilityReport, threshold: Severity, ignore_unfixed: bool) {
    let keep: std::collections::BTreeSet<String> = report
        .vulnerabilities
        .iter()
        .filter(|(id, v)| {
            crate::output::effective_severity(report, id, v) >= threshold
                && (!ignore_unfixed || has_fix(&v.fixed_in_version))
        })
        .map(|(id, _)| id.clone())
        .collect();
    report.vulnerabilities.retain(|id, _| keep.contains(id));
    let keep = &report.vulnerabilities;
    for list in report.package_vulnerabilities.values_mut() {
        list.retain(|id| keep.contains_key(id));
    }
    report.package_vulnerabilities.retain(|_, l| !l.is_empty());
    for list in report.enrichments.values_mut() {
        for m in list.iter_mut() {
            if let Some(o) = m.as_object_mut() {
                o.retain(|id, _| keep.contains_key(id));
            }
        }
    }
}

/// Whether a fixed-in version names a fix (Quay treats "0" as none).
pub fn has_fix(v: &str) -> bool {
    !v.is_empty() && v != "0"
}

pub fn run(args: &ScanArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let sup = Suppressions::load(&args.suppress)?;
    let mut s = scan(&args.image, g, args.format == ScanFormat::Html)?;
    if let Some(code) = check_coverage(&s, args.allow_missing_data) {
        return Ok(code);
    }
    settle(&mut s, &sup, args.severity_threshold, args.ignore_unfixed);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    output::write_scan(&mut out, args.format, &s)?;
    out.flush()?;
    if !s.report.vulnerabilities.is_empty() && args.exit_code != 0 {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}

/// `clair explain IMAGE VULN`.
pub fn explain(args: &ExplainArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let (image, indexed) = index_image(&args.image, &store, g.quiet)?;
    let ns = EcosystemNamespaces;
    let wanted = report_namespaces(&indexed.report, &ns);
    let index = clair_service::load_index(store.as_ref(), Some(&wanted))
        .context("reading vulnerability data")?;
    let (candidates, stats) = index.candidates(&indexed.report, &ns);
    let target = args.vulnerability.trim();
    let relevant: Vec<_> = candidates
        .iter()
        .filter(|c| {
            c.record.name.eq_ignore_ascii_case(target)
                || c.record
                    .links
                    .split_whitespace()
                    .any(|l| l.ends_with(target) || l.contains(&format!("{target}.")))
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "Image:         {} ({})", image.reference, image.format)?;
    let dist = indexed
        .report
        .distributions
        .values()
        .next()
        .map_or("unknown".to_string(), |d| {
            format!("{} {}", d.did, d.version_id)
        });
    writeln!(out, "Distribution:  {dist}")?;
    writeln!(
        out,
        "Namespaces:    {}",
        if wanted.is_empty() {
            "(none)".to_string()
        } else {
            wanted
                .iter()
                .map(|n| {
                    let c = index.namespaces().get(n).copied().unwrap_or(0);
                    format!("{n} ({c} records)")
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    )?;
    writeln!(out)?;
    if relevant.is_empty() {
        writeln!(
            out,
            "No record of {target} applies to a package of this image: no package of the image is named by a {target} record in these namespaces."
        )?;
        if !stats.missing_namespaces.is_empty() {
            writeln!(
                out,
                "Note: no vulnerability data is stored for {}.",
                stats.missing_namespaces.join(", ")
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let layer_no = |d: &clair_types::Digest| crate::output::layer_number(&indexed.layers, d);
    let mut affected = 0;
    for c in &relevant {
        let pkg = &indexed.report.packages[c.package_id];
        let envs = indexed
            .report
            .environments
            .get(c.package_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let verdict = match c.decision.verdict {
            Verdict::Affected => {
                affected += 1;
                "AFFECTED"
            }
            Verdict::NotAffected => "not affected",
            Verdict::Undecided => "UNDECIDED",
        };
        writeln!(out, "{} {} — {verdict}", pkg.name, pkg.version)?;
        if let Some(s) = &pkg.source
            && (s.name != pkg.name || s.version != pkg.version)
        {
            writeln!(out, "  source package: {} {}", s.name, s.version)?;
        }
        for e in envs {
            writeln!(
                out,
                "  found in:       {} (layer {} {})",
                e.package_db,
                layer_no(&e.introduced_in),
                e.introduced_in
            )?;
        }
        let r = c.record;
        writeln!(out, "  feed record:    {}", record_line(r))?;
        writeln!(out, "  severity:       {}", severity_line(r))?;
        let cves = matching::cve_ids_in(&r.name, &r.links);
        for e in store.enrichments("nvd", &cves)? {
            let score = e.data.get("baseScore").and_then(serde_json::Value::as_f64);
            let vector = e
                .data
                .get("vectorString")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            if let Some(score) = score {
                writeln!(
                    out,
                    "  cvss (nvd):     {score:.1} {vector} ({}) for {}",
                    Severity::from_cvss_score(score),
                    e.tags.join(", ")
                )?;
            }
        }
        writeln!(out, "  decision:       {}", c.decision.reason)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "{affected} of {} package records for {target} apply.",
        relevant.len()
    )?;
    Ok(ExitCode::SUCCESS)
}
