//! Runs of configured actions, the audit log of `GET /api/v1/actions/runs`. A run that is
//! sent is stored in the same transaction as its outbox item, so a run is never sent without
//! being recorded, nor recorded as queued without being in the outbox.

use std::fmt;
use std::str::FromStr;

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{db_err, require_json};
use crate::{Backend, NewOutboxItem, Store, StoreError};

/// Runs kept: creating one past this drops the oldest in the same transaction.
pub const ACTION_RUNS_KEPT: u32 = 10_000;

/// Where a run stands. `dry_run`, `delivered`, `failed` and `rejected` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionRunState {
    AwaitingApproval,
    /// In the outbox, being sent (and retried).
    Queued,
    /// Rendered and stored, never sent.
    DryRun,
    Delivered,
    Failed,
    Rejected,
}

impl ActionRunState {
    pub const ALL: [ActionRunState; 6] = [
        ActionRunState::AwaitingApproval,
        ActionRunState::Queued,
        ActionRunState::DryRun,
        ActionRunState::Delivered,
        ActionRunState::Failed,
        ActionRunState::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionRunState::AwaitingApproval => "awaiting_approval",
            ActionRunState::Queued => "queued",
            ActionRunState::DryRun => "dry_run",
            ActionRunState::Delivered => "delivered",
            ActionRunState::Failed => "failed",
            ActionRunState::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ActionRunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown action run state {0:?}: expected awaiting_approval, queued, dry_run, delivered, failed or rejected"
)]
pub struct UnknownActionRunState(pub String);

impl FromStr for ActionRunState {
    type Err = UnknownActionRunState;
    fn from_str(s: &str) -> Result<Self, UnknownActionRunState> {
        ActionRunState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownActionRunState(s.to_string()))
    }
}

/// One run of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRun {
    /// Chosen by the caller (`run_` and random hex); the outbox key derives from it.
    pub id: String,
    pub action: String,
    /// `gate_denied`, `canary_failed`, `alert`, `incident_declared`, `budget_below`, `manual`.
    pub trigger: String,
    /// What the trigger said (the template context), as JSON.
    pub context_json: String,
    /// The rendered request with its secrets left out, as JSON.
    pub request_json: String,
    pub state: ActionRunState,
    /// Who fired it: `trigger:<kind>`, or a token's name for a run by hand.
    pub requested_by: String,
    pub created_at: Timestamp,
    /// Who approved or rejected it.
    pub approved_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When it was delivered, failed, rejected or stored as a dry run.
    pub finished_at: Option<Timestamp>,
    pub incident_id: Option<i64>,
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionRunFilter {
    pub action: Option<String>,
    pub state: Option<ActionRunState>,
    pub limit: u32,
}

const COLUMNS: &str = "id, action, trigger_kind, context_json, request_json, state, requested_by, \
     created_at, approved_by, decided_at, reason, attempts, last_error, finished_at, incident_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    action: String,
    trigger_kind: String,
    context_json: String,
    request_json: String,
    state: String,
    requested_by: String,
    created_at: i64,
    approved_by: Option<String>,
    decided_at: Option<i64>,
    reason: Option<String>,
    attempts: i64,
    last_error: Option<String>,
    finished_at: Option<i64>,
    incident_id: Option<i64>,
}

impl Row {
    fn into_run(self, op: &'static str) -> Result<ActionRun, StoreError> {
        let state = self
            .state
            .parse()
            .map_err(|e: UnknownActionRunState| StoreError::Corrupt {
                op,
                detail: format!("action run {}: {e}", self.id),
            })?;
        Ok(ActionRun {
            id: self.id,
            action: self.action,
            trigger: self.trigger_kind,
            context_json: self.context_json,
            request_json: self.request_json,
            state,
            requested_by: self.requested_by,
            created_at: Timestamp::from_millis(self.created_at),
            approved_by: self.approved_by,
            decided_at: self.decided_at.map(Timestamp::from_millis),
            reason: self.reason,
            attempts: self.attempts,
            last_error: self.last_error,
            finished_at: self.finished_at.map(Timestamp::from_millis),
            incident_id: self.incident_id,
        })
    }
}

/// Inserts an outbox item inside a run's transaction, unless its key is already queued (the
/// same statement as `OutboxStore::enqueue`).
macro_rules! enqueue_in {
    ($tx:expr, $item:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO outbox (idempotency_key, receiver, integration, payload_json, \
             state, attempts, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&$item.idempotency_key)
        .bind(&$item.receiver)
        .bind(&$item.integration)
        .bind(&$item.payload_json)
        .bind($now.millis())
        .execute(&mut *$tx)
        .await?
    };
}

