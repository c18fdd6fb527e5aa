//! Escalations in progress: which policy pages whom next about an incident or alert, and when.
//! The policy's progress is JSON the on-call layer owns; the store queries by `open` and
//! `next_at`.

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{db_err, require_json};
use crate::{Store, StoreError};

/// One escalation of one subject under one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRecord {
    pub id: String,
    /// What is being escalated: an incident or alert id.
    pub subject: String,
    pub policy: String,
    /// Where the policy stands (step, repeats, who was paged), as JSON.
    pub state_json: String,
    /// When the next step is due; `None` when nothing is scheduled.
    pub next_at: Option<Timestamp>,
    /// `false` once resolved: an acknowledged escalation stays open, as its alerts still fire.
    pub open: bool,
    pub updated_at: Timestamp,
}

const ESCALATION_COLUMNS: &str = "id, subject, policy, state_json, next_at, open, updated_at";

#[derive(sqlx::FromRow)]
struct EscalationRow {
    id: String,
    subject: String,
    policy: String,
    state_json: String,
    next_at: Option<i64>,
    open: bool,
    updated_at: i64,
}

impl From<EscalationRow> for EscalationRecord {
    fn from(r: EscalationRow) -> EscalationRecord {
        EscalationRecord {
            id: r.id,
            subject: r.subject,
            policy: r.policy,
            state_json: r.state_json,
            next_at: r.next_at.map(Timestamp::from_millis),
            open: r.open,
            updated_at: Timestamp::from_millis(r.updated_at),
        }
    }
}

pub trait EscalationStore {
    /// Inserts the escalation, or replaces the one with the same id. `Invalid` when the id is
    /// empty or the state is not JSON.
    fn put_escalation(
        &self,
        escalation: &EscalationRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every open escalation, by id.
    fn open_escalations(
        &self,
    ) -> impl Future<Output = Result<Vec<EscalationRecord>, StoreError>> + Send;

    /// The open escalations whose next step is due at `now` (`next_at <= now`), by `next_at`
    /// then id.
    fn due_escalations(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<EscalationRecord>, StoreError>> + Send;

    fn get_escalation(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<EscalationRecord>, StoreError>> + Send;

    /// As [`put_escalation`](Self::put_escalation), in one transaction with the first use of
    /// action link `link_id` (see `ActionLinkStore::use_action_link`): returns `false` and
    /// changes nothing when the link was used before, so a link works once and an action that
    /// fails before this call leaves the link unused.
    fn put_escalation_using_link(
        &self,
        escalation: &EscalationRecord,
        link_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The upsert of one escalation row, bound for whichever backend's pool or transaction runs it.
macro_rules! upsert {
    ($e:expr) => {
        sqlx::query(&format!(
            "INSERT INTO escalations ({ESCALATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, \
             policy = excluded.policy, state_json = excluded.state_json, \
             next_at = excluded.next_at, open = excluded.open, updated_at = excluded.updated_at"
        ))
        .bind(&$e.id)
        .bind(&$e.subject)
        .bind(&$e.policy)
        .bind(&$e.state_json)
        .bind($e.next_at.map(Timestamp::millis))
        .bind($e.open)
        .bind($e.updated_at.millis())
    };
}

impl EscalationStore for Store {
    async fn put_escalation(&self, e: &EscalationRecord) -> Result<(), StoreError> {
        const OP: &str = "storing an escalation";
        require_json(OP, &e.state_json, || {
            format!("state of escalation {}", e.id)
        })?;
        with_pool!(self, pool => upsert!(e).execute(pool).await.map(|_| ())).map_err(db_err(OP))
    }

    async fn put_escalation_using_link(
        &self,
        e: &EscalationRecord,
        link_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        const OP: &str = "acting on an escalation through a link";
        require_json(OP, &e.state_json, || {
            format!("state of escalation {}", e.id)
        })?;
        if link_id.is_empty() {
            return Err(StoreError::Invalid {
                op: OP,
                detail: "an action link needs an id".into(),
            });
        }
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let first = sqlx::query(
                "INSERT INTO action_links (link_id, used_at) VALUES ($1, $2) \
                 ON CONFLICT (link_id) DO NOTHING",
            )
            .bind(link_id)
            .bind(now.millis())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if first {
                upsert!(e).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(first)
        }.await)
        .map_err(db_err(OP))
    }

    async fn open_escalations(&self) -> Result<Vec<EscalationRecord>, StoreError> {
        let rows: Vec<EscalationRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {ESCALATION_COLUMNS} FROM escalations WHERE open ORDER BY id"
            ))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("listing open escalations"))?;
        Ok(rows.into_iter().map(EscalationRecord::from).collect())
    }

    async fn due_escalations(&self, now: Timestamp) -> Result<Vec<EscalationRecord>, StoreError> {
        let rows: Vec<EscalationRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {ESCALATION_COLUMNS} FROM escalations \
                 WHERE open AND next_at <= $1 ORDER BY next_at, id"
            ))
            .bind(now.millis())
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("listing due escalations"))?;
        Ok(rows.into_iter().map(EscalationRecord::from).collect())
    }

    async fn get_escalation(&self, id: &str) -> Result<Option<EscalationRecord>, StoreError> {
        let row: Option<EscalationRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err("reading an escalation"))?;
        Ok(row.map(EscalationRecord::from))
    }
}
