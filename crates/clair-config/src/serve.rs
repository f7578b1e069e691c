//! The settings `clair serve` runs with, read from any of the three layouts, with Clair's own
//! defaults, the environment overrides, and warnings for keys that are unknown or not
//! implemented yet.

use std::time::Duration;

use serde::Serialize;

use crate::file::{File, Leaf, Text, TextLeaf, V2Notifier, V2NotifierHttp, V4Amqp};
use crate::security::{JwtProxyConfig, TlsFiles};
use crate::{Bad, Error, Layout, Loaded, Mode, bad};

/// The other services a distributed-mode server calls: base URLs (`http://host:port`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteServices {
    /// The indexer's.
    pub indexer: Option<String>,
    /// The matcher's.
    pub matcher: Option<String>,
}

/// Everything `clair serve` needs from a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
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
    /// The settings `clair serve` runs with (defaults as Clair's, environment overrides
    /// applied: `CLAIR_DATABASE_SOURCE`, `CLAIR_API_PAGINATIONKEY`).
    pub fn serve_config(&self) -> Result<ServeConfig, Error> {
        self.build(File::serve_config)
    }
}

/// A service address (`matcher.indexer_addr`, …): a URL whose scheme and authority are kept
/// (upstream replaces its path with the API's); `host:port` gets `http://`.
fn addr(field: &str, value: &mut Text) -> Result<Option<String>, Bad> {
    let Some(raw) = value.used_nonblank() else {
        return Ok(None);
    };
    let raw = raw.trim();
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("http".to_string(), raw),
    };
    if scheme != "http" && scheme != "https" {
        return Err(bad(field, format!("{raw:?}: want an http or https URL")));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(bad(
            field,
            format!("{raw:?}: want a URL such as http://clair-indexer:6060/"),
        ));
    }
    Ok(Some(format!("{scheme}://{authority}")))
}

/// Saturating conversion of a configured count.
fn size<T: TryFrom<u64> + Bounded>(n: u64) -> T {
    T::try_from(n).unwrap_or(T::MAX)
}

/// The largest value of a count's type.
trait Bounded {
    const MAX: Self;
}
impl Bounded for usize {
    const MAX: usize = usize::MAX;
}
impl Bounded for u32 {
    const MAX: u32 = u32::MAX;
}

