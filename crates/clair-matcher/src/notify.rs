//! Notifications (Clair v4 semantics): what an update operation changed for the indexed
//! manifests, stored durably, and delivered by webhook with retries.
//!
//! [`items`] matches the records an operation *added* and those it *removed* against every
//! indexed manifest (through a [`NotificationSource`]: the local store, or the indexer and
//! matcher services), with the same `MatchIndex` logic reports use, so a notification says
//! exactly what a report would now say differently. By default each manifest gets one summary
//! per reason (its most severe vulnerability), or one item per vulnerability and manifest with
//! `disable_summary`. [`Notifier::deliver_due`] posts `{"notification_id","callback"}` to the
//! webhook (only 200 counts), signs it with the pre-shared key when one is configured
//! (`Authorization: Bearer` HS256 JWT, `iss` `clair-notifier`), and records each attempt in the
//! store, so a restart or another instance carries on where it stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use clair_store::{Delivery, OpKind, Store, UpdateDiff};
use clair_types::{Digest, ReportVulnerability, Severity};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::matching::Namespaces;
use crate::notify_source::{
    LocalSource, NotificationSource, SourceError, diff_affects, notify_updater,
};

/// The store notification kind of Clair v4 notifications.
pub const KIND: &str = "v4";

/// What to compute.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotifyOptions {
    /// One item per vulnerability and manifest instead of one summary per manifest.
    pub disable_summary: bool,
}

/// Clair's `VulnSummary` of a vulnerability. `package`, `distribution` and `repo` are written
/// as the report writes them: objects, never `null` (Quay validates each page against its
/// schema, which wants objects, and retries a page that fails forever).
fn summary(v: &ReportVulnerability) -> serde_json::Value {
    let full = serde_json::to_value(v).unwrap_or_default();
    let sev = v.normalized_severity.as_str();
    serde_json::json!({
        "name": v.name,
        "description": v.description,
        "package": full["package"],
        "distribution": full["distribution"],
        "repo": full["repository"],
        // Clair's VulnSummary puts the normalized severity under `severity`; Quay's schema
        // reads `normalized_severity`: both are sent.
        "severity": sev,
        "normalized_severity": sev,
        "fixed_in_version": v.fixed_in_version,
        "links": v.links,
    })
}

/// The notification items a diff causes for the manifests `source` knows: per manifest, the
/// records it now has ("added") or no longer has ("removed"), as one summary per reason (the
/// most severe record) or, with `disable_summary`, one item per record.
pub fn items(
    source: &dyn NotificationSource,
    diff: &UpdateDiff,
    opts: NotifyOptions,
) -> Result<Vec<serde_json::Value>, SourceError> {
    let [added, removed] = diff_affects(source, diff)?;
    let mut manifests: Vec<&Digest> = added.keys().chain(removed.keys()).collect();
    manifests.sort();
    manifests.dedup();
    let mut items = Vec::new();
    for manifest in manifests {
        for (reason, side) in [("added", &added), ("removed", &removed)] {
            let Some(found) = side.get(manifest) else {
                continue;
            };
            let keep = if opts.disable_summary { found.len() } else { 1 };
            for v in found.iter().take(keep) {
                items.push(serde_json::json!({
                    "id": uuid::Uuid::new_v4(),
                    "manifest": manifest,
                    "reason": reason,
                    "vulnerability": summary(v),
                }));
            }
        }
    }
    Ok(items)
}

/// The notification items a diff causes for the manifests of the local store (combo mode).
pub fn v4_items(
    store: &dyn Store,
    ns: &dyn Namespaces,
    diff: &UpdateDiff,
    opts: NotifyOptions,
) -> Result<Vec<serde_json::Value>, SourceError> {
    items(&LocalSource { store, ns }, diff, opts)
}

/// After an update of `updater` in combo mode: its newest operation turned into one stored
/// notification (see [`notify_updater`]: none for a first operation, which would flag
/// everything, nor when nothing changed for any manifest). Returns the notification's id.
pub fn notify_update(
    store: &dyn Store,
    ns: &dyn Namespaces,
    updater: &str,
    opts: NotifyOptions,
) -> Result<Option<uuid::Uuid>, SourceError> {
    let ops = store.update_operations(OpKind::Vulnerability, Some(updater))?;
    notify_updater(&LocalSource { store, ns }, store, updater, &ops, opts)
}

