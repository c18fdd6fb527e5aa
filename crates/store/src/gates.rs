//! Release gates: every decision a gate answered, and the time-boxed overrides that open a gate
//! against its policy, with who created and who revoked each.
//!
//! Both are bounded per service: the write past the cap drops that service's oldest, down to seven
//! eighths of the cap, in its transaction ([`GATE_DECISIONS_PER_SERVICE`],
//! [`GATE_OVERRIDES_PER_SERVICE`] by default). A deploy links the decision it passed
//! (`deploys.gate_decision_id`): named by its sender, or the latest allow for its service and
//! environment shortly before it started.

use headroom_core::{Span, Timestamp};

use crate::deliveries::{invalid, require};
use crate::error::{db_err, require_json};
use crate::{Store, StoreError};

/// Gate decisions kept per service (across its environments).
pub const GATE_DECISIONS_PER_SERVICE: u32 = 10_000;
/// Overrides kept per service, revoked and expired ones included (they are the audit trail).
pub const GATE_OVERRIDES_PER_SERVICE: u32 = 1_000;

/// A decision to record. `reasons_json` belongs to the caller; the store checks it parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGateDecision {
    pub service: String,
    pub environment: String,
    pub labels: Vec<String>,
    pub allowed: bool,
    pub reasons_json: String,
    pub at: Timestamp,
    /// The override that allowed it.
    pub override_id: Option<i64>,
    /// Who asked: the token's name, or `anonymous`.
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateDecisionRecord {
    pub id: i64,
    pub decision: NewGateDecision,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGateOverride {
    pub service: String,
    pub environment: String,
    pub reason: String,
    pub approver: String,
    /// The token that created it.
    pub created_by: String,
    pub created: Timestamp,
    pub until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateOverrideRecord {
    pub id: i64,
    pub over: NewGateOverride,
    pub revoked: Option<(Timestamp, String)>,
}

/// What [`GateStore::revoke_gate_override`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    Now(GateOverrideRecord),
    /// It was revoked before (the record shows when and by whom).
    Already(GateOverrideRecord),
    NotFound,
}

pub trait GateStore {
    /// Stores the decision, then drops the service's oldest once past `cap` (down to seven eighths
    /// of it).
    fn record_gate_decision(
        &self,
        decision: &NewGateDecision,
        cap: u32,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    fn get_gate_decision(
        &self,
        id: i64,
    ) -> impl Future<Output = Result<Option<GateDecisionRecord>, StoreError>> + Send;

    /// The stored decisions among `ids`, in no particular order (a dropped one is absent).
    fn gate_decisions_by_id(
        &self,
        ids: &[i64],
    ) -> impl Future<Output = Result<Vec<GateDecisionRecord>, StoreError>> + Send;

    /// Decisions of `service` (in `environment` when given), newest first, at most `limit`.
    fn list_gate_decisions(
        &self,
        service: &str,
        environment: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<GateDecisionRecord>, StoreError>> + Send;

    /// Stores the override, then drops the service's oldest (by creation) once past `cap` (down to
    /// seven eighths of it). `Invalid` unless `until` is after `created` and the reason and
    /// approver are given.
    fn add_gate_override(
        &self,
        over: &NewGateOverride,
        cap: u32,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Overrides of `service`, newest first, at most `limit`.
    fn list_gate_overrides(
        &self,
        service: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<GateOverrideRecord>, StoreError>> + Send;

    /// Overrides of `service` in `environment` neither expired nor revoked at `now`.
    fn gate_overrides_in_force(
        &self,
        service: &str,
        environment: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<GateOverrideRecord>, StoreError>> + Send;

    /// Revokes override `id` of `service` at `now`; revoking twice keeps the first.
    fn revoke_gate_override(
        &self,
        service: &str,
        id: i64,
        by: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Revoked, StoreError>> + Send;

    /// Links deploy `deploy` to the decision it passed: `named` when given (refused `Invalid`
    /// unless it is an allow for the deploy's service and environment), else the latest allow
    /// for them made in the `within` before the deploy started (or finished, without a start),
    /// unless the deploy is linked already. Returns the link in force.
    fn link_gate_decision(
        &self,
        deploy: i64,
        named: Option<i64>,
        within: Span,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;
}

const DECISION_COLUMNS: &str =
    "id, service, environment, labels_json, decision, reasons_json, at, override_id, actor";
const OVERRIDE_COLUMNS: &str = "id, service, environment, reason, approver, created_by, \
     created_at, until, revoked_at, revoked_by";

#[derive(sqlx::FromRow)]
struct DecisionRow {
    id: i64,
    service: String,
    environment: String,
    labels_json: String,
    decision: String,
    reasons_json: String,
    at: i64,
    override_id: Option<i64>,
    actor: String,
}

impl DecisionRow {
    fn read(self, op: &'static str) -> Result<GateDecisionRecord, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt { op, detail };
        let labels = serde_json::from_str(&self.labels_json)
            .map_err(|e| corrupt(format!("gate decision {} labels: {e}", self.id)))?;
        let allowed = match self.decision.as_str() {
            "allow" => true,
            "deny" => false,
            other => return Err(corrupt(format!("gate decision {} is {other:?}", self.id))),
        };
        Ok(GateDecisionRecord {
            id: self.id,
            decision: NewGateDecision {
                service: self.service,
                environment: self.environment,
                labels,
                allowed,
                reasons_json: self.reasons_json,
                at: Timestamp::from_millis(self.at),
                override_id: self.override_id,
                actor: self.actor,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct OverrideRow {
    id: i64,
    service: String,
    environment: String,
    reason: String,
    approver: String,
    created_by: String,
    created_at: i64,
    until: i64,
    revoked_at: Option<i64>,
    revoked_by: Option<String>,
}

impl From<OverrideRow> for GateOverrideRecord {
    fn from(r: OverrideRow) -> Self {
        GateOverrideRecord {
            id: r.id,
            over: NewGateOverride {
                service: r.service,
                environment: r.environment,
                reason: r.reason,
                approver: r.approver,
                created_by: r.created_by,
                created: Timestamp::from_millis(r.created_at),
                until: Timestamp::from_millis(r.until),
            },
            revoked: r
                .revoked_at
                .map(|t| (Timestamp::from_millis(t), r.revoked_by.unwrap_or_default())),
        }
    }
}

impl GateStore for Store {
    async fn record_gate_decision(&self, d: &NewGateDecision, cap: u32) -> Result<i64, StoreError> {
        const OP: &str = "recording a gate decision";
        require(OP, &d.service, "service")?;
        require(OP, &d.environment, "environment")?;
        require_json(OP, &d.reasons_json, || "reasons".to_string())?;
        let labels = serde_json::to_string(&d.labels).expect("strings serialize");
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO gate_decisions (service, environment, labels_json, decision, \
                 reasons_json, at, override_id, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING id",
            )
            .bind(&d.service)
            .bind(&d.environment)
            .bind(&labels)
            .bind(if d.allowed { "allow" } else { "deny" })
            .bind(&d.reasons_json)
            .bind(d.at.millis())
            .bind(d.override_id)
            .bind(&d.actor)
            .fetch_one(&mut *tx)
            .await?;
            bound_scope!(
                tx,
                "gate_decisions",
                "service",
                &d.service,
                "id",
                "at DESC, id DESC",
                cap,
            );
            tx.commit().await?;
            Ok(id)
        }.await)
        .map_err(db_err(OP))
    }

    async fn get_gate_decision(&self, id: i64) -> Result<Option<GateDecisionRecord>, StoreError> {
        Ok(self.gate_decisions_by_id(&[id]).await?.pop())
    }

    async fn gate_decisions_by_id(
        &self,
        ids: &[i64],
    ) -> Result<Vec<GateDecisionRecord>, StoreError> {
        const OP: &str = "reading gate decisions";
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are integers: written into the statement, one query for any number of them.
        let list = ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<DecisionRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DECISION_COLUMNS} FROM gate_decisions WHERE id IN ({list})"
            ))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err(OP))?;
        rows.into_iter().map(|r| r.read(OP)).collect()
    }

    async fn list_gate_decisions(
        &self,
        service: &str,
        environment: Option<&str>,
        limit: u32,
    ) -> Result<Vec<GateDecisionRecord>, StoreError> {
        const OP: &str = "listing gate decisions";
        let rows: Vec<DecisionRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {DECISION_COLUMNS} FROM gate_decisions WHERE service = $1 \
                 AND ($2 IS NULL OR environment = $2) ORDER BY at DESC, id DESC LIMIT $3"
            ))
            .bind(service)
            .bind(environment)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err(OP))?;
        rows.into_iter().map(|r| r.read(OP)).collect()
    }

    async fn add_gate_override(&self, o: &NewGateOverride, cap: u32) -> Result<i64, StoreError> {
        const OP: &str = "adding a gate override";
        require(OP, &o.service, "service")?;
        require(OP, &o.environment, "environment")?;
        require(OP, &o.reason, "reason")?;
        require(OP, &o.approver, "approver")?;
        if o.until <= o.created {
            return Err(invalid(
                OP,
                format!("until {} is not after {}", o.until, o.created),
            ));
        }
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO gate_overrides (service, environment, reason, approver, created_by, \
                 created_at, until) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&o.service)
            .bind(&o.environment)
            .bind(&o.reason)
            .bind(&o.approver)
            .bind(&o.created_by)
            .bind(o.created.millis())
            .bind(o.until.millis())
            .fetch_one(&mut *tx)
            .await?;
            bound_scope!(
                tx,
                "gate_overrides",
                "service",
                &o.service,
                "id",
                "created_at DESC, id DESC",
                cap,
            );
            tx.commit().await?;
            Ok(id)
        }.await)
        .map_err(db_err(OP))
    }

    async fn list_gate_overrides(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<GateOverrideRecord>, StoreError> {
        const OP: &str = "listing gate overrides";
        let rows: Vec<OverrideRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {OVERRIDE_COLUMNS} FROM gate_overrides WHERE service = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(service)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err(OP))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn gate_overrides_in_force(
        &self,
        service: &str,
        environment: &str,
        now: Timestamp,
    ) -> Result<Vec<GateOverrideRecord>, StoreError> {
        const OP: &str = "reading gate overrides in force";
        let rows: Vec<OverrideRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {OVERRIDE_COLUMNS} FROM gate_overrides WHERE service = $1 \
                 AND environment = $2 AND until > $3 AND created_at <= $3 \
                 AND revoked_at IS NULL ORDER BY until DESC, id DESC"
            ))
            .bind(service)
            .bind(environment)
            .bind(now.millis())
            .fetch_all(pool)
            .await
        })
        .map_err(db_err(OP))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn revoke_gate_override(
        &self,
        service: &str,
        id: i64,
        by: &str,
        now: Timestamp,
    ) -> Result<Revoked, StoreError> {
        const OP: &str = "revoking a gate override";
        let found: Option<(OverrideRow, bool)> = with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let updated = sqlx::query(
                "UPDATE gate_overrides SET revoked_at = $3, revoked_by = $4 \
                 WHERE service = $1 AND id = $2 AND revoked_at IS NULL",
            )
            .bind(service)
            .bind(id)
            .bind(now.millis())
            .bind(by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let row: Option<OverrideRow> = sqlx::query_as(&format!(
                "SELECT {OVERRIDE_COLUMNS} FROM gate_overrides WHERE service = $1 AND id = $2"
            ))
            .bind(service)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(row.map(|r| (r, updated == 1)))
        }.await)
        .map_err(db_err(OP))?;
        Ok(match found {
            None => Revoked::NotFound,
            Some((r, true)) => Revoked::Now(r.into()),
            Some((r, false)) => Revoked::Already(r.into()),
        })
    }

    async fn link_gate_decision(
        &self,
        deploy: i64,
        named: Option<i64>,
        within: Span,
    ) -> Result<Option<i64>, StoreError> {
        const OP: &str = "linking a deploy to its gate decision";
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            if let Some(id) = named {
                let updated = sqlx::query(
                    "UPDATE deploys SET gate_decision_id = $2 WHERE id = $1 AND EXISTS \
                     (SELECT 1 FROM gate_decisions g WHERE g.id = $2 \
                     AND g.service = deploys.service AND g.environment = deploys.environment \
                     AND g.decision = 'allow')",
                )
                .bind(deploy)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Ok(Err(invalid(
                        OP,
                        format!(
                            "gate decision {id} is not an allow for deploy {deploy}'s service and environment"
                        ),
                    )));
                }
            } else {
                sqlx::query(
                    "UPDATE deploys SET gate_decision_id = (SELECT g.id FROM gate_decisions g \
                     WHERE g.service = deploys.service AND g.environment = deploys.environment \
                     AND g.decision = 'allow' \
                     AND g.at <= COALESCE(deploys.started_at, deploys.finished_at) \
                     AND g.at >= COALESCE(deploys.started_at, deploys.finished_at) - $2 \
                     ORDER BY g.at DESC, g.id DESC LIMIT 1) \
                     WHERE id = $1 AND gate_decision_id IS NULL",
                )
                .bind(deploy)
                .bind(within.millis())
                .execute(&mut *tx)
                .await?;
            }
            let linked: Option<Option<i64>> =
                sqlx::query_scalar("SELECT gate_decision_id FROM deploys WHERE id = $1")
                    .bind(deploy)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(Ok(linked.flatten()))
        }.await)
        .map_err(db_err(OP))?
    }
}
