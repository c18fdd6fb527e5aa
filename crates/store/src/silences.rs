//! Alertmanager-style silences. The matchers are JSON the routing layer owns; the store keeps
//! them opaque and queries by time only.

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{db_err, require_json};
use crate::{Store, StoreError};

/// One silence. It is in force over `[starts_at, ends_at)`: pending before, expired from
/// `ends_at` on, as Alertmanager's silence states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceRecord {
    /// Chosen by the caller (a UUID); putting the same id again replaces the silence.
    pub id: String,
    /// The matchers, as JSON.
    pub matchers_json: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub created_by: String,
    pub comment: String,
    pub updated_at: Timestamp,
}

/// What [`SilenceStore::expire_silence`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireOutcome {
    /// The silence was pending or active and now ends at `now`.
    Expired,
    /// The silence had already ended at or before `now`; nothing changed.
    AlreadyExpired,
    NotFound,
}

const SILENCE_COLUMNS: &str =
    "id, matchers_json, starts_at, ends_at, created_by, comment, updated_at";

#[derive(sqlx::FromRow)]
struct SilenceRow {
    id: String,
    matchers_json: String,
    starts_at: i64,
    ends_at: i64,
    created_by: String,
    comment: String,
    updated_at: i64,
}

impl From<SilenceRow> for SilenceRecord {
    fn from(r: SilenceRow) -> SilenceRecord {
        SilenceRecord {
            id: r.id,
            matchers_json: r.matchers_json,
            starts_at: Timestamp::from_millis(r.starts_at),
            ends_at: Timestamp::from_millis(r.ends_at),
            created_by: r.created_by,
            comment: r.comment,
            updated_at: Timestamp::from_millis(r.updated_at),
        }
    }
}

pub trait SilenceStore {
    /// Inserts the silence, or replaces the one with the same id. `Invalid` when `ends_at` is
    /// before `starts_at` or the matchers are not JSON.
    fn put_silence(
        &self,
        silence: &SilenceRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_silence(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<SilenceRecord>, StoreError>> + Send;

    /// Every stored silence, expired ones included, by `starts_at` then id.
    fn list_silences(&self) -> impl Future<Output = Result<Vec<SilenceRecord>, StoreError>> + Send;

    /// Ends the silence at `now` if it has not ended yet. A pending silence (starting after
    /// `now`) also gets `starts_at = now`, as Alertmanager does, so it never comes into force.
    fn expire_silence(
        &self,
        id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<ExpireOutcome, StoreError>> + Send;

    /// Deletes silences whose `ends_at` is before `t`; returns how many.
    fn delete_silences_ended_before(
        &self,
        t: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl SilenceStore for Store {
    async fn put_silence(&self, s: &SilenceRecord) -> Result<(), StoreError> {
        const OP: &str = "storing a silence";
        require_json(OP, &s.matchers_json, || {
            format!("matchers of silence {}", s.id)
        })?;
        if s.ends_at < s.starts_at {
            return Err(StoreError::Invalid {
                op: OP,
                detail: format!(
                    "silence {} ends at {} before it starts at {}",
                    s.id, s.ends_at, s.starts_at
                ),
            });
        }
        with_pool!(self, pool => {
            sqlx::query(&format!(
                "INSERT INTO silences ({SILENCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET matchers_json = excluded.matchers_json, \
                 starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
                 created_by = excluded.created_by, comment = excluded.comment, \
                 updated_at = excluded.updated_at"
            ))
            .bind(&s.id)
            .bind(&s.matchers_json)
            .bind(s.starts_at.millis())
            .bind(s.ends_at.millis())
            .bind(&s.created_by)
            .bind(&s.comment)
            .bind(s.updated_at.millis())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db_err(OP))
    }

    async fn get_silence(&self, id: &str) -> Result<Option<SilenceRecord>, StoreError> {
        let row: Option<SilenceRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err("reading a silence"))?;
        Ok(row.map(SilenceRecord::from))
    }

    async fn list_silences(&self) -> Result<Vec<SilenceRecord>, StoreError> {
        let rows: Vec<SilenceRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "SELECT {SILENCE_COLUMNS} FROM silences ORDER BY starts_at, id"
            ))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("listing silences"))?;
        Ok(rows.into_iter().map(SilenceRecord::from).collect())
    }

    async fn expire_silence(&self, id: &str, now: Timestamp) -> Result<ExpireOutcome, StoreError> {
        const OP: &str = "expiring a silence";
        // One conditional statement changes it; only when it changed nothing do we ask why.
        let (changed, exists) = with_pool!(self, pool => async {
            let changed = sqlx::query(
                "UPDATE silences SET \
                 starts_at = CASE WHEN starts_at > $1 THEN $1 ELSE starts_at END, \
                 ends_at = $1, updated_at = $1 \
                 WHERE id = $2 AND ends_at > $1",
            )
            .bind(now.millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected();
            if changed > 0 {
                return Ok((true, true));
            }
            let found: Option<i64> = sqlx::query_scalar("SELECT ends_at FROM silences WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Ok::<_, sqlx::Error>((false, found.is_some()))
        }.await)
        .map_err(db_err(OP))?;
        Ok(match (changed, exists) {
            (true, _) => ExpireOutcome::Expired,
            (false, true) => ExpireOutcome::AlreadyExpired,
            (false, false) => ExpireOutcome::NotFound,
        })
    }

    async fn delete_silences_ended_before(&self, t: Timestamp) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM silences WHERE ends_at < $1")
                .bind(t.millis())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db_err("deleting ended silences"))
    }
}
