//! Update operations: what an updater run stored, as the matcher, the notifier and the
//! store see it (Clair v4's `UpdateOperation`, `UpdateDiff` and enrichment records).

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Vulnerability;

/// Kind of update operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// A vulnerability feed run.
    Vulnerability,
    /// An enrichment feed run (CVSS, EPSS, KEV).
    Enrichment,
}

impl OpKind {
    /// Clair's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Vulnerability => "vulnerability",
            OpKind::Enrichment => "enrichment",
        }
    }

    /// Read a stored kind: `enrichment`, anything else a vulnerability operation.
    pub fn parse(s: &str) -> OpKind {
        if s == "enrichment" {
            OpKind::Enrichment
        } else {
            OpKind::Vulnerability
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One updater run, as stored (Clair v4 `UpdateOperation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOperation {
    /// Reference (Clair's `ref`).
    pub id: Uuid,
    /// Updater name.
    pub updater: String,
    /// Kind.
    pub kind: OpKind,
    /// The updater's marker of what it fetched.
    pub fingerprint: String,
    /// When it was stored.
    pub date: jiff::Timestamp,
}

/// Differences between two update operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateDiff {
    /// The older operation, if any.
    pub prev: Option<UpdateOperation>,
    /// The newer operation.
    pub cur: UpdateOperation,
    /// Records in `cur` and not in `prev` (a changed record is removed and added).
    pub added: Vec<Vulnerability>,
    /// Records in `prev` and not in `cur`.
    pub removed: Vec<Vulnerability>,
}

/// An updater's last run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdaterStatus {
    /// Updater name.
    pub updater: String,
    /// When it last ran.
    pub last_attempt: Option<jiff::Timestamp>,
    /// When it last succeeded.
    pub last_success: Option<jiff::Timestamp>,
    /// The error of the last run, if it failed.
    pub last_error: Option<String>,
    /// Records stored by the last successful run.
    pub records: u64,
    /// Duration of the last run, milliseconds.
    pub duration_ms: u64,
    /// Fingerprint of the last successful fetch (an ETag, Last-Modified or hash).
    #[serde(default)]
    pub fingerprint: String,
    /// The updater's record version (`Updater::version`) that stored the latest operation;
    /// statuses written before versions existed read as 1.
    #[serde(default = "first_version")]
    pub updater_version: u32,
}

fn first_version() -> u32 {
    1
}

/// One enrichment record: data about the vulnerabilities named by its tags (CVE ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichmentRecord {
    /// Keys it applies to (CVE ids).
    pub tags: Vec<String>,
    /// The enrichment (e.g. CVSS JSON).
    pub data: serde_json::Value,
}

/// An error from a feed being stored (a parse error halfway through a download).
pub type FeedError = Box<dyn std::error::Error + Send + Sync>;
