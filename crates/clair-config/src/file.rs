//! The config document as typed structs: one struct per section of each layout (Clair 1.2 and
//! 2.x under `clair:`, Clair v4's top-level sections, and the `jwtproxy` and `clair_rs`
//! sections every layout may carry), each leaf a small type that says what it accepts.
//!
//! Why typed: a wrong type is found when the file is loaded, every one of them at once, each
//! named by its key path and the type expected (`indexer.index_report_request_concurrency:
//! expected an integer, found a string "four"`); a key no struct knows is reported by
//! `serde_ignored` rather than from a list kept by hand. The effective settings
//! ([`crate::ServeConfig`], …) are built from these structs by *taking* the fields they use
//! (`Option::take`): what is left afterwards is what the file sets and nothing uses, which is
//! how [`crate::Loaded::warnings`] stays exact when a key is used only in some cases (a
//! disabled proxy's settings, `cafile` without a certificate).
//!
//! Defaults are not here: they live in the builders (`serve.rs`, `security.rs`), next to the
//! upstream behaviour they copy.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_yaml_ng::Value;

use crate::Layout;

/// The whole document. Every field is optional; sections absent or `null` are empty.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct File {
    /// Which layout the document uses (from its top-level keys, not a key itself).
    #[serde(skip)]
    pub layout: Layout,
    // Clair 1.2 and 2.x.
    /// Clair 1.2 and 2.x: every setting under `clair:`.
    #[serde(deserialize_with = "section")]
    pub clair: V2Clair,
    // Clair v4.
    /// v4: the API address (default `:6060`).
    pub http_listen_addr: Text,
    /// v4: `/healthz`, `/readyz`, `/metrics` (default `:8089`).
    pub introspection_addr: Text,
    /// v4: `debug-color`, `debug`, `info`, `warn`, `error`, `fatal`, `panic`.
    pub log_level: Text,
    /// v4: TLS for the API and the CA bundle for outgoing calls.
    #[serde(deserialize_with = "section")]
    pub tls: V4Tls,
    /// v4: the indexer service.
    #[serde(deserialize_with = "section")]
    pub indexer: V4Indexer,
    /// v4: the matcher service and its updaters.
    #[serde(deserialize_with = "section")]
    pub matcher: V4Matcher,
    /// v4: the notifier service.
    #[serde(deserialize_with = "section")]
    pub notifier: V4Notifier,
    /// v4: how API clients authenticate.
    #[serde(deserialize_with = "section")]
    pub auth: V4Auth,
    /// v4's, also read from Clair 2.x files.
    #[serde(deserialize_with = "section")]
    pub updaters: Updaters,
    // Every layout.
    /// quay/jwtproxy in front of Clair 2 (Quay's files), in any layout.
    #[serde(deserialize_with = "section")]
    pub jwtproxy: JwtProxy,
    /// clair-rs's own settings, in any layout.
    #[serde(deserialize_with = "section")]
    pub clair_rs: ClairRs,
}

/// `clair:` (Clair 1.2 and 2.x).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V2Clair {
    /// The database.
    #[serde(deserialize_with = "section")]
    pub database: V2Database,
    /// The API listeners.
    #[serde(deserialize_with = "section")]
    pub api: V2Api,
    /// The updaters (and, in Quay's documents, the notifier).
    #[serde(deserialize_with = "section")]
    pub updater: V2Updater,
    /// Where Clair's code reads the notifier.
    pub notifier: Option<V2Notifier>,
}

/// `clair.database`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V2Database {
    /// Clair 1.2's source.
    pub source: Text,
    /// Clair 2.x's `options` (`type: pgsql` beside it).
    #[serde(deserialize_with = "section")]
    pub options: V2DatabaseOptions,
}

/// `clair.database.options` (Clair 2.x).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V2DatabaseOptions {
    /// The source (a PostgreSQL URL).
    pub source: Text,
    /// Fernet key of page tokens, when `clair.api` names none.
    pub paginationkey: Text,
}