pub trait ActionRunStore {
    /// Stores a new run and, when it is to be sent, its outbox item, in one transaction; then
    /// drops the oldest runs past `keep`. `Invalid` when a JSON column is not JSON or the id
    /// is taken.
    fn create_action_run(
        &self,
        run: &ActionRun,
        send: Option<&NewOutboxItem>,
        keep: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_action_run(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ActionRun>, StoreError>> + Send;

    /// Newest first (by `created_at`, then id).
    fn list_action_runs(
        &self,
        filter: &ActionRunFilter,
    ) -> impl Future<Output = Result<Vec<ActionRun>, StoreError>> + Send;

    /// Awaiting approval → queued (with `send` enqueued in the same transaction) or rejected
    /// (with `reason`), by `who` at `now`. Returns whether the run was awaiting approval.
    fn decide_action_run(
        &self,
        id: &str,
        approved: Option<&NewOutboxItem>,
        who: &str,
        reason: Option<&str>,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a sending attempt of a queued run: its count and error, and when `finished`
    /// (delivered or failed) the final state at `now`. Returns whether the run was queued.
    fn record_action_attempt(
        &self,
        id: &str,
        attempts: i64,
        error: Option<&str>,
        finished: Option<ActionRunState>,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

impl ActionRunStore for Store {
    async fn create_action_run(
        &self,
        run: &ActionRun,
        send: Option<&NewOutboxItem>,
        keep: u32,
    ) -> Result<(), StoreError> {
        const OP: &str = "storing an action run";
        require_json(OP, &run.context_json, || {
            format!("context of run {}", run.id)
        })?;
        require_json(OP, &run.request_json, || {
            format!("request of run {}", run.id)
        })?;
        if let Some(item) = send {
            require_json(OP, &item.payload_json, || {
                format!("payload of run {}", run.id)
            })?;
        }
        let now = run.created_at;
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            sqlx::query(&format!(
                "INSERT INTO action_runs ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&run.id)
            .bind(&run.action)
            .bind(&run.trigger)
            .bind(&run.context_json)
            .bind(&run.request_json)
            .bind(run.state.as_str())
            .bind(&run.requested_by)
            .bind(now.millis())
            .bind(&run.approved_by)
            .bind(run.decided_at.map(Timestamp::millis))
            .bind(&run.reason)
            .bind(run.attempts)
            .bind(&run.last_error)
            .bind(run.finished_at.map(Timestamp::millis))
            .bind(run.incident_id)
            .execute(&mut *tx)
            .await?;
            if let Some(item) = send {
                enqueue_in!(tx, item, now);
            }
            // The newest `keep` stay; ties at the boundary are broken by id, as listing does.
            let all = match backend {
                Backend::Sqlite => "-1",
                Backend::Postgres => "ALL",
            };
            sqlx::query(&format!(
                "DELETE FROM action_runs WHERE id IN (SELECT id FROM action_runs \
                 ORDER BY created_at DESC, id DESC LIMIT {all} OFFSET $1)"
            ))
            .bind(i64::from(keep))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        }.await)
        .map_err(db_err(OP))
    }

    async fn get_action_run(&self, id: &str) -> Result<Option<ActionRun>, StoreError> {
        const OP: &str = "reading an action run";
        let row: Option<Row> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM action_runs WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err(OP))?;
        row.map(|r| r.into_run(OP)).transpose()
    }

    async fn list_action_runs(
        &self,
        filter: &ActionRunFilter,
    ) -> Result<Vec<ActionRun>, StoreError> {
        const OP: &str = "listing action runs";
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM action_runs \
                 WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR state = $2) \
                 ORDER BY created_at DESC, id DESC LIMIT $3"
            ))
            .bind(filter.action.as_deref())
            .bind(filter.state.map(ActionRunState::as_str))
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err(OP))?;
        rows.into_iter().map(|r| r.into_run(OP)).collect()
    }

    async fn decide_action_run(
        &self,
        id: &str,
        approved: Option<&NewOutboxItem>,
        who: &str,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        const OP: &str = "deciding on an action run";
        let (state, finished) = match approved {
            Some(item) => {
                require_json(OP, &item.payload_json, || format!("payload of run {id}"))?;
                (ActionRunState::Queued, None)
            }
            None => (ActionRunState::Rejected, Some(now.millis())),
        };
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let changed = sqlx::query(
                "UPDATE action_runs SET state = $2, approved_by = $3, decided_at = $4, \
                 reason = $5, finished_at = $6 WHERE id = $1 AND state = 'awaiting_approval'",
            )
            .bind(id)
            .bind(state.as_str())
            .bind(who)
            .bind(now.millis())
            .bind(reason)
            .bind(finished)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 1 && let Some(item) = approved {
                enqueue_in!(tx, item, now);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(changed == 1)
        }.await)
        .map_err(db_err(OP))
    }

    async fn record_action_attempt(
        &self,
        id: &str,
        attempts: i64,
        error: Option<&str>,
        finished: Option<ActionRunState>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        const OP: &str = "recording an action run's attempt";
        if let Some(s) = finished
            && !matches!(s, ActionRunState::Delivered | ActionRunState::Failed)
        {
            return Err(StoreError::Invalid {
                op: OP,
                detail: format!("a sent run ends delivered or failed, not {s}"),
            });
        }
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE action_runs SET attempts = $2, last_error = $3, \
                 state = COALESCE($4, state), finished_at = $5 \
                 WHERE id = $1 AND state = 'queued'",
            )
            .bind(id)
            .bind(attempts)
            .bind(error)
            .bind(finished.map(ActionRunState::as_str))
            .bind(finished.map(|_| now.millis()))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db_err(OP))?;
        Ok(changed == 1)
    }
}
