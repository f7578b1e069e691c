//! The settings `clair serve` runs with, read from any of the three layouts, with Clair's own
//! defaults, the environment overrides, and warnings for keys that are unknown or not
//! implemented yet.

use std::time::Duration;

use serde::Serialize;
use serde_yaml_ng::Value;

use crate::security::{JwtProxyConfig, TlsFiles};
use crate::{Error, Layout, Loaded, Mode, kind, parse_duration};

/// The other services a distributed-mode server calls: base URLs (`http://host:port`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteServices {
    /// The indexer's.
    pub indexer: Option<String>,
    /// The matcher's.
    pub matcher: Option<String>,
}

/// Everything `clair serve` needs from a config file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeConfig {
    /// Which layout the file uses.
    pub layout: String,
    /// Database source (empty: the embedded SQLite store). Combo mode uses this one.
    pub database: String,
    /// Each service's database, for the distributed modes.
    pub databases: Databases,
    /// v4 `matcher.indexer_addr`: the indexer a matcher-mode server reads index reports from.
    pub matcher_indexer_addr: Option<String>,
    /// Main API address (`host:port`; an empty host is every interface; loopback only when
    /// jwtproxy verifiers front it).
    pub api_addr: String,
    /// Clair v2 health endpoint address (`GET /health`); `None` in the v4 layout.
    pub health_addr: Option<String>,
    /// v4 introspection address (`/healthz`, `/readyz`, `/metrics`).
    pub introspection_addr: Option<String>,
    /// Deadline per API request (Clair v2: 503 after it).
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Fernet key for v1 page tokens; `None`: a random key per process.
    pub pagination_key: Option<String>,
    /// How often the updaters run; zero disables them.
    #[serde(with = "secs")]
    pub updater_interval: Duration,
    /// Index requests (`POST /indexer/api/v1/index_report`) handled at once; more get 429.
    /// v4 `indexer.index_report_request_concurrency` as upstream reads it: absent or 0 sizes
    /// it automatically (4 per core), a negative value means unlimited (`None`).
    pub index_concurrency: Option<usize>,
    /// How long clients may cache a vulnerability report (`Cache-Control: max-age`): v4
    /// `matcher.cache_age`, by default the updater period (6h when that is unset or zero).
    #[serde(with = "secs")]
    pub cache_age: Duration,
    /// Notifier settings.
    pub notifier: NotifierConfig,
    /// v4 `auth.psk`: (base64 key, accepted issuers).
    pub psk: Option<Psk>,
    /// Clair v4.0's `auth.keyserver`: (key server base URL, base64 intra-service key).
    pub keyserver: Option<(String, Option<String>)>,
    /// Allow fetching layers from link-local and cloud metadata addresses.
    pub allow_link_local_layers: bool,
    /// `clair_rs.allow_local_layer_paths`: let Clair v2 layer pushes (`POST /v1/layers`, SQS)
    /// name a file on this machine instead of a URL. Off: only http(s) URLs.
    pub allow_local_layer_paths: bool,
    /// `clair_rs.read_only`: serve only GET and HEAD.
    pub read_only: bool,
    /// The `jwtproxy` section.
    pub jwtproxy: JwtProxyConfig,
    /// TLS for the main API.
    pub tls: Option<TlsFiles>,
    /// Extra CA bundle trusted for outgoing calls.
    pub outgoing_ca: Option<std::path::PathBuf>,
}

/// The database of each service: v4 `indexer.connstring`, `matcher.connstring` and
/// `notifier.connstring` (an empty one: [`ServeConfig::database`]); the one database of the
/// other layouts for all three. `CLAIR_DATABASE_SOURCE` replaces all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Databases {
    /// The indexer's.
    pub indexer: String,
    /// The matcher's.
    pub matcher: String,
    /// The notifier's.
    pub notifier: String,
}

/// Pre-shared key authentication (Clair v4 `auth.psk`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Psk {
    /// Standard base64 of the key.
    pub key: String,
    /// Accepted issuers.
    pub iss: Vec<String>,
}

