//! API tokens: created with a scope, shown once, stored only as a SHA-256 hash.

use std::fmt;
use std::str::FromStr;

use headroom_core::{Span, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::db_err;
use crate::{Store, StoreError};

/// What a token may do. `ingest` and `respond` both include `read` and neither includes the
/// other: a leaked metrics-pushing credential cannot mute pages, and a responder's cannot forge
/// data. `admin` includes everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read SLOs, budgets, alerts.
    Read,
    /// Read, and push data in: events, remote_write, heartbeats, alerts, webhooks.
    Ingest,
    /// Read, and act on what fires: silences, incidents, escalation ack/resolve, overrides.
    Respond,
    /// Everything, including managing tokens and seeing the raw config.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Ingest, Scope::Respond, Scope::Admin];

    /// Whether a token with this scope may do something that needs `required`.
    pub fn allows(self, required: Scope) -> bool {
        self == required || self == Scope::Admin || required == Scope::Read
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Respond => "respond",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token scope {0:?}: expected read, ingest, respond or admin")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        match s {
            "read" => Ok(Scope::Read),
            "ingest" => Ok(Scope::Ingest),
            "respond" => Ok(Scope::Respond),
            "admin" => Ok(Scope::Admin),
            _ => Err(UnknownScope(s.to_string())),
        }
    }
}

