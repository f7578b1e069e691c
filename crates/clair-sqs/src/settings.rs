//! What the pipeline runs with: the config file's `clair_rs.sqs` section, then clair-sqs's
//! environment variables over it (each the upper-cased name of its key; `endpoint_url`'s is the
//! SDK's own `AWS_ENDPOINT_URL`, read by the SDK).
//!
//! clair-sqs's names are kept, with its meanings: the *receiver* reads `RECEIVER_QUEUE_URL`
//! and, after indexing a layer, publishes the layer's report to `RECEIVER_TOPIC_ARN`; the
//! *sender* publishes Clair's notifications to `SENDER_TOPIC_ARN`. Both topics may be the same.

use clair_config::SqsConfig;

use crate::Error;
use crate::message::{DEFAULT_INLINE_LIMIT, SNS_MAX_MESSAGE};

/// Receives before a failing message is moved to the dead-letter queue.
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;

/// An SNS topic and the region its client talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// The topic ARN.
    pub arn: String,
    /// Its region (`*_TOPIC_REGION`, else the ARN's, else the SDK's default).
    pub region: Option<String>,
}

/// What the sender publishes for a Clair v2 notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SenderPublish {
    /// `layers`: for every layer the notification names (new side, then old), that layer's
    /// `GET /v1/layers/:name?features&vulnerabilities` document, as clair-sqs's sender did:
    /// the same documents as the receiver's reports, so both topics may be one.
    #[default]
    Layers,
    /// `notification-pages`: the notification itself, one message per `GET
    /// /v1/notifications/:name?limit=100` page (clair-rs before clair-sqs parity).
    NotificationPages,
}

impl std::str::FromStr for SenderPublish {
    type Err = Error;

    fn from_str(s: &str) -> Result<SenderPublish, Error> {
        match s.trim() {
            "layers" => Ok(SenderPublish::Layers),
            "notification-pages" => Ok(SenderPublish::NotificationPages),
            other => Err(Error::Settings(format!(
                "SENDER_PUBLISH: want layers or notification-pages, found {other:?}"
            ))),
        }
    }
}

/// The pipeline's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `RECEIVER_QUEUE_URL`: the queue of layer pushes; `None`: no receiver.
    pub queue_url: Option<String>,
    /// `RECEIVER_QUEUE_REGION` (else the URL's, else the SDK's default).
    pub queue_region: Option<String>,
    /// `RECEIVER_TOPIC_ARN`: each indexed layer's report (`GET
    /// /v1/layers/:name?features&vulnerabilities`) is published here.
    pub report_topic: Option<Topic>,
    /// `SENDER_TOPIC_ARN`: what Clair v2 notifications say is published here (see
    /// [`Settings::sender_publish`]); `None`: no sender.
    pub notification_topic: Option<Topic>,
    /// `SENDER_PUBLISH`: per notification, each affected layer's document (clair-sqs's
    /// sender, the default) or the notification's pages.
    pub sender_publish: SenderPublish,
    /// `RECEIVER_DEAD_LETTER_QUEUE_URL`: poison messages are sent here and deleted from the
    /// queue. `None`: they are left to the queue's own `RedrivePolicy`.
    pub dead_letter_queue_url: Option<String>,
    /// `RECEIVER_MAX_RECEIVE_COUNT`: a message still failing at this `ApproximateReceiveCount`
    /// is poison (default 5).
    pub max_receive_count: u32,
    /// `RECEIVER_WAIT_TIME_SECONDS`: long-poll wait, 0 to 20 (default 20).
    pub wait_time_seconds: i32,
    /// `RECEIVER_VISIBILITY_TIMEOUT`: seconds a received message stays hidden while its
    /// layers are indexed; `None`: the queue's setting.
    pub visibility_timeout: Option<i32>,
    /// `SENDER_MAX_MESSAGE_SIZE`: largest document published as plain JSON; larger ones go
    /// out as `application/base64gzip` (default 250 KiB, at most SNS's 256 KiB).
    pub max_message_size: usize,
    /// `endpoint_url` in the file (the environment's `AWS_ENDPOINT_URL` is read by the SDK):
    /// an SQS/SNS endpoint other than AWS's.
    pub endpoint_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            queue_url: None,
            queue_region: None,
            report_topic: None,
            notification_topic: None,
            sender_publish: SenderPublish::default(),
            dead_letter_queue_url: None,
            max_receive_count: DEFAULT_MAX_RECEIVE_COUNT,
            wait_time_seconds: 20,
            visibility_timeout: None,
            max_message_size: DEFAULT_INLINE_LIMIT,
            endpoint_url: None,
        }
    }
}

