//! Versioned schema migrations, applied in order at open, each exactly once.

use headroom_core::Timestamp;
use serde::Serialize;
use sqlx::Executor;

use crate::error::db_err;
use crate::{Backend, Store, StoreError, wall_clock};

/// One schema change, written for each dialect. Versions only ever grow; a released migration
/// is never edited, a new one is appended.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

/// A migration recorded in `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    pub version: i64,
    pub name: String,
    pub applied_at: Timestamp,
}

const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Serialises migrators across replicas for the rest of the transaction (an arbitrary fixed key).
/// SQLite needs none: `BEGIN IMMEDIATE` already holds its single write lock.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7245011563094835001)";

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tokens, alerts, config loads, leases",
        sqlite: "
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'ingest', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE alert_transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    slo TEXT NOT NULL,
    alert_group TEXT NOT NULL,
    severity TEXT NOT NULL,
    from_state TEXT NOT NULL CHECK (from_state IN ('inactive', 'pending', 'firing', 'resolved')),
    to_state TEXT NOT NULL CHECK (to_state IN ('inactive', 'pending', 'firing', 'resolved')),
    values_json TEXT NOT NULL
);
CREATE INDEX alert_transitions_at ON alert_transitions (at);
CREATE INDEX alert_transitions_slo_at ON alert_transitions (slo, at);

CREATE TABLE alert_states (
    slo TEXT NOT NULL,
    alert_group TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('inactive', 'pending', 'firing', 'resolved')),
    since BIGINT NOT NULL,
    PRIMARY KEY (slo, alert_group, severity)
);

CREATE TABLE config_loads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_hash TEXT NOT NULL,
    loaded_at BIGINT NOT NULL,
    ok BOOLEAN NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX config_loads_loaded_at ON config_loads (loaded_at);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
",
        postgres: "
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'ingest', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE alert_transitions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    slo TEXT NOT NULL,
    alert_group TEXT NOT NULL,
    severity TEXT NOT NULL,
    from_state TEXT NOT NULL CHECK (from_state IN ('inactive', 'pending', 'firing', 'resolved')),
    to_state TEXT NOT NULL CHECK (to_state IN ('inactive', 'pending', 'firing', 'resolved')),
    values_json TEXT NOT NULL
);
CREATE INDEX alert_transitions_at ON alert_transitions (at);
CREATE INDEX alert_transitions_slo_at ON alert_transitions (slo, at);

CREATE TABLE alert_states (
    slo TEXT NOT NULL,
    alert_group TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('inactive', 'pending', 'firing', 'resolved')),
    since BIGINT NOT NULL,
    PRIMARY KEY (slo, alert_group, severity)
);

CREATE TABLE config_loads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_hash TEXT NOT NULL,
    loaded_at BIGINT NOT NULL,
    ok BOOLEAN NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX config_loads_loaded_at ON config_loads (loaded_at);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
",
    },
    Migration {
        version: 2,
        name: "routing, notifications, on-call, incidents",
        sqlite: "
CREATE TABLE silences (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    matchers_json TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ends_at >= starts_at)
);
CREATE INDEX silences_ends_at ON silences (ends_at);

