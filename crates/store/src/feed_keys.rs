//! Calendar feed keys: one secret per feed (a user's or a schedule's), carried in the feed's
//! URL because calendar apps cannot send headers. A key reads that one feed and nothing else;
//! rotating it replaces the old one at once. Only the SHA-256 hash is stored.

use headroom_core::Timestamp;
use subtle::ConstantTimeEq;

use crate::error::db_err;
use crate::tokens::{looks_like_secret, new_secret, token_hash};
use crate::{Store, StoreError};

/// Every plaintext feed key starts with this, so it cannot be mistaken for an API token.
pub const FEED_KEY_PREFIX: &str = "hrf_";

pub trait FeedKeyStore {
    /// A new key for `feed` (e.g. `user:alice`), replacing any earlier one; the plaintext is
    /// returned once and not stored.
    fn rotate_feed_key(
        &self,
        feed: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// The feed this key reads, or `None` for an unknown, malformed or replaced key.
    fn feed_for_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}

impl FeedKeyStore for Store {
    async fn rotate_feed_key(&self, feed: &str, now: Timestamp) -> Result<String, StoreError> {
        const OP: &str = "rotating a feed key";
        if feed.trim().is_empty() {
            return Err(StoreError::Invalid {
                op: OP,
                detail: "a feed key needs a feed".into(),
            });
        }
        let plaintext = new_secret(FEED_KEY_PREFIX);
        let hash = token_hash(&plaintext);
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO feed_keys (feed, key_hash, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (feed) DO UPDATE SET key_hash = excluded.key_hash, created_at = excluded.created_at",
            )
            .bind(feed)
            .bind(&hash)
            .bind(now.millis())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db_err(OP))?;
        Ok(plaintext)
    }

    async fn feed_for_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        if !looks_like_secret(key, FEED_KEY_PREFIX) {
            return Ok(None);
        }
        let hash = token_hash(key);
        let row: Option<(String, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT feed, key_hash FROM feed_keys WHERE key_hash = $1")
                .bind(&hash)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err("reading a feed key"))?;
        Ok(row
            .filter(|(_, stored)| bool::from(stored.as_bytes().ct_eq(hash.as_bytes())))
            .map(|(feed, _)| feed))
    }
}
