//! Clair fed from a queue, as the clair-sqs sidecars did for Clair v2: layer pushes arrive on
//! an SQS queue, each indexed layer's report and each Clair v2 notification leave on SNS
//! topics.
//!
//! - [`message`]: the formats, pure: a queue message body is Clair v2's `POST /v1/layers`
//!   JSON, a list of them parent first, or either inside an SNS envelope; an SNS message is
//!   JSON or, above the size limit, `application/base64gzip`, named by the `CLAIR.CONTENTTYPE`
//!   attribute.
//! - [`Settings`]: clair-sqs's environment variables over the config file's `clair_rs.sqs`.
//! - [`Pipeline`]: the receiver (long polls, indexes with the v1 handler's own code, keeps the
//!   message hidden while it works, deletes it only once every layer in it is indexed and
//!   reported, moves poison messages to a dead-letter queue).
//! - [`SnsSender`]: the notification sender, one of the notifier's senders
//!   (`clair_service::notify`): for each Clair v2 notification, the document of every layer it
//!   names (or its pages), then the notification acknowledged.
//!
//! ```no_run
//! # async fn f(state: clair_service::Service) -> Result<(), clair_sqs::Error> {
//! let file = clair_config::SqsConfig::default();
//! if let Some(settings) = clair_sqs::Settings::resolve(&file, &|k| std::env::var(k).ok())? {
//!     clair_sqs::run(state, settings, std::future::pending()).await;
//! }
//! # Ok(()) }
//! ```
//!
//! The AWS parts are behind the default `aws` feature; without it only [`message`] is built
//! (the fuzz targets use it so).
#![forbid(unsafe_code)]

pub mod message;

#[cfg(feature = "aws")]
mod pipeline;
#[cfg(feature = "aws")]
mod sender;
#[cfg(feature = "aws")]
mod settings;

#[cfg(feature = "aws")]
pub use pipeline::{Outcome, Pipeline, https_client, run};
#[cfg(feature = "aws")]
pub use sender::SnsSender;
#[cfg(feature = "aws")]
pub use settings::{SenderPublish, Settings, Topic};

/// Everything that goes wrong in the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A queue message that can never be a layer push.
    #[error(transparent)]
    Message(#[from] message::ParseError),
    /// A setting is invalid.
    #[error("sqs settings: {0}")]
    Settings(String),
    /// An SQS call failed.
    #[error("sqs {operation} {queue}: {message}")]
    Sqs {
        /// The API operation.
        operation: &'static str,
        /// The queue URL.
        queue: String,
        /// The SDK's error, with its context.
        message: String,
    },
    /// An SNS publish failed.
    #[error("sns publish to {topic}: {message}")]
    Sns {
        /// The topic ARN.
        topic: String,
        /// The SDK's error, with its context.
        message: String,
    },
    /// A document is too large for SNS even gzipped.
    #[error("sns publish to {topic}: message of {len} bytes, more than SNS's {max}")]
    TooLarge {
        /// The topic ARN.
        topic: String,
        /// The encoded size.
        len: usize,
        /// SNS's limit.
        max: usize,
    },
    /// The v1 API refused or failed a layer (its status and Clair's message).
    #[error("layer {layer}: {status} {message}")]
    Layer {
        /// The layer name.
        layer: String,
        /// The HTTP status the API would answer.
        status: u16,
        /// Clair's message.
        message: String,
    },
    /// Reading a notification failed.
    #[error("notification {id}: {message}")]
    Notification {
        /// The notification id.
        id: String,
        /// What failed.
        message: String,
    },
    /// The store failed.
    #[cfg(feature = "aws")]
    #[error(transparent)]
    Store(#[from] clair_store::Error),

    /// A blocking task died.
    #[error("worker: {0}")]
    Worker(String),
}
