//! Webhook senders: Clair v4's (`notifier.webhook`) and Clair v2's (`notifier.http`).
//!
//! - [`Webhook`] posts `{"notification_id","callback"}` (only 200 counts), with the configured
//!   headers, signed with the pre-shared key when one is configured (`Authorization: Bearer`
//!   HS256 JWT, `iss` `clair-notifier`), trusting the extra CA bundle for outgoing calls.
//! - [`WebhookV2`] posts `{"Notification":{"Name":…}}` (200 or 201 is success), `attempts`
//!   tries per pass with exponential backoff, a delivered notification sent again every
//!   `renotify` until the client deletes it; through `proxy`, signed by jwtproxy's signer, and
//!   with Clair v2's client certificate settings (`certfile`, `keyfile`, `cafile`,
//!   `servername`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clair_store::{Delivery, Notification, Store};

use super::{Sender, retry_at};

/// Clair v4's webhook settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `notifier.webhook.target`.
    pub target: String,
    /// `notifier.webhook.callback` (the notification id is appended).
    pub callback: String,
    /// `notifier.webhook.headers`: sent with every request.
    pub headers: Vec<(String, String)>,
    /// `auth.psk.key` decoded: when set, webhooks carry an HS256 JWT.
    pub psk: Option<Vec<u8>>,
    /// Retry delay after a failed delivery (`notifier.delivery_interval`).
    pub retry: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Extra CA bundle (PEM) trusted for the target.
    pub ca_pem: Option<Arc<Vec<u8>>>,
}

/// Clair v4's webhook sender.
#[derive(Debug)]
pub struct Webhook {
    cfg: WebhookConfig,
    agent: ureq::Agent,
}

impl Webhook {
    /// A sender with these settings; fails on an unusable CA bundle.
    pub fn new(cfg: WebhookConfig) -> Result<Webhook, crate::Error> {
        let mut agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(cfg.timeout));
        if let Some(pem) = &cfg.ca_pem {
            agent = agent.tls_config(
                clair_layer::fetch::tls_trusting(pem)
                    .map_err(|e| crate::Error::Tls(format!("outgoing CA bundle: {e}")))?,
            );
        }
        Ok(Webhook {
            agent: ureq::Agent::new_with_config(agent.build()),
            cfg,
        })
    }
}

/// `callback` with the notification id appended.
pub(crate) fn callback_url(callback: &str, id: uuid::Uuid) -> String {
    let sep = if callback.ends_with('/') { "" } else { "/" };
    format!("{callback}{sep}{id}")
}

impl Sender for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn kind(&self) -> &'static str {
        super::V4
    }

    fn send(&self, _store: &dyn Store, n: &Notification) -> Delivery {
        let c = &self.cfg;
        let body = serde_json::json!({
            "notification_id": n.id,
            "callback": callback_url(&c.callback, n.id),
        });
        let mut req = self
            .agent
            .post(&c.target)
            .header("Content-Type", "application/json");
        for (k, v) in &c.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(key) = &c.psk {
            let jwt =
                clair_jose::sign_hs256(key, "clair-notifier", jiff::Timestamp::now().as_second());
            req = req.header("Authorization", &format!("Bearer {jwt}"));
        }
        match req.send(body.to_string()) {
            Ok(r) if r.status().as_u16() == 200 => Delivery::Delivered,
            Ok(r) => Delivery::Failed {
                error: format!("{}: HTTP {}", c.target, r.status().as_u16()),
                retry_at: retry_at(c.retry),
            },
            Err(e) => Delivery::Failed {
                error: format!("{}: {e}", c.target),
                retry_at: retry_at(c.retry),
            },
        }
    }
}

/// A request signer: the `Authorization` header value for a URL, or why there is none.
#[derive(Clone)]
pub struct Authorize(pub Arc<SignFn>);

/// What [`Authorize`] calls.
pub type SignFn = dyn Fn(&str) -> Result<String, String> + Send + Sync;

impl std::fmt::Debug for Authorize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorize(..)")
    }
}

