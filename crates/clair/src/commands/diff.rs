//! `clair diff OLD NEW`: what changed between two builds of an image. A finding is a package
//! name and a vulnerability; one in NEW only was introduced, one in OLD only was fixed, one in
//! both is unchanged (even if the package's version moved without fixing it).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clair_types::{Severity, VulnerabilityReport};
use serde_json::json;

use crate::cli::{DiffArgs, DiffFormat, ImageArgs};
use crate::commands::Global;
use crate::commands::scan::{Scanned, check_coverage, scan, settle};
use crate::commands::suppress::Suppressions;
use crate::html::{self, Row};

/// Largest stored report read.
const MAX_REPORT: u64 = 256 << 20;

/// A stored `clair scan --format json` report, if `reference` is a file holding one.
fn stored_report(reference: &str) -> anyhow::Result<Option<Scanned>> {
    use std::io::Read;
    let path = Path::new(reference);
    if !path.is_file() {
        return Ok(None);
    }
    let mut head = [0u8; 1];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {reference}"))?;
    let n = f.read(&mut head)?;
    if n == 0 || head[0] != b'{' {
        return Ok(None);
    }
    let mut data = head[..n].to_vec();
    f.take(MAX_REPORT)
        .read_to_end(&mut data)
        .with_context(|| format!("reading {reference}"))?;
    if data.len() as u64 > MAX_REPORT {
        anyhow::bail!("{reference}: over {MAX_REPORT} bytes");
    }
    let report: VulnerabilityReport = serde_json::from_slice(&data).with_context(|| {
        format!("{reference}: not a Clair v4 vulnerability report (clair scan --format json)")
    })?;
    let image = clair_layer::Image::from_layers(
        reference,
        clair_layer::source::ImageFormat::Report,
        Some(report.manifest_hash.clone()),
        Vec::new(),
    );
    Ok(Some(Scanned::from_report(image, Vec::new(), report)))
}

/// Scan one side (or read it), with suppressions applied; `Err(code)` to stop with that code.
fn side(
    reference: &str,
    args: &DiffArgs,
    g: &Global,
    sup: &Suppressions,
) -> anyhow::Result<Result<Scanned, ExitCode>> {
    let mut s = match stored_report(reference)? {
        Some(s) => s,
        None => {
            let image = ImageArgs {
                image: reference.to_string(),
                read: args.read.clone(),
            };
            let s = scan(&image, g, args.format == DiffFormat::Html)?;
            if let Some(code) = check_coverage(&s, args.allow_missing_data) {
                return Ok(Err(code));
            }
            s
        }
    };
    settle(&mut s, sup, Severity::Unknown, args.ignore_unfixed);
    Ok(Ok(s))
}

/// What changed: introduced, fixed, unchanged.
pub struct Changes {
    pub introduced: Vec<Row>,
    pub fixed: Vec<Row>,
    pub unchanged: Vec<Row>,
}

/// Compare two scans' findings by package name and vulnerability name.
pub fn compare(old: &Scanned, new: &Scanned) -> Changes {
    let key = |r: &Row| (r.package.clone(), r.vulnerability.clone());
    let (old_rows, _) = html::scan_rows(old);
    let (new_rows, _) = html::scan_rows(new);
    let old_keys: BTreeSet<_> = old_rows.iter().map(key).collect();
    let new_keys: BTreeSet<_> = new_rows.iter().map(key).collect();
    let (unchanged, introduced) = new_rows
        .into_iter()
        .partition(|r| old_keys.contains(&key(r)));
    let fixed = old_rows
        .into_iter()
        .filter(|r| !new_keys.contains(&key(r)))
        .collect();
    Changes {
        introduced,
        fixed,
        unchanged,
    }
}

fn by_severity(rows: &[Row]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for s in Severity::ALL.iter().rev() {
        let n = rows.iter().filter(|r| r.severity == *s).count();
        if n > 0 {
            m.insert(s.to_string(), json!(n));
        }
    }
    serde_json::Value::Object(m)
}

fn table(out: &mut impl Write, title: &str, rows: &[Row]) -> std::io::Result<()> {
    writeln!(out, "{title} ({}):", rows.len())?;
    if rows.is_empty() {
        writeln!(out, "  none")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.package.clone(),
                r.version.clone(),
                r.vulnerability.clone(),
                r.severity.to_string(),
                if crate::commands::scan::has_fix(&r.fixed_in) {
                    r.fixed_in.clone()
                } else {
                    "(no fix)".into()
                },
                match r.layer {
                    Some(n) => n.to_string(),
                    None => r
                        .layer_digest
                        .get(..19)
                        .unwrap_or(&r.layer_digest)
                        .to_string(),
                },
            ]
        })
        .collect();
    crate::output::write_table(
        out,
        &[
            "PACKAGE",
            "VERSION",
            "VULNERABILITY",
            "SEVERITY",
            "FIXED IN",
            "LAYER",
        ],
        &cells,
    )
}

pub fn run(args: &DiffArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let sup = Suppressions::load(&args.suppress)?;
    let old = match side(&args.old, args, g, &sup)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let new = match side(&args.new, args, g, &sup)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let c = compare(&old, &new);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        DiffFormat::Json => crate::output::write_json(
            &mut out,
            &json!({
                "old": {"reference": old.image.reference, "manifest_hash": old.report.manifest_hash},
                "new": {"reference": new.image.reference, "manifest_hash": new.report.manifest_hash},
                "summary": {
                    "introduced": by_severity(&c.introduced),
                    "fixed": by_severity(&c.fixed),
                    "unchanged": by_severity(&c.unchanged),
                },
                "introduced": c.introduced,
                "fixed": c.fixed,
                "unchanged": c.unchanged,
            }),
        )?,
        DiffFormat::Html => out.write_all(
            html::diff(
                &old,
                &new,
                &[
                    ("introduced", &c.introduced),
                    ("fixed", &c.fixed),
                    ("unchanged", &c.unchanged),
                ],
            )
            .as_bytes(),
        )?,
        DiffFormat::Table => {
            writeln!(
                out,
                "Old: {} ({})",
                old.image.reference, old.report.manifest_hash
            )?;
            writeln!(
                out,
                "New: {} ({})",
                new.image.reference, new.report.manifest_hash
            )?;
            writeln!(out)?;
            table(&mut out, "Introduced", &c.introduced)?;
            writeln!(out)?;
            table(&mut out, "Fixed", &c.fixed)?;
            writeln!(out)?;
            if args.show_unchanged {
                table(&mut out, "Unchanged", &c.unchanged)?;
            } else {
                writeln!(
                    out,
                    "Unchanged: {} (--show-unchanged lists them)",
                    c.unchanged.len()
                )?;
            }
        }
    }
    out.flush()?;
    if let Some(level) = args.fail_on
        && c.introduced.iter().any(|r| r.severity >= level)
    {
        if args.format == DiffFormat::Table {
            eprintln!(
                "clair diff: {} introduced vulnerabilities at or above {level}",
                c.introduced.iter().filter(|r| r.severity >= level).count()
            );
        }
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
