//! One module per subcommand.

mod config;
mod index;
mod report;
pub mod scan;
mod serve;
mod update;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::{Cli, Command};

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
    // Every secret the config and environment hold is kept out of logs and messages from here
    // on (main.rs passes both through the redactor).
    clair_config::redact::register_config(config.as_ref().map(|c| &c.raw));
    if let Some(db) = &cli.db {
        for p in clair_config::redact::passwords_in(db) {
            clair_config::redact::register(&p);
        }
    }
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
        Command::Config(args) => config::run(&args, &g),
        Command::Serve(args) => serve::run(&args, &g),
        Command::Report(args) => report::run(&args, &g),
    }
}