/// A token as it can be shown: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    /// The first characters of the plaintext (`hr_` and 8 hex digits), to recognise a token by.
    pub prefix: String,
    pub scope: Scope,
    pub created_at: Timestamp,
    /// When a request last used it, to within [`LAST_USED_PRECISION`].
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenInfo {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// Every plaintext token starts with this, so scanners and people can tell what it is.
pub const TOKEN_PREFIX: &str = "hr_";
const SECRET_BYTES: usize = 32;
/// `hr_` and 8 of the 64 hex digits: enough to tell tokens apart, too little to matter.
const DISPLAY_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 8;
/// `last_used_at` is only rewritten when it is at least this stale, so verifying a token on every
/// request does not turn every request into a write.
pub const LAST_USED_PRECISION: Span = Span::MINUTE;

const TOKEN_COLUMNS: &str =
    "id, name, scope, token_hash, prefix, created_at, last_used_at, revoked_at";

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    name: String,
    scope: String,
    token_hash: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TokenRow {
    fn into_info(self, op: &'static str) -> Result<TokenInfo, StoreError> {
        let scope = self
            .scope
            .parse()
            .map_err(|e: UnknownScope| StoreError::Corrupt {
                op,
                detail: format!("token {}: {e}", self.id),
            })?;
        Ok(TokenInfo {
            id: self.id,
            name: self.name,
            prefix: self.prefix,
            scope,
            created_at: Timestamp::from_millis(self.created_at),
            last_used_at: self.last_used_at.map(Timestamp::from_millis),
            revoked_at: self.revoked_at.map(Timestamp::from_millis),
        })
    }
}

/// The hex SHA-256 of a plaintext token: what the database keeps instead of it.
pub(crate) fn token_hash(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// A new random secret: `prefix` and 64 hex digits of a CSPRNG (ThreadRng, seeded from the OS).
pub(crate) fn new_secret(prefix: &str) -> String {
    let secret: [u8; SECRET_BYTES] = rand::random();
    format!("{prefix}{}", hex::encode(secret))
}

/// Whether `s` has the shape [`new_secret`] makes with `prefix`: only such strings are looked up.
pub(crate) fn looks_like_secret(s: &str, prefix: &str) -> bool {
    s.len() == prefix.len() + 2 * SECRET_BYTES
        && s.starts_with(prefix)
        && s[prefix.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn looks_like_token(s: &str) -> bool {
    looks_like_secret(s, TOKEN_PREFIX)
}

pub trait TokenStore {
    /// Creates a token at `now` and returns it with its plaintext, which is not stored and
    /// cannot be shown again. Fails with `Conflict` if a live token already has this name.
    fn create_token(
        &self,
        name: &str,
        scope: Scope,
        now: Timestamp,
    ) -> impl Future<Output = Result<(TokenInfo, String), StoreError>> + Send;

    /// The live token whose plaintext this is, or `None` (unknown, malformed or revoked).
    /// Records the use at `now` in `last_used_at`.
    fn verify_token(
        &self,
        plaintext: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<TokenInfo>, StoreError>> + Send;

    /// All tokens, revoked ones included, oldest first.
    fn list_tokens(&self) -> impl Future<Output = Result<Vec<TokenInfo>, StoreError>> + Send;

    /// Revokes a token for good at `now`. Returns `false` if there is no token with this id;
    /// revoking a revoked token keeps its first revocation time and returns `true`.
    fn revoke_token(
        &self,
        id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// How many live (unrevoked) tokens exist.
    fn count_tokens(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl TokenStore for Store {
    async fn create_token(
        &self,
        name: &str,
        scope: Scope,
        now: Timestamp,
    ) -> Result<(TokenInfo, String), StoreError> {
        const OP: &str = "creating a token";
        if name.trim().is_empty() {
            return Err(StoreError::Invalid {
                op: OP,
                detail: "a token needs a name".into(),
            });
        }
        let id: [u8; 8] = rand::random();
        let plaintext = new_secret(TOKEN_PREFIX);
        let info = TokenInfo {
            id: format!("tok_{}", hex::encode(id)),
            name: name.to_string(),
            prefix: plaintext[..DISPLAY_PREFIX_LEN].to_string(),
            scope,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        let hash = token_hash(&plaintext);
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO tokens (id, name, scope, token_hash, prefix, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&info.id)
            .bind(&info.name)
            .bind(scope.as_str())
            .bind(&hash)
            .bind(&info.prefix)
            .bind(info.created_at.millis())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(|e| match db_err(OP)(e) {
            StoreError::Conflict { op, .. } => StoreError::Conflict {
                op,
                detail: format!(
                    "a live token named {name:?} already exists: revoke it or choose another name"
                ),
            },
            other => other,
        })?;
        Ok((info, plaintext))
    }

    async fn verify_token(
        &self,
        plaintext: &str,
        now: Timestamp,
    ) -> Result<Option<TokenInfo>, StoreError> {
        const OP: &str = "verifying a token";
        if !looks_like_token(plaintext) {
            return Ok(None);
        }
        let hash = token_hash(plaintext);
        let row: Option<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = $1"))
                .bind(&hash)
                .fetch_optional(pool)
                .await
        })
        .map_err(db_err(OP))?;
        let Some(row) = row else {
            return Ok(None);
        };
        // The lookup already matched; comparing again in constant time keeps the decision itself
        // free of timing differences whatever the index does.
        if !bool::from(row.token_hash.as_bytes().ct_eq(hash.as_bytes())) || row.revoked_at.is_some()
        {
            return Ok(None);
        }
        let mut info = row.into_info(OP)?;
        if info
            .last_used_at
            .is_none_or(|t| now - t >= LAST_USED_PRECISION)
        {
            with_pool!(self, pool => {
                sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(now.millis())
                    .bind(&info.id)
                    .execute(pool)
                    .await
                    .map(|_| ())
            })
            .map_err(db_err(OP))?;
            info.last_used_at = Some(now);
        }
        Ok(Some(info))
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        const OP: &str = "listing tokens";
        let rows: Vec<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"))
                .fetch_all(pool)
                .await
        })
        .map_err(db_err(OP))?;
        rows.into_iter().map(|r| r.into_info(OP)).collect()
    }

    async fn revoke_token(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        const OP: &str = "revoking a token";
        // COALESCE keeps the first revocation time; the row still counts as matched, so zero
        // rows means the id does not exist.
        let matched = with_pool!(self, pool => {
            sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
                .bind(now.millis())
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db_err(OP))?;
        Ok(matched > 0)
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        let n: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL")
                .fetch_one(pool)
                .await
        })
        .map_err(db_err("counting tokens"))?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_and_respond_are_disjoint_and_admin_holds_all() {
        use Scope::*;
        let allowed = |s: Scope| {
            Scope::ALL
                .into_iter()
                .filter(move |r| s.allows(*r))
                .collect::<Vec<_>>()
        };
        assert_eq!(allowed(Read), [Read]);
        assert_eq!(allowed(Ingest), [Read, Ingest]);
        assert_eq!(allowed(Respond), [Read, Respond]);
        assert_eq!(allowed(Admin), Scope::ALL);
    }

    #[test]
    fn scopes_round_trip_through_text() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(
            "root".parse::<Scope>(),
            Err(UnknownScope("root".to_string()))
        );
    }

    #[test]
    fn only_well_formed_tokens_are_looked_up() {
        let good = format!("hr_{}", "ab".repeat(32));
        assert!(looks_like_token(&good));
        assert!(!looks_like_token(&good[..good.len() - 1]));
        assert!(!looks_like_token(&good.replace("hr_", "xx_")));
        assert!(!looks_like_token(&format!("hr_{}", "zz".repeat(32))));
    }

    #[test]
    fn hash_is_hex_sha256() {
        // SHA-256("abc"), from FIPS 180-2.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
