//! Clair's configuration files, loaded unchanged.
//!
//! Three layouts exist in the wild and all load:
//! - Clair 1.2 (Quay Enterprise): `clair.database.source`;
//! - Clair 2.x: `clair.database.type: pgsql` with `clair.database.options.source`;
//! - Clair v4: top-level `indexer`, `matcher`, `notifier`, each with a `connstring`.
//!
//! Sections clair-rs does not use (yet) are kept in [`Loaded::raw`] and never make loading fail;
//! [`Loaded::warnings`] names every key nothing reads. Clair ≥ 4.7 drop-ins
//! (`config.yaml.d/*.yaml` merged, `*.yaml-patch` applied) are read with the file (see
//! [`dropin`]).
//! Environment overrides: `CLAIR_DATABASE_SOURCE` replaces the database source.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

pub mod dropin;
mod mode;
pub mod redact;
mod security;
mod serve;
mod sqs;
mod warnings;
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
    /// A field has the wrong type.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Clair 1.2 / 2.x: everything under `clair:`.
    V2,
    /// Clair v4: `indexer:` / `matcher:` / `notifier:` / `http_listen_addr`.
    V4,
    /// Neither (empty file, or only sections we do not know).
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
    /// Every key looked up so far (shared by clones and nested documents): what
    /// [`Loaded::warnings`] does not report, so a warning never names a key that is read.
    reads: Reads,
    /// Where this document sits in the file (a list element: `jwtproxy.verifier_proxies.0`).
    at: String,
    /// The drop-ins applied (`<path>.d/…`), in the order they were.
    pub dropins: Vec<PathBuf>,
}

/// Dotted keys looked up; a subtree read whole (handed on as it is) ends in `.*`.
type Reads = std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>;

/// Read a YAML mapping's field.
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping()?.get(Value::String(key.to_string()))
}

fn get_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| get(v, k))
}

impl Loaded {
    /// Look a key up, remembering that it was.
    fn lookup(&self, path: &[&str]) -> Option<&Value> {
        self.note_read(path.join("."));
        get_path(&self.raw, path)
    }

    /// Remember that everything under `path` is used (a section handed on whole).
    fn note_subtree(&self, path: &[&str]) {
        self.note_read(format!("{}.*", path.join(".")));
    }

    fn note_read(&self, key: String) {
        let key = if self.at.is_empty() {
            key
        } else {
            format!("{}.{key}", self.at)
        };
        if let Ok(mut r) = self.reads.lock() {
            r.insert(key);
        }
    }

    /// A document inside this one (the element of a list at `at`), read with the same code.
    pub(crate) fn nested(&self, raw: Value, at: &str) -> Loaded {
        Loaded {
            path: self.path.clone(),
            raw,
            layout: self.layout,
            reads: self.reads.clone(),
            at: at.to_string(),
            dropins: Vec::new(),
        }
    }
}

impl Loaded {
    /// No config file: every setting at its default.
    pub fn empty() -> Loaded {
        Loaded {
            path: PathBuf::new(),
            raw: Value::Null,
            layout: Layout::Unknown,
            reads: Reads::default(),
            at: String::new(),
            dropins: Vec::new(),
        }
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
            raw,
            layout,
            reads: Reads::default(),
            at: String::new(),
            dropins: Vec::new(),
        }
    }

    fn string_at(&self, path: &[&str]) -> Result<Option<String>, Error> {
        match self.lookup(path) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::Field {
                path: self.path.display().to_string(),
                field: path.join("."),
                message: format!("want a string, found {}", kind(other)),
            }),
        }
    }

    /// The database source the file names, before environment overrides: `clair.database.source`
    /// (1.2), `clair.database.options.source` (2.x), or `indexer.connstring` then
    /// `matcher.connstring` (v4).
    pub fn file_database_source(&self) -> Result<Option<String>, Error> {
        let candidates: &[&[&str]] = match self.layout {
            Layout::V2 => &[
                &["clair", "database", "options", "source"],
                &["clair", "database", "source"],
            ],
            Layout::V4 => &[
                &["indexer", "connstring"],
                &["matcher", "connstring"],
                &["notifier", "connstring"],
            ],
            Layout::Unknown => &[],
        };
        let mut found: Option<String> = None;
        for c in candidates {
            match &found {
                None => found = self.string_at(c)?.filter(|s| !s.trim().is_empty()),
                // The later ones are read too when they name the same database (a combo
                // config repeats it per section); a different one is reported as ignored.
                Some(f) => {
                    if get_path(&self.raw, c).and_then(Value::as_str) == Some(f.as_str()) {
                        self.string_at(c)?;
                    }
                }
            }
        }
        Ok(found)
    }

    /// The database source with the `CLAIR_DATABASE_SOURCE` environment override applied.
    pub fn database_source(&self) -> Result<Option<String>, Error> {
        if let Some(v) = std::env::var("CLAIR_DATABASE_SOURCE")
            .ok()
            .filter(|v| !v.is_empty())
        {
            // The file's source is still the one without the variable: read, not ignored.
            let _ = self.file_database_source();
            return Ok(Some(v));
        }
        self.file_database_source()
    }
}

