//! The notifier's role, written once for both backends: its statements and their order are the
//! same in both dialects, so [`NotifierStore`] is implemented for every [`Driver`].

use uuid::Uuid;

use super::driver::{Arg, Driver, Exec};
use super::{Row, notification_from_row, notification_job_from_row};
use crate::NotifierStore;
use crate::codec::micros;
use crate::error::{Error, Result};
use crate::model::*;

impl<D: Driver> NotifierStore for D {
    fn create_notification(
        &self,
        kind: &str,
        body: &serde_json::Value,
        items: &[serde_json::Value],
    ) -> Result<Uuid> {
        self.transaction(&mut |tx| insert_notification(tx, kind, body, items))
    }

    fn notification(&self, id: Uuid) -> Result<Option<Notification>> {
        let id = id.to_string();
        let rows = self.rows(super::NOTIFICATION_GET, &[Arg::Text(&id)], |r| {
            notification_from_row(r)
        })?;
        Ok(rows.into_iter().next())
    }

    fn notification_items(
        &self,
        id: Uuid,
        after: Option<i64>,
        limit: usize,
    ) -> Result<NotificationPage> {
        let limit = limit.max(1);
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let (id, after) = (id.to_string(), after.unwrap_or(-1));
        let args = [Arg::Text(&id), Arg::Int(after), Arg::Int(fetch)];
        let rows = self.rows(super::NOTIFICATION_ITEMS, &args, |r| {
            Ok((r.int("seq")?, r.text("body")?))
        })?;
        super::notification_page(rows, limit)
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
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(",");
        let query = super::notifications_due(&format!("IN ({marks})"));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut args = vec![Arg::Int(micros(now)), Arg::Int(limit)];
        args.extend(kinds.iter().map(|k| Arg::Text(k)));
        self.rows(&query, &args, |r| notification_from_row(r))
    }

    fn notification_jobs(&self, limit: usize) -> Result<Vec<NotificationJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(super::NOTIFICATION_JOBS, &[Arg::Int(limit)], |r| {
            notification_job_from_row(r)
        })
    }

    fn complete_notification_job(
        &self,
        op: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        let op = op.to_string();
        self.transaction(&mut |tx| {
            let claimed = tx.exec(super::NOTIFICATION_JOB_DONE, &[Arg::Text(&op)])?;
            insert_claimed(tx, claimed, notifications)
        })
    }

    fn record_delivery(&self, id: Uuid, outcome: &Delivery) -> Result<()> {
        let (id_text, now) = (id.to_string(), micros(jiff::Timestamp::now()));
        let (id_arg, now_arg) = (Arg::Text(&id_text), Arg::Int(now));
        let n = match outcome {
            Delivery::Delivered => self.exec(super::DELIVERED, &[id_arg, now_arg])?,
            Delivery::Notified { again_at } => {
                let again = Arg::Int(micros(*again_at));
                self.exec(super::NOTIFIED, &[id_arg, again, now_arg])?
            }
            Delivery::Failed { error, retry_at } => {
                let retry = Arg::Int(micros(*retry_at));
                self.exec(super::FAILED, &[id_arg, Arg::Text(error), retry, now_arg])?
            }
        };
        if n == 0 && self.notification(id)?.is_none() {
            return Err(Error::NotFound(format!("notification {id}")));
        }
        Ok(())
    }

    fn acknowledge_notification(&self, id: Uuid) -> Result<bool> {
        let (id, now) = (id.to_string(), micros(jiff::Timestamp::now()));
        Ok(self.exec(super::ACKNOWLEDGE, &[Arg::Text(&id), Arg::Int(now)])? > 0)
    }

    fn gc_notifications(&self, older_than: jiff::Timestamp) -> Result<usize> {
        self.exec(super::NOTIFICATIONS_GC, &[Arg::Int(micros(older_than))])
    }

    fn notified_operation(&self, updater: &str) -> Result<Option<Uuid>> {
        let rows = self.rows(super::CURSOR_GET, &[Arg::Text(updater)], |r| {
            r.text("operation")
        })?;
        super::cursor(updater, rows.into_iter().next())
    }

    fn advance_notifier_cursor(
        &self,
        updater: &str,
        from: Option<Uuid>,
        to: Uuid,
        notifications: &[NewNotification],
    ) -> Result<Vec<Uuid>> {
        let (to, now) = (to.to_string(), micros(jiff::Timestamp::now()));
        let from = from.map(|f| f.to_string());
        let (updater, to, now) = (Arg::Text(updater), Arg::Text(&to), Arg::Int(now));
        self.transaction(&mut |tx| {
            let claimed = match &from {
                None => tx.exec(super::CURSOR_START, &[updater, to, now])?,
                Some(from) => tx.exec(super::CURSOR_MOVE, &[updater, to, now, Arg::Text(from)])?,
            };
            insert_claimed(tx, claimed, notifications)
        })
    }
}

/// After a statement that took a piece of notification work (deleting its job, moving a
/// cursor) and changed `claimed` rows: `notifications` stored when it took it, none when the
/// work was already done.
fn insert_claimed(
    tx: &mut dyn Exec,
    claimed: usize,
    notifications: &[NewNotification],
) -> Result<Vec<Uuid>> {
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
    tx: &mut dyn Exec,
    kind: &str,
    body: &serde_json::Value,
    items: &[serde_json::Value],
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let (id_text, body, now) = (
        id.to_string(),
        body.to_string(),
        micros(jiff::Timestamp::now()),
    );
    let args = [
        Arg::Text(&id_text),
        Arg::Text(kind),
        Arg::Text(&body),
        Arg::Int(now),
    ];
    tx.exec(super::NOTIFICATION_ADD, &args)?;
    for (seq, item) in (0..).zip(items) {
        let item = item.to_string();
        let args = [Arg::Text(&id_text), Arg::Int(seq), Arg::Text(&item)];
        tx.exec(super::NOTIFICATION_ITEM_ADD, &args)?;
    }
    Ok(id)
}
