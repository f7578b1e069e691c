//! `clair`: static vulnerability analysis for container images.
//!
//! This binary only parses arguments, sets up logging and decides exit codes; the work is done
//! by the library crates.
#![forbid(unsafe_code)]

/// What `clair --version` says: written by build.rs (commit, cargo features, target).
mod build_info {
    include!(concat!(env!("OUT_DIR"), "/version.rs"));
}
mod cli;
mod commands;
mod html;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let clair_conf_set = std::env::var_os("CLAIR_CONF").is_some_and(|v| !v.is_empty());
    let cli = cli::Cli::parse_from(cli::normalize_args(std::env::args_os(), clair_conf_set));
    // The config is read before logging starts, since it may name the log level.
    let config = match cli
        .config
        .as_deref()
        .map(clair_config::Loaded::load)
        .transpose()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", render_error(&anyhow::Error::from(e)));
            return ExitCode::from(1);
        }
    };
    let config_level = config
        .as_ref()
        .and_then(|c| c.log_level().ok().flatten())
        .and_then(|l| cli::parse_log_level(&l).ok());
    init_logging(cli.verbose, cli.quiet, cli.log_level.or(config_level));
    match commands::run(cli, config) {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (`clair index IMG | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("{}", clair_config::redact::redact_text(&render_error(&e)));
            ExitCode::from(1)
        }
    }
}

/// `error: <msg>` plus each cause that adds something (library errors often repeat their
/// source in their own message).
fn render_error(e: &anyhow::Error) -> String {
    let mut msg = format!("error: {e}");
    let mut last = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !last.contains(&c) {
            msg.push_str(&format!("\n  caused by: {c}"));
        }
        last = c;
    }
    msg
}

/// The log filter: CLAIR_LOG, else -q / -v, else `level` (-log-level, the config's
/// `log_level`), else warnings.
fn init_logging(verbose: u8, quiet: bool, level: Option<&'static str>) {
    let default = match (quiet, verbose, level) {
        (true, _, _) => "error",
        (false, 0, Some(l)) => l,
        (false, 0, None) => "warn",
        (false, 1, _) => "info",
        (false, 2, _) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLAIR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}

/// stderr for log lines, each passed through the redactor first (a tracing event is one
/// write), so no secret the config holds reaches a log.
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(clair_config::redact::redact_text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