impl File {
    /// See [`Loaded::serve_config`].
    pub(crate) fn serve_config(&mut self) -> Result<ServeConfig, Bad> {
        // The same in every layout: the database, the environment, clair-rs's own keys and
        // the security sections.
        let database = self.database_source().unwrap_or_default();
        let env_database = std::env::var("CLAIR_DATABASE_SOURCE")
            .ok()
            .filter(|v| !v.is_empty());
        let r = &mut self.clair_rs;
        let base = ServeConfig {
            databases: Databases {
                indexer: database.clone(),
                matcher: database.clone(),
                notifier: database.clone(),
            },
            database,
            pagination_key: std::env::var("CLAIR_API_PAGINATIONKEY")
                .ok()
                .filter(|k| !k.is_empty()),
            allow_link_local_layers: r.allow_link_local_layers.used().unwrap_or(false),
            allow_local_layer_paths: r.allow_local_layer_paths.used().unwrap_or(false),
            read_only: r.read_only.used().unwrap_or(false),
            jwtproxy: self.jwtproxy()?,
            tls: self.api_tls()?,
            outgoing_ca: self.outgoing_ca(),
            ..ServeConfig::default()
        };
        let mut cfg = match self.layout {
            Layout::V4 => self.serve_v4(base, env_database.is_some())?,
            Layout::V2 | Layout::Unknown => self.serve_v2(base)?,
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

    /// Clair v4's sections, with upstream's defaults. With `CLAIR_DATABASE_SOURCE` set
    /// (`env_database`) every service uses that database.
    fn serve_v4(&mut self, base: ServeConfig, env_database: bool) -> Result<ServeConfig, Bad> {
        let period = self.matcher.period.used();
        let section = |connstring: &mut Text, database: &str| -> String {
            if env_database {
                return database.to_string();
            }
            connstring
                .used_nonblank()
                .unwrap_or_else(|| database.to_string())
        };
        let databases = Databases {
            indexer: section(&mut self.indexer.connstring, &base.database),
            matcher: section(&mut self.matcher.connstring, &base.database),
            notifier: section(&mut self.notifier.connstring, &base.database),
        };
        let n = &mut self.notifier;
        let notifier = NotifierConfig {
            webhook_target: n.webhook.target.used(),
            webhook_callback: n.webhook.callback.used(),
            delivery_interval: n
                .delivery_interval
                .used()
                .unwrap_or(Duration::from_secs(3600)),
            disable_summary: n.disable_summary.used().unwrap_or(false),
            webhook_headers: n.webhook.headers.used().unwrap_or_default(),
            amqp: amqp(n.amqp.as_mut())?,
            indexer_addr: addr("notifier.indexer_addr", &mut n.indexer_addr)?,
            matcher_addr: addr("notifier.matcher_addr", &mut n.matcher_addr)?,
            poll_interval: n
                .poll_interval
                .used()
                .unwrap_or(Duration::from_secs(6 * 3600)),
            ..NotifierConfig::default()
        };
        let auth = &mut self.auth;
        let psk = auth.psk.key.used().map(|key| Psk {
            key,
            iss: auth.psk.iss.used().unwrap_or_default(),
        });
        let keyserver = auth
            .keyserver
            .api
            .used_nonblank()
            .map(|api| (api, auth.keyserver.intraservice.used_nonblank()));
        Ok(ServeConfig {
            layout: "v4".into(),
            databases,
            matcher_indexer_addr: addr("matcher.indexer_addr", &mut self.matcher.indexer_addr)?,
            api_addr: listen_addr(
                &self
                    .http_listen_addr
                    .used_nonblank()
                    .unwrap_or_else(|| ":6060".into()),
            ),
            introspection_addr: Some(listen_addr(
                &self
                    .introspection_addr
                    .used_nonblank()
                    .unwrap_or_else(|| ":8089".into()),
            )),
            timeout: Duration::from_secs(900),
            updater_interval: if self.matcher.disable_updaters.used() == Some(true) {
                Duration::ZERO
            } else {
                period.unwrap_or(Duration::from_secs(6 * 3600))
            },
            index_concurrency: match self
                .indexer
                .index_report_request_concurrency
                .used()
                .unwrap_or(0)
            {
                0 => Some(auto_index_concurrency()),
                n if n < 0 => None,
                n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            },
            cache_age: match self.matcher.cache_age.used() {
                Some(d) if !d.is_zero() => d,
                _ => period
                    .filter(|p| !p.is_zero())
                    .unwrap_or(Duration::from_secs(6 * 3600)),
            },
            notifier,
            psk,
            keyserver,
            ..base
        })
    }

    /// Clair 1.2 and 2.x's `clair` section, with their defaults (also clair-rs's defaults
    /// without a file).
    fn serve_v2(&mut self, base: ServeConfig) -> Result<ServeConfig, Bad> {
        let api = &mut self.clair.api;
        let port = api.port.used().unwrap_or(6060);
        let health = api.healthport.used().unwrap_or(6061);
        let timeout = api.timeout.used().unwrap_or(Duration::from_secs(900));
        let file_key = api
            .paginationkey
            .used_nonblank()
            .or_else(|| self.clair.database.options.paginationkey.used_nonblank());
        let updater_interval = self
            .clair
            .updater
            .interval
            .used()
            .unwrap_or(Duration::from_secs(3600));
        // The notifier sits under `clair.notifier` in Clair's code and under
        // `clair.updater.notifier` in the Quay setup documents.
        let mut none = V2Notifier::default();
        let (at, n) = match (&mut self.clair.notifier, &mut self.clair.updater.notifier) {
            (Some(n), _) => ("clair.notifier", n),
            (None, Some(n)) => ("clair.updater.notifier", n),
            (None, None) => ("clair.notifier", &mut none),
        };
        let notifier = NotifierConfig {
            endpoint: n.http.endpoint.used_nonblank(),
            proxy: n.http.proxy.used_nonblank(),
            attempts: n.attempts.used().map_or(5, size),
            renotify_interval: n
                .renotifyinterval
                .used()
                .unwrap_or(Duration::from_secs(7200)),
            http_tls: notifier_tls(at, &mut n.http)?,
            ..NotifierConfig::default()
        };
        let layout = self.layout;
        Ok(ServeConfig {
            layout: if layout == Layout::V2 {
                "v2".into()
            } else {
                "none".into()
            },
            api_addr: format!("0.0.0.0:{port}"),
            // Clair v2's health port; without a Clair v2 file (clair-rs's own defaults)
            // health is served on the introspection address only.
            health_addr: (layout == Layout::V2).then(|| format!("0.0.0.0:{health}")),
            timeout,
            pagination_key: base.pagination_key.clone().or(file_key),
            updater_interval,
            // Clair v2 had no limit (and no v4 API to limit).
            index_concurrency: None,
            cache_age: if updater_interval.is_zero() {
                Duration::from_secs(6 * 3600)
            } else {
                updater_interval
            },
            notifier,
            ..base
        })
    }
}

/// Clair v4's `notifier.amqp`, when the section is there.
fn amqp(a: Option<&mut V4Amqp>) -> Result<Option<AmqpConfig>, Bad> {
    let Some(a) = a else { return Ok(None) };
    let uri = a
        .uris
        .used()
        .and_then(|u| u.into_iter().next())
        .ok_or_else(|| bad("notifier.amqp.uris", "want at least one AMQP URI"))?;
    Ok(Some(AmqpConfig {
        uri,
        exchange: a.exchange.name.used().unwrap_or_default(),
        routing_key: a.routing_key.used().unwrap_or_default(),
        direct: a.direct.used().unwrap_or(false),
        rollup: a.rollup.used().map_or(0, size),
        callback: a.callback.used(),
    }))
}

/// Clair v2's webhook client certificate: used when the certificate and key are both set
/// (then `cafile` and `servername` beside them are used too).
fn notifier_tls(at: &str, h: &mut V2NotifierHttp) -> Result<Option<NotifierTls>, Bad> {
    match (h.certfile.used_nonblank(), h.keyfile.used_nonblank()) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(NotifierTls {
            cert: cert.into(),
            key: key.into(),
            ca: h.cafile.used_nonblank().map(Into::into),
            server_name: h.servername.used_nonblank(),
        })),
        _ => Err(bad(
            format!("{at}.http.certfile"),
            "the certificate and the key go together",
        )),
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
    use crate::testing::{load_text, parse_text, serve_error};

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
        let l = load_text("clair:\n  api:\n    prot: 1\n  database:\n    type: pgsql\n");
        let c = l.serve_config().unwrap();
        assert_eq!(c.api_addr, "0.0.0.0:6060");
        assert_eq!(c.health_addr.as_deref(), Some("0.0.0.0:6061"));
        assert_eq!(c.updater_interval, Duration::from_secs(3600));
        assert_eq!(c.notifier.attempts, 5);
        let err = serve_error("clair:\n  api:\n    timeout: soon\n");
        assert!(err.contains("clair.api.timeout"), "{err}");
    }

