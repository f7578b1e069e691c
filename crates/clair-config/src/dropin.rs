//! Clair ≥ 4.7 config drop-ins: the files of `<config>.d/` applied to the config, so a secret
//! (a PSK, a connstring) can live in its own file, a Kubernetes Secret mounted beside the
//! ConfigMap.
//!
//! Upstream's rules (quay/clair `cmd/config.go`), followed here:
//! - the directory is the config's path with `.d` appended (`config.yaml` → `config.yaml.d/`);
//!   a missing directory is no error;
//! - its entries are taken in lexical order of their names; directories are skipped;
//! - a file with the config's own extension (`*.yaml` beside `config.yaml`) is an RFC 7386
//!   merge patch: mappings merge key by key, a `null` deletes the key, anything else (lists
//!   too) replaces the value;
//! - a file with that extension plus `-patch` (`*.yaml-patch`) is an RFC 6902 JSON patch (a
//!   list of `{op, path, value}`), applied to the document as it is at that point;
//! - every other file is ignored (so `*.json-patch` beside `config.yaml` is).
//!
//! Differences: upstream accepts only `.yaml` and `.json` config files and refuses any other;
//! here any extension works the same way (a file without one has no drop-ins). A drop-in that
//! is not a mapping (or a patch that is not a list) is an error naming the file, where upstream
//! ignores a YAML one silently.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use crate::Error;

/// Largest config file or drop-in read.
pub(crate) const MAX_FILE: u64 = 16 << 20;

