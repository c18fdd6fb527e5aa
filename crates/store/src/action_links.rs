//! Single-use action links (acknowledge, resolve from a notification): the signature proves a
//! link genuine, this table makes it work once.

use headroom_core::Timestamp;

use crate::error::db_err;
use crate::{Store, StoreError};

pub trait ActionLinkStore {
    /// Records that link `link_id` was used at `now`. Returns `true` only for the first use of
    /// an id: the record is a unique insert, so of concurrent uses exactly one wins.
    fn use_action_link(
        &self,
        link_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether link `link_id` was used (and not yet forgotten); changes nothing.
    fn action_link_used(
        &self,
        link_id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets uses recorded before `t`; returns how many. A forgotten link works again, so `t`
    /// must be no later than the issue time of the oldest link whose signature is still valid
    /// (now minus the longest link lifetime).
    fn delete_action_links_before(
        &self,
        t: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl ActionLinkStore for Store {
    async fn use_action_link(&self, link_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        const OP: &str = "using an action link";
        if link_id.is_empty() {
            return Err(StoreError::Invalid {
                op: OP,
                detail: "an action link needs an id".into(),
            });
        }
        let inserted = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO action_links (link_id, used_at) VALUES ($1, $2) \
                 ON CONFLICT (link_id) DO NOTHING",
            )
            .bind(link_id)
            .bind(now.millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db_err(OP))?;
        Ok(inserted == 1)
    }

    async fn action_link_used(&self, link_id: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT used_at FROM action_links WHERE link_id = $1")
                .bind(link_id)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err("reading an action link"))?;
        Ok(found.is_some())
    }

    async fn delete_action_links_before(&self, t: Timestamp) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM action_links WHERE used_at < $1")
                .bind(t.millis())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db_err("deleting used action links"))
    }
}
