//! clair-sqs's *sender*: Clair v2 notifications published to `SENDER_TOPIC_ARN`, as one of the
//! notifier's senders (`clair_service::notify`), which computes, queues and records them.
//!
//! For each notification, by default, the `GET /v1/layers/:name?features&vulnerabilities`
//! document of every layer it names (new side first, each once), as clair-sqs's sender did,
//! so a consumer built for the receiver's reports reads these too; with
//! `SENDER_PUBLISH=notification-pages`, the notification's own pages. Then the notification
//! is acknowledged, as clair-sqs deleted it.

use std::collections::HashSet;

use aws_config::{Region, SdkConfig};
use clair_service::Service;
use clair_service::notify::Sender;
use clair_store::{Delivery, Notification, Store};

use crate::Error;
use crate::settings::{SenderPublish, Settings, Topic};

/// Most layers per side in one published notification page.
const NOTIFICATION_PAGE: i64 = 100;
/// Wait after a failed publication before trying again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(60);

/// The SNS sender. Blocking: it runs the SDK on a runtime of its own, so it must be used
/// (and dropped) outside async code, as the notifier's thread does.
pub struct SnsSender {
    state: Service,
    topic: Topic,
    publish: SenderPublish,
    max_message_size: usize,
    client: aws_sdk_sns::Client,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for SnsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsSender")
            .field("topic", &self.topic)
            .field("publish", &self.publish)
            .finish()
    }
}

impl SnsSender {
    /// The sender `settings` ask for (`None` without `SENDER_TOPIC_ARN`), with the SDK
    /// configured by the standard chain, as [`crate::run`].
    pub fn new(state: impl Into<Service>, settings: &Settings) -> Result<Option<SnsSender>, Error> {
        let rt = runtime()?;
        let sdk = rt.block_on(crate::pipeline::sdk_config(settings));
        Self::build(state.into(), settings, &sdk, rt)
    }

    /// The sender with an SDK configuration of the caller's (tests point it at a local
    /// server).
    pub fn with_sdk(
        state: impl Into<Service>,
        settings: &Settings,
        sdk: &SdkConfig,
    ) -> Result<Option<SnsSender>, Error> {
        Self::build(state.into(), settings, sdk, runtime()?)
    }

    fn build(
        state: Service,
        settings: &Settings,
        sdk: &SdkConfig,
        rt: tokio::runtime::Runtime,
    ) -> Result<Option<SnsSender>, Error> {
        let Some(topic) = settings.notification_topic.clone() else {
            return Ok(None);
        };
        let mut b = aws_sdk_sns::config::Builder::from(sdk);
        if let Some(r) = &topic.region {
            b = b.region(Region::new(r.clone()));
        }
        Ok(Some(SnsSender {
            state,
            topic,
            publish: settings.sender_publish,
            max_message_size: settings.max_message_size,
            client: aws_sdk_sns::Client::from_conf(b.build()),
            rt,
        }))
    }

    /// Publish what one notification says; the number of messages.
    fn publish_notification(&self, store: &dyn Store, id: uuid::Uuid) -> Result<usize, Error> {
        match self.publish {
            SenderPublish::Layers => self.publish_layers(store, id),
            SenderPublish::NotificationPages => self.rt.block_on(self.publish_pages(id)),
        }
    }

    /// Each named layer's document; a layer deleted since is skipped.
    fn publish_layers(&self, store: &dyn Store, id: uuid::Uuid) -> Result<usize, Error> {
        // Notifications are computed before the matcher index is rebuilt: the layer
        // documents must show the new data.
        self.state.refresh()?;
        let mut published = 0;
        for name in notification_layers(store, id)? {
            let view = match clair_service::v1::layer_view(&self.state, &name, true, true) {
                Ok(v) => v,
                Err(e) if e.status() == 404 => {
                    tracing::info!(notification = %id, layer = %name, "layer deleted since; not published");
                    continue;
                }
                Err(e) => {
                    return Err(Error::Layer {
                        layer: name,
                        status: e.status(),
                        message: e.message().to_string(),
                    });
                }
            };
            let json = serde_json::json!({ "Layer": view }).to_string();
            self.rt.block_on(crate::pipeline::publish(
                &self.client,
                &self.topic.arn,
                &json,
                self.max_message_size,
            ))?;
            published += 1;
        }
        Ok(published)
    }

    /// Each page of the notification, as `GET /v1/notifications/:name?limit=100` answers.
    async fn publish_pages(&self, id: uuid::Uuid) -> Result<usize, Error> {
        let err = |message: String| Error::Notification {
            id: id.to_string(),
            message,
        };
        let mut page: Option<String> = None;
        let mut pages = 0;
        loop {
            let st = self.state.clone();
            let name = id.to_string();
            let token = page.take();
            let n = tokio::task::spawn_blocking(move || {
                clair_service::v1::notification_page(&st, &name, NOTIFICATION_PAGE, token)
            })
            .await
            .map_err(|e| Error::Worker(e.to_string()))?
            .map_err(|e| err(format!("{} {}", e.status(), e.message())))?;
            let doc = serde_json::json!({ "Notification": n });
            let text = doc.to_string();
            crate::pipeline::publish(&self.client, &self.topic.arn, &text, self.max_message_size)
                .await?;
            pages += 1;
            match doc["Notification"]["NextPage"].as_str() {
                Some(next) if pages < 10_000 => page = Some(next.to_string()),
                _ => return Ok(pages),
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Worker(format!("SNS sender runtime: {e}")))
}

impl Sender for SnsSender {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn kind(&self) -> &'static str {
        clair_service::notify::V1
    }

    fn send(&self, store: &dyn Store, n: &Notification) -> Delivery {
        match self.publish_notification(store, n.id) {
            Ok(messages) => {
                tracing::info!(id = %n.id, messages, topic = %self.topic.arn, "notification published");
                Delivery::Delivered
            }
            Err(e) => Delivery::Failed {
                error: format!("{}: {e}", self.topic.arn),
                retry_at: jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::try_from(RETRY).unwrap_or_default())
                    .unwrap_or_else(|_| jiff::Timestamp::now()),
            },
        }
    }

    fn acknowledges(&self) -> bool {
        true
    }
}

/// The layers a Clair v2 notification names: the new side's, then the old side's not already
/// named, in layer order.
fn notification_layers(store: &dyn Store, id: uuid::Uuid) -> Result<Vec<String>, Error> {
    let (mut new, mut old) = (Vec::new(), Vec::new());
    let mut after = None;
    loop {
        let page = store.notification_items(id, after, 1000)?;
        for item in page.items {
            let Some(layer) = item.body["layer"].as_str() else {
                continue;
            };
            let side = if item.body["side"] == "old" {
                &mut old
            } else {
                &mut new
            };
            side.push(layer.to_string());
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut seen = HashSet::new();
    Ok(new
        .into_iter()
        .chain(old)
        .filter(|l| seen.insert(l.clone()))
        .collect())
}
