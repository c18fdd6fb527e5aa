//! On-call schedule overrides: someone else takes a schedule's shifts over a time range.

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::db_err;
use crate::{Store, StoreError};

/// `user_id` is on call for `schedule` over `[starts_at, ends_at)`, in place of the rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleOverride {
    pub id: String,
    pub schedule: String,
    pub user_id: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub created_by: String,
    pub created_at: Timestamp,
}

const OVERRIDE_COLUMNS: &str = "id, schedule, user_id, starts_at, ends_at, created_by, created_at";

#[derive(sqlx::FromRow)]
struct OverrideRow {
    id: String,
    schedule: String,
    user_id: String,
    starts_at: i64,
    ends_at: i64,
    created_by: String,
    created_at: i64,
}

pub trait OverrideStore {
    /// Stores a new override. `Invalid` unless `ends_at` is after `starts_at` (the database
    /// checks it too); `Conflict` when the id is taken.
    fn add_override(
        &self,
        o: &ScheduleOverride,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The overrides of `schedule` that overlap `[from, to)` (start before `to`, end after
    /// `from`), by `starts_at` then id. Empty when `to` is not after `from`.
    fn list_overrides(
        &self,
        schedule: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<ScheduleOverride>, StoreError>> + Send;

    /// Returns whether there was an override with this id.
    fn delete_override(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

impl OverrideStore for Store {
    async fn add_override(&self, o: &ScheduleOverride) -> Result<(), StoreError> {
        const OP: &str = "adding a schedule override";
        if o.ends_at <= o.starts_at {
            return Err(StoreError::Invalid {
                op: OP,
                detail: format!(
                    "override {} of {} ends at {}, not after its start at {}",
                    o.id, o.schedule, o.ends_at, o.starts_at
                ),
            });
        }
        with_pool!(self, pool => {
            sqlx::query(&format!(
                "INSERT INTO schedule_overrides ({OVERRIDE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(&o.id)
            .bind(&o.schedule)
            .bind(&o.user_id)
            .bind(o.starts_at.millis())
            .bind(o.ends_at.millis())
            .bind(&o.created_by)
            .bind(o.created_at.millis())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db_err(OP))
    }

    async fn list_overrides(
        &self,
        schedule: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ScheduleOverride>, StoreError> {
        // An empty range overlaps nothing (the overlap test alone would match long overrides).
        if to <= from {
            return Ok(Vec::new());
        }
        let rows: Vec<OverrideRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides \
                 WHERE schedule = $1 AND starts_at < $3 AND ends_at > $2 \
                 ORDER BY starts_at, id"
            ))
            .bind(schedule)
            .bind(from.millis())
            .bind(to.millis())
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("listing schedule overrides"))?;
        Ok(rows
            .into_iter()
            .map(|r| ScheduleOverride {
                id: r.id,
                schedule: r.schedule,
                user_id: r.user_id,
                starts_at: Timestamp::from_millis(r.starts_at),
                ends_at: Timestamp::from_millis(r.ends_at),
                created_by: r.created_by,
                created_at: Timestamp::from_millis(r.created_at),
            })
            .collect())
    }

    async fn delete_override(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM schedule_overrides WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db_err("deleting a schedule override"))?;
        Ok(deleted == 1)
    }
}
