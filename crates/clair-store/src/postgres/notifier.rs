//! The notifier's role on PostgreSQL: notifications and their delivery, notification jobs,
//! the notifier's cursor.

use postgres::Transaction;
use uuid::Uuid;

use super::{Fail, PgStore};
use crate::NotifierStore;
use crate::codec::micros;
use crate::error::{Error, Result};
use crate::model::*;
use crate::sql::{self, notification_from_row, notification_job_from_row};

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
            sql::NOTIFICATION_ADD,
            &[&id.to_string(), &kind, &body.to_string(), &now],
        )?;
        let ins = tx.prepare(sql::NOTIFICATION_ITEM_ADD)?;
        for (i, it) in items.iter().enumerate() {
            let seq = i64::try_from(i).unwrap_or(i64::MAX);
            tx.execute(&ins, &[&id.to_string(), &seq, &it.to_string()])?;
        }
        Ok(id)
    }
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
            c.query_opt(sql::NOTIFICATION_GET, &[&id.to_string()])?
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
                sql::NOTIFICATION_ITEMS,
                &[&id.to_string(), &after.unwrap_or(-1), &fetch],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?;
        sql::notification_page(rows, limit)
    }

    fn notifications_due(
        &self,
        kinds: &[&str],
        now: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<Notification>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let query = sql::notifications_due("= ANY($3)");
        self.run(|c| {
            c.query(&query, &[&micros(now), &limit, &kinds])?
                .iter()
                .map(notification_from_row)
                .collect()
        })
    }

    fn notification_jobs(&self, limit: usize) -> Result<Vec<NotificationJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|c| {
            c.query(sql::NOTIFICATION_JOBS, &[&limit])?
                .iter()
                .map(notification_job_from_row)
                .collect()
        })
    }

    fn complete_notification_job(
        &self,
        op: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        self.store_claimed(notifications, |tx| {
            tx.execute(sql::NOTIFICATION_JOB_DONE, &[&op.to_string()])
        })
    }

    fn record_delivery(&self, id: Uuid, outcome: &Delivery) -> Result<()> {
        let now = micros(jiff::Timestamp::now());
        let id_text = id.to_string();
        let n = match outcome {
            Delivery::Delivered => self.change(sql::DELIVERED, &[&id_text, &now])?,
            Delivery::Notified { again_at } => {
                self.change(sql::NOTIFIED, &[&id_text, &micros(*again_at), &now])?
            }
            Delivery::Failed { error, retry_at } => {
                self.change(sql::FAILED, &[&id_text, error, &micros(*retry_at), &now])?
            }
        };
        if n == 0 && self.notification(id)?.is_none() {
            return Err(Error::NotFound(format!("notification {id}")));
        }
        Ok(())
    }

    fn acknowledge_notification(&self, id: Uuid) -> Result<bool> {
        let now = micros(jiff::Timestamp::now());
        Ok(self.change(sql::ACKNOWLEDGE, &[&id.to_string(), &now])? > 0)
    }

    fn gc_notifications(&self, older_than: jiff::Timestamp) -> Result<usize> {
        self.change(sql::NOTIFICATIONS_GC, &[&micros(older_than)])
    }

    fn notified_operation(&self, updater: &str) -> Result<Option<Uuid>> {
        let op: Option<String> =
            self.run(|c| Ok(c.query_opt(sql::CURSOR_GET, &[&updater])?.map(|r| r.get(0))))?;
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
        self.store_claimed(notifications, |tx| match from {
            None => tx.execute(sql::CURSOR_START, &[&updater, &to.to_string(), &now]),
            Some(from) => tx.execute(
                sql::CURSOR_MOVE,
                &[&updater, &to.to_string(), &now, &from.to_string()],
            ),
        })
    }
}
