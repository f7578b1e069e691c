//! Notification delivery over AMQP 0-9-1 (RabbitMQ), Clair v4's `notifier.amqp`: publish to
//! an exchange with a routing key, either the callback (`{"notification_id","callback"}`) or,
//! with `direct`, the notification's items themselves in messages of at most `rollup` each. A
//! notification counts as delivered once the broker confirms every message (publisher
//! confirms); otherwise it is retried after the delivery interval.

use std::time::Duration;

use clair_store::{Delivery, Notification, Store};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};

use super::{Sender, retry_at};

/// Most items read for one `direct` notification (a bound on memory).
const MAX_DIRECT_ITEMS: usize = 1_000_000;

/// AMQP delivery settings.
#[derive(Debug, Clone)]
pub struct Amqp {
    /// Broker URI (`amqp://user:pass@host:5672/vhost`).
    pub uri: String,
    /// Exchange (empty: the default exchange, where the routing key names the queue).
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// Send the notifications themselves rather than the callback.
    pub direct: bool,
    /// With `direct`: items per message (0: all in one).
    pub rollup: usize,
    /// Callback base URL (the notification id is appended).
    pub callback: String,
    /// Wait before retrying a failed delivery.
    pub retry: Duration,
}

impl Amqp {
    /// The messages one notification goes out as.
    fn messages(&self, store: &dyn Store, n: &Notification) -> Result<Vec<Vec<u8>>, String> {
        if !self.direct {
            let callback = super::webhook::callback_url(&self.callback, n.id);
            return Ok(vec![
                serde_json::json!({"notification_id": n.id, "callback": callback})
                    .to_string()
                    .into_bytes(),
            ]);
        }
        let mut items = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .notification_items(n.id, after, 1000)
                .map_err(|e| e.to_string())?;
            items.extend(page.items.into_iter().map(|i| i.body));
            match page.next {
                Some(x) if items.len() < MAX_DIRECT_ITEMS => after = Some(x),
                _ => break,
            }
        }
        let size = if self.rollup == 0 {
            items.len().max(1)
        } else {
            self.rollup
        };
        items
            .chunks(size)
            .map(|c| serde_json::to_vec(c).map_err(|e| e.to_string()))
            .collect()
    }

    /// Connect, publish every message with confirms, close.
    async fn publish(&self, messages: &[Vec<u8>]) -> Result<(), String> {
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            Connection::connect(&self.uri, ConnectionProperties::default()),
        )
        .await
        .map_err(|_| "AMQP connect: timed out".to_string())?
        .map_err(|e| format!("AMQP connect: {e}"))?;
        let result = async {
            let channel = conn
                .create_channel()
                .await
                .map_err(|e| format!("AMQP channel: {e}"))?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| format!("AMQP confirms: {e}"))?;
            for body in messages {
                let props = BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_delivery_mode(2);
                let confirm = channel
                    .basic_publish(
                        &self.exchange,
                        &self.routing_key,
                        BasicPublishOptions::default(),
                        body,
                        props,
                    )
                    .await
                    .map_err(|e| format!("AMQP publish: {e}"))?
                    .await
                    .map_err(|e| format!("AMQP publish: {e}"))?;
                if !confirm.is_ack() {
                    return Err("AMQP: the broker refused the message".to_string());
                }
            }
            Ok(())
        }
        .await;
        let _ = conn.close(200, "done").await;
        result
    }
}

impl Sender for Amqp {
    fn name(&self) -> &'static str {
        "amqp"
    }

    fn kind(&self) -> &'static str {
        super::V4
    }

    fn send(&self, store: &dyn Store, n: &Notification) -> Delivery {
        let sent = self.messages(store, n).and_then(|messages| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("AMQP: no runtime: {e}"))?
                .block_on(self.publish(&messages))
        });
        match sent {
            Ok(()) => Delivery::Delivered,
            Err(error) => Delivery::Failed {
                error: format!("{}: {error}", clair_config::redact_source(&self.uri)),
                retry_at: retry_at(self.retry),
            },
        }
    }
}