/// Read a config file or drop-in as text, bounded.
pub(crate) fn read_text(path: &Path) -> Result<String, Error> {
    use std::io::Read as _;
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    f.take(MAX_FILE + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_FILE {
        return Err(Error::DropIn {
            path: path.display().to_string(),
            message: format!("larger than {MAX_FILE} bytes"),
        });
    }
    Ok(text)
}

/// The drop-in directory of `config`: its path with `.d` appended.
pub fn dropin_dir(config: &Path) -> PathBuf {
    let mut d = config.as_os_str().to_owned();
    d.push(".d");
    PathBuf::from(d)
}

/// Apply the drop-ins of `config` to `raw` (the parsed config); returns the files applied, in
/// order.
pub(crate) fn apply(config: &Path, raw: &mut Value) -> Result<Vec<PathBuf>, Error> {
    let Some(ext) = config.extension().and_then(|e| e.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = dropin_dir(config);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: dir.display().to_string(),
                source,
            });
        }
    };
    let patch_ext = format!("{ext}-patch");
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            continue;
        }
        let kind = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e == ext => Kind::Merge,
            Some(e) if e == patch_ext => Kind::Patch,
            _ => continue,
        };
        files.push((entry.file_name(), path, kind));
    }
    if files.is_empty() {
        return Ok(Vec::new());
    }
    // Lexical order of the names, as Go's filepath.WalkDir.
    files.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    let mut doc = serde_json::to_value(&*raw).map_err(|e| Error::DropIn {
        path: config.display().to_string(),
        message: format!("cannot be merged with drop-ins: {e}"),
    })?;
    if doc.is_null() {
        doc = serde_json::Value::Object(Default::default());
    }
    let mut applied = Vec::with_capacity(files.len());
    for (_, path, kind) in files {
        let fail = |message: String| Error::DropIn {
            path: path.display().to_string(),
            message,
        };
        let text = read_text(&path)?;
        let value: serde_json::Value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            let y: Value = serde_yaml_ng::from_str(&text).map_err(|source| Error::Yaml {
                path: path.display().to_string(),
                source,
            })?;
            serde_json::to_value(&y).map_err(|e| fail(e.to_string()))?
        };
        match kind {
            Kind::Merge => match &value {
                // An empty drop-in changes nothing (upstream reads it as `{}`).
                serde_json::Value::Null => {}
                serde_json::Value::Object(_) => json_patch::merge(&mut doc, &value),
                other => {
                    return Err(fail(format!(
                        "a drop-in must be a mapping, found {}",
                        json_kind(other)
                    )));
                }
            },
            Kind::Patch => {
                if !value.is_array() {
                    return Err(fail(format!(
                        "a patch must be a list of operations, found {}",
                        json_kind(&value)
                    )));
                }
                let patch: json_patch::Patch = serde_json::from_value(value)
                    .map_err(|e| fail(format!("not a JSON patch: {e}")))?;
                json_patch::patch(&mut doc, &patch)
                    .map_err(|e| fail(format!("applying the patch: {e}")))?;
            }
        }
        applied.push(path);
    }
    *raw = serde_yaml_ng::to_value(&doc).map_err(|e| Error::DropIn {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(applied)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Merge,
    Patch,
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "nothing",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Loaded;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    /// A temporary directory with the config file `name` and its (empty) drop-in directory:
    /// (the directory, the file, the drop-in directory).
    fn config_with_dropins(name: &str, text: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join(name);
        write(tmp.path(), name, text);
        let d = dropin_dir(&cfg);
        std::fs::create_dir(&d).unwrap();
        (tmp, cfg, d)
    }

    /// A v4 config, its drop-ins in the wrong order on disk, an ignored kind, an empty file,
    /// a deletion, a list replaced and a patch appending to it.
    #[test]
    fn merged_and_patched_in_lexical_order() {
        let (_tmp, cfg, d) = config_with_dropins(
            "config.yaml",
            "log_level: debug\nhttp_listen_addr: \":6060\"\nupdaters:\n  sets: [debian, alpine]\n\
             indexer:\n  connstring: host=db dbname=indexer\n",
        );
        // Applied last: appends to the list `b-sets.yaml` replaced.
        write(
            &d,
            "c-osv.yaml-patch",
            "- op: add\n  path: /updaters/sets/-\n  value: osv\n",
        );
        write(
            &d,
            "b-sets.yaml",
            "updaters:\n  sets: [rhel]\nlog_level: info\n",
        );
        write(
            &d,
            "a-secrets.yaml",
            "log_level: null\nauth:\n  psk:\n    key: c2VjcmV0\n    iss: [quay]\nindexer:\n  connstring: host=db dbname=indexer password=s3cret\n",
        );
        write(&d, "0-empty.yaml", "");
        // Not this config's kind: ignored, however broken.
        write(&d, "ignored.json-patch", "[{,}");
        write(&d, "notes.txt", "ignored");
        std::fs::create_dir(d.join("sub.yaml")).unwrap();
        let l = Loaded::load(&cfg).unwrap();
        let names: Vec<String> = l
            .dropins
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "0-empty.yaml",
                "a-secrets.yaml",
                "b-sets.yaml",
                "c-osv.yaml-patch"
            ]
        );
        let json = serde_json::to_value(&l.raw).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "log_level": "info",
                "http_listen_addr": ":6060",
                "updaters": {"sets": ["rhel", "osv"]},
                "auth": {"psk": {"key": "c2VjcmV0", "iss": ["quay"]}},
                "indexer": {"connstring": "host=db dbname=indexer password=s3cret"},
            })
        );
        assert_eq!(l.layout, crate::Layout::V4);
        assert_eq!(
            l.updater_sets().unwrap(),
            Some(vec!["rhel".into(), "osv".into()])
        );
        let c = l.serve_config().unwrap();
        assert_eq!(c.psk.unwrap().iss, vec!["quay"]);
    }

    /// A base file that names no layout becomes a v4 one through its drop-in; a JSON config
    /// takes `*.json` and `*.json-patch`.
    #[test]
    fn layout_from_dropins_and_json_configs() {
        let (_tmp, cfg, d) = config_with_dropins("config.json", "{}");
        write(&d, "10-db.json", r#"{"matcher": {"connstring": "host=m"}}"#);
        write(
            &d,
            "20.json-patch",
            r#"[{"op": "replace", "path": "/matcher/connstring", "value": "host=n"}]"#,
        );
        write(&d, "30.yaml", "matcher: {connstring: ignored}\n");
        let l = Loaded::load(&cfg).unwrap();
        assert_eq!(l.layout, crate::Layout::V4);
        assert_eq!(l.file_database_source().unwrap().as_deref(), Some("host=n"));
        assert_eq!(l.dropins.len(), 2);
    }

    #[test]
    fn bad_dropins_name_the_file() {
        let (_tmp, cfg, d) = config_with_dropins("config.yaml", "indexer: {}\n");
        for (name, text, want) in [
            ("x.yaml", "indexer: [\n", "line"),
            ("x.yaml", "- a\n- b\n", "must be a mapping, found a list"),
            ("x.yaml-patch", "op: add\n", "must be a list of operations"),
            (
                "x.yaml-patch",
                "- op: frobnicate\n  path: /a\n",
                "not a JSON patch",
            ),
            (
                "x.yaml-patch",
                "- op: remove\n  path: /matcher/connstring\n",
                "applying the patch",
            ),
            (
                "x.yaml-patch",
                "- op: test\n  path: /indexer\n  value: 1\n",
                "applying the patch",
            ),
        ] {
            for f in std::fs::read_dir(&d).unwrap() {
                std::fs::remove_file(f.unwrap().path()).unwrap();
            }
            write(&d, name, text);
            let e = Loaded::load(&cfg).unwrap_err().to_string();
            assert!(
                e.contains(&d.join(name).display().to_string()) && e.contains(want),
                "{name} {text:?}: {e}"
            );
        }
    }

    #[test]
    fn no_directory_no_dropins() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("config");
        write(tmp.path(), "config", "indexer: {connstring: a}\n");
        // No extension: a `config.d` beside it is not read.
        std::fs::create_dir(dropin_dir(&cfg)).unwrap();
        write(&dropin_dir(&cfg), "x", "indexer: {connstring: b}\n");
        let l = Loaded::load(&cfg).unwrap();
        assert!(l.dropins.is_empty());
        assert_eq!(l.file_database_source().unwrap().as_deref(), Some("a"));
        let yaml = tmp.path().join("other.yaml");
        write(tmp.path(), "other.yaml", "indexer: {connstring: a}\n");
        assert!(Loaded::load(&yaml).unwrap().dropins.is_empty());
    }
}