/// Notifier settings of both generations.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct NotifierConfig {
    /// v2 webhook endpoint (`notifier.http.endpoint`).
    pub endpoint: Option<String>,
    /// v2 proxy for the webhook.
    pub proxy: Option<String>,
    /// v2 tries per pass.
    pub attempts: u32,
    /// v2 resend interval until deleted.
    #[serde(with = "secs")]
    pub renotify_interval: Duration,
    /// v4 webhook target.
    pub webhook_target: Option<String>,
    /// v4 callback base.
    pub webhook_callback: Option<String>,
    /// v4 delivery retry interval.
    #[serde(with = "secs")]
    pub delivery_interval: Duration,
    /// v4: one notification per vulnerability and manifest instead of a summary.
    pub disable_summary: bool,
    /// v4 `notifier.webhook.headers` (name, value) pairs.
    pub webhook_headers: Vec<(String, String)>,
    /// v4 `notifier.amqp`.
    pub amqp: Option<AmqpConfig>,
    /// v4 `notifier.indexer_addr`: the indexer a notifier-mode server asks which manifests an
    /// update affects.
    pub indexer_addr: Option<String>,
    /// v4 `notifier.matcher_addr`: the matcher a notifier-mode server polls for updates.
    pub matcher_addr: Option<String>,
    /// v4 `notifier.poll_interval`: how often a notifier-mode server polls the matcher.
    #[serde(with = "secs")]
    pub poll_interval: Duration,
    /// v2 `notifier.http.certfile`, `keyfile`, `cafile`, `servername`: the webhook's client
    /// certificate.
    pub http_tls: Option<NotifierTls>,
}

/// Clair v2's webhook client certificate settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotifierTls {
    /// `certfile`: PEM certificate chain presented to the endpoint.
    pub cert: std::path::PathBuf,
    /// `keyfile`: its PEM private key.
    pub key: std::path::PathBuf,
    /// `cafile`: PEM CA bundle the endpoint's certificate must chain to.
    pub ca: Option<std::path::PathBuf>,
    /// `servername`: the name the endpoint's certificate is checked against.
    pub server_name: Option<String>,
}

/// Clair v4's `notifier.amqp` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmqpConfig {
    /// The first of `uris`.
    pub uri: String,
    /// `exchange.name` (empty: the default exchange).
    pub exchange: String,
    /// `routing_key`.
    pub routing_key: String,
    /// `direct`: send the notifications themselves.
    pub direct: bool,
    /// `rollup`: notifications per message with `direct`.
    pub rollup: usize,
    /// `callback`.
    pub callback: Option<String>,
}

pub(crate) mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", d.as_secs_f64()))
    }
}

/// Upstream's automatic `index_report_request_concurrency`: 4 per available core
/// (`GOMAXPROCS × 4`).
pub fn auto_index_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 4
}

/// `:6060` → `0.0.0.0:6060`; `6060` → `0.0.0.0:6060`.
pub fn listen_addr(s: &str) -> String {
    let s = s.trim();
    if let Some(port) = s.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        format!("0.0.0.0:{s}")
    } else {
        s.to_string()
    }
}