/// `clair.api`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V2Api {
    /// The API port (default 6060).
    pub port: Count,
    /// The `/health` port (default 6061).
    pub healthport: Count,
    /// Deadline per request (default 900s).
    pub timeout: Dur,
    /// Fernet key of page tokens (default: random per process).
    pub paginationkey: Text,
    /// TLS certificate of the API.
    pub certfile: Text,
    /// Its key.
    pub keyfile: Text,
    /// CAs client certificates must chain to (with `certfile`).
    pub cafile: Text,
}

/// `clair.updater`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V2Updater {
    /// How often updaters run (default 1h; 0 disables them).
    pub interval: Dur,
    /// Clair 3's updater list.
    pub enabledupdaters: List,
    /// Where the Quay setup documents put the notifier.
    pub notifier: Option<V2Notifier>,
}

/// `clair.notifier` (or `clair.updater.notifier`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V2Notifier {
    /// Tries per notification and pass (default 5).
    pub attempts: Count,
    /// How long before an undeleted notification is sent again (default 2h).
    pub renotifyinterval: Dur,
    /// The webhook.
    #[serde(deserialize_with = "section")]
    pub http: V2NotifierHttp,
}

/// `clair.notifier.http`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V2NotifierHttp {
    /// Where notifications are posted.
    pub endpoint: Text,
    /// HTTP proxy for them (jwtproxy's signer in Quay's setup).
    pub proxy: Text,
    /// Client certificate presented to the endpoint (with `keyfile`).
    pub certfile: Text,
    /// Its key.
    pub keyfile: Text,
    /// CAs the endpoint's certificate must chain to (with a client certificate).
    pub cafile: Text,
    /// Name the endpoint's certificate is checked against (with a client certificate).
    pub servername: Text,
}

/// v4 `tls` (with clair-rs's `clair_rs.client_ca` beside it).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4Tls {
    /// TLS certificate of the API.
    pub cert: Text,
    /// Its key.
    pub key: Text,
    /// Extra CA bundle for outgoing calls (`system`: none).
    pub root_ca: Text,
}

/// v4 `indexer`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4Indexer {
    /// The indexer's database.
    pub connstring: Text,
    /// Index requests at once (absent or 0: 4 per core; negative: no limit).
    pub index_report_request_concurrency: Int,
}

/// v4 `matcher`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4Matcher {
    /// The matcher's database.
    pub connstring: Text,
    /// How often updaters run (default 6h).
    pub period: Dur,
    /// Run no updaters.
    pub disable_updaters: Flag,
    /// `Cache-Control: max-age` of vulnerability reports (default: the period).
    pub cache_age: Dur,
    /// The indexer a matcher-mode server reads index reports from.
    pub indexer_addr: Text,
}

/// v4 `notifier`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4Notifier {
    /// The notifier's database.
    pub connstring: Text,
    /// How often undelivered notifications are retried (default 1h).
    pub delivery_interval: Dur,
    /// One notification per vulnerability and manifest instead of a summary.
    pub disable_summary: Flag,
    /// The indexer a notifier-mode server asks which manifests an update affects.
    pub indexer_addr: Text,
    /// The matcher a notifier-mode server polls for updates.
    pub matcher_addr: Text,
    /// How often it polls (default 6h).
    pub poll_interval: Dur,
    /// Webhook delivery.
    #[serde(deserialize_with = "section")]
    pub webhook: V4Webhook,
    /// AMQP delivery, when the section is there.
    pub amqp: Option<V4Amqp>,
}

/// v4 `notifier.webhook`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4Webhook {
    /// Where notifications are posted.
    pub target: Text,
    /// Base URL of the notification pages the webhook links to.
    pub callback: Text,
    /// Extra request headers.
    pub headers: Headers,
}

