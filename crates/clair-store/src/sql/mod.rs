//! The SQL both backends run, written once, and the mapping of their rows to the model.
//!
//! The schema is the same in both dialects, and so is most of what reads and writes it. The
//! statements here are spelt for PostgreSQL (`$1` parameters; no `$` appears anywhere else in
//! them); [`lite!`] respells them for SQLite (`?1`) at compile time. Row mapping goes through
//! [`Row`], which each driver's row implements. The notifier's role ([`notifier`]) and most of
//! the indexer's ([`indexer`]) and the matcher's ([`matcher`]) are written once over a
//! [`driver::Driver`] each backend implements. What the dialects do differently (PostgreSQL's `COPY`, `ANY($1)` and `unnest`,
//! SQLite's staged batches and `IN (?, …)` lists) stays in the backends.

pub(crate) mod driver;
pub(crate) mod indexer;
pub(crate) mod matcher;
mod notifier;

use uuid::Uuid;

use crate::codec::{decode, from_micros};
use crate::error::Error;
use crate::model::{
    Notification, NotificationItem, NotificationJob, NotificationPage, NotificationStatus, OpKind,
    StoredReport, UpdateDiff, UpdateOperation, V1Layer,
};

/// A statement's `$N` parameters respelt `?N`, byte for byte (the text is otherwise kept), for
/// SQLite: in its `$NAME` form, parameters are numbered in the order they first appear, so
/// `$2 … $1` would bind the wrong values.
pub(crate) const fn sqlite_params<const N: usize>(sql: &str) -> [u8; N] {
    let bytes = sql.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if bytes[i] == b'$' { b'?' } else { bytes[i] };
        i += 1;
    }
    out
}

/// A statement made at run time (a list of parameters appended) as SQLite spells it.
pub(crate) fn sqlite_spelling(sql: &str) -> String {
    sql.replace('$', "?")
}

/// A shared statement (a constant of this module) as SQLite spells it, made at compile time.
macro_rules! lite {
    ($sql:expr) => {{
        const BYTES: [u8; $sql.len()] = $crate::sql::sqlite_params($sql);
        #[allow(
            clippy::panic,
            reason = "evaluated at compile time: a build error, never a run-time one"
        )]
        const SQL: &str = match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("replacing ASCII with ASCII keeps UTF-8 valid"),
        };
        SQL
    }};
}
pub(crate) use lite;

// ---- indexer ------------------------------------------------------------------------------

pub(crate) const LAYER_GET: &str = "SELECT result FROM layer WHERE digest = $1";
pub(crate) const LAYER_PUT: &str = "INSERT INTO layer (digest, result, created) VALUES ($1, $2, $3)
     ON CONFLICT (digest) DO UPDATE SET result = excluded.result";
pub(crate) const MANIFEST_PUT: &str =
    "INSERT INTO manifest (digest, state, report, updated) VALUES ($1, $2, $3, $4)
     ON CONFLICT (digest) DO UPDATE SET state = excluded.state,
       report = excluded.report, updated = excluded.updated";
pub(crate) const MANIFEST_LAYERS_CLEAR: &str = "DELETE FROM manifest_layer WHERE manifest = $1";
pub(crate) const MANIFEST_LAYER_ADD: &str =
    "INSERT INTO manifest_layer (manifest, idx, layer) VALUES ($1, $2, $3)";
pub(crate) const MANIFEST_PACKAGES_CLEAR: &str = "DELETE FROM manifest_package WHERE manifest = $1";
pub(crate) const MANIFEST_GET: &str = "SELECT state, report FROM manifest WHERE digest = $1";
pub(crate) const MANIFEST_LAYERS: &str =
    "SELECT layer FROM manifest_layer WHERE manifest = $1 ORDER BY idx";
pub(crate) const MANIFEST_VERSION: &str = "SELECT state, updated FROM manifest WHERE digest = $1";
pub(crate) const MANIFEST_DELETE: &str = "DELETE FROM manifest WHERE digest = $1";
pub(crate) const MANIFESTS: &str = "SELECT digest FROM manifest ORDER BY digest";

pub(crate) const V1_LAYER_PUT: &str =
    "INSERT INTO v1_layer (name, digest, parent, path, format, created)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, parent = excluded.parent,
       path = excluded.path, format = excluded.format";
/// Columns [`v1_layer_from_row`] reads.
pub(crate) const V1_LAYER_GET: &str =
    "SELECT name, digest, parent, path, format FROM v1_layer WHERE name = $1";
