//! The notifier's role on SQLite: notifications and their delivery, notification jobs, the
//! notifier's cursor.

use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::SqliteStore;
use crate::NotifierStore;
use crate::codec::micros;
use crate::error::{Error, Result};
use crate::model::*;
use crate::sql::{self, lite, notification_from_row, notification_job_from_row};

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
        self.read(|c| {
            c.query_row(lite!(sql::NOTIFICATION_GET), [id.to_string()], |r| {
                notification_from_row(r)
            })
            .optional()
            .map_err(self.err())
        })
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
                .prepare(lite!(sql::NOTIFICATION_ITEMS))
                .map_err(self.err())?;
            st.query_map(
                params![id.to_string(), after.unwrap_or(-1), (limit + 1) as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())
        })?;
        sql::notification_page(rows, limit)
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
        let query = sql::notifications_due(&format!("IN ({marks})")).replace('$', "?");
        self.read(|c| {
            let mut st = c.prepare(&query).map_err(self.err())?;
            let mut p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(kinds.len() + 2);
            let (now, limit) = (micros(now), i64::try_from(limit).unwrap_or(i64::MAX));
            p.push(&now);
            p.push(&limit);
            p.extend(kinds.iter().map(|k| k as &dyn rusqlite::ToSql));
            st.query_map(p.as_slice(), |r| notification_from_row(r))
                .map_err(self.err())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.err())
        })
    }

    fn notification_jobs(&self, limit: usize) -> Result<Vec<NotificationJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut st = c
                .prepare(lite!(sql::NOTIFICATION_JOBS))
                .map_err(self.err())?;
            st.query_map([limit], |r| notification_job_from_row(r))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())
        })
    }

    fn complete_notification_job(
        &self,
        op: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        self.write(|tx| {
            let n = tx.execute(lite!(sql::NOTIFICATION_JOB_DONE), [op.to_string()])?;
            insert_claimed(tx, n, notifications)
        })
    }

    fn record_delivery(&self, id: Uuid, outcome: &Delivery) -> Result<()> {
        let now = micros(jiff::Timestamp::now());
        let id_text = id.to_string();
        let n = self.write(|tx| match outcome {
            Delivery::Delivered => tx.execute(lite!(sql::DELIVERED), params![id_text, now]),
            Delivery::Notified { again_at } => tx.execute(
                lite!(sql::NOTIFIED),
                params![id_text, micros(*again_at), now],
            ),
            Delivery::Failed { error, retry_at } => tx.execute(
                lite!(sql::FAILED),
                params![id_text, error, micros(*retry_at), now],
            ),
        })?;
        if n == 0 && self.notification(id)?.is_none() {
            return Err(Error::NotFound(format!("notification {id}")));
        }
        Ok(())
    }

    fn acknowledge_notification(&self, id: Uuid) -> Result<bool> {
        let now = micros(jiff::Timestamp::now());
        let n =
            self.write(|tx| tx.execute(lite!(sql::ACKNOWLEDGE), params![id.to_string(), now]))?;
        Ok(n > 0)
    }

    fn gc_notifications(&self, older_than: jiff::Timestamp) -> Result<usize> {
        self.write(|tx| tx.execute(lite!(sql::NOTIFICATIONS_GC), [micros(older_than)]))
    }

    fn notified_operation(&self, updater: &str) -> Result<Option<Uuid>> {
        let op: Option<String> = self.read(|c| {
            c.query_row(lite!(sql::CURSOR_GET), [updater], |r| r.get(0))
                .optional()
                .map_err(self.err())
        })?;
        sql::cursor(updater, op)
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
                    lite!(sql::CURSOR_START),
                    params![updater, to.to_string(), now],
                )?,
                Some(from) => tx.execute(
                    lite!(sql::CURSOR_MOVE),
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
        lite!(sql::NOTIFICATION_ADD),
        params![id.to_string(), kind, body.to_string(), now],
    )?;
    let mut ins = tx.prepare_cached(lite!(sql::NOTIFICATION_ITEM_ADD))?;
    for (i, it) in items.iter().enumerate() {
        ins.execute(params![id.to_string(), i as i64, it.to_string()])?;
    }
    Ok(id)
}
