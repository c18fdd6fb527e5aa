//! Named leases with a holder and an expiry: the building block for leader election.

use headroom_core::{Span, Timestamp};

use crate::error::db_err;
use crate::{Store, StoreError};

pub trait LeaseStore {
    /// Takes lease `name` for `holder` until `now + ttl` if it is free, expired (at or after its
    /// expiry), or already held by `holder` (a renewal). Returns whether `holder` holds it now.
    fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl: Span,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives the lease up if `holder` holds it, so another can take it without waiting for
    /// expiry. Returns whether it was held by `holder`.
    fn release_lease(
        &self,
        name: &str,
        holder: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

impl LeaseStore for Store {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl: Span,
    ) -> Result<bool, StoreError> {
        const OP: &str = "acquiring a lease";
        if ttl <= Span(0) {
            return Err(StoreError::Invalid {
                op: OP,
                detail: format!("lease ttl must be positive, got {}ms", ttl.millis()),
            });
        }
        // One statement decides: the row is locked while the WHERE is checked, so two callers
        // racing for a free or expired lease cannot both see a row changed.
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE \
                 SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
            )
            .bind(name)
            .bind(holder)
            .bind((now + ttl).millis())
            .bind(now.millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db_err(OP))?;
        Ok(changed == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db_err("releasing a lease"))?;
        Ok(deleted == 1)
    }
}