/// v4 `notifier.amqp`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4Amqp {
    /// Broker URIs; the first is used.
    pub uris: OneOrMany,
    /// The exchange.
    #[serde(deserialize_with = "section")]
    pub exchange: AmqpExchange,
    /// Routing key of each message.
    pub routing_key: Text,
    /// Send the notifications themselves instead of a callback link.
    pub direct: Flag,
    /// Notifications per message with `direct`.
    pub rollup: Count,
    /// Base URL of the notification pages a message links to.
    pub callback: Text,
}

/// v4 `notifier.amqp.exchange`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct AmqpExchange {
    /// Its name (empty: the default exchange).
    pub name: Text,
}

/// v4 `auth`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4Auth {
    /// Pre-shared key (Quay's).
    #[serde(deserialize_with = "section")]
    pub psk: V4Psk,
    /// Clair v4.0's.
    #[serde(deserialize_with = "section")]
    pub keyserver: V4KeyServer,
}

/// v4 `auth.psk`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4Psk {
    /// Standard base64 of the key.
    pub key: Text,
    /// Accepted issuers.
    pub iss: OneOrMany,
}

/// Clair v4.0's `auth.keyserver`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct V4KeyServer {
    /// Key server base URL.
    pub api: Text,
    /// Base64 key the services sign calls to each other with.
    pub intraservice: Text,
}

/// v4 `updaters`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct Updaters {
    /// Which updaters run (default: all).
    pub sets: List,
    /// Per updater, handed on whole (the updaters report what they do not read).
    pub config: Option<BTreeMap<String, serde_json::Value>>,
}

/// quay/jwtproxy's `jwtproxy`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct JwtProxy {
    /// Signs outgoing requests (notifications).
    pub signer_proxy: Option<SignerProxy>,
    /// Listeners that require a registry-signed JWT.
    pub verifier_proxies: Option<Vec<VerifierProxy>>,
}

/// `jwtproxy.signer_proxy`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct SignerProxy {
    /// Whether it runs; nothing else of the section is used otherwise.
    pub enabled: Flag,
    /// Where jwtproxy's forward proxy listened (default `:8080`).
    pub listen_addr: Text,
    /// The signer.
    #[serde(deserialize_with = "section")]
    pub signer: Signer,
}

/// `jwtproxy.signer_proxy.signer`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct Signer {
    /// `iss` of the tokens (required).
    pub issuer: Text,
    /// Token lifetime (default 5m).
    pub expiration_time: Dur,
    /// How far `nbf` lies in the past (default 1m).
    pub max_skew: Dur,
    /// Nonce length, 8 to 1024 (default 32).
    pub nonce_length: Count,
    /// The signing key.
    #[serde(deserialize_with = "section")]
    pub private_key: PrivateKey,
}

/// `signer.private_key`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct PrivateKey {
    /// `preshared` or `autogenerated`.
    #[serde(rename = "type")]
    pub kind: Text,
    /// Its settings.
    #[serde(deserialize_with = "section")]
    pub options: PrivateKeyOptions,
}

/// `signer.private_key.options` (`preshared` or `autogenerated`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct PrivateKeyOptions {
    /// `preshared`: the key's id at the key server.
    pub key_id: Text,
    /// `preshared`: PEM file of the RSA key.
    pub private_key_path: Text,
    /// `autogenerated`: rotation period (default 12h).
    pub rotate_every: Dur,
    /// `autogenerated`: where the current key is kept (default `~/.config/jwtproxy/`).
    pub key_folder: Text,
    /// `autogenerated`: the registry keys are published to.
    #[serde(deserialize_with = "section")]
    pub key_server: KeyRegistry,
}

/// The signer's `key_server`: a `keyregistry` the generated keys are published to.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct KeyRegistry {
    /// `keyregistry`, the only kind.
    #[serde(rename = "type")]
    pub kind: Text,
    /// Its settings.
    #[serde(deserialize_with = "section")]
    pub options: KeyRegistryOptions,
}

