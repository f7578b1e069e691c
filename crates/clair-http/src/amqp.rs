//! Notification delivery over AMQP 0-9-1 (RabbitMQ), Clair v4's `notifier.amqp`: publish to
//! an exchange with a routing key, either the callback (`{"notification_id","callback"}`) or,
//! with `direct`, the notifications themselves in messages of at most `rollup` each. A
//! notification counts as delivered once the broker confirms every message (publisher
//! confirms); otherwise it is retried after the delivery interval.

use std::time::Duration;

use clair_store::{Delivery, Store};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};

/// AMQP delivery settings.
#[derive(Debug, Clone)]
pub struct AmqpNotifier {
    /// Broker URI (`amqp://user:pass@host:5672/vhost`).
    pub uri: String,
    /// Exchange (empty: the default exchange, where the routing key names the queue).
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// Send the notifications themselves rather than the callback.
    pub direct: bool,
    /// With `direct`: notifications per message (0: all in one).
    pub rollup: usize,
    /// Callback base URL (the notification id is appended).
    pub callback: String,
    /// Wait before retrying a failed delivery.
    pub retry: Duration,
}

impl AmqpNotifier {
    /// Deliver every due Clair v4 notification, under the same store lock as the webhook
    /// sender. Returns how many were confirmed by the broker.
    pub fn deliver_due(&self, store: &dyn Store) -> clair_store::Result<usize> {
        let Some(_lock) = store.try_lock("notifier/deliver")? else {
            return Ok(0);
        };
        let due: Vec<_> = store
            .notifications_due(jiff::Timestamp::now(), 100)?
            .into_iter()
            .filter(|n| n.kind == clair_matcher::notify::KIND)
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        // The messages of each notification, built before connecting.
        let mut batches = Vec::with_capacity(due.len());
        for n in &due {
            let messages: Vec<Vec<u8>> = if self.direct {
                let mut items = Vec::new();
                let mut after = None;
                loop {
                    let page = store.notification_items(n.id, after, 1000)?;
                    items.extend(page.items.into_iter().map(|i| i.body));
                    match page.next {
                        Some(x) => after = Some(x),
                        None => break,
                    }
                }
                let size = if self.rollup == 0 {
                    items.len().max(1)
                } else {
                    self.rollup
                };
                items
                    .chunks(size)
                    .map(|c| serde_json::to_vec(c).unwrap_or_default())
                    .collect()
            } else {
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
                vec![
                    serde_json::json!({"notification_id": n.id, "callback": callback})
                        .to_string()
                        .into_bytes(),
                ]
            };
            batches.push((n.id, messages));
        }
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "AMQP: no runtime");
                return Ok(0);
            }
        };
        let results: Vec<(uuid::Uuid, Result<(), String>)> = rt.block_on(async {
            let conn = match tokio::time::timeout(
                Duration::from_secs(10),
                Connection::connect(&self.uri, ConnectionProperties::default()),
            )
            .await
            {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    let m = format!("AMQP connect: {e}");
                    return batches
                        .iter()
                        .map(|(id, _)| (*id, Err(m.clone())))
                        .collect();
                }
                Err(_) => {
                    return batches
                        .iter()
                        .map(|(id, _)| (*id, Err("AMQP connect: timed out".to_string())))
                        .collect();
                }
            };
            let mut out = Vec::new();
            let channel = match conn.create_channel().await {
                Ok(ch) => ch,
                Err(e) => {
                    let m = format!("AMQP channel: {e}");
                    return batches
                        .iter()
                        .map(|(id, _)| (*id, Err(m.clone())))
                        .collect();
                }
            };
            if let Err(e) = channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
            {
                let m = format!("AMQP confirms: {e}");
                return batches
                    .iter()
                    .map(|(id, _)| (*id, Err(m.clone())))
                    .collect();
            }
            for (id, messages) in &batches {
                let mut result = Ok(());
                for body in messages {
                    let props = BasicProperties::default()
                        .with_content_type("application/json".into())
                        .with_delivery_mode(2);
                    let confirm = match channel
                        .basic_publish(
                            &self.exchange,
                            &self.routing_key,
                            BasicPublishOptions::default(),
                            body,
                            props,
                        )
                        .await
                    {
                        Ok(c) => c.await,
                        Err(e) => Err(e),
                    };
                    match confirm {
                        Ok(c) if c.is_ack() => {}
                        Ok(_) => {
                            result = Err("AMQP: the broker refused the message".to_string());
                            break;
                        }
                        Err(e) => {
                            result = Err(format!("AMQP publish: {e}"));
                            break;
                        }
                    }
                }
                out.push((*id, result));
            }
            let _ = conn.close(200, "done").await;
            out
        });
        let mut delivered = 0;
        for (id, r) in results {
            let outcome = match r {
                Ok(()) => {
                    delivered += 1;
                    Delivery::Delivered
                }
                Err(error) => {
                    tracing::warn!(%id, %error, "AMQP delivery failed");
                    let retry_at = jiff::SignedDuration::try_from(self.retry)
                        .ok()
                        .and_then(|d| jiff::Timestamp::now().checked_add(d).ok())
                        .unwrap_or_else(jiff::Timestamp::now);
                    Delivery::Failed { error, retry_at }
                }
            };
            store.record_delivery(id, &outcome)?;
        }
        Ok(delivered)
    }
}
