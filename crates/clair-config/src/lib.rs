//! Clair's configuration files, loaded unchanged.
//!
//! Three layouts exist in the wild and all load:
//! - Clair 1.2 (Quay Enterprise): `clair.database.source`;
//! - Clair 2.x: `clair.database.type: pgsql` with `clair.database.options.source`;
//! - Clair v4: top-level `indexer`, `matcher`, `notifier`, each with a `connstring`.
//!
//! The document is typed once, when loaded: serde structs per section of each layout
//! (`file.rs`), every value of the wrong type reported at once with its key path. The settings
//! ([`ServeConfig`], [`SqsConfig`], …) are built from the typed structs, defaults beside the
//! builders. Sections clair-rs does not use (yet) are kept in [`Loaded::raw`] and never make
//! loading fail; [`Loaded::warnings`] names every key nothing uses. Clair ≥ 4.7 drop-ins
//! (`config.yaml.d/*.yaml` merged, `*.yaml-patch` applied) are read with the file (see
//! [`dropin`]).
//! Environment overrides: `CLAIR_DATABASE_SOURCE` replaces the database source.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

pub mod dropin;
mod file;
mod mode;
pub mod redact;
mod security;
mod serve;
mod sqs;
mod warnings;
pub use file::FieldProblem;
pub use mode::{Mode, ModeError};
pub use security::{
    JwtProxyConfig, KeyServerConfig, SignerConfig, SignerKey, TlsFiles, VerifierConfig,
};
pub use serve::{
    AmqpConfig, Databases, NotifierConfig, NotifierTls, Psk, RemoteServices, ServeConfig,
    listen_addr, redact_source,
};
pub use sqs::SqsConfig;
pub use warnings::Warning;

use file::{File, Leaf, TextLeaf};

/// Errors loading a config file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("config {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("config {path}: {source}")]
    Yaml {
        /// The file.
        path: String,
        /// Cause (with line and column).
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A drop-in (or the document it applies to) is unusable.
    #[error("config drop-in {path}: {message}")]
    DropIn {
        /// The drop-in file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Values of the wrong type, all of them (each with its key path and the type expected).
    #[error("config {path}: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Types {
        /// The file.
        path: String,
        /// Each wrong value.
        problems: Vec<FieldProblem>,
    },
    /// A field's value is unusable (a bad URL, half of a pair, a missing required key).
    #[error("config {path}: {field}: {message}")]
    Field {
        /// The file.
        path: String,
        /// Dotted field path.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Which layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Clair 1.2 / 2.x: everything under `clair:`.
    V2,
    /// Clair v4: `indexer:` / `matcher:` / `notifier:` / `http_listen_addr`.
    V4,
    /// Neither (empty file, or only sections we do not know).
    #[default]
    Unknown,
}

/// A loaded config file.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// The whole document (drop-ins applied), for the parts read elsewhere.
    pub raw: Value,
    /// Its layout.
    pub layout: Layout,
    /// The document typed (see [`file`]): what every reader builds from.
    typed: file::Typed,
    /// The drop-ins applied (`<path>.d/…`), in the order they were.
    pub dropins: Vec<PathBuf>,
}

/// A value a builder cannot use: its dotted key and why.
#[derive(Debug)]
pub(crate) struct Bad {
    field: String,
    message: String,
}

/// A [`Bad`] value at `field`.
pub(crate) fn bad(field: impl Into<String>, message: impl Into<String>) -> Bad {
    Bad {
        field: field.into(),
        message: message.into(),
    }
}

/// Read a YAML mapping's field.
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping()?.get(Value::String(key.to_string()))
}

impl Loaded {
    /// No config file: every setting at its default.
    pub fn empty() -> Loaded {
        Self::from_value(Value::Null, Path::new(""))
    }

    /// Load a config file and its drop-ins (`<path>.d/`, see [`dropin`]). An empty file is a
    /// valid, empty config.
    pub fn load(path: &Path) -> Result<Loaded, Error> {
        let text = dropin::read_text(path)?;
        let mut raw = Self::parse_yaml(&text, path)?;
        let dropins = dropin::apply(path, &mut raw)?;
        let mut l = Self::from_value(raw, path);
        l.dropins = dropins;
        Ok(l)
    }

