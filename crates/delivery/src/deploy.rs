//! Deploys, the services they belong to, and the environments they go to.

use std::fmt;

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::change::CommitSha;
use crate::error::DeliveryError;

/// Where a deploy went. Production is the one DORA counts by default and the one incidents
/// are attributed in; any other name is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Environment(String);

impl Environment {
    pub const PRODUCTION: &'static str = "production";

    pub fn production() -> Environment {
        Environment(Self::PRODUCTION.to_string())
    }

    pub fn named(name: &str) -> Environment {
        Environment(name.to_string())
    }

    pub fn is_production(&self) -> bool {
        self.0 == Self::PRODUCTION
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Environment {
    fn default() -> Self {
        Environment::production()
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeployId(pub String);

impl DeployId {
    pub fn new(id: &str) -> DeployId {
        DeployId(id.to_string())
    }
}

impl fmt::Display for DeployId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a finished deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    Success,
    Failure,
    /// Stopped before it finished: counted nowhere, and never the previous deploy of another.
    Cancelled,
}

/// A finished deploy of one service's commit to one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    pub id: DeployId,
    pub service: String,
    pub environment: Environment,
    #[serde(default)]
    pub version: Option<String>,
    pub sha: CommitSha,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub status: DeployStatus,
    /// Free labels; `hotfix` and `rollback` (in any case) mark a deploy as unplanned.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The commits it shipped, when the deploy said: then no walk is made.
    #[serde(default)]
    pub changes: Option<Vec<CommitSha>>,
}

impl Deploy {
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l.eq_ignore_ascii_case(label))
    }

    /// Labelled `hotfix` or `rollback`: made because something in production went wrong.
    pub fn is_unplanned(&self) -> bool {
        self.has_label("hotfix") || self.is_rollback()
    }

    pub fn is_rollback(&self) -> bool {
        self.has_label("rollback")
    }

    pub(crate) fn check(&self) -> Result<(), DeliveryError> {
        let empty = |field| DeliveryError::Empty {
            record: "deploy",
            id: self.id.0.clone(),
            field,
        };
        if self.id.0.is_empty() {
            return Err(empty("id"));
        }
        if self.service.is_empty() {
            return Err(empty("service"));
        }
        if self.environment.as_str().is_empty() {
            return Err(empty("environment"));
        }
        if self.version.as_deref() == Some("") {
            return Err(empty("version"));
        }
        if self.finished < self.started {
            return Err(DeliveryError::DeployTimes {
                id: self.id.0.clone(),
                started: self.started,
                finished: self.finished,
            });
        }
        Ok(())
    }
}

/// A service as DORA sees it: its team, and where its code lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub repositories: Vec<Repository>,
}

/// A repository (`octo-org/shop`, a GitLab project path), or a directory of one for a service
/// living in a monorepo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    /// Relative to the repository root; `None` for the whole repository.
    #[serde(default)]
    pub path: Option<String>,
}

impl Service {
    /// The directories its commits must touch, when it lives in part of a repository; empty
    /// when every commit of its repositories counts. A commit's file list says only paths, so
    /// every directory is matched against every commit the service's deploys reach.
    pub(crate) fn paths(&self) -> Vec<String> {
        if self.repositories.iter().any(|r| r.path.is_none()) {
            return Vec::new();
        }
        self.repositories
            .iter()
            .filter_map(|r| r.path.as_deref())
            .map(|p| p.trim_matches('/').to_string())
            .collect()
    }

    pub(crate) fn check(&self) -> Result<(), DeliveryError> {
        if self.name.is_empty() {
            return Err(DeliveryError::Empty {
                record: "service",
                id: String::new(),
                field: "name",
            });
        }
        if self.team.as_deref() == Some("") {
            return Err(DeliveryError::Empty {
                record: "service",
                id: self.name.clone(),
                field: "team",
            });
        }
        for (index, repo) in self.repositories.iter().enumerate() {
            let reason = if repo.name.is_empty() {
                Some("the name is empty")
            } else if repo
                .path
                .as_deref()
                .is_some_and(|p| p.trim_matches('/').is_empty())
            {
                Some("the path is empty (leave it out for the whole repository)")
            } else if repo
                .path
                .as_deref()
                .is_some_and(|p| p.split('/').any(|c| c == ".."))
            {
                Some("the path leaves the repository (`..`)")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(DeliveryError::Repository {
                    name: self.name.clone(),
                    index,
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// A half-open span of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRange")]
pub struct TimeRange {
    start: Timestamp,
    end: Timestamp,
}

#[derive(Deserialize)]
struct RawRange {
    start: Timestamp,
    end: Timestamp,
}

impl TryFrom<RawRange> for TimeRange {
    type Error = DeliveryError;
    fn try_from(raw: RawRange) -> Result<Self, DeliveryError> {
        TimeRange::new(raw.start, raw.end)
    }
}

impl TimeRange {
    pub fn new(start: Timestamp, end: Timestamp) -> Result<TimeRange, DeliveryError> {
        if end <= start {
            return Err(DeliveryError::Range { start, end });
        }
        Ok(TimeRange { start, end })
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}