impl Loaded {
    fn value_at(&self, path: &[&str]) -> Option<&Value> {
        self.lookup(path).filter(|v| !v.is_null())
    }

    fn field_err(&self, path: &[&str], message: String) -> Error {
        Error::Field {
            path: self.path.display().to_string(),
            field: path.join("."),
            message,
        }
    }

    /// Which updaters run: v4 `updaters.sets`, or Clair 3's `clair.updater.enabledupdaters`.
    /// `None`: all of them.
    pub fn updater_sets(&self) -> Result<Option<Vec<String>>, Error> {
        for path in [
            &["updaters", "sets"][..],
            &["clair", "updater", "enabledupdaters"][..],
        ] {
            match self.value_at(path) {
                None => continue,
                Some(Value::Sequence(items)) => {
                    return items
                        .iter()
                        .map(|i| match i {
                            Value::String(s) => Ok(s.clone()),
                            other => {
                                Err(self
                                    .field_err(path, format!("want names, found {}", kind(other))))
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(Some);
                }
                Some(other) => {
                    return Err(self.field_err(path, format!("want a list, found {}", kind(other))));
                }
            }
        }
        Ok(None)
    }

    /// Per-updater settings (v4 `updaters.config.<name>`), as JSON values.
    pub fn updater_config(
        &self,
    ) -> Result<std::collections::BTreeMap<String, serde_json::Value>, Error> {
        let path = ["updaters", "config"];
        let mut out = std::collections::BTreeMap::new();
        // Handed to the updaters whole; they report the keys they do not read
        // (`clair_ecosystems::unused_settings`).
        self.note_subtree(&path);
        match self.value_at(&path) {
            None => {}
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let Value::String(name) = k else {
                        return Err(self.field_err(&path, "updater names must be strings".into()));
                    };
                    let json = serde_json::to_value(v)
                        .map_err(|e| self.field_err(&path, e.to_string()))?;
                    out.insert(name.clone(), json);
                }
            }
            Some(other) => {
                return Err(self.field_err(&path, format!("want a mapping, found {}", kind(other))));
            }
        }
        Ok(out)
    }

    /// How often updaters run: v2 `clair.updater.interval`, v4 `matcher.period` (Go duration
    /// syntax, `6h`, `90m`, `2h30m`). `Some(ZERO)` disables them (Clair 2 semantics).
    pub fn updater_interval(&self) -> Result<Option<std::time::Duration>, Error> {
        for path in [
            &["clair", "updater", "interval"][..],
            &["matcher", "period"][..],
        ] {
            match self.value_at(path) {
                None => continue,
                Some(Value::String(s)) => {
                    return parse_duration(s)
                        .map(Some)
                        .map_err(|e| self.field_err(path, e));
                }
                Some(Value::Number(n)) if n.as_u64() == Some(0) => {
                    return Ok(Some(std::time::Duration::ZERO));
                }
                Some(other) => {
                    return Err(self.field_err(
                        path,
                        format!("want a duration such as 6h, found {}", kind(other)),
                    ));
                }
            }
        }
        Ok(None)
    }

    /// v4 `log_level` (`debug-color`, `debug`, `info`, `warn`, `error`, `fatal`, `panic`).
    pub fn log_level(&self) -> Result<Option<String>, Error> {
        Ok(self
            .string_at(&["log_level"])?
            .filter(|l| !l.trim().is_empty()))
    }

    /// v4 `matcher.disable_updaters`.
    pub fn updaters_disabled(&self) -> bool {
        matches!(
            self.value_at(&["matcher", "disable_updaters"]),
            Some(Value::Bool(true))
        )
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

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(s: &str) -> Loaded {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), s).unwrap();
        Loaded::load(f.path()).unwrap()
    }

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