/// Where and how webhooks go.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// `notifier.webhook.target`.
    pub target: String,
    /// `notifier.webhook.callback` (the notification id is appended).
    pub callback: String,
    /// Extra headers (`notifier.webhook.headers`).
    pub headers: Vec<(String, String)>,
    /// `auth.psk.key` decoded: when set, webhooks carry an HS256 JWT.
    pub psk: Option<Vec<u8>>,
    /// Retry delay after a failed delivery (`notifier.delivery_interval`).
    pub retry: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

type HmacSha256 = Hmac<Sha256>;

/// An HS256 JWT: `iss`, `iat`, `nbf` (60 s back), `exp` (60 s ahead), as Clair v4 signs.
pub fn sign_hs256(key: &[u8], issuer: &str, now: i64) -> String {
    let b64 = |d: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d);
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64(
        serde_json::json!({"iss": issuer, "iat": now, "nbf": now - 60, "exp": now + 60})
            .to_string()
            .as_bytes(),
    );
    let input = format!("{header}.{claims}");
    let sig = match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{input}.{}", b64(&sig))
}

impl Notifier {
    /// Deliver every due notification of kind v4, once each, under the store lock
    /// `notifier/deliver` (another instance holding it: nothing done here). Returns how many
    /// were delivered.
    pub fn deliver_due(&self, store: &dyn Store) -> clair_store::Result<usize> {
        let Some(_lock) = store.try_lock("notifier/deliver")? else {
            return Ok(0);
        };
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(self.timeout))
                .build(),
        );
        let mut delivered = 0;
        let now = jiff::Timestamp::now();
        for n in store.notifications_due(now, 100)? {
            if n.kind != KIND {
                continue;
            }
            let callback = format!(
                "{}{}{}",
                self.callback,
                if self.callback.ends_with('/') {
                    ""
                } else {
                    "/"
                },
                n.id
            );
            let body = serde_json::json!({"notification_id": n.id, "callback": callback});
            let mut req = agent
                .post(&self.target)
                .header("Content-Type", "application/json");
            for (k, v) in &self.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            if let Some(key) = &self.psk {
                let jwt = sign_hs256(key, "clair-notifier", jiff::Timestamp::now().as_second());
                req = req.header("Authorization", &format!("Bearer {jwt}"));
            }
            let outcome = match req.send(body.to_string()) {
                Ok(r) if r.status().as_u16() == 200 => Delivery::Delivered,
                Ok(r) => Delivery::Failed {
                    error: format!("{}: HTTP {}", self.target, r.status().as_u16()),
                    retry_at: retry_at(self.retry),
                },
                Err(e) => Delivery::Failed {
                    error: format!("{}: {e}", self.target),
                    retry_at: retry_at(self.retry),
                },
            };
            if outcome == Delivery::Delivered {
                delivered += 1;
                tracing::info!(id = %n.id, "notification delivered");
            } else {
                tracing::warn!(id = %n.id, ?outcome, "notification delivery failed");
            }
            store.record_delivery(n.id, &outcome)?;
        }
        Ok(delivered)
    }
}

/// The store notification kind of Clair v2 notifications.
pub const V1_KIND: &str = "v1";

/// Clair v2's webhook sender (`notifier.http`): `POST {"Notification":{"Name":…}}`, 200 or 201
/// is success, `attempts` tries per pass with exponential backoff, and a delivered
/// notification is sent again every `renotify` until the client deletes it.
#[derive(Debug, Clone)]
pub struct NotifierV2 {
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
    pub ca_pem: Option<std::sync::Arc<Vec<u8>>>,
}

/// A request signer: the `Authorization` header value for a URL, or why there is none.
#[derive(Clone)]
pub struct Authorize(pub std::sync::Arc<SignFn>);

/// What [`Authorize`] calls.
pub type SignFn = dyn Fn(&str) -> Result<String, String> + Send + Sync;

impl std::fmt::Debug for Authorize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorize(..)")
    }
}

