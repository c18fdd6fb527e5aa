//! Alert history and the current state of every alert, so state machines survive a restart.

use headroom_core::{GroupKey, Severity, SloId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::db_err;
use crate::{Store, StoreError};

/// One change of one alert: the SLO's alert for `group` at `severity` went `from` → `to` at `at`.
/// States are the names of `headroom_core::AlertState` (`inactive`, `pending`, `firing`,
/// `resolved`); the database refuses any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertTransition {
    pub at: Timestamp,
    pub slo: SloId,
    /// The grouping label values the alert is for (empty when the SLO is not grouped).
    pub group: GroupKey,
    pub severity: Severity,
    pub from: String,
    pub to: String,
    /// What the evaluator saw (burn rates, budget), as JSON.
    pub values_json: String,
}

/// Where one alert stands now, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertStateRecord {
    pub slo: SloId,
    pub group: GroupKey,
    pub severity: Severity,
    pub state: String,
    pub since: Timestamp,
}

#[derive(sqlx::FromRow)]
struct TransitionRow {
    at: i64,
    slo: String,
    alert_group: String,
    severity: String,
    from_state: String,
    to_state: String,
    values_json: String,
}

#[derive(sqlx::FromRow)]
struct StateRow {
    slo: String,
    alert_group: String,
    severity: String,
    state: String,
    since: i64,
}

pub trait AlertStore {
    /// Appends the transitions to the history and moves `alert_states` to match, all in one
    /// transaction: on error nothing is written.
    fn record_transitions(
        &self,
        transitions: &[AlertTransition],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The current state of every alert that ever moved.
    fn alert_states(
        &self,
    ) -> impl Future<Output = Result<Vec<AlertStateRecord>, StoreError>> + Send;

    /// Transitions in `[from, to)`, of one SLO or all, newest first, at most `limit`.
    fn transitions(
        &self,
        slo: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AlertTransition>, StoreError>> + Send;
}

impl AlertStore for Store {
    async fn record_transitions(&self, transitions: &[AlertTransition]) -> Result<(), StoreError> {
        const OP: &str = "recording alert transitions";
        if transitions.is_empty() {
            return Ok(());
        }
        if let Some(t) = transitions
            .iter()
            .find(|t| serde_json::from_str::<serde::de::IgnoredAny>(&t.values_json).is_err())
        {
            return Err(StoreError::Invalid {
                op: OP,
                detail: format!(
                    "values_json of {} {}/{} at {} is not JSON",
                    t.slo, t.group, t.severity, t.at
                ),
            });
        }
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            for t in transitions {
                sqlx::query(
                    "INSERT INTO alert_transitions \
                     (at, slo, alert_group, severity, from_state, to_state, values_json) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(t.at.millis())
                .bind(t.slo.as_str())
                .bind(t.group.as_str())
                .bind(t.severity.as_str())
                .bind(&t.from)
                .bind(&t.to)
                .bind(&t.values_json)
                .execute(&mut *tx)
                .await?;
                // An out-of-order (older) transition must not roll the current state back.
                sqlx::query(
                    "INSERT INTO alert_states (slo, alert_group, severity, state, since) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (slo, alert_group, severity) DO UPDATE \
                     SET state = excluded.state, since = excluded.since \
                     WHERE excluded.since >= alert_states.since",
                )
                .bind(t.slo.as_str())
                .bind(t.group.as_str())
                .bind(t.severity.as_str())
                .bind(&t.to)
                .bind(t.at.millis())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }.await)
        .map_err(db_err(OP))
    }

    async fn alert_states(&self) -> Result<Vec<AlertStateRecord>, StoreError> {
        let rows: Vec<StateRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT slo, alert_group, severity, state, since FROM alert_states \
                 ORDER BY slo, alert_group, severity",
            )
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("reading alert states"))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(AlertStateRecord {
                    slo: r.slo.into(),
                    group: stored_group(&r.alert_group)?,
                    severity: r.severity.into(),
                    state: r.state,
                    since: Timestamp::from_millis(r.since),
                })
            })
            .collect())
    }

    async fn transitions(
        &self,
        slo: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<AlertTransition>, StoreError> {
        // `id` orders transitions recorded at the same instant: the later one is newer.
        let rows: Vec<TransitionRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT at, slo, alert_group, severity, from_state, to_state, values_json \
                 FROM alert_transitions \
                 WHERE ($1 IS NULL OR slo = $1) AND at >= $2 AND at < $3 \
                 ORDER BY at DESC, id DESC LIMIT $4",
            )
            .bind(slo)
            .bind(from.millis())
            .bind(to.millis())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("reading alert transitions"))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(AlertTransition {
                    at: Timestamp::from_millis(r.at),
                    slo: r.slo.into(),
                    group: stored_group(&r.alert_group)?,
                    severity: r.severity.into(),
                    from: r.from_state,
                    to: r.to_state,
                    values_json: r.values_json,
                })
            })
            .collect())
    }
}

/// A stored group key. One written before label values were escaped, holding a `,` or `=`,
/// cannot be told apart from other label sets: the SLI store does not evaluate that group
/// either, so its rows are passed over.
fn stored_group(text: &str) -> Option<GroupKey> {
    GroupKey::parse(text).ok()
}
