//! The notifier's role on SQLite: notifications and their delivery, notification jobs, the
//! notifier's cursor.

use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::{SqliteStore, decode_json, op_from_row, parse_uuid};
use crate::NotifierStore;
use crate::codec::{from_micros, micros};
use crate::error::{Error, Result};
use crate::model::*;

fn notification_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Notification, String)> {
    let id: String = r.get("id")?;
    let body: String = r.get("body")?;
    let status: String = r.get("status")?;
    let attempts: i64 = r.get("attempts")?;
    Ok((
        Notification {
            id: parse_uuid(&id)?,
            kind: r.get("kind")?,
            body: serde_json::Value::Null,
            created: from_micros(r.get("created")?),
            status: NotificationStatus::parse(&status),
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            next_attempt: from_micros(r.get("next_attempt")?),
            last_error: r.get("last_error")?,
            notified: r.get::<_, Option<i64>>("notified")?.map(from_micros),
            deleted: r.get::<_, Option<i64>>("deleted")?.map(from_micros),
        },
        body,
    ))
}

impl NotifierStore for SqliteStore {
    fn create_notification(
        &self,
        kind: &str,
        body: &serde_json::Value,
        items: &[serde_json::Value],
    ) -> Result<Uuid> {
        self.write(|tx| insert_notification(tx, kind, body, items))
    }

    fn notification(&self, id: Uuid) -> Result<Option<Notification>> {
        let row = self.read(|c| {
            c.query_row(
                "SELECT * FROM notification WHERE id = ?1",
                [id.to_string()],
                notification_from_row,
            )
            .optional()
            .map_err(self.err())
        })?;
        row.map(|(mut n, body)| {
            n.body = decode_json("notification", &body)?;
            Ok(n)
        })
        .transpose()
    }