impl Loaded {
    pub(crate) fn string_or(&self, path: &[&str], default: &str) -> Result<String, Error> {
        Ok(self
            .string_at(path)?
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| default.to_string()))
    }

    pub(crate) fn number_at(&self, path: &[&str]) -> Result<Option<u64>, Error> {
        self.int_at(path)?
            .map(|n| {
                u64::try_from(n)
                    .map_err(|_| self.field_err(path, format!("want a whole number, found {n}")))
            })
            .transpose()
    }

    /// A signed whole number.
    pub(crate) fn int_at(&self, path: &[&str]) -> Result<Option<i64>, Error> {
        match self.value_at(path) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.field_err(path, format!("want a whole number, found {n}"))),
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
                Ok(s.trim().parse::<i64>().ok())
            }
            Some(other) => {
                Err(self.field_err(path, format!("want a number, found {}", kind(other))))
            }
        }
    }

    pub(crate) fn duration_at(&self, path: &[&str]) -> Result<Option<Duration>, Error> {
        match self.value_at(path) {
            None => Ok(None),
            Some(Value::String(s)) => parse_duration(s)
                .map(Some)
                .map_err(|e| self.field_err(path, e)),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(Duration::ZERO)),
            Some(other) => Err(self.field_err(
                path,
                format!("want a duration such as 2h, found {}", kind(other)),
            )),
        }
    }

    fn amqp(&self) -> Result<Option<AmqpConfig>, Error> {
        let a = ["notifier", "amqp"];
        if self.value_at(&a).is_none() {
            return Ok(None);
        }
        let uri = match self.value_at(&["notifier", "amqp", "uris"]) {
            Some(Value::Sequence(items)) => {
                items.iter().find_map(|i| i.as_str().map(str::to_string))
            }
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
        .ok_or_else(|| {
            self.field_err(
                &["notifier", "amqp", "uris"],
                "want at least one AMQP URI".into(),
            )
        })?;
        Ok(Some(AmqpConfig {
            uri,
            exchange: self
                .string_at(&["notifier", "amqp", "exchange", "name"])?
                .unwrap_or_default(),
            routing_key: self
                .string_at(&["notifier", "amqp", "routing_key"])?
                .unwrap_or_default(),
            direct: self.bool_at(&["notifier", "amqp", "direct"])?,
            rollup: self
                .number_at(&["notifier", "amqp", "rollup"])?
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            callback: self.string_at(&["notifier", "amqp", "callback"])?,
        }))
    }

    /// Clair v2's webhook client certificate: used when the certificate and key are both
    /// set (then `cafile` and `servername` beside them are read too).
    fn notifier_tls(&self, cert: &[&str], key: &[&str]) -> Result<Option<NotifierTls>, Error> {
        let file = |p: &[&str]| -> Result<Option<std::path::PathBuf>, Error> {
            Ok(self
                .string_at(p)?
                .filter(|s| !s.trim().is_empty())
                .map(Into::into))
        };
        let sibling = |k: &'static str| {
            let mut p = cert.to_vec();
            p.pop();
            p.push(k);
            p
        };
        match (file(cert)?, file(key)?) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(NotifierTls {
                cert,
                key,
                ca: file(&sibling("cafile"))?,
                server_name: self
                    .string_at(&sibling("servername"))?
                    .filter(|s| !s.trim().is_empty()),
            })),
            _ => Err(self.field_err(cert, "the certificate and the key go together".into())),
        }
    }

    /// A header map: `{name: [values]}` (Go's http.Header) or `{name: value}`.
    fn headers_at(&self, path: &[&str]) -> Result<Vec<(String, String)>, Error> {
        self.note_subtree(path);
        let mut out = Vec::new();
        match self.value_at(path) {
            None => {}
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let Value::String(name) = k else {
                        return Err(self.field_err(path, "header names must be strings".into()));
                    };
                    match v {
                        Value::String(s) => out.push((name.clone(), s.clone())),
                        Value::Sequence(items) => {
                            for i in items {
                                match i {
                                    Value::String(s) => out.push((name.clone(), s.clone())),
                                    other => {
                                        return Err(self.field_err(
                                            path,
                                            format!(
                                                "header {name}: want strings, found {}",
                                                kind(other)
                                            ),
                                        ));
                                    }
                                }
                            }
                        }
                        other => {
                            return Err(self.field_err(
                                path,
                                format!(
                                    "header {name}: want a list of strings, found {}",
                                    kind(other)
                                ),
                            ));
                        }
                    }
                }
            }
            Some(other) => {
                return Err(self.field_err(path, format!("want a mapping, found {}", kind(other))));
            }
        }
        Ok(out)
    }

    /// A service address (`matcher.indexer_addr`, …): a URL whose scheme and authority are
    /// kept (upstream replaces its path with the API's); `host:port` gets `http://`.
    fn addr_at(&self, path: &[&str]) -> Result<Option<String>, Error> {
        let Some(raw) = self.string_at(path)?.filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let raw = raw.trim();
        let (scheme, rest) = match raw.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("http".to_string(), raw),
        };
        if scheme != "http" && scheme != "https" {
            return Err(self.field_err(path, format!("{raw:?}: want an http or https URL")));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty() || authority.contains('@') {
            return Err(self.field_err(
                path,
                format!("{raw:?}: want a URL such as http://clair-indexer:6060/"),
            ));
        }
        Ok(Some(format!("{scheme}://{authority}")))
    }

    pub(crate) fn bool_at(&self, path: &[&str]) -> Result<bool, Error> {
        match self.value_at(path) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => {
                Err(self.field_err(path, format!("want true or false, found {}", kind(other))))
            }
        }
    }

    /// The settings `clair serve` runs with (defaults as Clair's, environment overrides
    /// applied: `CLAIR_DATABASE_SOURCE`, `CLAIR_API_PAGINATIONKEY`).
    pub fn serve_config(&self) -> Result<ServeConfig, Error> {
        let database = self.database_source()?.unwrap_or_default();
        let env_database = std::env::var("CLAIR_DATABASE_SOURCE")
            .ok()
            .filter(|v| !v.is_empty());
        let env_key = std::env::var("CLAIR_API_PAGINATIONKEY")
            .ok()
            .filter(|k| !k.is_empty());
        // The same in every layout: clair-rs's own keys and the security sections.
        let allow_link_local_layers = self.bool_at(&["clair_rs", "allow_link_local_layers"])?;
        let allow_local_layer_paths = self.bool_at(&["clair_rs", "allow_local_layer_paths"])?;
        let read_only = self.bool_at(&["clair_rs", "read_only"])?;
        let jwtproxy = self.jwtproxy()?;
        let tls = self.api_tls()?;
        let outgoing_ca = self.outgoing_ca()?;
        let mut cfg = match self.layout {
            Layout::V4 => {
                let period = self.duration_at(&["matcher", "period"])?;
                let section = |name: &str| -> Result<String, Error> {
                    if env_database.is_some() {
                        return Ok(database.clone());
                    }
                    Ok(self
                        .string_at(&[name, "connstring"])?
                        .filter(|s| !s.trim().is_empty())
                        .unwrap_or_else(|| database.clone()))
                };
                ServeConfig {
                    layout: "v4".into(),
                    databases: Databases {
                        indexer: section("indexer")?,
                        matcher: section("matcher")?,
                        notifier: section("notifier")?,
                    },
                    database,
                    matcher_indexer_addr: self.addr_at(&["matcher", "indexer_addr"])?,
                    api_addr: listen_addr(&self.string_or(&["http_listen_addr"], ":6060")?),
                    health_addr: None,
                    introspection_addr: Some(listen_addr(
                        &self.string_or(&["introspection_addr"], ":8089")?,
                    )),
                    timeout: Duration::from_secs(900),
                    pagination_key: env_key,
                    updater_interval: if self.updaters_disabled() {
                        Duration::ZERO
                    } else {
                        period.unwrap_or(Duration::from_secs(6 * 3600))
                    },
                    index_concurrency: match self
                        .int_at(&["indexer", "index_report_request_concurrency"])?
                        .unwrap_or(0)
                    {
                        0 => Some(auto_index_concurrency()),
                        n if n < 0 => None,
                        n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                    },
                    cache_age: match self.duration_at(&["matcher", "cache_age"])? {
                        Some(d) if !d.is_zero() => d,
                        _ => period
                            .filter(|p| !p.is_zero())
                            .unwrap_or(Duration::from_secs(6 * 3600)),
                    },
                    notifier: NotifierConfig {
                        endpoint: None,
                        proxy: None,
                        attempts: 0,
                        renotify_interval: Duration::ZERO,
                        webhook_target: self.string_at(&["notifier", "webhook", "target"])?,
                        webhook_callback: self.string_at(&["notifier", "webhook", "callback"])?,
                        delivery_interval: self
                            .duration_at(&["notifier", "delivery_interval"])?
                            .unwrap_or(Duration::from_secs(3600)),
                        disable_summary: self.bool_at(&["notifier", "disable_summary"])?,
                        webhook_headers: self.headers_at(&["notifier", "webhook", "headers"])?,
                        amqp: self.amqp()?,
                        indexer_addr: self.addr_at(&["notifier", "indexer_addr"])?,
                        matcher_addr: self.addr_at(&["notifier", "matcher_addr"])?,
                        poll_interval: self
                            .duration_at(&["notifier", "poll_interval"])?
                            .unwrap_or(Duration::from_secs(6 * 3600)),
                        http_tls: None,
                    },
                    psk: self.string_at(&["auth", "psk", "key"])?.map(|key| Psk {
                        key,
                        iss: match self.value_at(&["auth", "psk", "iss"]) {
                            Some(Value::Sequence(items)) => items
                                .iter()
                                .filter_map(|i| i.as_str().map(str::to_string))
                                .collect(),
                            Some(Value::String(s)) => vec![s.clone()],
                            _ => Vec::new(),
                        },
                    }),
                    keyserver: match self.string_at(&["auth", "keyserver", "api"])? {
                        Some(api) if !api.trim().is_empty() => Some((
                            api,
                            self.string_at(&["auth", "keyserver", "intraservice"])?
                                .filter(|k| !k.trim().is_empty()),
                        )),
                        _ => None,
                    },
                    allow_link_local_layers,
                    allow_local_layer_paths,
                    read_only,
                    jwtproxy,
                    tls,
                    outgoing_ca,
                }
            }
            Layout::V2 | Layout::Unknown => {
                fn api(k: &str) -> [&str; 3] {
                    ["clair", "api", k]
                }
                let port = self.number_at(&api("port"))?.unwrap_or(6060);
                let health = self.number_at(&api("healthport"))?.unwrap_or(6061);
                // The notifier sits under `clair.notifier` in Clair's code and under
                // `clair.updater.notifier` in the Quay setup documents.
                let notifier: &[&str] = if self.value_at(&["clair", "notifier"]).is_some() {
                    &["clair", "notifier"]
                } else {
                    &["clair", "updater", "notifier"]
                };
                let n = |k: &'static str| -> Vec<&str> {
                    let mut p = notifier.to_vec();
                    p.extend(k.split('.'));
                    p
                };
                let updater_interval = self
                    .duration_at(&["clair", "updater", "interval"])?
                    .unwrap_or(Duration::from_secs(3600));
                let file_key = match self.string_at(&api("paginationkey"))? {
                    Some(k) if !k.trim().is_empty() => Some(k),
                    _ => self
                        .string_at(&["clair", "database", "options", "paginationkey"])?
                        .filter(|k| !k.trim().is_empty()),
                };
                ServeConfig {
                    layout: if self.layout == Layout::V2 {
                        "v2".into()
                    } else {
                        "none".into()
                    },
                    databases: Databases {
                        indexer: database.clone(),
                        matcher: database.clone(),
                        notifier: database.clone(),
                    },
                    database,
                    matcher_indexer_addr: None,
                    api_addr: format!("0.0.0.0:{port}"),
                    // Clair v2's health port; without a Clair v2 file (clair-rs's own
                    // defaults) health is served on the introspection address only.
                    health_addr: (self.layout == Layout::V2).then(|| format!("0.0.0.0:{health}")),
                    introspection_addr: None,
                    timeout: self
                        .duration_at(&api("timeout"))?
                        .unwrap_or(Duration::from_secs(900)),
                    pagination_key: env_key.or(file_key),
                    updater_interval,
                    // Clair v2 had no limit (and no v4 API to limit).
                    index_concurrency: None,
                    cache_age: if updater_interval.is_zero() {
                        Duration::from_secs(6 * 3600)
                    } else {
                        updater_interval
                    },
                    notifier: NotifierConfig {
                        endpoint: self
                            .string_at(&n("http.endpoint"))?
                            .filter(|s| !s.trim().is_empty()),
                        proxy: self
                            .string_at(&n("http.proxy"))?
                            .filter(|s| !s.trim().is_empty()),
                        attempts: self
                            .number_at(&n("attempts"))?
                            .map_or(5, |a| u32::try_from(a).unwrap_or(u32::MAX)),
                        renotify_interval: self
                            .duration_at(&n("renotifyinterval"))?
                            .unwrap_or(Duration::from_secs(7200)),
                        webhook_target: None,
                        webhook_callback: None,
                        delivery_interval: Duration::ZERO,
                        disable_summary: false,
                        webhook_headers: Vec::new(),
                        amqp: None,
                        indexer_addr: None,
                        matcher_addr: None,
                        poll_interval: Duration::ZERO,
                        http_tls: self.notifier_tls(&n("http.certfile"), &n("http.keyfile"))?,
                    },
                    psk: None,
                    keyserver: None,
                    allow_link_local_layers,
                    allow_local_layer_paths,
                    read_only,
                    jwtproxy,
                    tls,
                    outgoing_ca,
                }
            }
        };
        // jwtproxy fronted Clair: the verifiers are the way in and the plain API is their
        // upstream, on this machine only.
        if !cfg.jwtproxy.verifiers.is_empty()
            && let Some(port) = cfg.api_addr.strip_prefix("0.0.0.0:")
        {
            cfg.api_addr = format!("127.0.0.1:{port}");
        }
        Ok(cfg)
    }
}