pub(crate) const V1_LAYERS: &str =
    "SELECT name, digest, parent, path, format FROM v1_layer ORDER BY name";
pub(crate) const V1_LAYERS_UNINDEXED: &str =
    "SELECT name, digest, parent, path, format FROM v1_layer WHERE packages_indexed = FALSE
     ORDER BY name";
/// Clair v2 layers with a package in the name list a backend appends (`IN (…)`, `= ANY(…)`).
pub(crate) const V1_LAYERS_WITH_PACKAGE: &str =
    "SELECT name, digest, parent, path, format FROM v1_layer l WHERE EXISTS
       (SELECT 1 FROM v1_layer_package p WHERE p.layer = l.name AND p.name";
pub(crate) const V1_LAYER_DELETE: &str = "WITH RECURSIVE doomed(name) AS (
         SELECT name FROM v1_layer WHERE name = $1
         UNION SELECT l.name FROM v1_layer l JOIN doomed d ON l.parent = d.name)
     DELETE FROM v1_layer WHERE name IN (SELECT name FROM doomed)";
pub(crate) const V1_LAYER_PACKAGES_CLEAR: &str = "DELETE FROM v1_layer_package WHERE layer = $1";
pub(crate) const V1_LAYER_INDEXED: &str =
    "UPDATE v1_layer SET packages_indexed = TRUE WHERE name = $1";

// ---- matcher ------------------------------------------------------------------------------

pub(crate) const OP_INSERT: &str =
    "INSERT INTO update_operation (id, updater, kind, fingerprint, date)
     VALUES ($1, $2, $3, $4, $5) RETURNING seq";
/// Columns [`op_from_row`] reads.
pub(crate) const OPS_OF_KIND: &str =
    "SELECT id, updater, kind, fingerprint, date FROM update_operation
     WHERE kind = $1 AND (CAST($2 AS TEXT) IS NULL OR updater = $2) ORDER BY seq DESC";
pub(crate) const OP_BY_ID: &str =
    "SELECT seq, id, updater, kind, fingerprint, date FROM update_operation WHERE id = $1";
/// Enqueue the computation of a vulnerability operation's notifications (`$1` its seq, `$2`
/// its updater, `$3` now), against the updater's previous operation.
pub(crate) const NOTIFICATION_JOB_ADD: &str =
    "INSERT INTO notification_job (uo, prev, created) VALUES ($1,
       (SELECT id FROM update_operation WHERE kind = 'vulnerability' AND updater = $2
        AND seq < $1 ORDER BY seq DESC LIMIT 1), $3)";
pub(crate) const OP_VULNERABILITIES: &str =
    "SELECT v.data AS data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id
     JOIN update_operation o ON o.seq = uv.uo WHERE o.id = $1 ORDER BY v.id";
/// Every updater's latest vulnerabilities; a backend appends its namespace filter.
pub(crate) const LATEST_VULNERABILITIES: &str =
    "SELECT v.data AS data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id
     WHERE uv.uo IN (SELECT MAX(seq) FROM update_operation
                     WHERE kind = 'vulnerability' GROUP BY updater)";
/// Vulnerabilities of operation `$1` (a seq) that operation `$2` lacks.
pub(crate) const DIFF_SIDE: &str =
    "SELECT v.data AS data FROM vuln v JOIN uo_vuln uv ON uv.vuln = v.id WHERE uv.uo = $1
     AND NOT EXISTS (SELECT 1 FROM uo_vuln o WHERE o.uo = $2 AND o.vuln = v.id)
     ORDER BY v.id";
pub(crate) const GC_VULNERABILITIES: &str =
    "DELETE FROM vuln WHERE NOT EXISTS (SELECT 1 FROM uo_vuln WHERE uo_vuln.vuln = vuln.id)";
pub(crate) const GC_ENRICHMENTS: &str = "DELETE FROM enrichment WHERE NOT EXISTS
     (SELECT 1 FROM uo_enrich WHERE uo_enrich.enrichment = enrichment.id)";
pub(crate) const UPDATER_STATUS_PUT: &str =
    "INSERT INTO updater_status (updater, data) VALUES ($1, $2)
     ON CONFLICT (updater) DO UPDATE SET data = excluded.data";