CREATE TABLE routed_alerts (
    fingerprint TEXT PRIMARY KEY CHECK (fingerprint <> ''),
    labels_json TEXT NOT NULL,
    annotations_json TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    generator_url TEXT NOT NULL,
    timeout BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    CHECK (ends_at >= starts_at)
);
CREATE INDEX routed_alerts_ends_at ON routed_alerts (ends_at);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL CHECK (attempts >= 0),
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_error TEXT,
    finished_at BIGINT,
    CHECK ((state = 'pending') = (finished_at IS NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_state_created ON outbox (state, created_at);

CREATE TABLE notification_log (
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (receiver, group_key),
    CHECK (expires_at > sent_at)
);
CREATE INDEX notification_log_expires_at ON notification_log (expires_at);

CREATE TABLE escalations (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    subject TEXT NOT NULL,
    policy TEXT NOT NULL,
    state_json TEXT NOT NULL,
    next_at BIGINT,
    open BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX escalations_due ON escalations (next_at) WHERE open;

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT,
    services_json TEXT NOT NULL,
    doc_json TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1)
);
CREATE INDEX incidents_opened_at ON incidents (opened_at);
CREATE INDEX incidents_open ON incidents (opened_at) WHERE resolved_at IS NULL;

CREATE TABLE schedule_overrides (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    schedule TEXT NOT NULL,
    user_id TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX schedule_overrides_schedule_starts ON schedule_overrides (schedule, starts_at);

CREATE TABLE action_links (
    link_id TEXT PRIMARY KEY CHECK (link_id <> ''),
    used_at BIGINT NOT NULL
);
CREATE INDEX action_links_used_at ON action_links (used_at);
",
        postgres: "
CREATE TABLE silences (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    matchers_json TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ends_at >= starts_at)
);
CREATE INDEX silences_ends_at ON silences (ends_at);

CREATE TABLE routed_alerts (
    fingerprint TEXT PRIMARY KEY CHECK (fingerprint <> ''),
    labels_json TEXT NOT NULL,
    annotations_json TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    generator_url TEXT NOT NULL,
    timeout BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    CHECK (ends_at >= starts_at)
);
CREATE INDEX routed_alerts_ends_at ON routed_alerts (ends_at);

CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL CHECK (attempts >= 0),
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_error TEXT,
    finished_at BIGINT,
    CHECK ((state = 'pending') = (finished_at IS NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_state_created ON outbox (state, created_at);

CREATE TABLE notification_log (
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (receiver, group_key),
    CHECK (expires_at > sent_at)
);
CREATE INDEX notification_log_expires_at ON notification_log (expires_at);

CREATE TABLE escalations (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    subject TEXT NOT NULL,
    policy TEXT NOT NULL,
    state_json TEXT NOT NULL,
    next_at BIGINT,
    open BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX escalations_due ON escalations (next_at) WHERE open;

CREATE TABLE incidents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT,
    services_json TEXT NOT NULL,
    doc_json TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1)
);
CREATE INDEX incidents_opened_at ON incidents (opened_at);
CREATE INDEX incidents_open ON incidents (opened_at) WHERE resolved_at IS NULL;

CREATE TABLE schedule_overrides (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    schedule TEXT NOT NULL,
    user_id TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX schedule_overrides_schedule_starts ON schedule_overrides (schedule, starts_at);

CREATE TABLE action_links (
    link_id TEXT PRIMARY KEY CHECK (link_id <> ''),
    used_at BIGINT NOT NULL
);
CREATE INDEX action_links_used_at ON action_links (used_at);
",
    },
    Migration {
        version: 3,
        name: "server secrets",
        sqlite: SERVER_SECRETS,
        postgres: SERVER_SECRETS,
    },
    Migration {
        version: 4,
        name: "respond scope, calendar feed keys",
        // SQLite cannot alter a CHECK constraint: the table is rebuilt with the same rows.
        sqlite: "
CREATE TABLE tokens_v4 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'ingest', 'respond', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
INSERT INTO tokens_v4 SELECT id, name, scope, token_hash, prefix, created_at, last_used_at, revoked_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v4 RENAME TO tokens;
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;
CREATE TABLE feed_keys (
    feed TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
",
        postgres: "
ALTER TABLE tokens DROP CONSTRAINT tokens_scope_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_scope_check CHECK (scope IN ('read', 'ingest', 'respond', 'admin'));
CREATE TABLE feed_keys (
    feed TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
",
    },
];

/// Portable DDL: the same for both backends.
const SERVER_SECRETS: &str = "
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY CHECK (name <> ''),
    value TEXT NOT NULL CHECK (value <> ''),
    created_at BIGINT NOT NULL
);
";

/// The newest schema version this build knows.
fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[derive(sqlx::FromRow)]
struct AppliedRow {
    version: i64,
    name: String,
    applied_at: i64,
}

impl Store {
    /// Applies every migration not yet recorded, oldest first, each in its own transaction with
    /// its `schema_migrations` row. Returns the versions applied now: empty when up to date.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        self.migrate_to(latest_version()).await
    }

    /// As [`migrate`](Self::migrate), stopping after version `upto`: how the suite builds a
    /// database as an older release left it.
    pub(crate) async fn migrate_to(&self, upto: i64) -> Result<Vec<i64>, StoreError> {
        let known = latest_version();
        let found = with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            if backend == Backend::Postgres {
                sqlx::query(PG_MIGRATION_LOCK).execute(&mut *tx).await?;
            }
            sqlx::query(CREATE_SCHEMA_MIGRATIONS).execute(&mut *tx).await?;
            let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(found)
        }.await)
        .map_err(db_err("preparing schema_migrations"))?;
        if let Some(found) = found.filter(|&v| v > known) {
            return Err(StoreError::NewerSchema { found, known });
        }

        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().take_while(|m| m.version <= upto) {
            if found.is_some_and(|v| v >= m.version) {
                continue;
            }
            let migration_err = |cause| StoreError::Migration {
                version: m.version,
                name: m.name,
                cause,
            };
            let ran: bool = with_pool!(self, (pool, backend) => async {
                let mut tx = pool.begin_with(backend.begin_write()).await?;
                if backend == Backend::Postgres {
                    sqlx::query(PG_MIGRATION_LOCK).execute(&mut *tx).await?;
                }
                // Under the lock, check again: another replica may have just applied it.
                let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_one(&mut *tx)
                    .await?;
                if done > 0 {
                    return Ok::<bool, sqlx::Error>(false);
                }
                // A plain string with no arguments runs every statement in it (PostgreSQL: simple
                // query protocol).
                tx.execute(m.sql(backend)).await?;
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                    .bind(m.version)
                    .bind(m.name)
                    .bind(wall_clock().millis())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }.await)
            .map_err(migration_err)?;
            if ran {
                applied.push(m.version);
            }
        }
        Ok(applied)
    }

    /// What `schema_migrations` records, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        let rows: Vec<AppliedRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
                .fetch_all(pool)
                .await
        })
        .map_err(db_err("reading schema_migrations"))?;
        Ok(rows
            .into_iter()
            .map(|r| AppliedMigration {
                version: r.version,
                name: r.name,
                applied_at: Timestamp::from_millis(r.applied_at),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strictly_increase() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
        assert_eq!(versions.first(), Some(&1));
    }
}