impl ServeConfig {
    /// The database a server in `mode` uses: its own section's; combo mode: [`Self::database`].
    pub fn database_for(&self, mode: Mode) -> &str {
        match mode {
            Mode::Combo => &self.database,
            Mode::Indexer => &self.databases.indexer,
            Mode::Matcher => &self.databases.matcher,
            Mode::Notifier => &self.databases.notifier,
        }
    }

    /// The services a server in `mode` reaches over HTTP, as upstream requires them: a matcher
    /// needs `matcher.indexer_addr`, a notifier `notifier.indexer_addr` and
    /// `notifier.matcher_addr`. The error names the missing key.
    pub fn remote_services(&self, mode: Mode) -> Result<RemoteServices, String> {
        let need = |v: &Option<String>, key: &str| {
            v.clone().ok_or_else(|| {
                format!("{mode} mode needs {key} (the {} service's URL)", {
                    key.rsplit('.')
                        .next()
                        .unwrap_or(key)
                        .trim_end_matches("_addr")
                })
            })
        };
        Ok(match mode {
            Mode::Combo | Mode::Indexer => RemoteServices::default(),
            Mode::Matcher => RemoteServices {
                indexer: Some(need(&self.matcher_indexer_addr, "matcher.indexer_addr")?),
                matcher: None,
            },
            Mode::Notifier => RemoteServices {
                indexer: Some(need(&self.notifier.indexer_addr, "notifier.indexer_addr")?),
                matcher: Some(need(&self.notifier.matcher_addr, "notifier.matcher_addr")?),
            },
        })
    }