/// `key_server.options` of a `keyregistry`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct KeyRegistryOptions {
    /// Base URL of the key registry.
    pub registry: Text,
    /// Key cache settings.
    #[serde(deserialize_with = "section")]
    pub cache: KeyCache,
}

/// A verifier's `key_server` (`keyregistry` or `preshared`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct KeyServer {
    /// `keyregistry` (default) or `preshared`.
    #[serde(rename = "type")]
    pub kind: Text,
    /// Its settings.
    #[serde(deserialize_with = "section")]
    pub options: KeyServerOptions,
}

/// `key_server.options`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct KeyServerOptions {
    /// `keyregistry`: base URL of the key registry.
    pub registry: Text,
    /// `keyregistry`: key cache settings.
    #[serde(deserialize_with = "section")]
    pub cache: KeyCache,
    /// `preshared`: the one accepted issuer.
    pub issuer: Text,
    /// `preshared`: the key's id.
    pub key_id: Text,
    /// `preshared`: PEM file of the public key.
    pub public_key_path: Text,
}

/// `key_server.options.cache`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct KeyCache {
    /// Its settings.
    #[serde(deserialize_with = "section")]
    pub options: KeyCacheOptions,
}

/// `key_server.options.cache.options`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct KeyCacheOptions {
    /// How long a key is kept without `Cache-Control: max-age` (default 10m).
    pub duration: Dur,
}

/// One `jwtproxy.verifier_proxies` entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct VerifierProxy {
    /// Whether it runs; nothing else of the entry is used otherwise.
    pub enabled: Flag,
    /// Where it listens (default `:8082`).
    pub listen_addr: Text,
    /// TLS key (with `crt_file`).
    pub key_file: Text,
    /// TLS certificate.
    pub crt_file: Text,
    /// The verifier.
    #[serde(deserialize_with = "section")]
    pub verifier: Verifier,
}

/// `verifier_proxies[].verifier`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct Verifier {
    /// URL tokens' `aud` must name (required).
    pub audience: Text,
    /// Where jwtproxy forwarded (clair-rs serves its API in process).
    pub upstream: Text,
    /// Clock skew allowed (default 5m).
    pub max_skew: Dur,
    /// Longest `exp - iat` (default 5m).
    pub max_ttl: Dur,
    /// Where public keys come from.
    #[serde(deserialize_with = "section")]
    pub key_server: KeyServer,
    /// Claims every token must carry (`static` only).
    pub claims_verifiers: Option<Vec<ClaimsVerifier>>,
}

/// One `claims_verifiers` entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct ClaimsVerifier {
    /// `static`, the only kind.
    #[serde(rename = "type")]
    pub kind: Text,
    /// Claim names and the values they must have, in file order.
    pub options: Option<serde_yaml_ng::Mapping>,
}

/// clair-rs's own `clair_rs` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct ClairRs {
    /// Fetch layers from link-local and cloud metadata addresses.
    pub allow_link_local_layers: Flag,
    /// Let Clair v2 layer pushes name a file on this machine.
    pub allow_local_layer_paths: Flag,
    /// Serve only GET and HEAD.
    pub read_only: Flag,
    /// CAs client certificates must chain to (with v4 `tls`).
    pub client_ca: Text,
    /// Extra CA bundle for outgoing calls (`system`: none).
    pub ca_file: Text,
    /// Clair fed from SQS and reporting to SNS (see `SqsConfig` for each key).
    #[serde(deserialize_with = "section")]
    pub sqs: Sqs,
}