    fn notification_items(
        &self,
        id: Uuid,
        after: Option<i64>,
        limit: usize,
    ) -> Result<NotificationPage> {
        let limit = limit.max(1);
        let rows: Vec<(i64, String)> = self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT seq, body FROM notification_item WHERE notification = ?1 AND seq > ?2
                     ORDER BY seq LIMIT ?3",
                )
                .map_err(self.err())?;
            st.query_map(
                params![id.to_string(), after.unwrap_or(-1), (limit + 1) as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())
        })?;
        let more = rows.len() > limit;
        let items = rows
            .into_iter()
            .take(limit)
            .map(|(seq, b)| {
                Ok(NotificationItem {
                    seq,
                    body: decode_json("notification item", &b)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let next = if more {
            items.last().map(|i| i.seq)
        } else {
            None
        };
        Ok(NotificationPage { items, next })
    }

    fn notifications_due(
        &self,
        kinds: &[&str],
        now: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<Notification>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let marks = (3..3 + kinds.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let rows = self.read(|c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT * FROM notification WHERE kind IN ({marks})
                     AND status IN ('created', 'failed', 'notified') AND next_attempt <= ?1
                     ORDER BY next_attempt, id LIMIT ?2"
                ))
                .map_err(self.err())?;
            let mut p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(kinds.len() + 2);
            let (now, limit) = (micros(now), i64::try_from(limit).unwrap_or(i64::MAX));
            p.push(&now);
            p.push(&limit);
            p.extend(kinds.iter().map(|k| k as &dyn rusqlite::ToSql));
            st.query_map(p.as_slice(), notification_from_row)
                .map_err(self.err())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.err())
        })?;
        rows.into_iter()
            .map(|(mut n, body)| {
                n.body = decode_json("notification", &body)?;
                Ok(n)
            })
            .collect()
    }

    fn notification_jobs(&self, limit: usize) -> Result<Vec<NotificationJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(UpdateOperation, Option<String>, i64)> = self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT o.id, o.updater, o.kind, o.fingerprint, o.date, j.prev, j.created
                     FROM notification_job j JOIN update_operation o ON o.seq = j.uo
                     ORDER BY j.uo LIMIT ?1",
                )
                .map_err(self.err())?;
            st.query_map([limit], |r| {
                Ok((op_from_row(r)?, r.get("prev")?, r.get("created")?))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())
        })?;
        rows.into_iter()
            .map(|(op, prev, created)| {
                Ok(NotificationJob {
                    prev: prev
                        .map(|p| parse_uuid(&p))
                        .transpose()
                        .map_err(self.err())?,
                    op,
                    created: from_micros(created),
                })
            })
            .collect()
    }

    fn complete_notification_job(
        &self,
        op: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM notification_job WHERE uo = (SELECT seq FROM update_operation WHERE id = ?1)",
                [op.to_string()],
            )?;
            insert_claimed(tx, n, notifications)
        })
    }

    fn record_delivery(&self, id: Uuid, outcome: &Delivery) -> Result<()> {
        let now = micros(jiff::Timestamp::now());
        let n = self.write(|tx| match outcome {
            Delivery::Delivered => tx.execute(
                "UPDATE notification SET status = 'delivered', attempts = attempts + 1, last_error = NULL,
                 notified = ?2, updated = ?2 WHERE id = ?1 AND status != 'deleted'",
                params![id.to_string(), now],
            ),
            Delivery::Notified { again_at } => tx.execute(
                "UPDATE notification SET status = 'notified', attempts = attempts + 1, last_error = NULL,
                 next_attempt = ?2, notified = ?3, updated = ?3 WHERE id = ?1 AND status != 'deleted'",
                params![id.to_string(), micros(*again_at), now],
            ),
            Delivery::Failed { error, retry_at } => tx.execute(
                "UPDATE notification SET status = 'failed', attempts = attempts + 1, last_error = ?2,
                 next_attempt = ?3, updated = ?4 WHERE id = ?1 AND status != 'deleted'",
                params![id.to_string(), error, micros(*retry_at), now],
            ),
        })?;
        if n == 0 && self.notification(id)?.is_none() {
            return Err(Error::NotFound(format!("notification {id}")));
        }
        Ok(())
    }

    fn acknowledge_notification(&self, id: Uuid) -> Result<bool> {
        let now = micros(jiff::Timestamp::now());
        let n = self.write(|tx| {
            tx.execute(
                "UPDATE notification SET status = 'deleted', deleted = ?2, updated = ?2 WHERE id = ?1",
                params![id.to_string(), now],
            )
        })?;
        Ok(n > 0)
    }

    fn gc_notifications(&self, older_than: jiff::Timestamp) -> Result<usize> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM notification WHERE status = 'deleted' AND updated < ?1",
                [micros(older_than)],
            )
        })
    }

    fn notified_operation(&self, updater: &str) -> Result<Option<Uuid>> {
        let op: Option<String> = self.read(|c| {
            c.query_row(
                "SELECT operation FROM notifier_cursor WHERE updater = ?1",
                [updater],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
        })?;
        op.map(|o| {
            Uuid::parse_str(&o).map_err(|e| Error::Decode {
                what: format!("notifier cursor of {updater}"),
                message: e.to_string(),
            })
        })
        .transpose()
    }

    fn advance_notifier_cursor(
        &self,
        updater: &str,
        from: Option<Uuid>,
        to: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        let now = micros(jiff::Timestamp::now());
        self.write(|tx| {
            let n = match from {
                None => tx.execute(
                    "INSERT INTO notifier_cursor (updater, operation, updated) VALUES (?1, ?2, ?3)
                     ON CONFLICT (updater) DO NOTHING",
                    params![updater, to.to_string(), now],
                )?,
                Some(from) => tx.execute(
                    "UPDATE notifier_cursor SET operation = ?2, updated = ?3
                     WHERE updater = ?1 AND operation = ?4",
                    params![updater, to.to_string(), now, from.to_string()],
                )?,
            };
            insert_claimed(tx, n, notifications)
        })
    }
}

/// After a statement that took a piece of notification work (deleting its job, moving a
/// cursor) and changed `claimed` rows: `notifications` stored when it took it, none when the
/// work was already done.
fn insert_claimed(
    tx: &rusqlite::Transaction<'_>,
    claimed: usize,
    notifications: &[NewNotification],
) -> rusqlite::Result<Vec<Uuid>> {
    if claimed == 0 {
        return Ok(Vec::new());
    }
    notifications
        .iter()
        .map(|n| insert_notification(tx, &n.kind, &n.body, &n.items))
        .collect()
}

/// Insert a notification due now, with its items; its id.
fn insert_notification(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    body: &serde_json::Value,
    items: &[serde_json::Value],
) -> rusqlite::Result<Uuid> {
    let id = Uuid::new_v4();
    let now = micros(jiff::Timestamp::now());
    tx.execute(
        "INSERT INTO notification (id, kind, body, created, status, attempts, next_attempt, updated)
         VALUES (?1, ?2, ?3, ?4, 'created', 0, ?4, ?4)",
        params![id.to_string(), kind, body.to_string(), now],
    )?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO notification_item (notification, seq, body) VALUES (?1, ?2, ?3)",
    )?;
    for (i, it) in items.iter().enumerate() {
        ins.execute(params![id.to_string(), i as i64, it.to_string()])?;
    }
    Ok(id)
}