impl NotifierV2 {
    /// Send every due Clair v2 notification once (under the store lock
    /// `notifier/deliver-v1`). Returns how many were accepted.
    pub fn deliver_due(&self, store: &dyn Store) -> clair_store::Result<usize> {
        let Some(_lock) = store.try_lock("notifier/deliver-v1")? else {
            return Ok(0);
        };
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)));
        if let Some(p) = &self.proxy {
            match ureq::Proxy::new(p) {
                Ok(proxy) => cfg = cfg.proxy(Some(proxy)),
                Err(e) => tracing::error!(proxy = %p, error = %e, "notifier proxy ignored"),
            }
        }
        if let Some(pem) = &self.ca_pem {
            match clair_layer::fetch::tls_trusting(pem) {
                Ok(tls) => cfg = cfg.tls_config(tls),
                Err(e) => tracing::error!(error = %e, "notifier CA bundle ignored"),
            }
        }
        let agent = ureq::Agent::new_with_config(cfg.build());
        let mut delivered = 0;
        for n in store.notifications_due(jiff::Timestamp::now(), 100)? {
            if n.kind != V1_KIND {
                continue;
            }
            let body = serde_json::json!({"Notification": {"Name": n.id}}).to_string();
            let mut wait = self.backoff;
            let mut last_error = String::new();
            let mut ok = false;
            for attempt in 1..=self.attempts.max(1) {
                let mut req = agent
                    .post(&self.endpoint)
                    .header("Content-Type", "application/json");
                if let Some(auth) = &self.authorize {
                    match (auth.0)(&self.endpoint) {
                        Ok(v) => req = req.header("Authorization", v),
                        Err(e) => {
                            last_error = format!("jwtproxy: unable to sign request: {e}");
                            break;
                        }
                    }
                }
                match req.send(body.as_str()) {
                    Ok(r) if matches!(r.status().as_u16(), 200 | 201) => {
                        ok = true;
                        break;
                    }
                    Ok(r) => {
                        last_error = format!("{}: HTTP {}", self.endpoint, r.status().as_u16())
                    }
                    Err(e) => last_error = format!("{}: {e}", self.endpoint),
                }
                if attempt < self.attempts {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(15 * 60));
                }
            }
            let outcome = if ok {
                delivered += 1;
                Delivery::Notified {
                    again_at: retry_at(self.renotify),
                }
            } else {
                tracing::warn!(id = %n.id, error = %last_error, "notification delivery failed");
                // Picked again on a later pass, as Clair v2 does.
                Delivery::Failed {
                    error: last_error,
                    retry_at: jiff::Timestamp::now(),
                }
            };
            store.record_delivery(n.id, &outcome)?;
        }
        Ok(delivered)
    }
}

fn retry_at(after: Duration) -> jiff::Timestamp {
    let now = jiff::Timestamp::now();
    jiff::SignedDuration::try_from(after)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(now)
}

/// The manifests a set of items names, most severe first (for logs and tests).
pub fn manifests_of(items: &[serde_json::Value]) -> BTreeMap<Digest, Vec<(String, Severity)>> {
    let mut out: BTreeMap<Digest, Vec<(String, Severity)>> = BTreeMap::new();
    for i in items {
        let (Some(m), Some(name)) = (
            i["manifest"].as_str().and_then(|m| m.parse().ok()),
            i["vulnerability"]["name"].as_str(),
        ) else {
            continue;
        };
        let sev = i["vulnerability"]["normalized_severity"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(Severity::Unknown);
        out.entry(m).or_default().push((name.to_string(), sev));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_is_hs256_over_header_and_claims() {
        let t = sign_hs256(
            b"secret-key-for-tests-only",
            "clair-notifier",
            1_800_000_000,
        );
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let dec = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let claims: serde_json::Value = serde_json::from_slice(&dec(parts[1])).unwrap();
        assert_eq!(claims["iss"], "clair-notifier");
        assert_eq!(claims["exp"], 1_800_000_060);
        assert_eq!(claims["nbf"], 1_799_999_940);
        let mut mac = HmacSha256::new_from_slice(b"secret-key-for-tests-only").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert!(mac.verify_slice(&dec(parts[2])).is_ok());
    }
}
