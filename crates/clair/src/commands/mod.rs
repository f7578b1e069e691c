//! One module per subcommand.

mod index;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::{Cli, Command};

/// Options every command shares.
pub struct Global {
    pub quiet: bool,
    pub db: Option<String>,
}

impl Global {
    /// Open the store named by `--db` (or the default SQLite file).
    pub fn store(&self) -> anyhow::Result<Arc<dyn clair_store::Store>> {
        let opts = clair_store::StoreOptions {
            source: self.db.clone().unwrap_or_default(),
            ..clair_store::StoreOptions::default()
        };
        let store = clair_store::open(&opts).with_context(|| {
            format!(
                "opening the database {}",
                if opts.source.is_empty() {
                    clair_store::default_sqlite_path().display().to_string()
                } else {
                    "given with --db".to_string()
                }
            )
        })?;
        tracing::debug!(store = %store.describe(), "database open");
        Ok(store)
    }
}

/// Run the chosen subcommand; the exit code on success.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = Global {
        quiet: cli.quiet,
        db: cli.db,
    };
    match cli.command {
        Command::Index(args) => index::run(&args, &g),
    }
}