/// `clair_rs.sqs`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct Sqs {
    /// As [`crate::SqsConfig`]'s `receiver_queue_url` (`RECEIVER_QUEUE_URL` in the environment).
    pub receiver_queue_url: Text,
    /// As [`crate::SqsConfig`]'s `receiver_queue_region` (`RECEIVER_QUEUE_REGION` in the environment).
    pub receiver_queue_region: Text,
    /// As [`crate::SqsConfig`]'s `receiver_topic_arn` (`RECEIVER_TOPIC_ARN` in the environment).
    pub receiver_topic_arn: Text,
    /// As [`crate::SqsConfig`]'s `receiver_topic_region` (`RECEIVER_TOPIC_REGION` in the environment).
    pub receiver_topic_region: Text,
    /// As [`crate::SqsConfig`]'s `sender_topic_arn` (`SENDER_TOPIC_ARN` in the environment).
    pub sender_topic_arn: Text,
    /// As [`crate::SqsConfig`]'s `sender_topic_region` (`SENDER_TOPIC_REGION` in the environment).
    pub sender_topic_region: Text,
    /// As [`crate::SqsConfig`]'s `receiver_dead_letter_queue_url` (`RECEIVER_DEAD_LETTER_QUEUE_URL` in the environment).
    pub receiver_dead_letter_queue_url: Text,
    /// As [`crate::SqsConfig`]'s `receiver_max_receive_count` (`RECEIVER_MAX_RECEIVE_COUNT` in the environment).
    pub receiver_max_receive_count: Count,
    /// As [`crate::SqsConfig`]'s `receiver_wait_time_seconds` (`RECEIVER_WAIT_TIME_SECONDS` in the environment).
    pub receiver_wait_time_seconds: Count,
    /// As [`crate::SqsConfig`]'s `receiver_visibility_timeout` (`RECEIVER_VISIBILITY_TIMEOUT` in the environment).
    pub receiver_visibility_timeout: Count,
    /// As [`crate::SqsConfig`]'s `sender_max_message_size` (`SENDER_MAX_MESSAGE_SIZE` in the environment).
    pub sender_max_message_size: Count,
    /// As [`crate::SqsConfig`]'s `sender_publish` (`SENDER_PUBLISH` in the environment).
    pub sender_publish: Text,
    /// As [`crate::SqsConfig`]'s `endpoint_url` (`ENDPOINT_URL` in the environment).
    pub endpoint_url: Text,
}

/// A section: absent or `null` is the empty section.
fn section<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// What a YAML value is, for "found …" in messages (scalars with their value).
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("a boolean {b}"),
        Value::Number(n) => format!("a number {n}"),
        Value::String(s) => format!("a string {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

/// Read a leaf as a YAML value and convert it; the error says what was expected and found.
/// `null` is an unset key.
fn leaf<'de, D: Deserializer<'de>, T>(
    d: D,
    expected: &str,
    convert: impl FnOnce(&Value) -> Option<T>,
) -> Result<Option<T>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    convert(&v).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("expected {expected}, found {}", describe(&v)))
    })
}

/// A leaf: a key's value, unset when absent or `null`. Leaves serialize as `true` when set:
/// only whether a leftover leaf is there matters.
macro_rules! leaf_type {
    ($(#[$doc:meta])* $name:ident($inner:ty), $expected:literal, $convert:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub(crate) struct $name(pub Option<$inner>);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let convert: fn(&Value) -> Option<$inner> = $convert;
                leaf(d, $expected, convert).map($name)
            }
        }

        impl Leaf for $name {
            type Value = $inner;
            fn used(&mut self) -> Option<$inner> {
                self.0.take()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.0 {
                    Some(_) => s.serialize_bool(true),
                    None => s.serialize_unit(),
                }
            }
        }
    };
}

