//! Server secrets: values generated once and kept for the life of the database (the key that
//! signs action links), so every replica and every restart agrees on them.

use headroom_core::Timestamp;

use crate::error::db_err;
use crate::{Store, StoreError};

pub trait SecretStore {
    /// The secret called `name`: the stored one, or `candidate` stored now if there is none.
    /// The insert is conditional, so of concurrent first starts exactly one candidate wins and
    /// every caller gets the winner. `Invalid` when the name or candidate is empty.
    fn server_secret(
        &self,
        name: &str,
        candidate: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
}

impl SecretStore for Store {
    async fn server_secret(
        &self,
        name: &str,
        candidate: &str,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        const OP: &str = "reading a server secret";
        if name.is_empty() || candidate.is_empty() {
            return Err(StoreError::Invalid {
                op: OP,
                detail: "a server secret needs a name and a value".into(),
            });
        }
        with_pool!(self, pool => async {
            sqlx::query(
                "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(candidate)
            .bind(now.millis())
            .execute(pool)
            .await?;
            sqlx::query_scalar::<_, String>("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await
        }.await)
        .map_err(db_err(OP))
    }
}