pub(crate) const UPDATER_STATUS: &str = "SELECT data FROM updater_status ORDER BY updater";
/// The records of one enrichment operation (`$1`, a seq; or the [`LATEST_ENRICHMENT_OP`]
/// subquery) with a tag in the list a backend appends.
pub(crate) const ENRICHMENTS_TAGGED: &str = "SELECT DISTINCT e.id, e.tags, e.data FROM enrichment e
     JOIN uo_enrich ue ON ue.enrichment = e.id
     JOIN enrichment_tag t ON t.enrichment = e.id
     WHERE ue.uo = $1 AND t.tag";
pub(crate) const LATEST_ENRICHMENT_OP: &str =
    "SELECT MAX(seq) FROM update_operation WHERE kind = 'enrichment' AND updater = $1";

// ---- notifier -----------------------------------------------------------------------------

pub(crate) const NOTIFICATION_ADD: &str =
    "INSERT INTO notification (id, kind, body, created, status, attempts, next_attempt, updated)
     VALUES ($1, $2, $3, $4, 'created', 0, $4, $4)";
pub(crate) const NOTIFICATION_ITEM_ADD: &str =
    "INSERT INTO notification_item (notification, seq, body) VALUES ($1, $2, $3)";
/// Columns [`notification_from_row`] reads.
pub(crate) const NOTIFICATION_GET: &str = "SELECT * FROM notification WHERE id = $1";
pub(crate) const NOTIFICATION_ITEMS: &str =
    "SELECT seq, body FROM notification_item WHERE notification = $1 AND seq > $2
     ORDER BY seq LIMIT $3";
/// Notifications due at `$1`, at most `$2`, of the kinds a backend's `kind` filter names.
pub(crate) fn notifications_due(kind_filter: &str) -> String {
    format!(
        "SELECT * FROM notification WHERE kind {kind_filter}
         AND status IN ('created', 'failed', 'notified') AND next_attempt <= $1
         ORDER BY next_attempt, id LIMIT $2"
    )
}
pub(crate) const NOTIFICATION_JOBS: &str =
    "SELECT o.id, o.updater, o.kind, o.fingerprint, o.date, j.prev, j.created
     FROM notification_job j JOIN update_operation o ON o.seq = j.uo
     ORDER BY j.uo LIMIT $1";
pub(crate) const NOTIFICATION_JOB_DONE: &str =
    "DELETE FROM notification_job WHERE uo = (SELECT seq FROM update_operation WHERE id = $1)";
/// `$1` the notification, `$2` now.
pub(crate) const DELIVERED: &str =
    "UPDATE notification SET status = 'delivered', attempts = attempts + 1,
     last_error = NULL, notified = $2, updated = $2 WHERE id = $1 AND status != 'deleted'";
/// `$1` the notification, `$2` when to deliver again, `$3` now.
pub(crate) const NOTIFIED: &str =
    "UPDATE notification SET status = 'notified', attempts = attempts + 1,
     last_error = NULL, next_attempt = $2, notified = $3, updated = $3
     WHERE id = $1 AND status != 'deleted'";
/// `$1` the notification, `$2` the error, `$3` when to retry, `$4` now.
pub(crate) const FAILED: &str =
    "UPDATE notification SET status = 'failed', attempts = attempts + 1,
     last_error = $2, next_attempt = $3, updated = $4 WHERE id = $1 AND status != 'deleted'";
pub(crate) const ACKNOWLEDGE: &str =
    "UPDATE notification SET status = 'deleted', deleted = $2, updated = $2 WHERE id = $1";
pub(crate) const NOTIFICATIONS_GC: &str =
    "DELETE FROM notification WHERE status = 'deleted' AND updated < $1";
pub(crate) const CURSOR_GET: &str = "SELECT operation FROM notifier_cursor WHERE updater = $1";
pub(crate) const CURSOR_START: &str =
    "INSERT INTO notifier_cursor (updater, operation, updated) VALUES ($1, $2, $3)
     ON CONFLICT (updater) DO NOTHING";
pub(crate) const CURSOR_MOVE: &str = "UPDATE notifier_cursor SET operation = $2, updated = $3
     WHERE updater = $1 AND operation = $4";

// ---- rows ---------------------------------------------------------------------------------

/// One result row, by column name, as each driver reads it.
pub(crate) trait Row {
    /// The driver's error.
    type Error;
    fn text(&self, column: &str) -> Result<String, Self::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, Self::Error>;
    fn int(&self, column: &str) -> Result<i64, Self::Error>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, Self::Error>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, Self::Error>;
    /// A 32-bit integer column (`INTEGER` in PostgreSQL).
    fn int32(&self, column: &str) -> Result<i32, Self::Error>;
    /// A value the row holds that does not decode (a malformed id or document).
    fn invalid(error: Error) -> Self::Error;
}

