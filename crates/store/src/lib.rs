//! headroom's state in SQL: API tokens, alert state and history, config reloads and leases,
//! and for alert routing, on-call and incidents: silences, received alerts, the notification
//! outbox and log, escalations, incidents, schedule overrides and used action links; and for
//! delivery: deploys, commits, merged pull/merge requests and change markers. In SQLite
//! (the embedded default) or PostgreSQL, behind one [`Store`] handle.
//!
//! Each aggregate has its own trait ([`TokenStore`], [`AlertStore`], [`ConfigStore`],
//! [`LeaseStore`], [`SilenceStore`], [`RoutedAlertStore`], [`OutboxStore`],
//! [`NotificationLogStore`], [`EscalationStore`], [`IncidentStore`], [`OverrideStore`],
//! [`ActionLinkStore`], [`SecretStore`], [`DeployStore`], [`ChangeStore`], [`GateStore`], [`ActionRunStore`]), implemented once for [`Store`]: queries are written once with `$1`
//! placeholders, which both dialects accept, and only DDL differs per dialect. The conformance
//! suite (`conformance`, feature `conformance`) runs every behaviour against both backends.
//!
//! # Schema
//!
//! Portable column types only: timestamps are `BIGINT` milliseconds since the epoch (UTC), ids
//! are `TEXT`, JSON is `TEXT`, flags are `BOOLEAN`. JSON columns (`*_json`) belong to the crates
//! that write them: the store only checks that they parse.
//!
//! | table | key | columns |
//! | --- | --- | --- |
//! | `_sqlx_migrations` (sqlx's) | `version` | `description`, `installed_on`, `success`, `checksum`, `execution_time` |
//! | `tokens` | `id` | `name`, `scope`, `token_hash` (unique), `prefix`, `created_at`, `last_used_at`, `revoked_at` |
//! | `alert_transitions` | `id` (sequence) | `at`, `slo`, `alert_group`, `severity`, `from_state`, `to_state`, `values_json` |
//! | `alert_states` | (`slo`, `alert_group`, `severity`) | `state`, `since` |
//! | `config_loads` | `id` (sequence) | `version_hash`, `loaded_at`, `ok`, `message` |
//! | `leases` | `name` | `holder`, `expires_at` |
//! | `silences` | `id` | `matchers_json`, `starts_at`, `ends_at`, `created_by`, `comment`, `updated_at` |
//! | `routed_alerts` | `fingerprint` | `labels_json`, `annotations_json`, `starts_at`, `ends_at`, `updated_at`, `generator_url`, `timeout`, `source` |
//! | `outbox` | `id` (sequence) | `idempotency_key` (unique), `receiver`, `integration`, `payload_json`, `state`, `attempts`, `created_at`, `next_attempt_at`, `claimed_until`, `last_error`, `finished_at` |
//! | `notification_log` | (`receiver`, `group_key`) | `payload_json`, `sent_at`, `expires_at` |
//! | `escalations` | `id` | `subject`, `policy`, `state_json`, `next_at`, `open`, `updated_at` |
//! | `incidents` | `id` (sequence); unique `external_ref` (a sender's id for it, or null) | `title`, `severity`, `status`, `opened_at`, `resolved_at`, `services_json`, `doc_json`, `version` |
//! | `schedule_overrides` | `id` | `schedule`, `user_id`, `starts_at`, `ends_at`, `created_by`, `created_at` |
//! | `action_links` | `link_id` | `used_at` |
//! | `server_secrets` | `name` | `value`, `created_at` |
//! | `deploys` | `id` (sequence); unique (`service`, `source`, `external_id`) | `environment`, `version`, `sha`, `started_at`, `finished_at`, `status`, `labels_json`, `changes_json`, `recorded_at`, `gate_decision_id` |
//! | `commits` | (`repository`, `sha`) | `parents_json`, `authored_at`, `committed_at`, `files_json` |
//! | `pull_requests` | (`repository`, `number`) | `opened_at`, `merged_at`, `merge_sha`, `head_sha` |
//! | `action_runs` | `id` | `action`, `trigger_kind`, `context_json`, `request_json`, `state`, `requested_by`, `created_at`, `approved_by`, `decided_at`, `reason`, `attempts`, `last_error`, `finished_at`, `incident_id` |
//! | `change_markers` | `id` (sequence) | `service`, `summary`, `source`, `at`, `custom_details_json`, `links_json`, `recorded_at` |
//! | `gate_decisions` | `id` (sequence) | `service`, `environment`, `labels_json`, `decision`, `reasons_json`, `at`, `override_id`, `actor` |
//! | `gate_overrides` | `id` (sequence) | `service`, `environment`, `reason`, `approver`, `created_by`, `created_at`, `until`, `revoked_at`, `revoked_by` |
//!
//! # Invariants
//!
//! - Migrations (`migrations/<dialect>/NNNN_*.sql`, embedded by `sqlx::migrate!`) are ordered by
//!   version; each is recorded with its checksum in `_sqlx_migrations` in the same transaction, so
//!   it is applied exactly once, even when several replicas start at the same time: one run is one
//!   transaction holding a lock (PostgreSQL: a transaction-scoped advisory lock; SQLite:
//!   `BEGIN IMMEDIATE`), and a failed run changes nothing. A database whose schema is newer than
//!   this build, or whose applied migration differs from this build's file, is refused rather
//!   than misread. A database an earlier release migrated (its versions in `schema_migrations`)
//!   is adopted in that transaction: its versions are recorded in `_sqlx_migrations`, nothing is
//!   re-run, and `schema_migrations` is dropped.
//! - A token's plaintext (`hr_` + 64 hex digits) is returned once by `create_token` and never
//!   stored: the table holds its SHA-256 (hex) and an 11-character display prefix. Lookup is by
//!   hash, then the hash is compared in constant time. At most one live (unrevoked) token has a
//!   given name; a revoked token's name can be reused. Revocation is permanent.
//! - Time is an argument (`now`), as in the core; the store never reads the clock (the database
//!   stamps `_sqlx_migrations.installed_on`).
//! - `record_transitions` writes a batch in one transaction: either every transition is in the
//!   history and `alert_states` reflects it, or nothing changed. `alert_states` holds the latest
//!   state per (slo, group, severity); a transition older than the stored state never overwrites it.
//!   Alert states are one of `inactive`, `pending`, `firing`, `resolved` (checked by the database).
//! - `last_used_at` is rewritten at most once per [`LAST_USED_PRECISION`] per token, so
//!   authenticating every request does not make every request a write.
//! - Histories are append-only and read newest first; rows at the same instant come back in reverse
//!   insertion order.
//! - A lease is held by one holder until `expires_at` (exclusive). Acquiring, renewing and stealing
//!   an expired lease are one conditional upsert, so concurrent callers cannot both win.
//! - A silence is in force over `[starts_at, ends_at)`, and `ends_at >= starts_at` (checked by
//!   the database). Expiring ends it at `now`; a pending one also starts at `now`, so it never
//!   comes into force. Expiring an ended silence changes nothing.
//! - `save_alerts`, `put_notification_log` and `enqueue` write their batch in one transaction:
//!   all of it or nothing. A routed alert has `ends_at >= starts_at` and a notification log
//!   entry `expires_at > sent_at` (checked by the database); an entry sent before the stored one
//!   never replaces it.
//! - The outbox: a notification `enqueue` acknowledged is committed. Its idempotency key is
//!   unique, so enqueueing it again (even after delivery, or concurrently) queues nothing and
//!   returns the same id. A batch inserts its keys in sorted order, so concurrent batches sharing
//!   keys cannot deadlock; ids within a batch follow key order.
//!   States are `pending`, `delivered`, `failed` (checked by the database, with `finished_at` set
//!   exactly when not pending); delivered and failed are final: every transition starts from
//!   pending. `claim_due` takes due, unclaimed items and holds them until `claimed_until`
//!   (exclusive) in one transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED` and the conditions
//!   rechecked on the updated row; SQLite: `BEGIN IMMEDIATE`), so concurrent claimers never get
//!   the same item while its claim lasts. Delivery is at most once per key as long as a worker
//!   ends its attempt (`mark_*`) before its claim runs out.
//! - An incident's id comes from a sequence and is never reused; its version starts at 1 and
//!   grows by one per update. An update names the version it read and is refused (`Conflict`)
//!   when another write came in between: the check and the write are one statement.
//! - A schedule override covers `[starts_at, ends_at)` with `ends_at > starts_at` (checked before
//!   writing and by the database); a query for `[from, to)` returns every override overlapping it.
//! - An action link id can be used once: the use is a unique insert, so of concurrent uses
//!   exactly one succeeds. A deleted use is forgotten, so uses are deleted only once the links
//!   they record can no longer be verified.
//! - A server secret, once stored, never changes: the first stored value wins.
//! - A deploy is keyed by service, source and the sender's id for it: recording it again (a
//!   retried hook, a later status) updates the one row. Status is `success`, `failure` or
//!   `cancelled` and source `github`, `gitlab`, `api` or `cli` (checked by the database); a start
//!   is never after the finish. A commit is keyed by repository and sha and never changes once
//!   stored, except that a file list fills one that had none. Deploys and change markers are
//!   bounded per service, commits and merged requests per repository: the write that passes the
//!   cap drops the oldest, down to seven eighths of it, in its transaction (`bound_scope!`;
//!   defaults [`DEPLOYS_PER_SERVICE`], [`COMMITS_PER_REPOSITORY`],
//!   [`PULL_REQUESTS_PER_REPOSITORY`], [`CHANGE_MARKERS_PER_SERVICE`]).
//! - Gate decisions are `allow` or `deny` (checked by the database) and never change; gate
//!   overrides cover `[created_at, until)` with `until > created_at` (checked by the database),
//!   and a revocation, once made, keeps its time and revoker. Both are bounded per service
//!   ([`GATE_DECISIONS_PER_SERVICE`], [`GATE_OVERRIDES_PER_SERVICE`]). A deploy links at most one
//!   decision, an allow of its own service and environment.
//! - An action run to be sent is stored in the same transaction as its outbox item (at creation,
//!   or when approved), so no run is sent unrecorded. Its state is one of `awaiting_approval`,
//!   `queued`, `dry_run`, `delivered`, `failed`, `rejected` (checked by the database); approval
//!   and rejection start only from `awaiting_approval`, an attempt's outcome only from `queued`.
//!   Runs are bounded ([`ACTION_RUNS_KEPT`]): the insert past the cap drops the oldest.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Runs `$body` once per backend with `$pool` bound to that backend's pool, so each query is
/// written once. The second form also binds the [`Backend`] for the few dialect-specific bits.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        with_pool!($store, ($pool, _backend) => $body)
    };
    ($store:expr, ($pool:ident, $backend:ident) => $body:expr) => {
        match &$store.db {
            $crate::Db::Sqlite($pool) => {
                let $backend = $crate::Backend::Sqlite;
                $body
            }
            $crate::Db::Postgres($pool) => {
                let $backend = $crate::Backend::Postgres;
                $body
            }
        }
    };
}

