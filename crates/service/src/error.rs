//! What a service refuses, and why. The kinds are the service's own; the HTTP edge maps each to
//! its status code.

use headroom_core::Timestamp;
use headroom_store::StoreError;
use headroom_tsdb::TsdbError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed, or names what can never apply (a bad time, an unknown user).
    #[error("{0}")]
    Invalid(String),
    /// Well-formed, but its content is refused: a value over its bound, an operation that could
    /// never apply to this kind of thing.
    #[error("{0}")]
    Unacceptable(String),
    /// The current state forbids it (a status move backwards, a second acknowledgement).
    #[error("{0}")]
    Conflict(String),
    /// Other writers kept changing the record under this write.
    #[error("{0}")]
    Contended(String),
    /// A bound on what the server holds is reached.
    #[error("{what}: the limit of {limit} is reached; nothing was stored")]
    LimitReached { what: String, limit: usize },
    /// A request too big in itself.
    #[error("{0}")]
    TooLarge(String),
    /// Something the service depends on (storage, a file) is failing; a retry can succeed.
    /// `summary` says what did not happen and may be shown; `cause` may name paths or hosts
    /// and belongs in the log only.
    #[error("{summary}: {cause}")]
    Unavailable {
        summary: &'static str,
        cause: String,
    },
    /// A signed link whose signature this server did not make.
    #[error("forged link: its signature is not one this server made")]
    LinkForged,
    /// A signed link past its expiry.
    #[error("expired link: it worked until {}", .0.to_rfc3339())]
    LinkExpired(Timestamp),
    /// A signed link that already acted once.
    #[error("used link: it already worked once; use the API or a newer page")]
    LinkUsed,
    /// The state store failed.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// Not the client's doing: data the service cannot read, a task that died.
    #[error("{0}")]
    Internal(String),
}

/// Why the service could not be built from a config and its storage.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("config is invalid:\n{}", .0.join("\n"))]
    Config(Vec<String>),
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("SLI store: {0}")]
    Tsdb(#[from] TsdbError),
}
