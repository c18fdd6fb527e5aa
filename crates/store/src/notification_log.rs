//! The notification log (Alertmanager's nflog): what was last sent to each receiver for each
//! alert group, so a restart neither repeats nor forgets notifications.

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{db_err, require_json};
use crate::{Store, StoreError};

/// The last notification of one alert group to one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationLogEntry {
    pub receiver: String,
    pub group_key: String,
    /// What was sent (firing and resolved alert hashes), as JSON the notifier owns.
    pub payload_json: String,
    pub sent_at: Timestamp,
    /// From then on the entry is forgotten.
    pub expires_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    receiver: String,
    group_key: String,
    payload_json: String,
    sent_at: i64,
    expires_at: i64,
}

pub trait NotificationLogStore {
    /// Inserts or replaces (by receiver and group key) every entry in one transaction: on error
    /// nothing is written. An entry sent before the stored one does not replace it, so a late
    /// writer cannot roll the log back. `Invalid` when an entry expires at or before it was
    /// sent, or its payload is not JSON.
    fn put_notification_log(
        &self,
        entries: &[NotificationLogEntry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The entries not yet expired at `now` (`expires_at > now`), by receiver then group key.
    fn load_notification_log(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<NotificationLogEntry>, StoreError>> + Send;

    /// Deletes the entries expired at `now`; returns how many.
    fn delete_notification_log_expired(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl NotificationLogStore for Store {
    async fn put_notification_log(
        &self,
        entries: &[NotificationLogEntry],
    ) -> Result<(), StoreError> {
        const OP: &str = "writing the notification log";
        if entries.is_empty() {
            return Ok(());
        }
        for e in entries {
            require_json(OP, &e.payload_json, || {
                format!("notification log entry {}/{}", e.receiver, e.group_key)
            })?;
        }
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            for e in entries {
                sqlx::query(
                    "INSERT INTO notification_log \
                     (receiver, group_key, payload_json, sent_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (receiver, group_key) DO UPDATE \
                     SET payload_json = excluded.payload_json, sent_at = excluded.sent_at, \
                     expires_at = excluded.expires_at \
                     WHERE excluded.sent_at >= notification_log.sent_at",
                )
                .bind(&e.receiver)
                .bind(&e.group_key)
                .bind(&e.payload_json)
                .bind(e.sent_at.millis())
                .bind(e.expires_at.millis())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }.await)
        .map_err(db_err(OP))
    }

    async fn load_notification_log(
        &self,
        now: Timestamp,
    ) -> Result<Vec<NotificationLogEntry>, StoreError> {
        let rows: Vec<EntryRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT receiver, group_key, payload_json, sent_at, expires_at \
                 FROM notification_log WHERE expires_at > $1 ORDER BY receiver, group_key",
            )
            .bind(now.millis())
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("loading the notification log"))?;
        Ok(rows
            .into_iter()
            .map(|r| NotificationLogEntry {
                receiver: r.receiver,
                group_key: r.group_key,
                payload_json: r.payload_json,
                sent_at: Timestamp::from_millis(r.sent_at),
                expires_at: Timestamp::from_millis(r.expires_at),
            })
            .collect())
    }

    async fn delete_notification_log_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM notification_log WHERE expires_at <= $1")
                .bind(now.millis())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db_err("deleting expired notification log entries"))
    }
}
