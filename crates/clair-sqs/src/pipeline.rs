//! The receiver and the sender over the AWS SDK.
//!
//! At-least-once, as SQS is: a message is deleted only after every layer in it is indexed
//! and, with a report topic, its report published; a failure leaves it in the queue, where it
//! reappears after the visibility timeout (layers already indexed are not fetched again, their
//! reports are published again). A message that cannot be a layer push, or that still fails
//! on its `max_receive_count`-th receive, is poison: it is sent to the dead-letter queue with
//! the reason and deleted; without a dead-letter queue it is left to the queue's
//! `RedrivePolicy` (`maxReceiveCount`), which moves it the same way.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use clair_service::Service;

use crate::Error;
use crate::message::{self, CONTENT_TYPE_ATTRIBUTE, SNS_MAX_MESSAGE};
use crate::settings::Settings;

/// Longest error text attached to a dead-lettered message.
const MAX_REASON: usize = 1024;
/// Wait after a failed receive before polling again.
const RECEIVE_BACKOFF: Duration = Duration::from_secs(10);
/// SQS's default visibility timeout, assumed when the queue does not say.
const DEFAULT_VISIBILITY_TIMEOUT: i32 = 30;

/// The SDK's HTTPS client over rustls with ring (no aws-lc build), trusting the system's
/// roots. Plain `http://` endpoints work too.
pub fn https_client() -> aws_sdk_sqs::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Run the pipeline until `shutdown` completes: the SDK configured by the standard chain
/// (environment, profile, web identity, container and instance credentials; `AWS_REGION`,
/// `AWS_ENDPOINT_URL`), then [`Pipeline::run`]. Errors are logged, never returned: the loop
/// keeps going.
pub async fn run(
    state: impl Into<Service>,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) {
    let sdk = sdk_config(&settings).await;
    Pipeline::new(state, settings, &sdk).run(shutdown).await;
}

/// The SDK configured by the standard chain, with the settings' endpoint when set.
pub(crate) async fn sdk_config(settings: &Settings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(e) = &settings.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

/// The receiver and the sender, sharing the server's state.
#[derive(Debug, Clone)]
pub struct Pipeline {
    state: Service,
    settings: Arc<Settings>,
    sqs: aws_sdk_sqs::Client,
    reports: Option<aws_sdk_sns::Client>,
    /// The queue's own visibility timeout, asked once when the settings name none.
    queue_visibility: Arc<tokio::sync::OnceCell<i32>>,
}

/// What became of one received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every layer indexed (and reported): deleted from the queue.
    Done,
    /// Failed; left in the queue for another try.
    Retry,
    /// Poison: sent to the dead-letter queue and deleted.
    DeadLettered,
    /// Poison, but no dead-letter queue is configured: left to the queue's redrive policy.
    Left,
}

impl Pipeline {
    /// Clients for the queue and the topics from `sdk`, each in its configured region.
    pub fn new(state: impl Into<Service>, settings: Settings, sdk: &SdkConfig) -> Pipeline {
        let state = state.into();
        let sqs = {
            let mut b = aws_sdk_sqs::config::Builder::from(sdk);
            if let Some(r) = &settings.queue_region {
                b = b.region(Region::new(r.clone()));
            }
            aws_sdk_sqs::Client::from_conf(b.build())
        };
        let sns = |t: &Option<crate::Topic>| {
            t.as_ref().map(|t| {
                let mut b = aws_sdk_sns::config::Builder::from(sdk);
                if let Some(r) = &t.region {
                    b = b.region(Region::new(r.clone()));
                }
                aws_sdk_sns::Client::from_conf(b.build())
            })
        };
        Pipeline {
            reports: sns(&settings.report_topic),
            state,
            settings: Arc::new(settings),
            sqs,
            queue_visibility: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// Receive and handle messages until `shutdown` completes. A message being handled is
    /// finished (indexed, reported and deleted) first; a long poll in progress is abandoned.
    /// (Notifications go out through [`crate::SnsSender`], one of the notifier's senders.)
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tracing::info!(
            queue = self.settings.queue_url.as_deref().unwrap_or(""),
            report_topic = self
                .settings
                .report_topic
                .as_ref()
                .map_or("", |t| t.arn.as_str()),
            notification_topic = self
                .settings
                .notification_topic
                .as_ref()
                .map_or("", |t| t.arn.as_str()),
            "sqs pipeline starting"
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let receiver = {
            let p = self.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let Some(queue) = p.settings.queue_url.clone() else {
                    return;
                };
                loop {
                    // Only the poll is abandoned on shutdown, never a message in hand.
                    let polled = tokio::select! {
                        r = p.poll(&queue) => r,
                        _ = stop.wait_for(|v| *v) => return,
                    };
                    let result = match polled {
                        Ok(messages) => p.handle_all(&queue, &messages).await.map(|_| ()),
                        Err(e) => Err(e),
                    };
                    if *stop.borrow() {
                        return;
                    }
                    if let Err(e) = result {
                        tracing::error!(error = %e, "receiving layer pushes");
                        tokio::select! {
                            () = tokio::time::sleep(RECEIVE_BACKOFF) => {}
                            _ = stop.wait_for(|v| *v) => return,
                        }
                    }
                }
            })
        };
        shutdown.await;
        let _ = stop_tx.send(true);
        let _ = receiver.await;
        tracing::info!("sqs pipeline stopped");
    }

