//! Builders for delivery facts: readable names for shas, times as text.

use headroom_core::Timestamp;
use headroom_delivery::{
    Commit, CommitSha, Deploy, DeployId, DeployStatus, Environment, IncidentFacts,
};

/// A sha made from a readable tag (FNV-1a, three ways), so tests name commits `m3`, `b2`.
pub fn sha(tag: &str) -> CommitSha {
    let fnv = |seed: u64| {
        tag.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let text = format!("{:016x}{:016x}{:08x}", fnv(1), fnv(2), fnv(3) as u32);
    CommitSha::parse(&text).unwrap()
}

/// `2026-01-05T12:00` (UTC).
pub fn at(text: &str) -> Timestamp {
    let t = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    Timestamp::from_millis(t.and_utc().timestamp_millis())
}

pub fn commit(tag: &str, parents: &[&str], committed: Timestamp) -> Commit {
    Commit {
        sha: sha(tag),
        parents: parents.iter().map(|p| sha(p)).collect(),
        authored: committed,
        committed,
        files: None,
    }
}

/// A deploy that took ten minutes.
pub fn deploy(
    id: &str,
    service: &str,
    environment: &str,
    tag: &str,
    finished: Timestamp,
    status: DeployStatus,
) -> Deploy {
    Deploy {
        id: DeployId::new(id),
        service: service.to_string(),
        environment: Environment::named(environment),
        version: None,
        sha: sha(tag),
        started: finished - headroom_core::Span::minutes(10),
        finished,
        status,
        labels: Vec::new(),
        changes: None,
    }
}

pub fn incident(id: &str, services: &[&str], started: Timestamp) -> IncidentFacts {
    IncidentFacts {
        id: id.to_string(),
        services: services.iter().map(|s| s.to_string()).collect(),
        started,
        resolved: None,
        deploy: None,
        version: None,
        not_caused_by_change: false,
    }
}
