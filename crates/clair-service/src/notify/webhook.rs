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
    client: clair_net::Client,
}

/// The outgoing CA bundle, trusted by `client` when there is one.
fn trusting(
    client: clair_net::ClientBuilder,
    ca_pem: Option<&Arc<Vec<u8>>>,
) -> Result<clair_net::ClientBuilder, crate::Error> {
    match ca_pem {
        Some(pem) => client
            .ca_pem(pem)
            .map_err(|e| crate::Error::Tls(format!("outgoing CA bundle: {e}"))),
        None => Ok(client),
    }
}

impl Webhook {
    /// A sender with these settings; fails on an unusable CA bundle.
    pub fn new(cfg: WebhookConfig) -> Result<Webhook, crate::Error> {
        let client = clair_net::Client::builder().total_timeout(cfg.timeout);
        Ok(Webhook {
            client: trusting(client, cfg.ca_pem.as_ref())?.build(),
            cfg,
        })
    }
}

/// `Content-Type: application/json` and `more`.
fn json_headers(more: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    headers.extend(more);
    headers
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
        let mut headers = json_headers(c.headers.iter().cloned());
        if let Some(key) = &c.psk {
            let jwt =
                clair_jose::sign_hs256(key, "clair-notifier", jiff::Timestamp::now().as_second());
            headers.push(("Authorization".into(), format!("Bearer {jwt}")));
        }
        match self
            .client
            .post(&c.target, &headers, body.to_string().as_bytes())
        {
            Ok(r) if r.status() == 200 => Delivery::Delivered,
            Ok(r) => Delivery::Failed {
                error: format!("{}: HTTP {}", c.target, r.status()),
                retry_at: retry_at(c.retry),
            },
            Err(e) => Delivery::Failed {
                error: e.to_string(),
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
    client: clair_net::Client,
    /// The URL requests go to: the endpoint, with `servername` as its host when set.
    url: String,
}

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>, crate::Error> {
    std::fs::read(path).map_err(|e| crate::Error::Tls(format!("{what} {}: {e}", path.display())))
}

/// Every certificate in a PEM file.
fn certificates(
    path: &std::path::Path,
    what: &str,
) -> Result<Vec<clair_net::Certificate<'static>>, crate::Error> {
    clair_net::pem_certificates(&read(path, what)?)
        .map_err(|e| crate::Error::Tls(format!("{what} {}: {e}", path.display())))
}

impl WebhookV2 {
    /// A sender with these settings; fails, naming the file, on an unusable certificate, key
    /// or CA bundle, and on a bad proxy URL.
    pub fn new(cfg: WebhookV2Config) -> Result<WebhookV2, crate::Error> {
        let mut client = clair_net::Client::builder().total_timeout(Duration::from_secs(5));
        if let Some(p) = &cfg.proxy {
            client = client
                .proxy(p)
                .map_err(|e| crate::Error::Config(format!("notifier.http.proxy {e}")))?;
        }
        client = trusting(client, cfg.ca_pem.as_ref())?;
        let mut url = cfg.endpoint.clone();
        if let Some(c) = &cfg.client_tls {
            let chain = certificates(&c.cert, "notifier.http.certfile")?;
            let key_pem = read(&c.key, "notifier.http.keyfile")?;
            let key = clair_net::pem_private_key(&key_pem).map_err(|e| {
                crate::Error::Tls(format!("notifier.http.keyfile {}: {e}", c.key.display()))
            })?;
            client = client.client_cert(chain, key);
            if let Some(ca) = &c.ca {
                client = client.ca_certificates(certificates(ca, "notifier.http.cafile")?);
            }
            if let Some(name) = c.server_name.as_deref().filter(|n| !n.is_empty()) {
                let (renamed, real) = rename_host(&cfg.endpoint, name)?;
                url = renamed;
                client = client.connect_to(name, &real);
            }
        }
        Ok(WebhookV2 {
            cfg,
            client: client.build(),
            url,
        })
    }
}

/// `https://10.0.0.5:8443/hook` with `servername` `quay.internal` → the URL with that host,
/// and the real `host:port` to connect to.
fn rename_host(endpoint: &str, name: &str) -> Result<(String, String), crate::Error> {
    let bad = || crate::Error::Config(format!("notifier.http.endpoint {endpoint}: not a URL"));
    let url = url::Url::parse(endpoint).map_err(|_| bad())?;
    let host = url.host_str().ok_or_else(bad)?;
    let port = url.port_or_known_default().ok_or_else(bad)?;
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    let renamed = format!("{}://{name}:{port}{}{query}", url.scheme(), url.path());
    Ok((renamed, format!("{host}:{port}")))
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
            let mut headers = json_headers([]);
            if let Some(auth) = &c.authorize {
                match (auth.0)(&c.endpoint) {
                    Ok(v) => headers.push(("Authorization".into(), v)),
                    Err(e) => {
                        last_error = format!("jwtproxy: unable to sign request: {e}");
                        break;
                    }
                }
            }
            match self.client.post(&self.url, &headers, body.as_bytes()) {
                Ok(r) if matches!(r.status(), 200 | 201) => {
                    return Delivery::Notified {
                        again_at: retry_at(c.renotify),
                    };
                }
                Ok(r) => last_error = format!("{}: HTTP {}", c.endpoint, r.status()),
                Err(e) => last_error = e.to_string(),
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
