//! The durable notification outbox. A notification acknowledged by `enqueue` is committed, so
//! it survives a crash; its idempotency key is unique, so it is queued once however often it is
//! enqueued; and a delivery worker claims it before sending, so concurrent workers never send
//! the same item in the same claim window.

use std::fmt;
use std::str::FromStr;

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{db_err, require_json};
use crate::{Backend, Store, StoreError};

/// Where an outbox item stands. Delivered and failed are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    /// Waiting for its next attempt (or being attempted, while claimed).
    Pending,
    Delivered,
    /// Given up on.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }
}

impl fmt::Display for OutboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown outbox state {0:?}: expected pending, delivered or failed")]
pub struct UnknownOutboxState(pub String);

impl FromStr for OutboxState {
    type Err = UnknownOutboxState;
    fn from_str(s: &str) -> Result<Self, UnknownOutboxState> {
        match s {
            "pending" => Ok(OutboxState::Pending),
            "delivered" => Ok(OutboxState::Delivered),
            "failed" => Ok(OutboxState::Failed),
            _ => Err(UnknownOutboxState(s.to_string())),
        }
    }
}

/// A notification to queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOutboxItem {
    /// Unique per notification: enqueueing the same key again queues nothing.
    pub idempotency_key: String,
    pub receiver: String,
    /// Which integration of the receiver (`slack`, `webhook`, …).
    pub integration: String,
    /// What to send, as JSON the notifier owns.
    pub payload_json: String,
    /// The first attempt is not before this; `None` (or a time already past) is as soon as
    /// possible.
    pub not_before: Option<Timestamp>,
}

/// What `enqueue` did with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub id: i64,
    /// `false` when the key was already queued: `id` is the existing item's.
    pub inserted: bool,
}

/// One queued notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: i64,
    pub idempotency_key: String,
    pub receiver: String,
    pub integration: String,
    pub payload_json: String,
    pub state: OutboxState,
    /// How many times it was claimed for delivery.
    pub attempts: i64,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    /// A worker holds it until then (exclusive); `None` when unclaimed.
    pub claimed_until: Option<Timestamp>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered or given up on.
    pub finished_at: Option<Timestamp>,
}

/// How many items are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
}

const OUTBOX_COLUMNS: &str = "id, idempotency_key, receiver, integration, payload_json, state, \
     attempts, created_at, next_attempt_at, claimed_until, last_error, finished_at";

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    idempotency_key: String,
    receiver: String,
    integration: String,
    payload_json: String,
    state: String,
    attempts: i64,
    created_at: i64,
    next_attempt_at: i64,
    claimed_until: Option<i64>,
    last_error: Option<String>,
    finished_at: Option<i64>,
}

impl OutboxRow {
    fn into_item(self, op: &'static str) -> Result<OutboxItem, StoreError> {
        let state = self
            .state
            .parse()
            .map_err(|e: UnknownOutboxState| StoreError::Corrupt {
                op,
                detail: format!("outbox item {}: {e}", self.id),
            })?;
        Ok(OutboxItem {
            id: self.id,
            idempotency_key: self.idempotency_key,
            receiver: self.receiver,
            integration: self.integration,
            payload_json: self.payload_json,
            state,
            attempts: self.attempts,
            created_at: Timestamp::from_millis(self.created_at),
            next_attempt_at: Timestamp::from_millis(self.next_attempt_at),
            claimed_until: self.claimed_until.map(Timestamp::from_millis),
            last_error: self.last_error,
            finished_at: self.finished_at.map(Timestamp::from_millis),
        })
    }
}