    /// One long poll of the queue, each message received handled. Returns their outcomes.
    pub async fn receive_once(&self) -> Result<Vec<Outcome>, Error> {
        let Some(queue) = self.settings.queue_url.as_deref() else {
            return Ok(Vec::new());
        };
        let messages = self.poll(queue).await?;
        self.handle_all(queue, &messages).await
    }

    /// One long poll: the messages received (at most one).
    async fn poll(&self, queue: &str) -> Result<Vec<Message>, Error> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(1)
            .wait_time_seconds(self.settings.wait_time_seconds)
            .set_visibility_timeout(self.settings.visibility_timeout)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| sqs_err("ReceiveMessage", queue, &e))?;
        Ok(out.messages.unwrap_or_default())
    }

    async fn handle_all(&self, queue: &str, messages: &[Message]) -> Result<Vec<Outcome>, Error> {
        let mut outcomes = Vec::new();
        for m in messages {
            outcomes.push(self.handle(queue, m).await?);
        }
        Ok(outcomes)
    }

    /// The visibility timeout received messages get: `RECEIVER_VISIBILITY_TIMEOUT`, else the
    /// queue's `VisibilityTimeout` (asked once).
    async fn visibility_timeout(&self, queue: &str) -> Result<i32, Error> {
        if let Some(t) = self.settings.visibility_timeout {
            return Ok(t);
        }
        let asked = self
            .queue_visibility
            .get_or_try_init(|| async {
                let out = self
                    .sqs
                    .get_queue_attributes()
                    .queue_url(queue)
                    .attribute_names(QueueAttributeName::VisibilityTimeout)
                    .send()
                    .await
                    .map_err(|e| sqs_err("GetQueueAttributes", queue, &e))?;
                Ok::<_, Error>(
                    out.attributes()
                        .and_then(|a| a.get(&QueueAttributeName::VisibilityTimeout))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT),
                )
            })
            .await?;
        Ok(*asked)
    }

    /// Keep a message hidden while it is being worked on: every half visibility timeout, its
    /// timeout is set again from now (`ChangeMessageVisibility`), so a layer that takes longer
    /// to index than the timeout is not handed to a second receiver. Never returns; dropped
    /// when the work is done.
    async fn heartbeat(&self, queue: &str, receipt: &str, message_id: &str) {
        let timeout = match self.visibility_timeout(queue).await {
            Ok(t) => t.max(1),
            Err(e) => {
                tracing::warn!(message_id, error = %e,
                    "visibility timeout unknown; the message is not kept hidden while indexed");
                return std::future::pending().await;
            }
        };
        let every = Duration::from_millis(u64::try_from(timeout).unwrap_or(1) * 500);
        loop {
            tokio::time::sleep(every).await;
            match self
                .sqs
                .change_message_visibility()
                .queue_url(queue)
                .receipt_handle(receipt)
                .visibility_timeout(timeout)
                .send()
                .await
            {
                Ok(_) => tracing::debug!(message_id, timeout, "message visibility extended"),
                Err(e) => {
                    let e = sqs_err("ChangeMessageVisibility", queue, &e);
                    tracing::warn!(message_id, error = %e, "could not extend the message's visibility");
                }
            }
        }
    }

    /// Index one message's layers; delete, leave or dead-letter it.
    async fn handle(&self, queue: &str, m: &Message) -> Result<Outcome, Error> {
        let id = m.message_id().unwrap_or("");
        let Some(receipt) = m.receipt_handle() else {
            tracing::warn!(message_id = id, "message without a receipt handle skipped");
            return Ok(Outcome::Retry);
        };
        let body = m.body().unwrap_or("");
        let receives: u32 = m
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let layers = match message::parse_push(body.as_bytes()) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(message_id = id, receives, error = %e, "message is not a layer push");
                return self
                    .poison(queue, m, receipt, receives, &e.to_string())
                    .await;
            }
        };
        let work = async {
            for layer in &layers {
                self.index_and_report(layer)
                    .await
                    .map_err(|e| (layer.name.clone(), e))?;
            }
            Ok::<(), (String, Error)>(())
        };
        let result = tokio::select! {
            r = work => r,
            () = self.heartbeat(queue, receipt, id) => Ok(()),
        };
        if let Err((layer, e)) = result {
            if receives >= self.settings.max_receive_count {
                tracing::warn!(message_id = id, receives, layer = %layer, error = %e,
                    "message failed on its last allowed receive");
                return self
                    .poison(queue, m, receipt, receives, &e.to_string())
                    .await;
            }
            tracing::warn!(message_id = id, receives, layer = %layer, error = %e,
                "layer push failed; left in the queue for another try");
            return Ok(Outcome::Retry);
        }
        self.delete(queue, receipt).await?;
        tracing::info!(
            message_id = id,
            layers = layers.len(),
            "layer push indexed and deleted"
        );
        Ok(Outcome::Done)
    }

    /// Index a layer with the v1 handler's code; publish its report when a topic is set.
    async fn index_and_report(&self, layer: &message::LayerPush) -> Result<(), Error> {
        let st = self.state.clone();
        let body = layer.body.clone();
        let layer_err = |name: &str, e: clair_service::v1::V1Error| Error::Layer {
            layer: name.to_string(),
            status: e.status(),
            message: e.message().to_string(),
        };
        // The server's one indexing limit; the message waits in its queue meanwhile.
        let permit = self.state.index_limit.acquire_waiting().await;
        clair_service::limit::run(permit, move || clair_service::v1::index_layer(&st, &body))
            .await
            .map_err(|e| Error::Worker(e.to_string()))?
            .map_err(|e| layer_err(&layer.name, e))?;
        tracing::info!(layer = %layer.name, "layer indexed");
        let (Some(client), Some(topic)) = (&self.reports, &self.settings.report_topic) else {
            return Ok(());
        };
        let st = self.state.clone();
        let name = layer.name.clone();
        let view = tokio::task::spawn_blocking(move || {
            clair_service::v1::layer_view(&st, &name, true, true)
        })
        .await
        .map_err(|e| Error::Worker(e.to_string()))?
        .map_err(|e| layer_err(&layer.name, e))?;
        let json = serde_json::json!({ "Layer": view }).to_string();
        let content_type =
            publish(client, &topic.arn, &json, self.settings.max_message_size).await?;
        tracing::info!(layer = %layer.name, topic = %topic.arn, content_type, "layer report published");
        Ok(())
    }

    async fn delete(&self, queue: &str, receipt: &str) -> Result<(), Error> {
        self.sqs
            .delete_message()
            .queue_url(queue)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sqs_err("DeleteMessage", queue, &e))?;
        Ok(())
    }

    /// Send a poison message to the dead-letter queue (its body unchanged, the reason and
    /// receive count as attributes), then delete it; without a dead-letter queue, leave it.
    async fn poison(
        &self,
        queue: &str,
        m: &Message,
        receipt: &str,
        receives: u32,
        reason: &str,
    ) -> Result<Outcome, Error> {
        let id = m.message_id().unwrap_or("");
        let Some(dlq) = self.settings.dead_letter_queue_url.as_deref() else {
            tracing::error!(
                message_id = id,
                receives,
                reason,
                "poison message left in the queue: no dead-letter queue configured (a \
                 RedrivePolicy on the queue moves it)"
            );
            return Ok(Outcome::Left);
        };
        let attr = |v: String| {
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| Error::Sqs {
                    operation: "SendMessage",
                    queue: dlq.to_string(),
                    message: e.to_string(),
                })
        };
        let mut reason = reason.to_string();
        if reason.len() > MAX_REASON {
            let mut cut = MAX_REASON;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        self.sqs
            .send_message()
            .queue_url(dlq)
            .message_body(m.body().unwrap_or(""))
            .message_attributes("CLAIR.ERROR", attr(reason)?)
            .message_attributes("CLAIR.RECEIVECOUNT", attr(receives.to_string())?)
            .message_attributes("CLAIR.SOURCEMESSAGEID", attr(id.to_string())?)
            .send()
            .await
            .map_err(|e| sqs_err("SendMessage", dlq, &e))?;
        self.delete(queue, receipt).await?;
        tracing::warn!(
            message_id = id,
            receives,
            dead_letter_queue = dlq,
            "poison message moved to the dead-letter queue"
        );
        Ok(Outcome::DeadLettered)
    }
}