pub(crate) fn parse_uuid<R: Row>(what: &str, s: &str) -> Result<Uuid, R::Error> {
    Uuid::parse_str(s).map_err(|e| {
        R::invalid(Error::Decode {
            what: what.to_string(),
            message: e.to_string(),
        })
    })
}

/// An update operation from its columns (`id, updater, kind, fingerprint, date`).
pub(crate) fn op_from_row<R: Row>(r: &R) -> Result<UpdateOperation, R::Error> {
    Ok(UpdateOperation {
        id: parse_uuid::<R>("update operation id", &r.text("id")?)?,
        updater: r.text("updater")?,
        kind: OpKind::parse(&r.text("kind")?),
        fingerprint: r.text("fingerprint")?,
        date: from_micros(r.int("date")?),
    })
}

/// A notification from every column of its table.
pub(crate) fn notification_from_row<R: Row>(r: &R) -> Result<Notification, R::Error> {
    Ok(Notification {
        id: parse_uuid::<R>("notification id", &r.text("id")?)?,
        kind: r.text("kind")?,
        body: json("notification", &r.text("body")?).map_err(R::invalid)?,
        created: from_micros(r.int("created")?),
        status: NotificationStatus::parse(&r.text("status")?),
        attempts: u32::try_from(r.int32("attempts")?).unwrap_or(0),
        next_attempt: from_micros(r.int("next_attempt")?),
        last_error: r.opt_text("last_error")?,
        notified: r.opt_int("notified")?.map(from_micros),
        deleted: r.opt_int("deleted")?.map(from_micros),
    })
}

