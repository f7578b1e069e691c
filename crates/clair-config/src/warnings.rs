//! What a config file sets that clair-rs ignores.
//!
//! A key no typed struct knows is reported (`serde_ignored` names it); so is a known key no
//! reader uses in this file (each reader takes what it uses from its copy of the typed
//! document, see [`crate::file`]), so a warning comes from what the code does rather than
//! from a list kept by hand. Keys Clair itself defines get a message saying why
//! clair-rs does not use them; anything else is an unknown key (often a typo).

use std::collections::BTreeSet;

use serde::Serialize;
use serde_yaml_ng::Value;

use crate::file::{File, Leaf};
use crate::{Layout, Loaded};

/// A problem that does not stop loading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Dotted key.
    pub key: String,
    /// What about it.
    pub message: String,
}

/// Keys Clair 1.2 and 2.x define (dotted; a trailing `.*` covers a section), with why
/// clair-rs ignores them when it does (`None`: the general message). Keys clair-rs reads are
/// never reported, whatever this says.
const CLAIR_V2: &[(&str, Option<&str>)] = &[
    (
        "clair.database.type",
        Some("clair-rs picks the backend from the source"),
    ),
    (
        "clair.database.cachesize",
        Some("clair-rs keeps no in-memory cache of features"),
    ),
    (
        "clair.database.options.cachesize",
        Some("clair-rs keeps no in-memory cache of features"),
    ),
    (
        "clair.database.options.managedatabaselifecycle",
        Some("clair-rs never drops the database"),
    ),
    (
        "clair.database.options.fixturepath",
        Some("clair-rs loads no SQL fixtures"),
    ),
    ("clair.database.*", None),
    ("clair.api.*", None),
    ("clair.updater.*", None),
    ("clair.notifier.*", None),
    ("clair.worker.*", Some("clair-rs runs every scanner it has")),
    (
        "jwtproxy.signer_proxy.ca_key_file",
        Some("clair-rs signs in process and needs no interception CA"),
    ),
    (
        "jwtproxy.signer_proxy.ca_crt_file",
        Some("clair-rs signs in process and needs no interception CA"),
    ),
    (
        "jwtproxy.signer_proxy.*",
        Some("the signer proxy is not enabled"),
    ),
    ("jwtproxy.*", None),
];

/// Keys Clair v4 defines, as [`CLAIR_V2`].
const CLAIR_V4: &[(&str, Option<&str>)] = &[
    (
        "indexer.migrations",
        Some("clair-rs always applies its migrations"),
    ),
    (
        "matcher.migrations",
        Some("clair-rs always applies its migrations"),
    ),
    (
        "notifier.migrations",
        Some("clair-rs always applies its migrations"),
    ),
    (
        "notifier.stomp.*",
        Some("STOMP delivery is not implemented"),
    ),
    (
        "metrics.*",
        Some("clair-rs always serves Prometheus metrics on the introspection address"),
    ),
    ("trace.*", Some("trace export is not implemented")),
    ("http_listen_addr", None),
    ("introspection_addr", None),
    ("log_level", None),
    ("tls.*", None),
    ("indexer.*", None),
    ("matcher.*", None),
    ("matchers.*", None),
    ("notifier.*", None),
    ("auth.*", None),
    ("updaters.*", None),
];

/// Does `key` fall under `pattern` (`a.b` exactly, or `a.*`: `a` and everything below)?
fn covers(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(stem) => key == stem || key.strip_prefix(stem).is_some_and(|r| r.starts_with('.')),
        None => key == pattern,
    }
}