pub trait OutboxStore {
    /// Queues the items at `now` in one transaction, and returns once it is committed: on error
    /// nothing is queued. Returns one [`Enqueued`] per item, in the order given. An item whose
    /// idempotency key is already queued (in any state, or earlier in the same batch) inserts
    /// nothing and reports the existing id. Within a batch, ids are assigned in key order (see
    /// the invariants). `Invalid` when a key is empty or a payload is not JSON.
    fn enqueue(
        &self,
        items: &[NewOutboxItem],
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Enqueued>, StoreError>> + Send;

    /// Claims up to `limit` pending items due at `now` (`next_attempt_at <= now`) that no one
    /// holds (`claimed_until` unset or at or before `now`), oldest due first: each gets one more
    /// attempt and is held until `claim_until`. Concurrent claimers never get the same item
    /// while its claim lasts, so delivery is at most once as long as a worker finishes (or
    /// gives up on) an attempt before its claim ends. Returns the items as claimed, ordered by
    /// `next_attempt_at` then id. `Invalid` unless `claim_until` is after `now`.
    fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        claim_until: Timestamp,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;

    /// Pending → delivered at `now`. Returns whether the item was pending.
    fn mark_delivered(
        &self,
        id: i64,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Releases a pending item's claim and makes it due again at `next_attempt_at`, recording
    /// `reason`. Returns whether the item was pending.
    fn mark_retry(
        &self,
        id: i64,
        next_attempt_at: Timestamp,
        reason: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Pending → failed at `now`, for good, recording `reason`. Returns whether the item was
    /// pending.
    fn mark_failed(
        &self,
        id: i64,
        reason: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn get_outbox(
        &self,
        id: i64,
    ) -> impl Future<Output = Result<Option<OutboxItem>, StoreError>> + Send;

    /// Items in `state` (or all), newest first (by `created_at`, then id), at most `limit`.
    fn list_outbox(
        &self,
        state: Option<OutboxState>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;

    fn count_outbox_by_state(
        &self,
    ) -> impl Future<Output = Result<OutboxCounts, StoreError>> + Send;
}

impl OutboxStore for Store {
    async fn enqueue(
        &self,
        items: &[NewOutboxItem],
        now: Timestamp,
    ) -> Result<Vec<Enqueued>, StoreError> {
        const OP: &str = "enqueueing notifications";
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // An empty key is left to the database's check, like every rule of the schema.
        for item in items {
            require_json(OP, &item.payload_json, || {
                format!("payload of {}", item.idempotency_key)
            })?;
        }
        with_pool!(self, (pool, backend) => async {
            // Keys are inserted in sorted order: two batches sharing keys then wait for each
            // other in the same order and cannot deadlock (PostgreSQL).
            let mut order: Vec<usize> = (0..items.len()).collect();
            order.sort_by(|&a, &b| items[a].idempotency_key.cmp(&items[b].idempotency_key));
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let mut out = vec![Enqueued { id: 0, inserted: false }; items.len()];
            for i in order {
                let item = &items[i];
                let due = item.not_before.map_or(now, |t| t.max(now));
                let inserted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO outbox (idempotency_key, receiver, integration, payload_json, \
                     state, attempts, created_at, next_attempt_at) \
                     VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6) \
                     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                )
                .bind(&item.idempotency_key)
                .bind(&item.receiver)
                .bind(&item.integration)
                .bind(&item.payload_json)
                .bind(now.millis())
                .bind(due.millis())
                .fetch_optional(&mut *tx)
                .await?;
                let enqueued = match inserted {
                    Some(id) => Enqueued { id, inserted: true },
                    // PostgreSQL: a concurrent insert of the key made ours wait for its commit;
                    // this statement's fresh snapshot then sees it.
                    None => Enqueued {
                        id: sqlx::query_scalar("SELECT id FROM outbox WHERE idempotency_key = $1")
                            .bind(&item.idempotency_key)
                            .fetch_one(&mut *tx)
                            .await?,
                        inserted: false,
                    },
                };
                out[i] = enqueued;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(out)
        }.await)
        .map_err(db_err(OP))
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        claim_until: Timestamp,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        const OP: &str = "claiming due notifications";
        if claim_until <= now {
            return Err(StoreError::Invalid {
                op: OP,
                detail: format!("a claim until {claim_until} ends at or before now ({now})"),
            });
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<OutboxRow> = with_pool!(self, (pool, backend) => async {
            // PostgreSQL locks the picked rows and skips those another claimer has locked, then
            // rechecks the conditions on the latest row version; SQLite holds its single write
            // lock for the whole transaction (BEGIN IMMEDIATE). The pick is materialized: as a
            // plain subquery PostgreSQL may run it again while updating and exceed the limit.
            let lock = match backend {
                Backend::Postgres => " FOR UPDATE SKIP LOCKED",
                Backend::Sqlite => "",
            };
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let rows = sqlx::query_as(&format!(
                "WITH picked AS MATERIALIZED (SELECT id FROM outbox \
                     WHERE state = 'pending' AND next_attempt_at <= $1 \
                     AND (claimed_until IS NULL OR claimed_until <= $1) \
                     ORDER BY next_attempt_at, id LIMIT $3{lock}) \
                 UPDATE outbox SET attempts = attempts + 1, claimed_until = $2 \
                 WHERE id IN (SELECT id FROM picked) \
                 AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= $1) \
                 RETURNING {OUTBOX_COLUMNS}"
            ))
            .bind(now.millis())
            .bind(claim_until.millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<Vec<OutboxRow>, sqlx::Error>(rows)
        }.await)
        .map_err(db_err(OP))?;
        let mut items = rows
            .into_iter()
            .map(|r| r.into_item(OP))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING promises no order.
        items.sort_by_key(|i| (i.next_attempt_at, i.id));
        Ok(items)
    }

    async fn mark_delivered(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET state = 'delivered', finished_at = $2, claimed_until = NULL \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(now.millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db_err("marking a notification delivered"))?;
        Ok(changed == 1)
    }

    async fn mark_retry(
        &self,
        id: i64,
        next_attempt_at: Timestamp,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET next_attempt_at = $2, last_error = $3, claimed_until = NULL \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(next_attempt_at.millis())
            .bind(reason)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db_err("scheduling a notification retry"))?;
        Ok(changed == 1)
    }

    async fn mark_failed(&self, id: i64, reason: &str, now: Timestamp) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET state = 'failed', last_error = $2, finished_at = $3, \
                 claimed_until = NULL WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(reason)
            .bind(now.millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db_err("marking a notification failed"))?;
        Ok(changed == 1)
    }

    async fn get_outbox(&self, id: i64) -> Result<Option<OutboxItem>, StoreError> {
        const OP: &str = "reading an outbox item";
        let row: Option<OutboxRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err(OP))?;
        row.map(|r| r.into_item(OP)).transpose()
    }

    async fn list_outbox(
        &self,
        state: Option<OutboxState>,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        const OP: &str = "listing the outbox";
        let rows: Vec<OutboxRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ($1 IS NULL OR state = $1) \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(state.map(OutboxState::as_str))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err(OP))?;
        rows.into_iter().map(|r| r.into_item(OP)).collect()
    }

    async fn count_outbox_by_state(&self) -> Result<OutboxCounts, StoreError> {
        const OP: &str = "counting the outbox";
        let rows: Vec<(String, i64)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state")
                .fetch_all(pool)
                .await
        })
        .map_err(db_err(OP))?;
        let mut counts = OutboxCounts::default();
        for (state, n) in rows {
            let slot = match state.parse() {
                Ok(OutboxState::Pending) => &mut counts.pending,
                Ok(OutboxState::Delivered) => &mut counts.delivered,
                Ok(OutboxState::Failed) => &mut counts.failed,
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        op: OP,
                        detail: e.to_string(),
                    });
                }
            };
            *slot = n as u64;
        }
        Ok(counts)
    }
}
