//! The notifier's role on PostgreSQL: notifications and their delivery, notification jobs,
//! the notifier's cursor.

use postgres::Transaction;
use uuid::Uuid;

use super::{Fail, PgStore, decode_json, op_from_row, parse_uuid};
use crate::NotifierStore;
use crate::codec::{from_micros, micros};
use crate::error::{Error, Result};
use crate::model::*;

impl PgStore {
    /// Run `claim` (a statement taking a piece of notification work: deleting its job,
    /// moving a cursor) and, when it changed a row, store `notifications`, in one
    /// transaction; their ids (none when the work was already done).
    fn store_claimed(
        &self,
        notifications: &[NewNotification],
        claim: impl Fn(&mut Transaction<'_>) -> std::result::Result<u64, postgres::Error>,
    ) -> Result<Vec<Uuid>> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            if claim(&mut tx)? == 0 {
                return Ok(Vec::new());
            }
            let ids = notifications
                .iter()
                .map(|n| Self::insert_notification(&mut tx, &n.kind, &n.body, &n.items))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(ids)
        })
    }

    /// Insert a notification due now, with its items; its id.
    fn insert_notification(
        tx: &mut Transaction<'_>,
        kind: &str,
        body: &serde_json::Value,
        items: &[serde_json::Value],
    ) -> std::result::Result<Uuid, Fail> {
        let id = Uuid::new_v4();
        let now = micros(jiff::Timestamp::now());
        tx.execute(
            "INSERT INTO notification (id, kind, body, created, status, attempts, next_attempt, updated)
             VALUES ($1, $2, $3, $4, 'created', 0, $4, $4)",
            &[&id.to_string(), &kind, &body.to_string(), &now],
        )?;
        let ins = tx.prepare(
            "INSERT INTO notification_item (notification, seq, body) VALUES ($1, $2, $3)",
        )?;
        for (i, it) in items.iter().enumerate() {
            let seq = i64::try_from(i).unwrap_or(i64::MAX);
            tx.execute(&ins, &[&id.to_string(), &seq, &it.to_string()])?;
        }
        Ok(id)
    }
}

fn notification_from_row(r: &postgres::Row) -> std::result::Result<Notification, Fail> {
    let id: String = r.try_get("id")?;
    let body: String = r.try_get("body")?;
    let status: String = r.try_get("status")?;
    let attempts: i32 = r.try_get("attempts")?;
    Ok(Notification {
        id: parse_uuid(&id)?,
        kind: r.try_get("kind")?,
        body: decode_json("notification", &body)?,
        created: from_micros(r.try_get("created")?),
        status: NotificationStatus::parse(&status),
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt: from_micros(r.try_get("next_attempt")?),
        last_error: r.try_get("last_error")?,
        notified: r.try_get::<_, Option<i64>>("notified")?.map(from_micros),
        deleted: r.try_get::<_, Option<i64>>("deleted")?.map(from_micros),
    })
}

impl NotifierStore for PgStore {
    fn create_notification(
        &self,
        kind: &str,
        body: &serde_json::Value,
        items: &[serde_json::Value],
    ) -> Result<Uuid> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            let id = Self::insert_notification(&mut tx, kind, body, items)?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn notification(&self, id: Uuid) -> Result<Option<Notification>> {
        self.run(|c| {
            c.query_opt(
                "SELECT * FROM notification WHERE id = $1",
                &[&id.to_string()],
            )?
            .map(|r| notification_from_row(&r))
            .transpose()
        })
    }