    /// A copy safe to print: keys and passwords replaced by `<redacted>`.
    pub fn redacted(&self) -> ServeConfig {
        let mut c = self.clone();
        c.database = redact_source(&c.database);
        for d in [
            &mut c.databases.indexer,
            &mut c.databases.matcher,
            &mut c.databases.notifier,
        ] {
            *d = redact_source(d);
        }
        if let Some(a) = &mut c.notifier.amqp {
            a.uri = redact_source(&a.uri);
        }
        if c.pagination_key.is_some() {
            c.pagination_key = Some("<redacted>".into());
        }
        if let Some(p) = &mut c.psk {
            p.key = "<redacted>".into();
        }
        if let Some((api, key)) = &mut c.keyserver {
            *api = redact_source(api);
            if let Some(k) = key {
                *k = "<redacted>".into();
            }
        }
        if let Some(a) = &mut c.matcher_indexer_addr {
            *a = redact_source(a);
        }
        let n = &mut c.notifier;
        for url in [
            &mut n.endpoint,
            &mut n.proxy,
            &mut n.webhook_target,
            &mut n.webhook_callback,
            &mut n.indexer_addr,
            &mut n.matcher_addr,
        ]
        .into_iter()
        .flatten()
        {
            *url = redact_source(url);
        }
        for (_, v) in &mut n.webhook_headers {
            *v = "<redacted>".into();
        }
        c
    }
}