    /// Parse config text (no drop-ins); `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Loaded, Error> {
        Ok(Self::from_value(Self::parse_yaml(text, path)?, path))
    }

    fn parse_yaml(text: &str, path: &Path) -> Result<Value, Error> {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_yaml_ng::from_str(text).map_err(|source| Error::Yaml {
            path: path.display().to_string(),
            source,
        })
    }

    fn from_value(raw: Value, path: &Path) -> Loaded {
        let layout = if get(&raw, "clair").is_some() {
            Layout::V2
        } else if ["indexer", "matcher", "notifier", "http_listen_addr"]
            .iter()
            .any(|k| get(&raw, k).is_some())
        {
            Layout::V4
        } else {
            Layout::Unknown
        };
        Loaded {
            path: path.to_path_buf(),
            typed: file::type_document(&raw, layout),
            raw,
            layout,
            dropins: Vec::new(),
        }
    }

    /// Every value of the wrong type in the file (empty when it types).
    pub fn type_problems(&self) -> &[FieldProblem] {
        &self.typed.problems
    }

    /// Run a builder over a copy of the typed document. A file with values of the wrong type
    /// builds nothing: the error lists them all.
    pub(crate) fn build<T>(&self, f: impl FnOnce(&mut File) -> Result<T, Bad>) -> Result<T, Error> {
        if !self.typed.problems.is_empty() {
            return Err(Error::Types {
                path: self.path.display().to_string(),
                problems: self.typed.problems.clone(),
            });
        }
        f(&mut self.typed.file.clone()).map_err(|b| Error::Field {
            path: self.path.display().to_string(),
            field: b.field,
            message: b.message,
        })
    }

    /// The database source the file names, before environment overrides: `clair.database.source`
    /// (1.2), `clair.database.options.source` (2.x), or `indexer.connstring` then
    /// `matcher.connstring` (v4).
    pub fn file_database_source(&self) -> Result<Option<String>, Error> {
        self.build(|f| Ok(f.file_database_source()))
    }

    /// The database source with the `CLAIR_DATABASE_SOURCE` environment override applied.
    pub fn database_source(&self) -> Result<Option<String>, Error> {
        self.build(|f| Ok(f.database_source()))
    }

    /// Which updaters run: v4 `updaters.sets`, or Clair 3's `clair.updater.enabledupdaters`.
    /// `None`: all of them.
    pub fn updater_sets(&self) -> Result<Option<Vec<String>>, Error> {
        self.build(|f| Ok(f.updater_sets()))
    }

    /// Per-updater settings (v4 `updaters.config.<name>`), as JSON values.
    pub fn updater_config(
        &self,
    ) -> Result<std::collections::BTreeMap<String, serde_json::Value>, Error> {
        // Handed to the updaters whole; they report the keys they do not read
        // (`clair_ecosystems::unused_settings`).
        self.build(|f| Ok(f.updaters.config.take().unwrap_or_default()))
    }

    /// How often updaters run: v2 `clair.updater.interval`, v4 `matcher.period` (Go duration
    /// syntax, `6h`, `90m`, `2h30m`). `Some(ZERO)` disables them (Clair 2 semantics).
    pub fn updater_interval(&self) -> Result<Option<std::time::Duration>, Error> {
        self.build(|f| Ok(f.updater_interval()))
    }

    /// v4 `log_level` (`debug-color`, `debug`, `info`, `warn`, `error`, `fatal`, `panic`).
    pub fn log_level(&self) -> Result<Option<String>, Error> {
        self.build(|f| Ok(f.log_level.used_nonblank()))
    }

    /// v4 `matcher.disable_updaters`.
    pub fn updaters_disabled(&self) -> bool {
        self.build(|f| Ok(f.matcher.disable_updaters.used() == Some(true)))
            .unwrap_or(false)
    }
}

impl File {
    /// See [`Loaded::file_database_source`]. The first non-blank source is the file's; the
    /// later ones are used too when they name the same database (a combo config repeats it
    /// per section), a different one is left for its own service (or reported as ignored).
    pub(crate) fn file_database_source(&mut self) -> Option<String> {
        let candidates = match self.layout {
            Layout::V2 => vec![
                &mut self.clair.database.options.source,
                &mut self.clair.database.source,
            ],
            Layout::V4 => vec![
                &mut self.indexer.connstring,
                &mut self.matcher.connstring,
                &mut self.notifier.connstring,
            ],
            Layout::Unknown => Vec::new(),
        };
        let mut found: Option<String> = None;
        for c in candidates {
            match &found {
                None => found = c.used_nonblank(),
                Some(f) => {
                    if c.0.as_ref() == Some(f) {
                        c.used();
                    }
                }
            }
        }
        found
    }

    /// See [`Loaded::database_source`].
    pub(crate) fn database_source(&mut self) -> Option<String> {
        // The file's source is used even when the variable replaces it (not ignored).
        let file = self.file_database_source();
        std::env::var("CLAIR_DATABASE_SOURCE")
            .ok()
            .filter(|v| !v.is_empty())
            .or(file)
    }

