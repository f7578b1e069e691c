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
use std::time::Duration;

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
        self.open_store(self.db_source()?)
    }

    /// The vulnerability database's source: `--db`, else CLAIR_DATABASE_SOURCE, else the
    /// config's matcher database (v4 `matcher.connstring`; the one database of other layouts),
    /// else the default SQLite file. What `clair update` fills and a matcher-mode server reads.
    pub fn matcher_source(&self) -> anyhow::Result<String> {
        match (&self.db, &self.config) {
            (None, Some(c)) => Ok(c
                .serve_config()?
                .database_for(clair_config::Mode::Matcher)
                .to_string()),
            _ => self.db_source(),
        }
    }

    /// Open the vulnerability database ([`Global::matcher_source`]).
    pub fn matcher_store(&self) -> anyhow::Result<Arc<dyn clair_store::Store>> {
        self.open_store(self.matcher_source()?)
    }

    /// Open the store at `source` (empty: the default SQLite file).
    pub fn open_store(&self, source: String) -> anyhow::Result<Arc<dyn clair_store::Store>> {
        let opts = store_options(source);
        let store = clair_store::open(&opts).with_context(|| opening(&opts))?;
        tracing::debug!(store = %store.describe(), "database open");
        Ok(store)
    }

    /// Open the store, waiting while the database cannot be reached (PostgreSQL starting
    /// beside clair, as in compose): one log line per attempt, then a pause doubling from 1 s
    /// to 30 s. A database that answers with an error (authentication, TLS, a bad source) is
    /// not waited for. `None` when `stop` is set first.
    pub fn store_waiting(
        &self,
        source: String,
        stop: &clair_matcher::Cancel,
    ) -> anyhow::Result<Option<Arc<dyn clair_store::Store>>> {
        let opts = store_options(source);
        let mut pause = Duration::from_secs(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // On a thread of its own: a connection attempt can take the whole connect timeout,
            // and a shutdown must not wait for it.
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let o = opts.clone();
            std::thread::spawn(move || {
                let _ = tx.send(clair_store::open(&o));
            });
            let result = match stop.recv(&rx) {
                Ok(Some(r)) => r,
                Ok(None) => anyhow::bail!("{}: the connecting thread died", opening(&opts)),
                Err(_) => return Ok(None),
            };
            match result {
                Ok(store) => {
                    tracing::info!(store = %store.describe(), attempt, "database open");
                    return Ok(Some(store));
                }
                Err(e) if e.is_unavailable() => {
                    tracing::warn!(
                        attempt,
                        retry_in_s = pause.as_secs(),
                        error = %e,
                        "database not reachable yet, waiting"
                    );
                    if !stop.sleep(pause) {
                        return Ok(None);
                    }
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
                Err(e) => return Err(anyhow::Error::new(e).context(opening(&opts))),
            }
        }
    }
}

fn store_options(source: String) -> clair_store::StoreOptions {
    clair_store::StoreOptions {
        source,
        ..clair_store::StoreOptions::default()
    }
}

/// "opening the database WHERE", without secrets.
fn opening(opts: &clair_store::StoreOptions) -> String {
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
}

/// Run the chosen subcommand with the loaded config file (`--config`); the exit code on
/// success.
pub fn run(cli: Cli, config: Option<clair_config::Loaded>) -> anyhow::Result<ExitCode> {
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
        Command::Diff(args) => diff::run(&args, &g),
        Command::Config(args) => config::run(&args, &g),
        Command::Serve(args) => serve::run(&args, &g),
        Command::Report(args) => report::run(&args, &g),
    }
}