/// A database source with its password hidden (URL userinfo, `?password=`, libpq
/// `password=`/`sslpassword=`, quoted or not).
pub fn redact_source(s: &str) -> String {
    crate::redact::redact_text(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Warning;

    fn load(name: &str) -> Loaded {
        Loaded::load(&clair_test::shared().join("spec/configs").join(name)).unwrap()
    }

    #[test]
    fn clair_2_files() {
        for name in [
            "clair-1.2-ha.yaml",
            "clair-1.2-single.yaml",
            "clair-2.0-ha.yaml",
            "clair-2.0-single.yaml",
        ] {
            let l = load(name);
            let c = l.serve_config().unwrap();
            assert_eq!(c.layout, "v2", "{name}");
            // The plain API is the jwtproxy verifier's upstream: loopback only.
            assert_eq!(c.api_addr, "127.0.0.1:6062", "{name}");
            assert_eq!(c.health_addr.as_deref(), Some("0.0.0.0:6061"), "{name}");
            assert_eq!(c.timeout, Duration::from_secs(900), "{name}");
            assert_eq!(c.updater_interval, Duration::from_secs(6 * 3600), "{name}");
            // The Quay documents nest the notifier under the updater.
            assert_eq!(
                c.notifier.endpoint.as_deref(),
                Some("http://127.0.0.1:8080/secscan/notify"),
                "{name}"
            );
            assert_eq!(
                c.notifier.proxy.as_deref(),
                Some("http://localhost:6063"),
                "{name}"
            );
            assert_eq!(c.notifier.attempts, 3, "{name}");
            assert_eq!(
                c.notifier.renotify_interval,
                Duration::from_secs(3600),
                "{name}"
            );
            // The jwtproxy section: a signer with issuer security_scanner and one verifier in
            // front of the API with the registry's key server.
            let signer = c.jwtproxy.signer.as_ref().unwrap();
            assert_eq!(signer.issuer, "security_scanner", "{name}");
            assert_eq!(signer.listen_addr, "0.0.0.0:6063", "{name}");
            assert_eq!(signer.expiration_time, Duration::from_secs(300), "{name}");
            assert_eq!(signer.max_skew, Duration::from_secs(60), "{name}");
            assert_eq!(signer.nonce_length, 32, "{name}");
            match &signer.private_key {
                crate::SignerKey::Preshared {
                    key_id,
                    private_key_path,
                } => {
                    assert!(name.ends_with("-ha.yaml"), "{name}");
                    assert_eq!(
                        key_id,
                        "4fb9063a7cac00b567ee921065ed16fed7227afd806b4d67cc82de67d8c781b1"
                    );
                    assert_eq!(
                        private_key_path,
                        std::path::Path::new("/config/security_scanner.pem")
                    );
                }
                crate::SignerKey::Autogenerated {
                    rotate_every,
                    registry,
                    ..
                } => {
                    assert!(name.ends_with("-single.yaml"), "{name}");
                    assert_eq!(*rotate_every, Duration::from_secs(12 * 3600));
                    assert_eq!(registry, "http://127.0.0.1:8080/keys/");
                }
            }
            assert_eq!(c.jwtproxy.verifiers.len(), 1, "{name}");
            let v = &c.jwtproxy.verifiers[0];
            assert_eq!(v.listen_addr, "0.0.0.0:6060", "{name}");
            assert_eq!(v.audience, "http://127.0.0.1:6060", "{name}");
            assert_eq!(v.upstream, "http://localhost:6062", "{name}");
            assert_eq!(v.tls, None, "{name}");
            assert!(
                matches!(&v.key_server, crate::KeyServerConfig::Keyregistry { registry, .. }
                    if registry == "http://127.0.0.1:8080/keys/"),
                "{name}: {:?}",
                v.key_server
            );
            assert_eq!(c.tls, None, "{name}");
            let shown = serde_json::to_string(&c.redacted()).unwrap();
            if let Some(k) = &c.pagination_key {
                assert!(!shown.contains(k.as_str()), "{name}: key printed");
            }
        }
    }

    #[test]
    fn clair_v4_file() {
        let l = load("clair-v4-combo.yaml");
        let c = l.serve_config().unwrap();
        assert_eq!(c.layout, "v4");
        assert_eq!(c.api_addr, "0.0.0.0:6060");
        assert_eq!(c.introspection_addr.as_deref(), Some("0.0.0.0:8089"));
        assert_eq!(c.health_addr, None);
        assert_eq!(c.updater_interval, Duration::from_secs(6 * 3600));
        assert_eq!(c.notifier.delivery_interval, Duration::from_secs(60));
        assert_eq!(
            c.notifier.webhook_target.as_deref(),
            Some("http://127.0.0.1:8080/secscan/notify")
        );
        let psk = c.psk.clone().unwrap();
        assert_eq!(psk.iss, vec!["quay", "clairctl"]);
        let shown = serde_json::to_string(&c.redacted()).unwrap();
        assert!(!shown.contains(&psk.key));
    }

    #[test]
    fn defaults_unknown_keys_and_bad_values() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            f.path(),
            "clair:\n  api:\n    prot: 1\n  database:\n    type: pgsql\n",
        )
        .unwrap();
        let l = Loaded::load(f.path()).unwrap();
        let c = l.serve_config().unwrap();
        assert_eq!(c.api_addr, "0.0.0.0:6060");
        assert_eq!(c.health_addr.as_deref(), Some("0.0.0.0:6061"));
        assert_eq!(c.updater_interval, Duration::from_secs(3600));
        assert_eq!(c.notifier.attempts, 5);
        std::fs::write(f.path(), "clair:\n  api:\n    timeout: soon\n").unwrap();
        let err = Loaded::load(f.path())
            .unwrap()
            .serve_config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("clair.api.timeout"), "{err}");
    }

    /// Upstream's meanings: absent or 0 sizes the limit from the cores, negative is
    /// unlimited; the report cache age follows the period unless set.
    #[test]
    fn index_concurrency_and_cache_age() {
        let cfg = |text: &str| {
            Loaded::parse(text, std::path::Path::new("t.yaml"))
                .unwrap()
                .serve_config()
                .unwrap()
        };
        let auto = Some(auto_index_concurrency());
        assert!(auto_index_concurrency() >= 4);
        let c = cfg("indexer: {}\n");
        assert_eq!(c.index_concurrency, auto);
        assert_eq!(c.cache_age, Duration::from_secs(6 * 3600));
        let c = cfg("indexer:\n  index_report_request_concurrency: 0\nmatcher:\n  period: 2h\n");
        assert_eq!(c.index_concurrency, auto);
        assert_eq!(c.cache_age, Duration::from_secs(2 * 3600));
        let c =
            cfg("indexer:\n  index_report_request_concurrency: -1\nmatcher:\n  cache_age: 90s\n");
        assert_eq!(c.index_concurrency, None);
        assert_eq!(c.cache_age, Duration::from_secs(90));
        assert_eq!(
            cfg("indexer:\n  index_report_request_concurrency: 3\n").index_concurrency,
            Some(3)
        );
        let e = Loaded::parse(
            "indexer:\n  index_report_request_concurrency: lots\n",
            std::path::Path::new("t.yaml"),
        )
        .unwrap()
        .serve_config()
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("indexer.index_report_request_concurrency"),
            "{e}"
        );
        // Clair v2 files: no limit; reports cached for the updater interval.
        let c = cfg("clair:\n  updater:\n    interval: 2h\n");
        assert_eq!(c.index_concurrency, None);
        assert_eq!(c.cache_age, Duration::from_secs(2 * 3600));
    }

    #[test]
    fn distributed_sections() {
        let l = load("clair-v4-combo.yaml");
        let c = l.serve_config().unwrap();
        // The shipped file: one database for all three, each service on the same host.
        for m in Mode::ALL {
            assert_eq!(c.database_for(m), c.database, "{m}");
        }
        assert_eq!(
            c.remote_services(Mode::Notifier).unwrap(),
            RemoteServices {
                indexer: Some("http://127.0.0.1:6060".into()),
                matcher: Some("http://127.0.0.1:6060".into()),
            }
        );
        assert_eq!(c.notifier.poll_interval, Duration::from_secs(300));

        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            f.path(),
            "indexer:\n  connstring: postgresql://clair:pw1@idx/clair\nmatcher:\n  connstring: \
             host=m user=clair password=pw2\n  indexer_addr: clair-indexer:6060\nnotifier:\n  \
             connstring: /var/lib/clair/notifier.db\n  indexer_addr: https://i.example/api/\n",
        )
        .unwrap();
        let l = Loaded::load(f.path()).unwrap();
        let c = l.serve_config().unwrap();
        assert_eq!(
            c.database_for(Mode::Combo),
            "postgresql://clair:pw1@idx/clair"
        );
        assert_eq!(
            c.database_for(Mode::Matcher),
            "host=m user=clair password=pw2"
        );
        assert_eq!(c.database_for(Mode::Notifier), "/var/lib/clair/notifier.db");
        assert_eq!(
            c.remote_services(Mode::Matcher).unwrap().indexer.as_deref(),
            Some("http://clair-indexer:6060")
        );
        assert_eq!(
            c.remote_services(Mode::Notifier).unwrap_err(),
            "notifier mode needs notifier.matcher_addr (the matcher service's URL)"
        );
        assert_eq!(
            c.remote_services(Mode::Indexer).unwrap(),
            RemoteServices::default()
        );
        assert_eq!(c.notifier.poll_interval, Duration::from_secs(6 * 3600));
        let shown = serde_json::to_string(&c.redacted()).unwrap();
        assert!(!shown.contains("pw1") && !shown.contains("pw2"), "{shown}");
        assert_eq!(l.warnings(), Vec::<Warning>::new());

        std::fs::write(f.path(), "matcher:\n  indexer_addr: ftp://x/\n").unwrap();
        let err = Loaded::load(f.path())
            .unwrap()
            .serve_config()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("matcher.indexer_addr") && err.contains("http"),
            "{err}"
        );
    }

    #[test]
    fn webhook_headers() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            f.path(),
            "notifier:\n  webhook:\n    target: http://x/\n    headers:\n      X-One: [\"a\", \"b\"]\n      X-Two: c\n",
        )
        .unwrap();
        let c = Loaded::load(f.path()).unwrap().serve_config().unwrap();
        assert_eq!(
            c.notifier.webhook_headers,
            vec![
                ("X-One".to_string(), "a".to_string()),
                ("X-One".to_string(), "b".to_string()),
                ("X-Two".to_string(), "c".to_string())
            ]
        );
    }

    #[test]
    fn v2_webhook_client_certificates() {
        let parse = |t: &str| Loaded::parse(t, std::path::Path::new("t.yaml")).unwrap();
        let c = parse(
            "clair:\n  notifier:\n    http:\n      endpoint: https://quay/notify\n      certfile: /c.crt\n      keyfile: /c.key\n      cafile: /ca.crt\n      servername: quay.internal\n",
        )
        .serve_config()
        .unwrap();
        assert_eq!(
            c.notifier.http_tls,
            Some(NotifierTls {
                cert: "/c.crt".into(),
                key: "/c.key".into(),
                ca: Some("/ca.crt".into()),
                server_name: Some("quay.internal".into()),
            })
        );
        // Clair v2 uses them only with both the certificate and the key: without them
        // `cafile` is not read (and reported as ignored); half of the pair is an error.
        let l = parse("clair:\n  notifier:\n    http:\n      cafile: /ca.crt\n");
        assert_eq!(l.serve_config().unwrap().notifier.http_tls, None);
        assert_eq!(
            l.warnings()
                .iter()
                .map(|w| w.key.as_str())
                .collect::<Vec<_>>(),
            ["clair.notifier.http.cafile"]
        );
        let e = parse("clair:\n  notifier:\n    http:\n      certfile: /c.crt\n")
            .serve_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("clair.notifier.http.certfile"), "{e}");
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact_source("postgresql://clair:s3cret@db:5432/clair"),
            "postgresql://clair:<redacted>@db:5432/clair"
        );
        assert_eq!(
            redact_source("host=db user=clair password=s3cret dbname=clair"),
            "host=db user=clair password=<redacted> dbname=clair"
        );
        assert_eq!(listen_addr(":6060"), "0.0.0.0:6060");
        assert_eq!(listen_addr("127.0.0.1:1"), "127.0.0.1:1");
    }
}