leaf_type!(
    /// A string.
    Text(String),
    "a string",
    |v| v.as_str().map(str::to_string)
);
leaf_type!(
    /// A whole number, written as a number or a numeric string.
    Int(i64),
    "an integer",
    |v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
);
leaf_type!(
    /// A whole number ≥ 0, written as a number or a numeric string.
    Count(u64),
    "a whole number (0 or more)",
    |v| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
);
leaf_type!(
    /// `true` or `false`.
    Flag(bool),
    "true or false",
    Value::as_bool
);
leaf_type!(
    /// A Go duration (`6h`, `1h30m`, `250ms`) or the number 0, as upstream's
    /// `UnmarshalText` reads them.
    Dur(Duration),
    "a duration such as 6h or 90s",
    |v| match v {
        Value::String(s) => crate::parse_duration(s).ok(),
        Value::Number(n) if n.as_u64() == Some(0) => Some(Duration::ZERO),
        _ => None,
    }
);
leaf_type!(
    /// A list of strings.
    List(Vec<String>),
    "a list of strings",
    |v| strings(v.as_sequence()?)
);
leaf_type!(
    /// A list of strings, or one string.
    OneOrMany(Vec<String>),
    "a string or a list of strings",
    |v| match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Sequence(items) => strings(items),
        _ => None,
    }
);
leaf_type!(
    /// A header map: `{name: [values]}` (Go's `http.Header`) or `{name: value}`, as
    /// (name, value) pairs in file order.
    Headers(Vec<(String, String)>),
    "a mapping of header names to a string or a list of strings",
    |v| {
        let mut out = Vec::new();
        for (k, v) in v.as_mapping()? {
            let name = k.as_str()?;
            match v {
                Value::String(s) => out.push((name.to_string(), s.clone())),
                Value::Sequence(items) => {
                    for s in strings(items)? {
                        out.push((name.to_string(), s));
                    }
                }
                _ => return None,
            }
        }
        Some(out)
    }
);

/// Taking a leaf's value marks it used (see the module docs).
pub(crate) trait Leaf {
    /// What the leaf holds.
    type Value;
    /// The value, if set; the leaf is left unset.
    fn used(&mut self) -> Option<Self::Value>;
}

/// Strings: a blank one is an unset one.
pub(crate) trait TextLeaf {
    /// The value unless empty.
    fn used_nonempty(&mut self) -> Option<String>;
    /// The value unless empty or only blanks.
    fn used_nonblank(&mut self) -> Option<String>;
}

impl TextLeaf for Text {
    fn used_nonempty(&mut self) -> Option<String> {
        self.used().filter(|s| !s.is_empty())
    }
    fn used_nonblank(&mut self) -> Option<String> {
        self.used().filter(|s| !s.trim().is_empty())
    }
}

fn strings(items: &[Value]) -> Option<Vec<String>> {
    items
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect()
}

/// A key whose value has the wrong type: its dotted path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// Dotted key path (list elements by index: `jwtproxy.verifier_proxies.0.enabled`).
    pub field: String,
    /// What is wrong (`expected an integer, found a string "four"`).
    pub message: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A document typed: the structs (wrong values left out), every wrong value, and the keys
/// no struct knows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Typed {
    pub file: File,
    pub problems: Vec<FieldProblem>,
    pub unknown: Vec<String>,
}

/// Most wrong values reported at once; past it the file is hardly a config.
const MAX_PROBLEMS: usize = 64;

