//! What can go wrong talking to the database, said in terms of what the caller was doing.

/// The database's own message is part of each message (not only a `source()`), so a log line
/// carries the whole story.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database {0:?}: use postgres://…, sqlite:///path/to/headroom.db, or a file path"
    )]
    UnsupportedUrl(String),

    #[error("cannot open database {target}: {cause}")]
    Open { target: String, cause: sqlx::Error },

    /// Migrations run in one transaction: when one fails, none of the run is kept.
    #[error("migration {version} ({name}) failed, the schema was left as it was: {cause}")]
    Migration {
        version: i64,
        name: String,
        cause: sqlx::Error,
    },

    /// The checksum recorded for an applied migration differs from this build's file.
    #[error(
        "migration {version} ({name}) was applied from a different text than this headroom \
         carries: a released migration must never be edited"
    )]
    MigrationChanged { version: i64, name: String },

    /// The migrator's other refusals and failures (its bookkeeping table, a recorded version
    /// missing from the build).
    #[error("migrating the schema failed, the schema was left as it was: {0}")]
    Migrate(sqlx::migrate::MigrateError),

    #[error(
        "the database schema is at version {found} but this headroom only knows up to {known}: \
         upgrade headroom, or point it at a database it created"
    )]
    NewerSchema { found: i64, known: i64 },

    /// A unique constraint said no: the thing already exists.
    #[error("{op}: {detail}")]
    Conflict { op: &'static str, detail: String },

    /// The input broke a rule of the schema (a check constraint, malformed JSON, an empty name).
    #[error("{op}: invalid input: {detail}")]
    Invalid { op: &'static str, detail: String },

    /// A stored value this build cannot read, e.g. an unknown token scope.
    #[error("{op}: unreadable stored value: {detail}")]
    Corrupt { op: &'static str, detail: String },

    #[error("{op} failed: {cause}")]
    Database {
        op: &'static str,
        cause: sqlx::Error,
    },
}

/// Maps a sqlx error from operation `op`, turning constraint violations into the variants callers
/// can act on.
pub(crate) fn db_err(op: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |cause| match &cause {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict {
            op,
            detail: e.message().to_string(),
        },
        sqlx::Error::Database(e) if e.is_check_violation() => StoreError::Invalid {
            op,
            detail: e.message().to_string(),
        },
        _ => StoreError::Database { op, cause },
    }
}

/// `Invalid` unless `text` is JSON. The store keeps JSON columns opaque but never stores one a
/// reader could not parse. `what` names the value for the message.
pub(crate) fn require_json(
    op: &'static str,
    text: &str,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Ok(()),
        Err(e) => Err(StoreError::Invalid {
            op,
            detail: format!("{} is not JSON: {e}", what()),
        }),
    }
}
