//! Versioned schema migrations, applied in order at open, each exactly once.
//!
//! The SQL lives in `migrations/sqlite` and `migrations/postgres`, one file per version and
//! dialect (`NNNN_description.sql`), embedded by `sqlx::migrate!`. sqlx records each applied
//! version in `_sqlx_migrations` with a checksum of its file, so an edited migration is caught.
//! Versions only ever grow; a released migration is never edited, a new one is added.
//!
//! Around sqlx's migrator this module adds what it does not do on its own: one transaction
//! holding a lock for the whole run (sqlx takes no lock on SQLite, and on PostgreSQL takes a
//! session lock it leaves held when a migration fails), the refusal of a schema newer than the
//! build, and the adoption of databases whose migrations an earlier release recorded in
//! `schema_migrations`.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use headroom_core::Timestamp;
use serde::Serialize;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationSource, Migrator};

use crate::error::db_err;
use crate::{Backend, Store, StoreError};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A migration recorded in `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    pub version: i64,
    /// The description from the migration's file name.
    pub name: String,
    /// When it was applied (to the second on SQLite). For a migration an earlier release
    /// applied, the time that release recorded.
    pub applied_at: Timestamp,
}

/// Serialises migrators across replicas until the transaction ends, so a failed run releases it
/// too. The key is the one earlier releases took, so an old and a new replica starting together
/// wait for each other. SQLite needs none: `BEGIN IMMEDIATE` already holds its single write lock.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7245011563094835001)";

/// Where releases before `_sqlx_migrations` recorded applied versions.
const LEGACY_TABLE: &str = "schema_migrations";

impl Backend {
    /// Every migration of this dialect, oldest first.
    pub(crate) fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    pub(crate) fn table_exists_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => {
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)"
            }
            // Resolved through `search_path`, as the unqualified name in later queries is.
            Backend::Postgres => "SELECT to_regclass($1) IS NOT NULL",
        }
    }

    /// Records a migration an earlier release applied, keeping its time (`$3`, milliseconds).
    fn adopt_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => {
                "INSERT INTO _sqlx_migrations
                    (version, description, installed_on, success, checksum, execution_time)
                 VALUES ($1, $2, datetime($3 / 1000, 'unixepoch'), TRUE, $4, -1)"
            }
            Backend::Postgres => {
                "INSERT INTO _sqlx_migrations
                    (version, description, installed_on, success, checksum, execution_time)
                 VALUES ($1, $2, to_timestamp($3::float8 / 1000), TRUE, $4, -1)"
            }
        }
    }

    fn applied_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => {
                "SELECT version, description,
                        CAST(strftime('%s', installed_on) AS INTEGER) * 1000 AS applied_at
                 FROM _sqlx_migrations ORDER BY version"
            }
            Backend::Postgres => {
                "SELECT version, description,
                        CAST(EXTRACT(EPOCH FROM installed_on) * 1000 AS BIGINT) AS applied_at
                 FROM _sqlx_migrations ORDER BY version"
            }
        }
    }
}

/// The newest version `migrator` knows.
fn latest_version(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// A fixed list of migrations, so a [`Migrator`] can run a prefix of the embedded ones.
#[derive(Debug)]
struct Listed(Vec<Migration>);

impl MigrationSource<'static> for Listed {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move { Ok(self.0) })
    }
}

/// The embedded migrations up to `upto`, without sqlx's own lock: the caller holds one.
async fn migrator_upto(known: &Migrator, upto: i64) -> Result<Migrator, StoreError> {
    let listed = known.iter().filter(|m| m.version <= upto).cloned();
    let mut migrator = Migrator::new(Listed(listed.collect()))
        .await
        .map_err(StoreError::Migrate)?;
    migrator.set_locking(false);
    Ok(migrator)
}

/// Turns sqlx's migration errors into ours, naming the migration where there is one.
fn migrate_err(known: &'static Migrator) -> impl Fn(MigrateError) -> StoreError {
    let name = |version: i64| {
        known
            .iter()
            .find(|m| m.version == version)
            .map_or_else(String::new, |m| m.description.to_string())
    };
    move |e| match e {
        MigrateError::ExecuteMigration(cause, version) => StoreError::Migration {
            version,
            name: name(version),
            cause,
        },
        MigrateError::VersionMismatch(version) => StoreError::MigrationChanged {
            version,
            name: name(version),
        },
        other => StoreError::Migrate(other),
    }
}

#[derive(sqlx::FromRow)]
struct AppliedRow {
    version: i64,
    description: String,
    applied_at: i64,
}

impl Store {
    /// Applies every migration not yet recorded, oldest first. Returns the versions applied now:
    /// empty when up to date.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        self.migrate_to(i64::MAX).await
    }

    /// As [`migrate`](Self::migrate), stopping after version `upto`: how the suite builds a
    /// database as an older release left it.
    ///
    /// One transaction holds the lock from the first check to the last migration, so replicas
    /// opening at once apply each migration once, and a failure or refusal changes nothing.
    /// Each migration runs in a savepoint with its `_sqlx_migrations` row.
    pub(crate) async fn migrate_to(&self, upto: i64) -> Result<Vec<i64>, StoreError> {
        let known = self.backend().migrator();
        let latest = latest_version(known);
        let target = migrator_upto(known, upto).await?;
        let sql_err = db_err("migrating the schema");
        let migrate_err = migrate_err(known);
        with_pool!(self, (pool, backend) => async {
            let mut tx = pool.begin_with(backend.begin_write()).await.map_err(&sql_err)?;
            if backend == Backend::Postgres {
                sqlx::query(PG_MIGRATION_LOCK).execute(&mut *tx).await.map_err(&sql_err)?;
            }
            let legacy: bool = sqlx::query_scalar(backend.table_exists_sql())
                .bind(LEGACY_TABLE)
                .fetch_one(&mut *tx)
                .await
                .map_err(&sql_err)?;
            let legacy_rows: Vec<(i64, i64)> = if legacy {
                sqlx::query_as("SELECT version, applied_at FROM schema_migrations ORDER BY version")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(&sql_err)?
            } else {
                Vec::new()
            };
            refuse_newer(legacy_rows.iter().map(|&(v, _)| v), latest)?;

            tx.ensure_migrations_table().await.map_err(&migrate_err)?;
            if legacy {
                for &(version, applied_at) in &legacy_rows {
                    let m = known.iter().find(|m| m.version == version).ok_or_else(|| {
                        StoreError::Corrupt {
                            op: "adopting schema_migrations",
                            detail: format!("version {version} is not a migration of this build"),
                        }
                    })?;
                    sqlx::query(backend.adopt_sql())
                        .bind(m.version)
                        .bind(&*m.description)
                        .bind(applied_at)
                        .bind(&*m.checksum)
                        .execute(&mut *tx)
                        .await
                        .map_err(&sql_err)?;
                }
                // `_sqlx_migrations` is the record from now on. Without the old table a release
                // before it cannot take this schema for one it should migrate from scratch: its
                // first migration fails on the existing tables. It leaves an empty
                // `schema_migrations` behind, which the next open here drops again.
                sqlx::query("DROP TABLE schema_migrations")
                    .execute(&mut *tx)
                    .await
                    .map_err(&sql_err)?;
            }

            let recorded = tx.list_applied_migrations().await.map_err(&migrate_err)?;
            refuse_newer(recorded.iter().map(|m| m.version), latest)?;
            let recorded: HashSet<i64> = recorded.iter().map(|m| m.version).collect();
            let pending: Vec<i64> = target
                .iter()
                .map(|m| m.version)
                .filter(|v| !recorded.contains(v))
                .collect();
            target.run_direct(&mut *tx).await.map_err(&migrate_err)?;
            tx.commit().await.map_err(&sql_err)?;
            Ok(pending)
        }.await)
    }

    /// What `_sqlx_migrations` records, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        let rows: Vec<AppliedRow> = with_pool!(self, (pool, backend) => {
            sqlx::query_as(backend.applied_sql()).fetch_all(pool).await
        })
        .map_err(db_err("reading _sqlx_migrations"))?;
        Ok(rows
            .into_iter()
            .map(|r| AppliedMigration {
                version: r.version,
                name: r.description,
                applied_at: Timestamp::from_millis(r.applied_at),
            })
            .collect())
    }
}

/// `NewerSchema` when a recorded version is past what this build knows: reading or migrating
/// such a schema could misread it.
fn refuse_newer(recorded: impl Iterator<Item = i64>, known: i64) -> Result<(), StoreError> {
    match recorded.max() {
        Some(found) if found > known => Err(StoreError::NewerSchema { found, known }),
        _ => Ok(()),
    }
}

/// The description of each migration of `backend`, by version.
#[cfg(any(test, feature = "conformance"))]
pub(crate) fn known_versions(backend: Backend) -> Vec<(i64, std::borrow::Cow<'static, str>)> {
    backend
        .migrator()
        .iter()
        .map(|m| (m.version, m.description.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_versions() {
        let sqlite = known_versions(Backend::Sqlite);
        assert_eq!(sqlite, known_versions(Backend::Postgres));
        let versions: Vec<i64> = sqlite.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>());
    }

    /// `migrate_to` runs every migration inside its one transaction: a migration that must run
    /// outside one, or a down migration, would not fit.
    #[test]
    fn every_migration_runs_forward_in_a_transaction() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for m in backend.migrator().iter() {
                assert!(
                    !m.no_tx,
                    "{backend:?} migration {} is no-transaction",
                    m.version
                );
                assert!(
                    !m.migration_type.is_down_migration(),
                    "{backend:?} migration {} is a down migration",
                    m.version
                );
            }
        }
    }
}