/// A manifest's stored report from its row (state, compressed report) and its layers' rows.
pub(crate) fn stored_report(
    manifest: &clair_types::Digest,
    state: String,
    report: &[u8],
    layers: Vec<String>,
) -> Result<StoredReport, Error> {
    let report = decode(&format!("index report {manifest}"), report)?;
    let layers = layers
        .iter()
        .map(|l| {
            l.parse()
                .map_err(|e: clair_types::DigestError| Error::Decode {
                    what: format!("layers of {manifest}"),
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, Error>>()?;
    Ok(StoredReport {
        report,
        layers,
        state,
    })
}

/// A layer's stored results, decoded.
pub(crate) fn layer_result(
    layer: &clair_types::Digest,
    blob: Option<Vec<u8>>,
) -> Result<Option<clair_indexer::LayerResult>, Error> {
    blob.map(|b| decode(&format!("layer {layer}"), &b))
        .transpose()
}

/// A new update operation of `updater`, dated now.
pub(crate) fn new_operation(updater: &str, fingerprint: &str, kind: OpKind) -> UpdateOperation {
    UpdateOperation {
        id: Uuid::new_v4(),
        updater: updater.to_string(),
        kind,
        fingerprint: fingerprint.to_string(),
        date: jiff::Timestamp::now(),
    }
}

/// The error a feed's failed item ends its update with.
pub(crate) fn aborted(updater: &str, e: &crate::FeedError) -> Error {
    Error::Aborted {
        updater: updater.to_string(),
        message: e.to_string(),
    }
}

/// A vulnerability as stored: the hash that identifies it and its JSON document.
pub(crate) fn vulnerability_row(
    updater: &str,
    v: &clair_types::Vulnerability,
) -> Result<(String, String), Error> {
    let data = serde_json::to_string(v).map_err(|e| Error::Decode {
        what: format!("vulnerability {} of {updater}", v.name),
        message: e.to_string(),
    })?;
    Ok((v.fingerprint().hex().to_string(), data))
}

/// An enrichment record as stored: the hash that identifies it, its tags and its data (JSON).
pub(crate) fn enrichment_row(
    updater: &str,
    r: &crate::model::EnrichmentRecord,
) -> Result<(String, String, String), Error> {
    let encode = |e: serde_json::Error| Error::Decode {
        what: format!("enrichment record of {updater}"),
        message: e.to_string(),
    };
    let tags = serde_json::to_string(&r.tags).map_err(encode)?;
    let data = serde_json::to_string(&r.data).map_err(encode)?;
    let hash = clair_types::Digest::sha256_of(format!("{updater}\n{tags}\n{data}").as_bytes());
    Ok((hash.hex().to_string(), tags, data))
}

/// What changed between two update operations (see `MatcherStore::update_diff`), given how to
/// read an operation by id with its seq (`None`: no such operation) and the vulnerabilities of
/// the operation of seq `a` that the one of seq `b` lacks ([`DIFF_SIDE`]).
pub(crate) fn update_diff<E: From<Error>>(
    prev: Option<Uuid>,
    cur: Uuid,
    mut op: impl FnMut(Uuid) -> Result<Option<(UpdateOperation, i64)>, E>,
    mut side: impl FnMut(i64, i64) -> Result<Vec<clair_types::Vulnerability>, E>,
) -> Result<UpdateDiff, E> {
    let mut get = |id: Uuid| {
        op(id)?.ok_or_else(|| E::from(Error::NotFound(format!("update operation {id}"))))
    };
    let (cur_op, cur_seq) = get(cur)?;
    let prev_op = prev.map(&mut get).transpose()?;
    let prev_seq = prev_op.as_ref().map_or(-1, |p| p.1);
    let added = side(cur_seq, prev_seq)?;
    let removed = if prev_op.is_some() {
        side(prev_seq, cur_seq)?
    } else {
        Vec::new()
    };
    Ok(UpdateDiff {
        prev: prev_op.map(|p| p.0),
        cur: cur_op,
        added,
        removed,
    })
}

/// A notification job from its operation's columns and its own (`prev, created`).
pub(crate) fn notification_job_from_row<R: Row>(r: &R) -> Result<NotificationJob, R::Error> {
    Ok(NotificationJob {
        op: op_from_row(r)?,
        prev: r
            .opt_text("prev")?
            .map(|p| parse_uuid::<R>("notification job's previous operation", &p))
            .transpose()?,
        created: from_micros(r.int("created")?),
    })
}

/// A page of notification items from the (seq, body) rows [`NOTIFICATION_ITEMS`] selected
/// with a limit of `limit + 1`: the extra row says there is a next page.
pub(crate) fn notification_page(
    rows: Vec<(i64, String)>,
    limit: usize,
) -> Result<NotificationPage, Error> {
    let more = rows.len() > limit;
    let items = rows
        .into_iter()
        .take(limit)
        .map(|(seq, body)| {
            Ok(NotificationItem {
                seq,
                body: json("notification item", &body)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let next = if more {
        items.last().map(|i| i.seq)
    } else {
        None
    };
    Ok(NotificationPage { items, next })
}

/// The operation a notifier cursor names.
pub(crate) fn cursor(updater: &str, operation: Option<String>) -> Result<Option<Uuid>, Error> {
    operation
        .map(|o| {
            Uuid::parse_str(&o).map_err(|e| Error::Decode {
                what: format!("notifier cursor of {updater}"),
                message: e.to_string(),
            })
        })
        .transpose()
}

/// Enrichment records from the (id, tags, data) rows of [`ENRICHMENTS_TAGGED`], each record
/// once however many of its tags matched.
#[derive(Default)]
pub(crate) struct Enrichments {
    seen: std::collections::HashSet<i64>,
    pub(crate) records: Vec<crate::model::EnrichmentRecord>,
}

impl Enrichments {
    pub(crate) fn add(&mut self, id: i64, tags: &str, data: &str) -> Result<(), Error> {
        if self.seen.insert(id) {
            self.records.push(crate::model::EnrichmentRecord {
                tags: json("enrichment tags", tags)?,
                data: json("enrichment", data)?,
            });
        }
        Ok(())
    }
}

/// A JSON document stored as text.
pub(crate) fn json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, Error> {
    serde_json::from_str(s).map_err(|e| Error::Decode {
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// A Clair v2 layer from its columns (`name, digest, parent, path, format`).
pub(crate) fn v1_layer_from_row<R: Row>(r: &R) -> Result<V1Layer, R::Error> {
    let name = r.text("name")?;
    Ok(V1Layer {
        digest: r
            .text("digest")?
            .parse()
            .map_err(|e: clair_types::DigestError| {
                R::invalid(Error::Decode {
                    what: format!("v1 layer {name}"),
                    message: e.to_string(),
                })
            })?,
        name,
        parent: r.opt_text("parent")?,
        path: r.text("path")?,
        format: r.text("format")?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_spelling_changes_only_the_parameter_sign() {
        let sql = super::lite!(super::FAILED);
        assert_eq!(sql, super::FAILED.replace('$', "?"));
        assert!(sql.contains("last_error = ?2, next_attempt = ?3, updated = ?4 WHERE id = ?1"));
    }
}