/// Clair v2's client certificate settings (`notifier.http.certfile`, `keyfile`, `cafile`,
/// `servername`): used, as by Clair v2, when the certificate and key are both set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM certificate chain presented to the endpoint.
    pub cert: PathBuf,
    /// Its PEM private key.
    pub key: PathBuf,
    /// PEM CA bundle the endpoint's certificate must chain to (instead of the usual roots).
    pub ca: Option<PathBuf>,
    /// The name the endpoint's certificate is checked against (and sent as SNI) instead of
    /// the URL's host.
    pub server_name: Option<String>,
}

/// Clair v2's webhook settings.
#[derive(Debug, Clone)]
pub struct WebhookV2Config {
    /// `notifier.http.endpoint`.
    pub endpoint: String,
    /// `notifier.http.proxy`.
    pub proxy: Option<String>,
    /// `notifier.attempts`.
    pub attempts: u32,
    /// First wait between tries (doubled each time, at most 15 minutes).
    pub backoff: Duration,
    /// `notifier.renotifyinterval`.
    pub renotify: Duration,
    /// Signs each request: given the URL, the `Authorization` value (jwtproxy's signer).
    pub authorize: Option<Authorize>,
    /// Extra CA bundle (PEM) trusted for the endpoint.
    pub ca_pem: Option<Arc<Vec<u8>>>,
    /// Client certificate settings.
    pub client_tls: Option<ClientTls>,
}

/// Clair v2's webhook sender.
#[derive(Debug)]
pub struct WebhookV2 {
    cfg: WebhookV2Config,
    agent: ureq::Agent,
    /// The URL requests go to: the endpoint, with `servername` as its host when set.
    url: String,
}

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>, crate::Error> {
    std::fs::read(path).map_err(|e| crate::Error::Tls(format!("{what} {}: {e}", path.display())))
}

/// Every certificate in PEM text (at least one).
fn pem_certificates(pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item.map_err(|e| e.to_string())? {
            ureq::tls::PemItem::Certificate(c) => out.push(c),
            _ => continue,
        }
    }
    if out.is_empty() {
        return Err("no certificate".into());
    }
    Ok(out)
}

/// Every certificate in a PEM file.
fn certificates(
    path: &std::path::Path,
    what: &str,
) -> Result<Vec<ureq::tls::Certificate<'static>>, crate::Error> {
    pem_certificates(&read(path, what)?)
        .map_err(|e| crate::Error::Tls(format!("{what} {}: {e}", path.display())))
}

impl WebhookV2 {
    /// A sender with these settings; fails, naming the file, on an unusable certificate, key
    /// or CA bundle, and on a bad proxy URL.
    pub fn new(cfg: WebhookV2Config) -> Result<WebhookV2, crate::Error> {
        let mut agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)));
        if let Some(p) = &cfg.proxy {
            let proxy = ureq::Proxy::new(p)
                .map_err(|e| crate::Error::Config(format!("notifier.http.proxy {p}: {e}")))?;
            agent = agent.proxy(Some(proxy));
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        let mut custom_tls = false;
        if let Some(pem) = &cfg.ca_pem {
            let roots = pem_certificates(pem)
                .map_err(|e| crate::Error::Tls(format!("outgoing CA bundle: {e}")))?;
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
            custom_tls = true;
        }
        let mut url = cfg.endpoint.clone();
        let mut resolver = None;
        if let Some(c) = &cfg.client_tls {
            let chain = certificates(&c.cert, "notifier.http.certfile")?;
            let key_pem = read(&c.key, "notifier.http.keyfile")?;
            let key = ureq::tls::PrivateKey::from_pem(&key_pem).map_err(|e| {
                crate::Error::Tls(format!("notifier.http.keyfile {}: {e}", c.key.display()))
            })?;
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(
                &chain,
                key.to_owned(),
            )));
            if let Some(ca) = &c.ca {
                let roots = certificates(ca, "notifier.http.cafile")?;
                tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
            }
            if let Some(name) = c.server_name.as_deref().filter(|n| !n.is_empty()) {
                let (renamed, real) = rename_host(&cfg.endpoint, name)?;
                url = renamed;
                resolver = Some(ServerName {
                    name: name.to_string(),
                    real,
                });
            }
            custom_tls = true;
        }
        if custom_tls {
            agent = agent.tls_config(tls.build());
        }
        let config = agent.build();
        let agent = match resolver {
            Some(r) => ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                r,
            ),
            None => ureq::Agent::new_with_config(config),
        };
        Ok(WebhookV2 { cfg, agent, url })
    }
}

