//! The one list of updaters, and their configuration (`updaters.config.<name>` in Clair's v4
//! config layout).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use clair_matcher::Updater;
use clair_types::OpKind;

use crate::feed::{FileFeed, ParseFile, files_under, named, owned};
use crate::{alpine, aws, debian, epss, kev, nvd, oracle, osv, photon, rhel, suse, ubuntu};

/// Every updater name, vulnerability sources first, then enrichments.
pub const UPDATERS: [&str; 13] = [
    "alpine", "aws", "debian", "oracle", "osv", "photon", "rhel", "rhel-vex", "suse", "ubuntu",
    "nvd", "epss", "kev",
];

/// What runs when the configuration names no sets: everything but Red Hat's OVAL, which
/// Red Hat replaced with CSAF/VEX (`rhel-vex`) and which would duplicate its records.
pub const DEFAULT_SETS: [&str; 12] = [
    "alpine", "aws", "debian", "oracle", "osv", "photon", "rhel-vex", "suse", "ubuntu", "nvd",
    "epss", "kev",
];

/// Settings of one updater: a JSON object (converted from the config file's YAML), and the
/// keys looked up in it (so [`unused_settings`] can name those nothing reads).
#[derive(Debug, Clone, Default)]
pub struct Settings(pub serde_json::Value, RefCell<BTreeSet<String>>);

impl Settings {
    /// Settings from their JSON object.
    pub fn new(value: serde_json::Value) -> Settings {
        Settings(value, RefCell::default())
    }

    fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.1.borrow_mut().insert(key.to_string());
        self.0.get(key)
    }

    /// The first of `keys` set (the others are not looked at: they are ignored).
    fn str(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| self.get(k).and_then(|v| v.as_str()))
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    }

    fn list(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    serde_json::Value::Number(n) => Ok(n.to_string()),
                    other => Err(format!("{key}: want a list of strings, found {other}")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(format!("{key}: want a list, found {other}")),
        }
    }
}

