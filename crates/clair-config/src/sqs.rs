//! `clair_rs.sqs`: Clair fed from an SQS queue and reporting to SNS topics (the `clair-sqs`
//! crate). Each key is the lower-cased name of the clair-sqs environment variable that
//! overrides it (`receiver_queue_url` ↔ `RECEIVER_QUEUE_URL`); the environment is applied by
//! `clair-sqs`, which also checks the values.

use serde::Serialize;

use crate::file::{File, Leaf};
use crate::{Error, Loaded};

/// The `clair_rs.sqs` section as written; absent keys are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SqsConfig {
    /// `receiver_queue_url`: the queue layer pushes arrive on.
    pub receiver_queue_url: Option<String>,
    /// `receiver_queue_region`: its region.
    pub receiver_queue_region: Option<String>,
    /// `receiver_topic_arn`: where each indexed layer's report is published.
    pub receiver_topic_arn: Option<String>,
    /// `receiver_topic_region`: its region.
    pub receiver_topic_region: Option<String>,
    /// `sender_topic_arn`: where Clair v2 notifications are published.
    pub sender_topic_arn: Option<String>,
    /// `sender_topic_region`: its region.
    pub sender_topic_region: Option<String>,
    /// `receiver_dead_letter_queue_url`: where poison messages are moved.
    pub receiver_dead_letter_queue_url: Option<String>,
    /// `receiver_max_receive_count`: receives before a failing message is poison.
    pub receiver_max_receive_count: Option<u64>,
    /// `receiver_wait_time_seconds`: long-poll wait (0 to 20).
    pub receiver_wait_time_seconds: Option<u64>,
    /// `receiver_visibility_timeout`: seconds a received message stays hidden (default: the
    /// queue's).
    pub receiver_visibility_timeout: Option<u64>,
    /// `sender_max_message_size`: largest body published as plain JSON.
    pub sender_max_message_size: Option<u64>,
    /// `sender_publish`: what the sender publishes per notification, `layers` (each affected
    /// layer's document, as clair-sqs) or `notification-pages`.
    pub sender_publish: Option<String>,
    /// `endpoint_url`: an SQS/SNS endpoint other than AWS's (a local server).
    pub endpoint_url: Option<String>,
}

impl Loaded {
    /// The `clair_rs.sqs` section (all `None` when absent).
    pub fn sqs_config(&self) -> Result<SqsConfig, Error> {
        self.build(|f| Ok(f.sqs_config()))
    }
}

impl File {
    /// See [`Loaded::sqs_config`].
    pub(crate) fn sqs_config(&mut self) -> SqsConfig {
        let s = &mut self.clair_rs.sqs;
        SqsConfig {
            receiver_queue_url: s.receiver_queue_url.used(),
            receiver_queue_region: s.receiver_queue_region.used(),
            receiver_topic_arn: s.receiver_topic_arn.used(),
            receiver_topic_region: s.receiver_topic_region.used(),
            sender_topic_arn: s.sender_topic_arn.used(),
            sender_topic_region: s.sender_topic_region.used(),
            receiver_dead_letter_queue_url: s.receiver_dead_letter_queue_url.used(),
            receiver_max_receive_count: s.receiver_max_receive_count.used(),
            receiver_wait_time_seconds: s.receiver_wait_time_seconds.used(),
            receiver_visibility_timeout: s.receiver_visibility_timeout.used(),
            sender_max_message_size: s.sender_max_message_size.used(),
            sender_publish: s.sender_publish.used(),
            endpoint_url: s.endpoint_url.used(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::parse_text;

    #[test]
    fn section_is_read() {
        let l = parse_text(
            "clair:\n  database: {}\nclair_rs:\n  sqs:\n    receiver_queue_url: https://q\n    receiver_max_receive_count: 3\n",
        );
        let c = l.sqs_config().unwrap();
        assert_eq!(c.receiver_queue_url.as_deref(), Some("https://q"));
        assert_eq!(c.receiver_max_receive_count, Some(3));
        assert_eq!(c.sender_topic_arn, None);
        assert_eq!(Loaded::empty().sqs_config().unwrap(), SqsConfig::default());
        let bad = parse_text("clair_rs:\n  sqs:\n    receiver_max_receive_count: many\n");
        assert!(bad.sqs_config().is_err());
    }
}