impl Settings {
    /// The file's section with the environment over it (`env` looks a variable up; empty
    /// values count as unset). `None` when neither a queue nor a notification topic is
    /// configured.
    pub fn resolve(
        file: &SqsConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Settings>, Error> {
        let string = |var: &str, from_file: &Option<String>| -> Option<String> {
            env(var)
                .or_else(|| from_file.clone())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let number = |var: &str, from_file: Option<u64>, max: u64| -> Result<Option<u64>, Error> {
            let n = match env(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
            {
                Some(v) => Some(v.parse::<u64>().map_err(|_| {
                    Error::Settings(format!("{var}: want a whole number, found {v:?}"))
                })?),
                None => from_file,
            };
            match n {
                Some(n) if n > max => Err(Error::Settings(format!(
                    "{var}: {n} is more than the {max} allowed"
                ))),
                n => Ok(n),
            }
        };
        let topic = |arn: Option<String>, region: Option<String>| {
            arn.map(|arn| Topic {
                region: region.or_else(|| arn_region(&arn)),
                arn,
            })
        };
        let queue_url = string("RECEIVER_QUEUE_URL", &file.receiver_queue_url);
        let report_topic = topic(
            string("RECEIVER_TOPIC_ARN", &file.receiver_topic_arn),
            string("RECEIVER_TOPIC_REGION", &file.receiver_topic_region),
        );
        let notification_topic = topic(
            string("SENDER_TOPIC_ARN", &file.sender_topic_arn),
            string("SENDER_TOPIC_REGION", &file.sender_topic_region),
        );
        if queue_url.is_none() && notification_topic.is_none() {
            if report_topic.is_some() {
                return Err(Error::Settings(
                    "RECEIVER_TOPIC_ARN is set but RECEIVER_QUEUE_URL is not: layer reports \
                     are published as queued layers are indexed"
                        .into(),
                ));
            }
            return Ok(None);
        }
        let defaults = Settings::default();
        let max_message_size = number(
            "SENDER_MAX_MESSAGE_SIZE",
            file.sender_max_message_size,
            SNS_MAX_MESSAGE as u64,
        )?
        .map_or(defaults.max_message_size, |n| {
            usize::try_from(n).unwrap_or(DEFAULT_INLINE_LIMIT)
        });
        let to_i32 = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Some(Settings {
            queue_region: string("RECEIVER_QUEUE_REGION", &file.receiver_queue_region)
                .or_else(|| queue_url.as_deref().and_then(queue_url_region)),
            queue_url,
            report_topic,
            notification_topic,
            sender_publish: string("SENDER_PUBLISH", &file.sender_publish)
                .map(|v| v.parse())
                .transpose()?
                .unwrap_or_default(),
            dead_letter_queue_url: string(
                "RECEIVER_DEAD_LETTER_QUEUE_URL",
                &file.receiver_dead_letter_queue_url,
            ),
            max_receive_count: number(
                "RECEIVER_MAX_RECEIVE_COUNT",
                file.receiver_max_receive_count,
                1000,
            )?
            .map_or(defaults.max_receive_count, |n| {
                u32::try_from(n.max(1)).unwrap_or(1000)
            }),
            wait_time_seconds: number(
                "RECEIVER_WAIT_TIME_SECONDS",
                file.receiver_wait_time_seconds,
                20,
            )?
            .map_or(defaults.wait_time_seconds, to_i32),
            visibility_timeout: number(
                "RECEIVER_VISIBILITY_TIMEOUT",
                file.receiver_visibility_timeout,
                43_200,
            )?
            .map(to_i32),
            max_message_size,
            endpoint_url: file.endpoint_url.clone().filter(|e| !e.trim().is_empty()),
        }))
    }
}

/// `arn:aws:sns:eu-central-1:123:topic` → `eu-central-1`.
fn arn_region(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(2))
        .flatten()
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// `https://sqs.eu-central-1.amazonaws.com/123/q` → `eu-central-1`.
fn queue_url_region(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let mut labels = host.split('.');
    (labels.next() == Some("sqs"))
        .then(|| labels.next())
        .flatten()
        .filter(|r| !r.is_empty() && *r != "amazonaws")
        .map(str::to_string)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn nothing_configured_is_none() {
        assert_eq!(
            Settings::resolve(&SqsConfig::default(), &env(&[])).unwrap(),
            None
        );
        assert!(
            Settings::resolve(
                &SqsConfig::default(),
                &env(&[("RECEIVER_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t")])
            )
            .is_err()
        );
    }

    #[test]
    fn environment_over_file_and_regions_derived() {
        let file = SqsConfig {
            receiver_queue_url: Some(
                "https://sqs.eu-central-1.amazonaws.com/1234567890/clair-layers".into(),
            ),
            receiver_max_receive_count: Some(3),
            sender_topic_arn: Some("arn:aws:sns:eu-west-1:1234567890:file".into()),
            ..SqsConfig::default()
        };
        let s = Settings::resolve(
            &file,
            &env(&[
                ("SENDER_TOPIC_ARN", "arn:aws:sns:us-east-2:1234567890:env"),
                (
                    "RECEIVER_TOPIC_ARN",
                    "arn:aws:sns:us-east-2:1234567890:reports",
                ),
                ("RECEIVER_TOPIC_REGION", "ap-south-1"),
                ("RECEIVER_WAIT_TIME_SECONDS", "5"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.queue_region.as_deref(), Some("eu-central-1"));
        assert_eq!(s.max_receive_count, 3);
        assert_eq!(s.wait_time_seconds, 5);
        let n = s.notification_topic.unwrap();
        assert_eq!(n.arn, "arn:aws:sns:us-east-2:1234567890:env");
        assert_eq!(n.region.as_deref(), Some("us-east-2"));
        assert_eq!(
            s.report_topic.unwrap().region.as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(s.max_message_size, DEFAULT_INLINE_LIMIT);
        assert_eq!(s.sender_publish, SenderPublish::Layers);
        let file = SqsConfig {
            sender_publish: Some("notification-pages".into()),
            ..file
        };
        let s = Settings::resolve(&file, &env(&[])).unwrap().unwrap();
        assert_eq!(s.sender_publish, SenderPublish::NotificationPages);
    }

    #[test]
    fn bad_numbers_are_refused() {
        let q = ("RECEIVER_QUEUE_URL", "http://127.0.0.1:1/q");
        for (var, v) in [
            ("RECEIVER_WAIT_TIME_SECONDS", "21"),
            ("RECEIVER_MAX_RECEIVE_COUNT", "many"),
            ("SENDER_MAX_MESSAGE_SIZE", "300000"),
            ("SENDER_PUBLISH", "pages"),
        ] {
            let e = Settings::resolve(&SqsConfig::default(), &env(&[q, (var, v)])).unwrap_err();
            assert!(e.to_string().contains(var), "{e}");
        }
    }
}