    /// Upstream's meanings: absent or 0 sizes the limit from the cores, negative is
    /// unlimited; the report cache age follows the period unless set.
    #[test]
    fn index_concurrency_and_cache_age() {
        let cfg = |text: &str| parse_text(text).serve_config().unwrap();
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
        let e = serve_error("indexer:\n  index_report_request_concurrency: lots\n");
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

        let l = load_text(
            "indexer:\n  connstring: postgresql://clair:pw1@idx/clair\nmatcher:\n  connstring: \
             host=m user=clair password=pw2\n  indexer_addr: clair-indexer:6060\nnotifier:\n  \
             connstring: /var/lib/clair/notifier.db\n  indexer_addr: https://i.example/api/\n",
        );
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

        let err = serve_error("matcher:\n  indexer_addr: ftp://x/\n");
        assert!(
            err.contains("matcher.indexer_addr") && err.contains("http"),
            "{err}"
        );
    }

    #[test]
    fn webhook_headers() {
        let c = load_text(
            "notifier:\n  webhook:\n    target: http://x/\n    headers:\n      X-One: [\"a\", \"b\"]\n      X-Two: c\n",
        )
        .serve_config()
        .unwrap();
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
        let parse = parse_text;
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
        let e = serve_error("clair:\n  notifier:\n    http:\n      certfile: /c.crt\n");
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