    fn notification_items(
        &self,
        id: Uuid,
        after: Option<i64>,
        limit: usize,
    ) -> Result<NotificationPage> {
        let limit = limit.max(1);
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String)> = self.run(|c| {
            Ok(c.query(
                "SELECT seq, body FROM notification_item WHERE notification = $1 AND seq > $2
                 ORDER BY seq LIMIT $3",
                &[&id.to_string(), &after.unwrap_or(-1), &fetch],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?;
        let more = rows.len() > limit;
        let items = rows
            .into_iter()
            .take(limit)
            .map(|(seq, b)| {
                Ok(NotificationItem {
                    seq,
                    body: decode_json("notification item", &b).map_err(|e| self.fail(e))?,
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|c| {
            c.query(
                "SELECT * FROM notification WHERE kind = ANY($3)
                 AND status IN ('created', 'failed', 'notified') AND next_attempt <= $1
                 ORDER BY next_attempt, id LIMIT $2",
                &[&micros(now), &limit, &kinds],
            )?
            .iter()
            .map(notification_from_row)
            .collect()
        })
    }

    fn notification_jobs(&self, limit: usize) -> Result<Vec<NotificationJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|c| {
            c.query(
                "SELECT o.id, o.updater, o.kind, o.fingerprint, o.date, j.prev, j.created
                 FROM notification_job j JOIN update_operation o ON o.seq = j.uo
                 ORDER BY j.uo LIMIT $1",
                &[&limit],
            )?
            .iter()
            .map(|r| {
                Ok(NotificationJob {
                    op: op_from_row(r)?,
                    prev: r
                        .try_get::<_, Option<String>>("prev")?
                        .map(|p| parse_uuid(&p))
                        .transpose()?,
                    created: from_micros(r.try_get("created")?),
                })
            })
            .collect()
        })
    }

    fn complete_notification_job(
        &self,
        op: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        self.store_claimed(notifications, |tx| {
            tx.execute(
                "DELETE FROM notification_job WHERE uo = (SELECT seq FROM update_operation WHERE id = $1)",
                &[&op.to_string()],
            )
        })
    }

    fn record_delivery(&self, id: Uuid, outcome: &Delivery) -> Result<()> {
        let now = micros(jiff::Timestamp::now());
        let n = self.run(|c| {
            Ok(match outcome {
                Delivery::Delivered => c.execute(
                    "UPDATE notification SET status = 'delivered', attempts = attempts + 1, last_error = NULL,
                     notified = $2, updated = $2 WHERE id = $1 AND status != 'deleted'",
                    &[&id.to_string(), &now],
                )?,
                Delivery::Notified { again_at } => c.execute(
                    "UPDATE notification SET status = 'notified', attempts = attempts + 1, last_error = NULL,
                     next_attempt = $2, notified = $3, updated = $3 WHERE id = $1 AND status != 'deleted'",
                    &[&id.to_string(), &micros(*again_at), &now],
                )?,
                Delivery::Failed { error, retry_at } => c.execute(
                    "UPDATE notification SET status = 'failed', attempts = attempts + 1, last_error = $2,
                     next_attempt = $3, updated = $4 WHERE id = $1 AND status != 'deleted'",
                    &[&id.to_string(), error, &micros(*retry_at), &now],
                )?,
            })
        })?;
        if n == 0 && self.notification(id)?.is_none() {
            return Err(Error::NotFound(format!("notification {id}")));
        }
        Ok(())
    }

    fn acknowledge_notification(&self, id: Uuid) -> Result<bool> {
        let now = micros(jiff::Timestamp::now());
        let n = self.run(|c| {
            Ok(c.execute(
                "UPDATE notification SET status = 'deleted', deleted = $2, updated = $2 WHERE id = $1",
                &[&id.to_string(), &now],
            )?)
        })?;
        Ok(n > 0)
    }

    fn gc_notifications(&self, older_than: jiff::Timestamp) -> Result<usize> {
        self.run(|c| {
            let n = c.execute(
                "DELETE FROM notification WHERE status = 'deleted' AND updated < $1",
                &[&micros(older_than)],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn notified_operation(&self, updater: &str) -> Result<Option<Uuid>> {
        self.run(|c| {
            c.query_opt(
                "SELECT operation FROM notifier_cursor WHERE updater = $1",
                &[&updater],
            )?
            .map(|r| parse_uuid(r.get::<_, &str>(0)))
            .transpose()
        })
    }

    fn advance_notifier_cursor(
        &self,
        updater: &str,
        from: Option<Uuid>,
        to: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        let now = micros(jiff::Timestamp::now());
        self.store_claimed(notifications, |tx| match from {
            None => tx.execute(
                "INSERT INTO notifier_cursor (updater, operation, updated) VALUES ($1, $2, $3)
                 ON CONFLICT (updater) DO NOTHING",
                &[&updater, &to.to_string(), &now],
            ),
            Some(from) => tx.execute(
                "UPDATE notifier_cursor SET operation = $2, updated = $3
                 WHERE updater = $1 AND operation = $4",
                &[&updater, &to.to_string(), &now, &from.to_string()],
            ),
        })
    }
}
