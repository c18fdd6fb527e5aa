//! Refusals of delivery facts: each names the record (deploy, incident, commit, pull request)
//! and the field at fault, and a refused record changes nothing.

use headroom_core::{Span, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error(
        "commit sha {value:?}: {reason} (a full sha is 40 hexadecimal digits, or 64 for SHA-256)"
    )]
    Sha { value: String, reason: &'static str },
    #[error("commit {sha}: parent {index} is the commit itself")]
    SelfParent { sha: String, index: usize },
    #[error("commit {sha}: learnt before with parents [{known}], now with parents [{given}]")]
    ConflictingParents {
        sha: String,
        known: String,
        given: String,
    },
    #[error("{record} {id:?}: {field} is empty")]
    Empty {
        record: &'static str,
        id: String,
        field: &'static str,
    },
    #[error("deploy {id:?}: finished ({finished}) before it started ({started})")]
    DeployTimes {
        id: String,
        started: Timestamp,
        finished: Timestamp,
    },
    #[error("incident {id:?}: resolved ({resolved}) before it started ({started})")]
    IncidentTimes {
        id: String,
        started: Timestamp,
        resolved: Timestamp,
    },
    #[error(
        "incident {id:?}: names {reference} as its cause and is marked not caused by a change; \
         keep one of the two"
    )]
    Contradictory { id: String, reference: String },
    #[error(
        "pull request {repository}#{number}: merged ({merged}) before it was opened ({opened})"
    )]
    PullRequestTimes {
        repository: String,
        number: u64,
        opened: Timestamp,
        merged: Timestamp,
    },
    #[error(
        "pull request {repository}#{number}: a merge time without a merge commit, or the other way round"
    )]
    PullRequestMerge { repository: String, number: u64 },
    #[error("service {name:?}: repository {index}: {reason}")]
    Repository {
        name: String,
        index: usize,
        reason: &'static str,
    },
    #[error("range: end ({end}) is not after start ({start})")]
    Range { start: Timestamp, end: Timestamp },
    #[error("attribution window is {window}; it must be longer than zero")]
    Window { window: Span },
    #[error("walk limit is 0; a deploy's walk must be allowed at least one commit")]
    WalkLimit,
}