/// Type a document. serde stops at the first wrong value, so each one found is noted and
/// blanked (a `null` is an absent key) and the document typed again, until it types.
pub(crate) fn type_document(raw: &Value, layout: Layout) -> Typed {
    let mut doc = raw.clone();
    let mut problems = Vec::new();
    loop {
        let mut unknown = Vec::new();
        let mut note = |p: serde_ignored::Path<'_>| unknown.push(ignored_path(&p));
        let typed = serde_path_to_error::deserialize::<_, File>(serde_ignored::Deserializer::new(
            &doc, &mut note,
        ));
        match typed {
            Ok(mut file) => {
                file.layout = layout;
                return Typed {
                    file,
                    problems,
                    unknown,
                };
            }
            Err(e) => {
                let field = e
                    .path()
                    .iter()
                    .filter_map(|s| match s {
                        serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                problems.push(FieldProblem {
                    field: field.join("."),
                    message: e.inner().to_string(),
                });
                if problems.len() >= MAX_PROBLEMS || !blank(&mut doc, &field) {
                    return Typed {
                        file: File {
                            layout,
                            ..File::default()
                        },
                        problems,
                        unknown: Vec::new(),
                    };
                }
            }
        }
    }
}

/// Replace the value at `path` with `null`; false when there is none to replace.
fn blank(doc: &mut Value, path: &[String]) -> bool {
    let mut v = doc;
    for k in path {
        let next = match v {
            Value::Mapping(m) => m.get_mut(Value::String(k.clone())),
            Value::Sequence(items) => k.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        let Some(next) = next else { return false };
        v = next;
    }
    if v.is_null() {
        return false;
    }
    *v = Value::Null;
    true
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    let (parent, own) = match p {
        Path::Root => return String::new(),
        Path::Seq { parent, index } => (parent, index.to_string()),
        Path::Map { parent, key } => (parent, key.clone()),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => {
            return ignored_path(parent);
        }
    };
    match ignored_path(parent) {
        p if p.is_empty() => own,
        p => format!("{p}.{own}"),
    }
}

/// The dotted keys a document (typed structs serialized, or the raw YAML turned JSON) sets:
/// list elements by index when they are mappings, else the list is one key; `null` and empty
/// mappings set nothing.
pub(crate) fn set_keys(prefix: &str, v: &serde_json::Value, out: &mut BTreeSet<String>) {
    use serde_json::Value as J;
    let child = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        J::Null => {}
        J::Object(m) => {
            for (k, c) in m {
                set_keys(&child(k), c, out);
            }
        }
        J::Array(items) if items.iter().any(J::is_object) => {
            for (i, c) in items.iter().enumerate() {
                set_keys(&child(&i.to_string()), c, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

impl File {
    /// The keys still set (not taken by a builder).
    pub(crate) fn keys_left(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Ok(v) = serde_json::to_value(self) {
            set_keys("", &v, &mut out);
        }
        out
    }
}

/// Every key the structs know (dotted; list elements as `.0`): what a reader may use. Found by
/// letting [`File`] describe itself to a deserializer that records each struct field.
pub(crate) fn known_keys() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    // Cannot fail: every leaf takes the `null` it is given as unset.
    let _ = File::deserialize(Trace {
        prefix: String::new(),
        out: &mut out,
    });
    out
}

/// The deserializer behind [`known_keys`].
struct Trace<'a> {
    prefix: String,
    out: &'a mut BTreeSet<String>,
}

impl Trace<'_> {
    fn child(&mut self, key: &str) -> Trace<'_> {
        let prefix = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        };
        self.out.insert(prefix.clone());
        Trace {
            prefix,
            out: self.out,
        }
    }
}

type TraceError = serde::de::value::Error;

impl<'de> Deserializer<'de> for Trace<'_> {
    type Error = TraceError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_unit()
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_some(self)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, TraceError> {
        v.visit_map(TraceFields {
            trace: self,
            fields: fields.iter(),
            current: "",
        })
    }

    fn deserialize_seq<V: serde::de::Visitor<'de>>(mut self, v: V) -> Result<V::Value, TraceError> {
        v.visit_seq(serde::de::value::SeqDeserializer::new(std::iter::once(
            self.child("0"),
        )))
    }

    fn deserialize_map<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_map(serde::de::value::MapDeserializer::new(std::iter::empty::<(
            String,
            String,
        )>()))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct tuple tuple_struct enum identifier ignored_any
    }
}

impl<'de, 'a> serde::de::IntoDeserializer<'de, TraceError> for Trace<'a> {
    type Deserializer = Trace<'a>;

    fn into_deserializer(self) -> Trace<'a> {
        self
    }
}

/// A struct's fields, each traced under its name.
struct TraceFields<'a> {
    trace: Trace<'a>,
    fields: std::slice::Iter<'static, &'static str>,
    current: &'static str,
}

