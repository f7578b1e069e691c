//! One module per subcommand.

mod config;
mod diff;
mod index;
mod report;
pub mod scan;
mod serve;
pub mod suppress;
mod update;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::{Cli, Command};

/// Everything a config file sets that nothing uses: the keys no reader looks at (each with
/// why) and the updater settings no updater reads.
pub(crate) fn config_warnings(c: &clair_config::Loaded) -> Vec<clair_config::Warning> {
    let mut w = c.warnings();
    if let (Ok(sets), Ok(config)) = (c.updater_sets(), c.updater_config()) {
        w.extend(
            clair_ecosystems::unused_settings(sets.as_deref(), &config)
                .into_iter()
                .map(|(key, message)| clair_config::Warning { key, message }),
        );
    }
    w
}

/// Options every command shares.
pub struct Global {
    pub quiet: bool,
    pub db: Option<String>,
    pub config: Option<clair_config::Loaded>,
}

impl Global {
    /// The database source: `--db`, else CLAIR_DATABASE_SOURCE, else the config file's, else
    /// the default SQLite file (empty).
    pub fn db_source(&self) -> anyhow::Result<String> {
        if let Some(db) = &self.db {
            return Ok(db.clone());
        }
        if let Some(c) = &self.config
            && let Some(s) = c.file_database_source()?
        {
            return Ok(s);
        }
        Ok(String::new())
    }

    /// Open the store named by `--db` (or the default SQLite file).
    pub fn store(&self) -> anyhow::Result<Arc<dyn clair_store::Store>> {
        let opts = clair_store::StoreOptions {
            source: self.db_source()?,
            ..clair_store::StoreOptions::default()
        };
        let store = clair_store::open(&opts).with_context(|| {
            format!(
                "opening the database {}",
                if opts.source.is_empty() {
                    clair_store::default_sqlite_path().display().to_string()
                } else if clair_store::is_postgres_source(&opts.source) {
                    "(PostgreSQL)".to_string()
                } else {
                    opts.source.clone()
                }
            )
        })?;
        tracing::debug!(store = %store.describe(), "database open");
        Ok(store)
    }
}

/// Run the chosen subcommand; the exit code on success.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli
        .config
        .as_deref()
        .map(clair_config::Loaded::load)
        .transpose()?;
    let g = Global {
        quiet: cli.quiet,
        db: cli.db,
        config,
    };
    match cli.command {
        Command::Index(args) => index::run(&args, &g),
        Command::Update(args) => update::run(&args, &g),
        Command::Scan(args) => scan::run(&args, &g),
        Command::Explain(args) => scan::explain(&args, &g),
        Command::Diff(args) => diff::run(&args, &g),
        Command::Config(args) => config::run(&args, &g),
        Command::Serve(args) => serve::run(&args, &g),
        Command::Report(args) => report::run(&args, &g),
    }
}