/// `https://10.0.0.5:8443/hook` with `servername` `quay.internal` → the URL with that host,
/// and the real `host:port` to connect to.
fn rename_host(endpoint: &str, name: &str) -> Result<(String, String), crate::Error> {
    let bad = || crate::Error::Config(format!("notifier.http.endpoint {endpoint}: not a URL"));
    let uri: ureq::http::Uri = endpoint.parse().map_err(|_| bad())?;
    let authority = uri.authority().ok_or_else(bad)?;
    let port = authority
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let real = format!("{}:{port}", authority.host());
    let renamed = format!(
        "{}://{name}:{port}{}",
        uri.scheme_str().unwrap_or("https"),
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    Ok((renamed, real))
}

/// Resolves the `servername` to the endpoint's real address, so the connection goes where the
/// endpoint says while TLS checks (and sends as SNI) the configured name, as Go's
/// `tls.Config.ServerName` does.
#[derive(Debug)]
struct ServerName {
    name: String,
    real: String,
}

impl ureq::unversioned::resolver::Resolver for ServerName {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let default = ureq::unversioned::resolver::DefaultResolver::default();
        if uri.host() != Some(self.name.as_str()) {
            return default.resolve(uri, config, timeout);
        }
        let real: ureq::http::Uri = format!("http://{}/", self.real)
            .parse()
            .map_err(|_| ureq::Error::HostNotFound)?;
        default.resolve(&real, config, timeout)
    }
}

impl Sender for WebhookV2 {
    fn name(&self) -> &'static str {
        "webhook-v2"
    }

    fn kind(&self) -> &'static str {
        super::V1
    }

    fn send(&self, _store: &dyn Store, n: &Notification) -> Delivery {
        let c = &self.cfg;
        let body = serde_json::json!({"Notification": {"Name": n.id}}).to_string();
        let mut wait = c.backoff;
        let mut last_error = String::new();
        for attempt in 1..=c.attempts.max(1) {
            let mut req = self
                .agent
                .post(&self.url)
                .header("Content-Type", "application/json");
            if let Some(auth) = &c.authorize {
                match (auth.0)(&c.endpoint) {
                    Ok(v) => req = req.header("Authorization", v),
                    Err(e) => {
                        last_error = format!("jwtproxy: unable to sign request: {e}");
                        break;
                    }
                }
            }
            match req.send(body.as_str()) {
                Ok(r) if matches!(r.status().as_u16(), 200 | 201) => {
                    return Delivery::Notified {
                        again_at: retry_at(c.renotify),
                    };
                }
                Ok(r) => last_error = format!("{}: HTTP {}", c.endpoint, r.status().as_u16()),
                Err(e) => last_error = format!("{}: {e}", c.endpoint),
            }
            if attempt < c.attempts {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(15 * 60));
            }
        }
        // Picked again on a later pass, as Clair v2 does.
        Delivery::Failed {
            error: last_error,
            retry_at: jiff::Timestamp::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_replaces_the_host() {
        assert_eq!(
            rename_host("https://10.0.0.5:8443/secscan/notify?x=1", "quay.internal").unwrap(),
            (
                "https://quay.internal:8443/secscan/notify?x=1".to_string(),
                "10.0.0.5:8443".to_string()
            )
        );
        assert_eq!(
            rename_host("https://10.0.0.5/n", "q").unwrap().1,
            "10.0.0.5:443"
        );
        assert!(rename_host("not a url", "q").is_err());
    }
}
