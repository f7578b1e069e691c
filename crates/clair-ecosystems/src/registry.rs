//! The one list of updaters, and their configuration (`updaters.config.<name>` in Clair's v4
//! config layout).

use std::collections::BTreeMap;
use std::sync::Arc;

use clair_matcher::Updater;

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

/// Settings of one updater: a JSON object (converted from the config file's YAML).
#[derive(Debug, Clone, Default)]
pub struct Settings(pub serde_json::Value);

impl Settings {
    fn str(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| self.0.get(k).and_then(|v| v.as_str()))
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    }

    fn list(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.0.get(key) {
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
    let names: Vec<String> = match sets {
        Some(s) => s.to_vec(),
        None => DEFAULT_SETS.iter().map(|s| s.to_string()).collect(),
    };
    let mut out: Vec<Arc<dyn Updater>> = Vec::new();
    for name in &names {
        let s = Settings(config.get(name).cloned().unwrap_or(serde_json::Value::Null));
        let url = s.str(&["url", "json_url", "mirror_url", "base_url"]);
        let ctx = |e: String| format!("updaters.config.{name}.{e}");
        let u: Arc<dyn Updater> = match name.as_str() {
            "debian" => Arc::new(debian::DebianUpdater {
                url: url.unwrap_or_else(|| debian::DEFAULT_URL.into()),
            }),
            "oracle" => Arc::new(oracle::OracleUpdater {
                url: url.unwrap_or_else(|| oracle::DEFAULT_URL.into()),
            }),
            "suse" => {
                let mut u = suse::SuseUpdater::default();
                if let Some(b) = url {
                    u.base = b;
                }
                if let Some(f) = s.list("files").map_err(ctx)? {
                    u.files = f;
                }
                Arc::new(u)
            }
            "photon" => {
                let mut u = photon::PhotonUpdater::default();
                if let Some(b) = url {
                    u.base = b;
                }
                if let Some(r) = s.list("releases").map_err(ctx)? {
                    u.releases = r;
                }
                Arc::new(u)
            }
            "aws" => {
                let mut u = aws::AwsUpdater::default();
                match s.0.get("mirrors") {
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
                base: url.unwrap_or_else(|| rhel::vex::DEFAULT_BASE.into()),
            }),
            "epss" => Arc::new(epss::EpssUpdater {
                url: url.unwrap_or_else(|| epss::DEFAULT_URL.into()),
            }),
            "kev" => Arc::new(kev::KevUpdater {
                url: url.unwrap_or_else(|| kev::DEFAULT_URL.into()),
            }),
            "alpine" => Arc::new(alpine::AlpineUpdater {
                base: url.unwrap_or_else(|| alpine::DEFAULT_BASE.into()),
                releases: s.list("releases").map_err(ctx)?.unwrap_or_default(),
            }),
            "ubuntu" => {
                let mut u = ubuntu::UbuntuUpdater::default();
                if let Some(b) = url {
                    u.base = b;
                }
                if let Some(r) = s.list("releases").map_err(ctx)? {
                    u.releases = r;
                }
                Arc::new(u)
            }
            "rhel" => {
                let mut u = rhel::RhelOvalUpdater::default();
                if let Some(b) = url {
                    u.base = b;
                }
                if let Some(f) = s.list("files").map_err(ctx)? {
                    u.files = f;
                }
                Arc::new(u)
            }
            "osv" => {
                let mut u = osv::OsvUpdater::default();
                if let Some(b) = url {
                    u.base = b;
                }
                if let Some(e) = s.list("ecosystems").map_err(ctx)? {
                    u.ecosystems = e;
                }
                Arc::new(u)
            }
            "nvd" => {
                let mut u = nvd::NvdUpdater::default();
                if let Some(b) = url {
                    u.base = b;
                }
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
        out.push(u);
    }
    Ok(out)
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
}