impl<'de> serde::de::MapAccess<'de> for TraceFields<'_> {
    type Error = TraceError;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TraceError> {
        let Some(field) = self.fields.next() else {
            return Ok(None);
        };
        self.current = field;
        seed.deserialize(serde::de::value::BorrowedStrDeserializer::new(field))
            .map(Some)
    }

    fn next_value_seed<S: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, TraceError> {
        seed.deserialize(self.trace.child(self.current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{parse_text as parse, serve_error};

    /// Every wrong value at once, in file order, each with its key path, the type expected
    /// and what was found; nothing is built from such a file.
    #[test]
    fn wrong_types_are_reported_together_with_their_paths() {
        let l = parse(
            "indexer:\n  index_report_request_concurrency: four\nmatcher:\n  period: 5\n  \
             disable_updaters: yes-please\njwtproxy:\n  verifier_proxies:\n  - enabled: 1\n\
             clair_rs:\n  sqs:\n    receiver_max_receive_count: -3\nupdaters:\n  sets: debian\n",
        );
        let problems: Vec<String> = l.type_problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "indexer.index_report_request_concurrency: expected an integer, found a string \"four\"",
                "matcher.period: expected a duration such as 6h or 90s, found a number 5",
                "matcher.disable_updaters: expected true or false, found a string \"yes-please\"",
                "jwtproxy.verifier_proxies.0.enabled: expected true or false, found a number 1",
                "clair_rs.sqs.receiver_max_receive_count: expected a whole number (0 or more), found a number -3",
                "updaters.sets: expected a list of strings, found a string \"debian\"",
            ]
        );
        let e = l.serve_config().unwrap_err().to_string();
        assert_eq!(e, format!("config t.yaml: {}", problems.join("; ")));
        assert!(l.updater_sets().is_err() && l.sqs_config().is_err());
        // A section of the wrong shape names the section.
        let e = serve_error("matcher: [1]\n");
        assert!(
            e.starts_with("config t.yaml: matcher: invalid type: sequence"),
            "{e}"
        );
    }

    /// What upstream accepts: numbers written as strings, a duration of plain 0, `null` for
    /// an unset key or section.
    #[test]
    fn accepted_spellings() {
        let c =
            parse("clair:\n  api:\n    port: '6062'\n    timeout: 0\n  updater:\n  notifier: ~\n")
                .serve_config()
                .unwrap();
        assert_eq!(c.api_addr, "0.0.0.0:6062");
        assert_eq!(c.timeout, Duration::ZERO);
        assert_eq!(c.updater_interval, Duration::from_secs(3600));
    }

    /// A misspelt key is a warning naming its full path, at any depth.
    #[test]
    fn misspelt_keys_are_warnings_with_their_path() {
        let l = parse(
            "indexer:\n  index_report_request_concurency: 4\njwtproxy:\n  verifier_proxies:\n  \
             - enabled: true\n    verifier:\n      audience: http://c\n      \
             key_server: {type: keyregistry, options: {registry: http://k/, cach: 1}}\n",
        );
        let w: Vec<(String, String)> = l
            .warnings()
            .into_iter()
            .map(|w| (w.key, w.message))
            .collect();
        assert_eq!(
            w,
            [
                (
                    "indexer.index_report_request_concurency".to_string(),
                    "a Clair setting clair-rs does not use; ignored".to_string()
                ),
                (
                    "jwtproxy.verifier_proxies.0.verifier.key_server.options.cach".to_string(),
                    "unknown key, ignored".to_string()
                ),
            ]
        );
    }

    #[test]
    fn known_keys_come_from_the_structs() {
        let k = known_keys();
        for key in [
            "clair.database.options.source",
            "indexer.index_report_request_concurrency",
            "jwtproxy.verifier_proxies.0.verifier.key_server.options.cache.options.duration",
            "clair_rs.sqs.endpoint_url",
        ] {
            assert!(k.contains(key), "{key} not in {k:?}");
        }
        assert!(!k.iter().any(|k| k.contains("layout")), "{k:?}");
    }
}