/// Bounds one scope's rows (a service's, a repository's) at `$cap`, newest first by `$order`:
/// the write that takes the scope past the cap drops its oldest rows down to seven eighths of it,
/// in the write's transaction. Each write pays a count over the scope's index; the sort a trim
/// needs runs once every `cap / 8` writes rather than on each. Caps below 8 trim to the cap.
macro_rules! bound_scope {
    (
        $tx:ident,
        $table:literal,
        $scope:literal,
        $value:expr,
        $key:literal,
        $order:literal,
        $cap:expr $(,)?
    ) => {{
        let cap: u32 = $cap;
        let rows: i64 = sqlx::query_scalar(concat!(
            "SELECT COUNT(*) FROM ",
            $table,
            " WHERE ",
            $scope,
            " = $1"
        ))
        .bind($value)
        .fetch_one(&mut *$tx)
        .await?;
        if rows > i64::from(cap) {
            sqlx::query(concat!(
                "DELETE FROM ",
                $table,
                " WHERE ",
                $scope,
                " = $1 AND ",
                $key,
                " NOT IN (SELECT ",
                $key,
                " FROM ",
                $table,
                " WHERE ",
                $scope,
                " = $1 ORDER BY ",
                $order,
                " LIMIT $2)"
            ))
            .bind($value)
            .bind(i64::from(cap - cap / 8))
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

mod action_links;
mod action_runs;
mod alerts;
mod config;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod deliveries;
mod error;
mod escalations;
mod feed_keys;
mod gates;
mod incidents;
mod leases;
mod migrations;
mod notification_log;
mod outbox;
mod overrides;
mod routed_alerts;
mod secrets;
mod silences;
mod tokens;

pub use action_links::ActionLinkStore;
pub use action_runs::{
    ACTION_RUNS_KEPT, ActionRun, ActionRunFilter, ActionRunState, ActionRunStore,
    UnknownActionRunState,
};
pub use alerts::{AlertStateRecord, AlertStore, AlertTransition};
pub use config::{ConfigLoad, ConfigStore};
pub use deliveries::{
    CHANGE_MARKERS_PER_SERVICE, COMMITS_PER_REPOSITORY, ChangeMarker, ChangeStore, CommitRecord,
    DEPLOYS_PER_SERVICE, Deploy, DeployFilter, DeploySource, DeployStatus, DeployStore,
    NewChangeMarker, NewDeploy, PULL_REQUESTS_PER_REPOSITORY, PullRequestRecord, Recorded,
};
pub use error::StoreError;
pub use escalations::{EscalationRecord, EscalationStore};
pub use feed_keys::{FEED_KEY_PREFIX, FeedKeyStore};
pub use gates::{
    GATE_DECISIONS_PER_SERVICE, GATE_OVERRIDES_PER_SERVICE, GateDecisionRecord, GateOverrideRecord,
    GateStore, NewGateDecision, NewGateOverride, Revoked,
};
pub use incidents::{
    Incident, IncidentFilter, IncidentStore, IncidentUpdate, NewIncident, UpdateOutcome,
};
pub use leases::LeaseStore;
pub use migrations::AppliedMigration;
pub use notification_log::{NotificationLogEntry, NotificationLogStore};
pub use outbox::{
    Enqueued, NewOutboxItem, OutboxCounts, OutboxItem, OutboxState, OutboxStore, UnknownOutboxState,
};
pub use overrides::{OverrideStore, ScheduleOverride};
pub use routed_alerts::{RoutedAlert, RoutedAlertStore};
pub use secrets::SecretStore;
pub use silences::{ExpireOutcome, SilenceRecord, SilenceStore};
pub use tokens::{LAST_USED_PRECISION, Scope, TOKEN_PREFIX, TokenInfo, TokenStore, UnknownScope};

/// How long a connection waits for SQLite's single writer before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of an open refused as busy (see `Store::connect`).
const SQLITE_OPEN_RETRIES: u32 = 5;

/// The handle the server holds: a connection pool to one database, with the schema migrated.
/// Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
}

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Starts a transaction that will write. SQLite takes the write lock up front so that a
    /// transaction never fails halfway when it upgrades from reader to writer.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

impl Store {
    /// Opens (creating if missing) the database at `target` and applies pending migrations.
    ///
    /// `target` is `postgres://…` / `postgresql://…`, `sqlite://…` (`sqlite:///abs/path.db`,
    /// `sqlite::memory:`), or a plain file path for SQLite. SQLite runs in WAL mode with foreign
    /// keys on, a busy timeout, and full fsync on commit (state writes are rare; losing an
    /// acknowledged one is not acceptable).
    pub async fn open(target: &str) -> Result<Store, StoreError> {
        let store = Store::connect(target).await?;
        store.migrate().await?;
        Ok(store)
    }

    async fn connect(target: &str) -> Result<Store, StoreError> {
        let open_err = |cause| StoreError::Open {
            target: redact(target),
            cause,
        };
        if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(target).map_err(open_err)?;
            let pool = PgPoolOptions::new()
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(open_err)?;
            return Ok(Store {
                db: Db::Postgres(pool),
            });
        }
        let options = if target.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(target).map_err(open_err)?
        } else if target.contains("://") {
            return Err(StoreError::UnsupportedUrl(redact(target)));
        } else {
            SqliteConnectOptions::new().filename(target)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        // The data dir may not exist yet on first start.
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
            && !Path::new(dir).exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
        }
        // One connection: SQLite has one writer anyway, and a second connection waiting for it
        // sleeps in SQLite's busy handler (1, 2, 5 … 100 ms steps) where a queue for the one
        // connection wakes the next caller at once. Reads are short; WAL keeps them consistent.
        // Switching a new database file to WAL takes an exclusive lock, and SQLite answers
        // SQLITE_BUSY for it without waiting in the busy handler, so two processes opening the
        // same new file together can be refused: a few short retries let the second one through.
        let mut attempt = 0;
        let pool = loop {
            match SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
            {
                Err(sqlx::Error::Database(e))
                    if e.code().as_deref() == Some("5") && attempt < SQLITE_OPEN_RETRIES =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                result => break result.map_err(open_err)?,
            }
        };
        Ok(Store {
            db: Db::Sqlite(pool),
        })
    }

    pub fn backend(&self) -> Backend {
        with_pool!(self, (_pool, backend) => backend)
    }

    /// Waits for in-flight queries, then closes every connection.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// `target` without a password, fit for error messages and logs.
fn redact(target: &str) -> String {
    let Some((scheme, rest)) = target.split_once("://") else {
        return target.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => target.to_string(),
        },
        None => target.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use headroom_core::Timestamp;

    /// The server spawns these; a future that is not `Send` would only show up there.
    #[allow(dead_code)]
    fn open_and_migrate_are_send(target: &str, store: &Store) -> impl Send {
        (Store::open(target), store.migrate())
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/headroom"),
            "postgres://app:***@db:5432/headroom"
        );
        assert_eq!(
            redact("postgres://app@db/headroom"),
            "postgres://app@db/headroom"
        );
        assert_eq!(redact("/var/lib/headroom.db"), "/var/lib/headroom.db");
    }

    async fn sqlite_settings(store: &Store) -> (String, i64, i64) {
        let Db::Sqlite(pool) = &store.db else {
            panic!("expected SQLite, got {:?}", store.backend())
        };
        let mut conn = pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        (mode, fk, busy)
    }

    #[tokio::test]
    async fn sqlite_from_a_plain_path_creates_dirs_and_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/nested/headroom.db");
        let store = Store::open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        assert!(path.exists());
        assert_eq!(
            sqlite_settings(&store).await,
            ("wal".to_string(), 1, SQLITE_BUSY_TIMEOUT.as_millis() as i64)
        );
        store.close().await;
    }

    #[tokio::test]
    async fn sqlite_from_a_url() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("headroom.db");
        let store = Store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        assert!(path.exists());
        assert_eq!(sqlite_settings(&store).await.0, "wal");
        assert_eq!(
            store.applied_migrations().await.unwrap().len(),
            Backend::Sqlite.migrator().iter().count()
        );
        store.close().await;
    }

    #[tokio::test]
    async fn sqlite_in_memory_is_one_database_for_the_pool() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let (_, plain) = store
            .create_token("t", Scope::Read, Timestamp(0))
            .await
            .unwrap();
        // Concurrent readers on several pooled connections must all see the same database.
        let (a, b, c) = tokio::join!(
            store.verify_token(&plain, Timestamp(0)),
            store.verify_token(&plain, Timestamp(0)),
            store.list_tokens(),
        );
        assert_eq!(a.unwrap().map(|t| t.name), Some("t".to_string()));
        assert_eq!(b.unwrap().map(|t| t.name), Some("t".to_string()));
        assert_eq!(c.unwrap().len(), 1);
        store.close().await;
    }

    #[tokio::test]
    async fn rejects_unknown_url_schemes() {
        let err = Store::open("mysql://localhost/headroom").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::UnsupportedUrl(u) if u == "mysql://localhost/headroom"),
            "{err}"
        );
    }
}
