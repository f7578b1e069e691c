//! `clair update`: run updaters, show their status, export and import bundles.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context;
use clair_matcher::Http;
use clair_service::bundle::{BundleSigner, Signature, Trust, TrustedKey};
use clair_service::{Outcome, RunReport, UpdateManager, UpdateProgress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{Format, UpdateAction, UpdateArgs};
use crate::commands::Global;

pub fn run(args: &UpdateArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let http = Http::new(clair_matcher::HttpOptions {
        attempts: args.attempts.max(1),
        request_timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        ..clair_matcher::HttpOptions::default()
    });
    if args.status {
        return status(g, args.format);
    }
    match &args.action {
        Some(UpdateAction::Status { format }) => status(g, *format),
        Some(UpdateAction::Export { file, only, sign }) => {
            export(g, http, file, only, sign.as_deref())
        }
        Some(UpdateAction::Import {
            file,
            trusted_key,
            allow_unsigned,
        }) => {
            let trust = Trust {
                keys: trusted_keys(trusted_key)?,
                allow_unsigned: *allow_unsigned,
            };
            import(g, http, file, args.format, &trust)
        }
        Some(UpdateAction::Keygen { file, force }) => keygen(file, *force),
        None => update(g, http, args),
    }
}

pub(crate) fn manager(g: &Global, http: Http, keep: usize) -> anyhow::Result<UpdateManager> {
    manager_on(g.matcher_store()?, g, http, keep)
}

/// The configured updaters writing to `store`.
pub(crate) fn manager_on(
    store: std::sync::Arc<dyn clair_store::Store>,
    g: &Global,
    http: Http,
    keep: usize,
) -> anyhow::Result<UpdateManager> {
    let (sets, config) = match &g.config {
        Some(c) => (c.updater_sets()?, c.updater_config()?),
        None => (None, Default::default()),
    };
    manager_with(store, http, keep, sets, config)
}

fn manager_with(
    store: std::sync::Arc<dyn clair_store::Store>,
    http: Http,
    keep: usize,
    sets: Option<Vec<String>>,
    config: std::collections::BTreeMap<String, serde_json::Value>,
) -> anyhow::Result<UpdateManager> {
    let updaters =
        clair_ecosystems::updaters(sets.as_deref(), &config).map_err(anyhow::Error::msg)?;
    Ok(UpdateManager::new(store, updaters)
        .with_keep(keep)
        .with_http(http))
}

fn update(g: &Global, http: Http, args: &UpdateArgs) -> anyhow::Result<ExitCode> {
    let m = manager(g, http, args.keep)?;
    if let Some(unknown) = args
        .only
        .iter()
        .find(|n| !m.updaters().iter().any(|u| u.name() == n.as_str()))
    {
        anyhow::bail!(
            "--only {unknown}: no such updater configured (configured: {})",
            m.updaters()
                .iter()
                .map(|u| u.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let only = (!args.only.is_empty()).then_some(args.only.as_slice());
    if let Some(every) = &args.every {
        let interval = if every == "config" {
            g.config
                .as_ref()
                .map(|c| c.updater_interval())
                .transpose()?
                .flatten()
                .unwrap_or(std::time::Duration::from_secs(6 * 3600))
        } else {
            clair_config::parse_duration(every).map_err(|e| anyhow::anyhow!("--every: {e}"))?
        };
        if interval.is_zero() {
            anyhow::bail!("updates are disabled (interval 0)");
        }
        tracing::info!(
            interval_s = interval.as_secs(),
            "updating periodically; interrupt to stop"
        );
        loop {
            let started = std::time::Instant::now();
            let reports = m.run(only, &clair_service::NoUpdateProgress);
            if !g.quiet {
                print_reports(&reports, args.format)?;
            }
            std::thread::sleep(interval.saturating_sub(started.elapsed()));
        }
    }
    let bars = Bars::new(g.quiet);
    let reports = m.run(only, &bars);
    bars.finish();
    print_reports(&reports, args.format)?;
    Ok(exit(&reports))
}

/// The directory whose `*.pub` files are trusted bundle keys:
/// `$XDG_CONFIG_HOME/clair/trusted-keys`, else `~/.config/clair/trusted-keys`.
fn trusted_keys_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("clair").join("trusted-keys"))
}

/// The trusted public keys: `--trusted-key` files, CLAIR_BUNDLE_TRUSTED_KEYS (a path list),
/// and the `*.pub` files of the trusted-keys directory.
fn trusted_keys(flags: &[PathBuf]) -> anyhow::Result<Vec<TrustedKey>> {
    let mut paths: Vec<PathBuf> = flags.to_vec();
    if let Some(v) = std::env::var_os("CLAIR_BUNDLE_TRUSTED_KEYS") {
        paths.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(dir) = trusted_keys_dir()
        && let Ok(entries) = std::fs::read_dir(&dir)
    {
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pub"))
            .collect();
        found.sort();
        paths.extend(found);
    }
    paths
        .iter()
        .map(|p| {
            let pem = std::fs::read_to_string(p)
                .with_context(|| format!("reading the trusted key {}", p.display()))?;
            Ok(TrustedKey::from_pem(&pem, p)?)
        })
        .collect()
}

/// `clair update keygen FILE`: FILE (private, 0600) and FILE.pub.
fn keygen(file: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let public = {
        let mut p = file.as_os_str().to_owned();
        p.push(".pub");
        PathBuf::from(p)
    };
    for p in [file, public.as_path()] {
        if p.exists() && !force {
            anyhow::bail!("{} exists (--force overwrites it)", p.display());
        }
    }
    let key = BundleSigner::generate();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(file)
        .with_context(|| format!("writing {}", file.display()))?;
    f.write_all(key.to_pem()?.as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    std::fs::write(&public, key.public_pem()?)
        .with_context(|| format!("writing {}", public.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "private key: {} (keep it secret)", file.display())?;
    writeln!(
        out,
        "public key:  {} (key id {}; copy it to the importing machines' {})",
        public.display(),
        key.key_id(),
        trusted_keys_dir().map_or("trusted keys".into(), |d| d.display().to_string())
    )?;
    Ok(ExitCode::SUCCESS)
}

fn import(
    g: &Global,
    http: Http,
    file: &std::path::Path,
    format: Format,
    trust: &Trust,
) -> anyhow::Result<ExitCode> {
    let m = manager(g, http, 2)?;
    let bars = Bars::new(g.quiet);
    let (reports, signature) = m
        .import(file, &bars, trust)
        .with_context(|| format!("importing {}", file.display()))?;
    bars.finish();
    match &signature {
        Signature::Trusted { key_id, origin } => {
            tracing::info!(key_id = %key_id, key = %origin, "bundle signature verified");
        }
        Signature::Untrusted(why) => eprintln!(
            "warning: {}: loaded without a trusted signature (--allow-unsigned): {why}",
            file.display()
        ),
    }
    print_reports(&reports, format)?;
    Ok(exit(&reports))
}

fn export(
    g: &Global,
    http: Http,
    file: &std::path::Path,
    only: &[String],
    sign: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    // Read the key first: a bad key must not cost a full fetch.
    let signer = match sign {
        Some(p) => {
            let pem = std::fs::read_to_string(p)
                .with_context(|| format!("reading the signing key {}", p.display()))?;
            Some(BundleSigner::from_pem(&pem, p)?)
        }
        None => None,
    };
    let m = manager(g, http, 2)?;
    let only = (!only.is_empty()).then_some(only);
    let reports = m
        .export(file, only, signer.as_ref())
        .with_context(|| format!("exporting to {}", file.display()))?;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for r in &reports {
        match &r.result {
            Ok((files, bytes)) => writeln!(out, "{:<8} {files} file(s), {bytes} bytes", r.updater)?,
            Err(e) => {
                failed = true;
                writeln!(out, "{:<8} FAILED: {e}", r.updater)?;
            }
        }
    }
    match &signer {
        Some(k) => writeln!(
            out,
            "bundle: {} (signed, key id {})",
            file.display(),
            k.key_id()
        )?,
        None => writeln!(out, "bundle: {} (not signed)", file.display())?,
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn exit(reports: &[RunReport]) -> ExitCode {
    if reports
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }))
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_reports(reports: &[RunReport], format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        let v: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                let (outcome, records, op, error) = match &r.outcome {
                    Outcome::Updated { op, records } => {
                        ("updated", *records, Some(op.id.to_string()), None)
                    }
                    Outcome::Unchanged => ("unchanged", 0, None, None),
                    Outcome::Skipped => ("skipped", 0, None, None),
                    Outcome::Failed { error } => ("failed", 0, None, Some(error.clone())),
                };
                serde_json::json!({"updater": r.updater, "outcome": outcome, "records": records,
                    "operation": op, "error": error, "duration_ms": r.duration.as_millis() as u64})
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<8}  {:<9}  {:>8}  {:>8}  DETAIL",
        "UPDATER", "OUTCOME", "RECORDS", "TIME"
    )?;
    for r in reports {
        let (outcome, records, detail) = match &r.outcome {
            Outcome::Updated { op, records } => (
                "updated",
                records.to_string(),
                format!("operation {}", op.id),
            ),
            Outcome::Unchanged => ("unchanged", "-".into(), "upstream has not changed".into()),
            Outcome::Skipped => (
                "skipped",
                "-".into(),
                "another instance is running it".into(),
            ),
            Outcome::Failed { error } => ("FAILED", "-".into(), error.clone()),
        };
        writeln!(
            out,
            "{:<8}  {:<9}  {:>8}  {:>7.1}s  {}",
            r.updater,
            outcome,
            records,
            r.duration.as_secs_f64(),
            detail
        )?;
    }
    Ok(())
}

fn status(g: &Global, format: Format) -> anyhow::Result<ExitCode> {
    let store = g.matcher_store()?;
    let all = store.updater_status()?;
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &all)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        writeln!(
            out,
            "no updater has run yet against {} (run `clair update`)",
            store.describe()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let ts = |t: Option<jiff::Timestamp>| {
        t.map_or("never".to_string(), |t| {
            t.strftime("%Y-%m-%d %H:%M:%S").to_string()
        })
    };
    writeln!(
        out,
        "{:<8}  {:<19}  {:<19}  {:>8}  {:>8}  LAST ERROR",
        "UPDATER", "LAST SUCCESS", "LAST ATTEMPT", "RECORDS", "TIME"
    )?;
    for s in &all {
        writeln!(
            out,
            "{:<8}  {:<19}  {:<19}  {:>8}  {:>7.1}s  {}",
            s.updater,
            ts(s.last_success),
            ts(s.last_attempt),
            s.records,
            s.duration_ms as f64 / 1000.0,
            s.last_error.as_deref().unwrap_or("-")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One spinner per running updater, on stderr when it is a terminal.
struct Bars {
    multi: Option<MultiProgress>,
    bars: Mutex<Vec<(String, ProgressBar, u64)>>,
}

impl Bars {
    fn new(quiet: bool) -> Bars {
        let multi = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Bars {
            multi,
            bars: Mutex::new(Vec::new()),
        }
    }

    fn finish(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

impl UpdateProgress for Bars {
    fn started(&self, updater: &str) {
        let Some(m) = &self.multi else { return };
        let bar = m.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:8} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(updater.to_string());
        bar.set_message("fetching");
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Ok(mut b) = self.bars.lock() {
            b.push((updater.to_string(), bar, 0));
        }
    }

    fn records(&self, updater: &str, n: u64) {
        if let Ok(mut b) = self.bars.lock()
            && let Some((_, bar, count)) = b.iter_mut().find(|(u, _, _)| u == updater)
        {
            *count += n;
            bar.set_message(format!("{count} records"));
        }
    }

    fn finished(&self, report: &RunReport) {
        if let Ok(b) = self.bars.lock()
            && let Some((_, bar, _)) = b.iter().find(|(u, _, _)| *u == report.updater)
        {
            bar.finish_and_clear();
        }
    }
}