/// Build the updaters named in `sets` ([`DEFAULT_SETS`] when `None`), each configured from
/// `config[name]`.
/// Keys: `url` (also Clair's `json_url`, `mirror_url`, `base_url`) replaces the upstream
/// location — the file for single-file feeds, the base directory for the others; `releases`
/// (alpine, ubuntu), `files` (rhel), `ecosystems` (osv), `years` (nvd).
pub fn updaters(
    sets: Option<&[String]>,
    config: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<Arc<dyn Updater>>, String> {
    running(sets)
        .iter()
        .map(|name| {
            let s = Settings::new(config.get(name).cloned().unwrap_or(serde_json::Value::Null));
            build(name, &s)
        })
        .collect()
}

/// The settings under `updaters.config` that nothing reads, as (dotted key, why): those of
/// an updater that does not run (not in `sets`, or unknown), and the keys an updater that
/// runs does not have. A setting shadowed by another (`json_url` beside `url`) is reported.
pub fn unused_settings(
    sets: Option<&[String]>,
    config: &BTreeMap<String, serde_json::Value>,
) -> Vec<(String, String)> {
    let running = running(sets);
    let mut out = Vec::new();
    for (name, value) in config {
        let key = format!("updaters.config.{name}");
        if !UPDATERS.contains(&name.as_str()) {
            out.push((key, "no such updater; ignored".to_string()));
            continue;
        }
        if !running.contains(name) {
            out.push((
                key,
                format!("the {name} updater does not run (updaters.sets); ignored"),
            ));
            continue;
        }
        let Some(fields) = value.as_object() else {
            continue;
        };
        let s = Settings::new(value.clone());
        // A bad value is an error `updaters` reports; the keys read up to it count.
        let _ = build(name, &s);
        let read = s.1.borrow();
        for field in fields.keys().filter(|f| !read.contains(*f)) {
            let why = if ["url", "json_url", "mirror_url", "base_url"].contains(&field.as_str()) {
                "another of url, json_url, mirror_url, base_url is set; ignored".to_string()
            } else {
                format!("not a setting of the {name} updater; ignored")
            };
            out.push((format!("{key}.{field}"), why));
        }
    }
    out
}

/// The updaters `sets` names, [`DEFAULT_SETS`] when `None`.
fn running(sets: Option<&[String]>) -> Vec<String> {
    match sets {
        Some(s) => s.to_vec(),
        None => DEFAULT_SETS.iter().map(|s| s.to_string()).collect(),
    }
}

/// One updater, configured from its settings.
fn build(name: &str, s: &Settings) -> Result<Arc<dyn Updater>, String> {
    let url = s.str(&["url", "json_url", "mirror_url", "base_url"]);
    let ctx = |e: String| format!("updaters.config.{name}.{e}");
    let location = |default: &str| url.clone().unwrap_or_else(|| default.into());
    let list = |key: &str, default: &[&str]| -> Result<Vec<String>, String> {
        Ok(s.list(key).map_err(ctx)?.unwrap_or_else(|| owned(default)))
    };
    // Feeds of fixed files, read by one parser each.
    let feed = |files, parse: ParseFile, version| -> Arc<dyn Updater> {
        Arc::new(FileFeed {
            version,
            ..FileFeed::new(name, files, parse)
        })
    };
    let enrichment = |files, parse: ParseFile| -> Arc<dyn Updater> {
        Arc::new(FileFeed {
            kind: OpKind::Enrichment,
            ..FileFeed::new(name, files, parse)
        })
    };
    let one_file = |file: &str, default: &str| vec![(file.to_string(), location(default))];
    let u: Arc<dyn Updater> = match name {
        "debian" => feed(
            one_file("debian.json", debian::DEFAULT_URL),
            debian::parse_tracker,
            1,
        ),
        "oracle" => feed(
            one_file("elsa.oval.xml", oracle::DEFAULT_URL),
            oracle::parse_oracle_oval,
            oracle::PARSER_VERSION,
        ),
        "epss" => enrichment(one_file("epss.csv", epss::DEFAULT_URL), epss::parse_epss),
        "kev" => enrichment(one_file("kev.json", kev::DEFAULT_URL), kev::parse_kev),
        "suse" => feed(
            files_under(
                &location(suse::DEFAULT_BASE),
                named(list("files", &suse::DEFAULT_FILES)?),
            ),
            suse::parse_suse_oval,
            suse::PARSER_VERSION,
        ),
        "rhel" => feed(
            files_under(
                &location(rhel::oval::DEFAULT_BASE),
                named(list("files", &rhel::oval::DEFAULT_FILES)?),
            ),
            rhel::parse_rhel_oval,
            rhel::oval::PARSER_VERSION,
        ),
        "photon" => {
            let releases = list("releases", &photon::DEFAULT_RELEASES)?;
            let files = named(releases.iter().map(|r| photon::file_name(r)));
            feed(
                files_under(&location(photon::DEFAULT_BASE), files),
                photon::parse_photon_oval,
                photon::PARSER_VERSION,
            )
        }
        "ubuntu" => {
            let releases = list("releases", &ubuntu::DEFAULT_RELEASES)?;
            let files = named(releases.iter().map(|r| ubuntu::file_name(r)));
            feed(
                files_under(&location(ubuntu::DEFAULT_BASE), files),
                ubuntu::parse_ubuntu_oval,
                ubuntu::PARSER_VERSION,
            )
        }
        "osv" => {
            let ecosystems = list("ecosystems", &osv::ECOSYSTEMS)?;
            feed(
                files_under(
                    &location(osv::DEFAULT_BASE),
                    ecosystems.iter().map(|e| osv::file_of(e)),
                ),
                osv::parse_osv_file,
                osv::PARSER_VERSION,
            )
        }
        "aws" => {
            let mut u = aws::AwsUpdater::default();
            match s.get("mirrors") {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Object(m)) => {
                    u.mirrors = m
                        .iter()
                        .map(|(k, v)| {
                            v.as_str()
                                .map(|v| (k.clone(), v.to_string()))
                                .ok_or_else(|| ctx(format!("mirrors.{k}: want a URL")))
                        })
                        .collect::<Result<_, _>>()?;
                }
                Some(_) => {
                    return Err(ctx(
                        "mirrors: want a mapping of release to mirror.list URL".into()
                    ));
                }
            }
            Arc::new(u)
        }
        "rhel-vex" => Arc::new(rhel::RhelVexUpdater {
            base: location(rhel::vex::DEFAULT_BASE),
        }),
        "alpine" => Arc::new(alpine::AlpineUpdater {
            base: location(alpine::DEFAULT_BASE),
            releases: s.list("releases").map_err(ctx)?.unwrap_or_default(),
        }),
        "nvd" => {
            let mut u = nvd::NvdUpdater {
                base: location(nvd::DEFAULT_BASE),
                years: Vec::new(),
            };
            if let Some(y) = s.list("years").map_err(ctx)? {
                u.years = y
                    .iter()
                    .map(|y| {
                        y.parse::<i16>()
                            .map_err(|_| ctx(format!("years: {y:?} is not a year")))
                    })
                    .collect::<Result<_, _>>()?;
            }
            Arc::new(u)
        }
        other => {
            return Err(format!(
                "unknown updater {other:?} in updaters.sets (known: {})",
                UPDATERS.join(", ")
            ));
        }
    };
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_configures() {
        let all = updaters(None, &BTreeMap::new()).unwrap();
        assert_eq!(
            all.iter().map(|u| u.name()).collect::<Vec<_>>(),
            DEFAULT_SETS
        );
        let every: Vec<String> = UPDATERS.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            updaters(Some(&every), &BTreeMap::new()).unwrap().len(),
            UPDATERS.len()
        );
        let mut cfg = BTreeMap::new();
        cfg.insert(
            "alpine".to_string(),
            serde_json::json!({"url": "http://mirror/alpine/", "releases": ["v3.18"]}),
        );
        cfg.insert(
            "nvd".to_string(),
            serde_json::json!({"years": [2024, "2025"]}),
        );
        let sets = vec!["alpine".to_string(), "nvd".to_string()];
        let u = updaters(Some(&sets), &cfg).unwrap();
        assert_eq!(u.len(), 2);
        assert!(format!("{:?}", u[0]).contains("http://mirror/alpine/"));
        assert!(format!("{:?}", u[1]).contains("2024"));
        let err = updaters(Some(&["nope".to_string()]), &cfg).unwrap_err();
        assert!(err.contains("unknown updater \"nope\""), "{err}");
        cfg.insert("nvd".to_string(), serde_json::json!({"years": "2024"}));
        let err = updaters(Some(&sets), &cfg).unwrap_err();
        assert!(err.contains("updaters.config.nvd.years"), "{err}");
    }

    /// Every key an updater reads is used; the others are named with why.
    #[test]
    fn unused_settings_are_named() {
        let cfg: BTreeMap<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
            "debian": {"json_url": "http://mirror/debian.json"},
            "alpine": {"url": "http://mirror/alpine/", "base_url": "http://other/", "releases": ["v3.18"], "relases": []},
            "aws": {"mirrors": {"2": "http://mirror/list"}},
            "nvd": {"years": [2024]},
            "rhel": {"files": []},
            "clairnvd": {"url": "x"},
        }))
        .unwrap();
        let sets: Vec<String> = ["debian", "alpine", "aws", "nvd"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = unused_settings(Some(&sets), &cfg);
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "updaters.config.alpine.base_url",
                "updaters.config.alpine.relases",
                "updaters.config.clairnvd",
                "updaters.config.rhel",
            ],
            "{got:?}"
        );
        assert!(got[0].1.contains("another of url"), "{got:?}");
        assert_eq!(got[1].1, "not a setting of the alpine updater; ignored");
        assert_eq!(got[2].1, "no such updater; ignored");
        assert!(got[3].1.contains("does not run"), "{got:?}");
        // Without sets, the default ones run (rhel's OVAL is not among them).
        assert_eq!(unused_settings(None, &cfg).len(), 4);
    }
}
