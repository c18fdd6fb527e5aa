//! Config reload history: every load attempt, accepted or rejected, with what was said about it.

use headroom_core::Timestamp;
use serde::Serialize;

use crate::error::db_err;
use crate::{Store, StoreError};

/// One attempt to load a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigLoad {
    /// Identifies the config content (a hash of it).
    pub version_hash: String,
    pub loaded_at: Timestamp,
    /// Whether it was applied; a rejected load leaves the previous config running.
    pub ok: bool,
    /// The summary on success, the reason on rejection.
    pub message: String,
}

#[derive(sqlx::FromRow)]
struct ConfigRow {
    version_hash: String,
    loaded_at: i64,
    ok: bool,
    message: String,
}

pub trait ConfigStore {
    fn record_config(
        &self,
        version_hash: &str,
        loaded_at: Timestamp,
        ok: bool,
        message: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The latest `limit` load attempts, newest first.
    fn config_history(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ConfigLoad>, StoreError>> + Send;
}

impl ConfigStore for Store {
    async fn record_config(
        &self,
        version_hash: &str,
        loaded_at: Timestamp,
        ok: bool,
        message: &str,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO config_loads (version_hash, loaded_at, ok, message) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(version_hash)
            .bind(loaded_at.millis())
            .bind(ok)
            .bind(message)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db_err("recording a config load"))
    }

    async fn config_history(&self, limit: u32) -> Result<Vec<ConfigLoad>, StoreError> {
        let rows: Vec<ConfigRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT version_hash, loaded_at, ok, message FROM config_loads \
                 ORDER BY loaded_at DESC, id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db_err("reading config history"))?;
        Ok(rows
            .into_iter()
            .map(|r| ConfigLoad {
                version_hash: r.version_hash,
                loaded_at: Timestamp::from_millis(r.loaded_at),
                ok: r.ok,
                message: r.message,
            })
            .collect())
    }
}