/// Publish a JSON document to an SNS topic, as `application/base64gzip` above `inline_limit`
/// bytes (`CLAIR.CONTENTTYPE` says which); returns the content type used.
pub(crate) async fn publish(
    client: &aws_sdk_sns::Client,
    topic: &str,
    json: &str,
    inline_limit: usize,
) -> Result<&'static str, Error> {
    let enc = message::encode_body(json, inline_limit);
    if enc.body.len() > SNS_MAX_MESSAGE {
        return Err(Error::TooLarge {
            topic: topic.to_string(),
            len: enc.body.len(),
            max: SNS_MAX_MESSAGE,
        });
    }
    let attr = aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(enc.content_type)
        .build()
        .map_err(|e| Error::Sns {
            topic: topic.to_string(),
            message: e.to_string(),
        })?;
    client
        .publish()
        .topic_arn(topic)
        .message(enc.body)
        .message_attributes(CONTENT_TYPE_ATTRIBUTE, attr)
        .send()
        .await
        .map_err(|e| Error::Sns {
            topic: topic.to_string(),
            message: aws_sdk_sns::error::DisplayErrorContext(&e).to_string(),
        })?;
    Ok(enc.content_type)
}

fn sqs_err<E, R>(
    operation: &'static str,
    queue: &str,
    e: &aws_sdk_sqs::error::SdkError<E, R>,
) -> Error
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Error::Sqs {
        operation,
        queue: queue.to_string(),
        message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
    }
}