    pub(crate) fn updater_sets(&mut self) -> Option<Vec<String>> {
        self.updaters
            .sets
            .used()
            .or_else(|| self.clair.updater.enabledupdaters.used())
    }

    pub(crate) fn updater_interval(&mut self) -> Option<std::time::Duration> {
        self.clair
            .updater
            .interval
            .used()
            .or_else(|| self.matcher.period.used())
    }
}

/// Parse a Go duration (`900s`, `6h`, `1h30m`, `250ms`, `0`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("{s:?} is not a duration (want e.g. 6h, 90m, 900s)"));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("{s:?}: bad number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return Err(format!("{s:?}: unknown unit {unit:?} (want h, m, s, ms)")),
        };
        total += n * secs;
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

/// Config text for tests, read as a file would be or parsed.
#[cfg(test)]
pub(crate) mod testing {
    use super::Loaded;

    /// The text written to a temporary file and loaded.
    pub(crate) fn load_text(text: &str) -> Loaded {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        Loaded::load(f.path()).unwrap()
    }

    /// The text parsed; errors name it `t.yaml`.
    pub(crate) fn parse_text(text: &str) -> Loaded {
        Loaded::parse(text, std::path::Path::new("t.yaml")).unwrap()
    }

    /// Why `clair serve` refuses the text (parsed).
    pub(crate) fn serve_error(text: &str) -> String {
        parse_text(text).serve_config().unwrap_err().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::load_text as load_str;

    #[test]
    fn shared_configs_load_and_name_their_database() {
        let dir = clair_test::shared().join("spec/configs");
        let cases = [
            (
                "clair-1.2-ha.yaml",
                Layout::V2,
                "postgresql://postgres@127.0.0.1:5432/clairtest?sslmode=disable",
            ),
            (
                "clair-1.2-single.yaml",
                Layout::V2,
                "postgresql://postgres@127.0.0.1:5432/clairtest?sslmode=disable",
            ),
            (
                "clair-2.0-ha.yaml",
                Layout::V2,
                "postgresql://postgres@127.0.0.1:5432/clairtest?sslmode=disable",
            ),
            (
                "clair-2.0-single.yaml",
                Layout::V2,
                "postgresql://postgres@127.0.0.1:5432/clairtest?sslmode=disable",
            ),
            (
                "clair-v4-combo.yaml",
                Layout::V4,
                "host=127.0.0.1 port=5432 user=postgres dbname=clair sslmode=disable",
            ),
        ];
        for (file, layout, source) in cases {
            let l = Loaded::load(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(l.layout, layout, "{file}");
            assert_eq!(
                l.file_database_source().unwrap().as_deref(),
                Some(source),
                "{file}"
            );
        }
    }

    #[test]
    fn updater_settings() {
        let l = load_str(
            "updaters:\n  sets: [debian, alpine]\n  config:\n    debian:\n      json_url: http://mirror/json\nmatcher:\n  period: 2h30m\n",
        );
        assert_eq!(
            l.updater_sets().unwrap(),
            Some(vec!["debian".into(), "alpine".into()])
        );
        assert_eq!(
            l.updater_config().unwrap()["debian"]["json_url"],
            "http://mirror/json"
        );
        assert_eq!(
            l.updater_interval().unwrap(),
            Some(std::time::Duration::from_secs(9000))
        );
        let v2 =
            Loaded::load(&clair_test::shared().join("spec/configs/clair-2.0-ha.yaml")).unwrap();
        assert_eq!(
            v2.updater_interval().unwrap(),
            Some(std::time::Duration::from_secs(6 * 3600))
        );
        assert_eq!(v2.updater_sets().unwrap(), None);
        let bad = load_str("updaters:\n  sets: debian\n");
        assert!(
            bad.updater_sets()
                .unwrap_err()
                .to_string()
                .contains("updaters.sets")
        );
        assert_eq!(parse_duration("900s").unwrap().as_secs(), 900);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert!(parse_duration("6 hours").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn empty_and_unknown_files_load() {
        assert_eq!(load_str("").layout, Layout::Unknown);
        assert_eq!(
            load_str("jwtproxy: {}\n").file_database_source().unwrap(),
            None
        );
    }

    #[test]
    fn wrong_types_and_bad_yaml_name_the_field_and_line() {
        let l = load_str("clair:\n  database:\n    source: [1, 2]\n");
        let e = l.file_database_source().unwrap_err().to_string();
        assert!(
            e.contains("clair.database.source") && e.contains("a list"),
            "{e}"
        );
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "clair:\n  database: [\n").unwrap();
        let e = Loaded::load(f.path()).unwrap_err().to_string();
        assert!(e.contains("line"), "{e}");
    }
}