/// Every leaf of a document, dotted; list elements by their index (`a.0.b`) when they are
/// mappings, else the list is a leaf, as are empty mappings.
fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Sequence(items) if items.iter().any(Value::is_mapping) => {
            for (i, item) in items.iter().enumerate() {
                leaves(&format!("{prefix}.{i}"), item, out);
            }
        }
        Value::Mapping(m) if !m.is_empty() => {
            for (k, child) in m {
                let k = match k {
                    Value::String(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                let path = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, child, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

impl Loaded {
    /// The keys some reader of this crate uses, each reader run over its own copy of the
    /// typed document (errors do not matter here: they stop `clair serve` elsewhere).
    fn keys_used(&self) -> BTreeSet<String> {
        let file = &self.typed.file;
        let set = file.keys_left();
        let readers: [fn(&mut File); 7] = [
            |f| {
                let _ = f.database_source();
            },
            |f| {
                let _ = f.serve_config();
            },
            |f| {
                let _ = f.sqs_config();
            },
            |f| {
                let _ = f.updater_sets();
            },
            |f| {
                let _ = f.updaters.config.take();
            },
            |f| {
                let _ = f.updater_interval();
            },
            |f| {
                let _ = f.log_level.used();
            },
        ];
        let mut used = BTreeSet::new();
        for read in readers {
            let mut copy = file.clone();
            read(&mut copy);
            used.extend(set.difference(&copy.keys_left()).cloned());
        }
        used
    }

    /// Every key a reader may use (the typed structs' fields, dotted; list elements as `.0`),
    /// whatever this file sets.
    pub fn keys_read(&self) -> Vec<String> {
        crate::file::known_keys().into_iter().collect()
    }

    /// The keys the file sets that nothing reads: each with why (a Clair setting clair-rs
    /// does not use, or an unknown key). Keys under `updaters.config` are the updaters'
    /// (`clair_ecosystems::unused_settings` checks them).
    pub fn warnings(&self) -> Vec<Warning> {
        let used = self.keys_used();
        let mut left = self.typed.file.keys_left();
        left.retain(|k| !used.contains(k));
        let unknown: Vec<String> = self
            .typed
            .unknown
            .iter()
            .map(|u| format!("{u}.*"))
            .collect();
        let ignored = |key: &String| left.contains(key) || unknown.iter().any(|u| covers(u, key));
        let catalog = match self.layout {
            Layout::V2 => CLAIR_V2,
            Layout::V4 => CLAIR_V4,
            Layout::Unknown => &[],
        };
        let mut keys = Vec::new();
        leaves("", &self.raw, &mut keys);
        keys.into_iter()
            .filter(|k| !k.is_empty() && ignored(k))
            .map(|key| {
                let message = match catalog.iter().find(|(p, _)| covers(p, &key)) {
                    Some((_, Some(why))) => format!("{why}; ignored"),
                    Some((_, None)) => "a Clair setting clair-rs does not use; ignored".into(),
                    None => "unknown key, ignored".into(),
                };
                Warning { key, message }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(covers("a.*", "a"));
        assert!(covers("a.*", "a.b.c"));
        assert!(!covers("a.*", "ab"));
        assert!(covers("a.b", "a.b"));
        assert!(!covers("a.b", "a.b.c"));
    }
}

#[cfg(test)]
mod every_key {
    use std::collections::BTreeSet;

    use super::*;
    use crate::testing::parse_text;

    const FILES: [&str; 4] = ["v1.2.yaml", "v2.0.yaml", "v2.0-quay.yaml", "v4.yaml"];

    fn every_key(name: &str) -> Loaded {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/every-key");
        Loaded::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn shared(name: &str) -> Vec<Warning> {
        Loaded::load(&clair_test::shared().join("spec/configs").join(name))
            .unwrap()
            .warnings()
    }

    fn keys(w: &[Warning]) -> Vec<&str> {
        w.iter().map(|w| w.key.as_str()).collect()
    }

    /// The files set every key clair-rs reads (in every layout) and nothing else: no key
    /// is reported as ignored. And every key the code looks up appears in one of them, so
    /// a key the code starts reading is checked here too.
    #[test]
    fn a_key_that_is_read_is_never_reported() {
        let mut read = BTreeSet::new();
        let mut present = BTreeSet::new();
        for name in FILES {
            let l = every_key(name);
            assert_eq!(
                l.warnings(),
                [],
                "{name}: keys clair-rs reads reported as ignored"
            );
            read.extend(l.keys_read());
            let mut leaves_of = Vec::new();
            leaves("", &l.raw, &mut leaves_of);
            for leaf in leaves_of {
                let parts: Vec<&str> = leaf.split('.').collect();
                for n in 1..=parts.len() {
                    present.insert(parts[..n].join("."));
                }
            }
        }
        let missing: Vec<&String> = read
            .iter()
            .filter(|k| !present.contains(k.strip_suffix(".*").unwrap_or(k)))
            .collect();
        assert!(
            missing.is_empty(),
            "the code reads keys no file in testdata/every-key sets: {missing:?}"
        );
    }

    /// The report that opened this: a Clair 2.x file's `updaters.config.debian.json_url` is
    /// used (the Debian updater reads it), so it is not called unknown.
    #[test]
    fn updater_settings_in_a_clair_2_file_are_used() {
        let l = every_key("v2.0.yaml");
        assert_eq!(l.layout, Layout::V2);
        assert_eq!(
            l.updater_config().unwrap()["debian"]["json_url"],
            "http://127.0.0.1:1/debian.json"
        );
        assert!(!keys(&l.warnings()).contains(&"updaters.config.debian.json_url"));
    }

    /// Clair's own files: exactly the keys clair-rs does not act on, each saying why.
    #[test]
    fn clair_files_report_exactly_what_is_ignored() {
        let mitm = [
            "jwtproxy.signer_proxy.ca_key_file",
            "jwtproxy.signer_proxy.ca_crt_file",
        ];
        for name in ["clair-1.2-ha.yaml", "clair-1.2-single.yaml"] {
            let w = shared(name);
            assert_eq!(
                keys(&w),
                [&["clair.database.cachesize"][..], &mitm].concat(),
                "{name}"
            );
            assert!(w[1].message.contains("signs in process"), "{w:?}");
        }
        for name in ["clair-2.0-ha.yaml", "clair-2.0-single.yaml"] {
            let w = shared(name);
            assert_eq!(
                keys(&w),
                [
                    &["clair.database.type", "clair.database.options.cachesize"][..],
                    &mitm
                ]
                .concat(),
                "{name}"
            );
            assert_eq!(
                w[1].message,
                "clair-rs keeps no in-memory cache of features; ignored"
            );
        }
        let w = shared("clair-v4-combo.yaml");
        // Each service's connstring and address is read (the modes and distributed deployment).
        assert_eq!(
            keys(&w),
            [
                "indexer.scanlock_retry",
                "indexer.layer_scan_concurrency",
                "indexer.migrations",
                "matcher.max_conn_pool",
                "matcher.migrations",
                "matcher.update_retention",
                "notifier.migrations",
                "metrics.name",
            ]
        );
        assert!(
            w.iter().all(|w| !w.message.contains("unknown")),
            "all of them are Clair's: {w:?}"
        );
        assert_eq!(
            w[2].message,
            "clair-rs always applies its migrations; ignored"
        );
    }

    #[test]
    fn unknown_and_shadowed_keys() {
        let l = parse_text(
            "indexer:\n  connstring: host=a dbname=x\nmatcher:\n  connstring: host=b dbname=y\n  perod: 1h\nnotifier:\n  stomp:\n    uris: [x]\nclair_rs:\n  read_onyl: true\n",
        );
        let w = l.warnings();
        let msg = |k: &str| {
            w.iter()
                .find(|w| w.key == k)
                .map(|w| w.message.as_str())
                .unwrap_or_else(|| panic!("{k} not reported: {w:?}"))
        };
        assert_eq!(
            msg("matcher.perod"),
            "a Clair setting clair-rs does not use; ignored"
        );
        assert_eq!(msg("clair_rs.read_onyl"), "unknown key, ignored");
        assert_eq!(
            msg("notifier.stomp.uris"),
            "STOMP delivery is not implemented; ignored"
        );
        // A second, different database is the matcher mode's (combo mode warns at startup).
        assert!(!keys(&w).contains(&"matcher.connstring"), "{w:?}");
        assert_eq!(w.len(), 3, "{w:?}");
        // A disabled verifier proxy's settings are not read.
        let l = parse_text(
            "clair:\n  api: {port: 6062}\njwtproxy:\n  verifier_proxies:\n  - enabled: false\n    listen_addr: :6060\n",
        );
        assert_eq!(
            keys(&l.warnings()),
            ["jwtproxy.verifier_proxies.0.listen_addr"]
        );
    }
}
