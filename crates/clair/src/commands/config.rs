//! `clair config check`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::cli::{ConfigAction, ConfigArgs, ConfigFormat};

pub fn run(args: &ConfigArgs, g: &Global) -> anyhow::Result<ExitCode> {
    match &args.action {
        ConfigAction::Check { path, format } => {
            let loaded = match path {
                Some(p) => clair_config::Loaded::load(p)?,
                None => g
                    .config
                    .clone()
                    .context("no config file: give PATH or --config")?,
            };
            clair_config::redact::register_config(Some(&loaded.raw));
            let cfg = loaded.serve_config()?.redacted();
            // Field by field above; then every string once more, so a secret in a field added
            // later is not printed either.
            let mut value = serde_json::to_value(&cfg)?;
            clair_config::redact::redact_json(&mut value);
            let mut warnings = super::config_warnings(&loaded);
            for w in &mut warnings {
                w.message = clair_config::redact::redact_text(&w.message).into_owned();
            }
            let mut out = std::io::stdout().lock();
            match format {
                ConfigFormat::Json => {
                    let doc = serde_json::json!({
                        "file": loaded.path.display().to_string(),
                        "dropins": loaded.dropins.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                        "config": value,
                        "warnings": warnings,
                    });
                    writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
                }
                ConfigFormat::Text => {
                    writeln!(
                        out,
                        "File:    {} (layout {})",
                        loaded.path.display(),
                        cfg.layout
                    )?;
                    for d in &loaded.dropins {
                        writeln!(out, "Drop-in: {}", d.display())?;
                    }
                    let mut lines = Vec::new();
                    flatten("", &value, &mut lines);
                    for (k, v) in lines {
                        writeln!(out, "  {k:<32} {v}")?;
                    }
                    if warnings.is_empty() {
                        writeln!(out, "No warnings.")?;
                    }
                    for w in &warnings {
                        writeln!(out, "warning: {}: {}", w.key, w.message)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, child, out);
            }
        }
        serde_json::Value::Null => out.push((prefix.to_string(), "(none)".into())),
        serde_json::Value::String(s) if s.is_empty() => {
            out.push((prefix.to_string(), "\"\"".into()))
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}
