//! What DORA needs to know of an incident, and how it was tied to a deploy.

use headroom_core::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::deploy::DeployId;
use crate::error::DeliveryError;

/// The facts about a production incident that DORA reads; the incident itself lives in
/// `headroom-incident`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFacts {
    pub id: String,
    /// The services it affected.
    #[serde(default)]
    pub services: Vec<String>,
    pub started: Timestamp,
    /// `None` while it is open.
    #[serde(default)]
    pub resolved: Option<Timestamp>,
    /// The deploy that caused it, as named through the API, the CLI or its `deploy` field.
    #[serde(default)]
    pub deploy: Option<DeployId>,
    /// The version that caused it (its `version` field), when no deploy is named.
    #[serde(default)]
    pub version: Option<String>,
    /// Someone said no change caused it: it is attributed to no deploy.
    #[serde(default)]
    pub not_caused_by_change: bool,
}

impl IncidentFacts {
    pub(crate) fn check(&self) -> Result<(), DeliveryError> {
        let empty = |field| DeliveryError::Empty {
            record: "incident",
            id: self.id.clone(),
            field,
        };
        if self.id.is_empty() {
            return Err(empty("id"));
        }
        if self.services.iter().any(String::is_empty) {
            return Err(empty("a service name"));
        }
        if self.deploy.as_ref().is_some_and(|d| d.0.is_empty()) {
            return Err(empty("deploy"));
        }
        if self.version.as_deref() == Some("") {
            return Err(empty("version"));
        }
        if let Some(resolved) = self.resolved
            && resolved < self.started
        {
            return Err(DeliveryError::IncidentTimes {
                id: self.id.clone(),
                started: self.started,
                resolved,
            });
        }
        if self.not_caused_by_change {
            let reference = match (&self.deploy, &self.version) {
                (Some(d), _) => Some(format!("deploy {d:?}", d = d.0)),
                (None, Some(v)) => Some(format!("version {v:?}")),
                (None, None) => None,
            };
            if let Some(reference) = reference {
                return Err(DeliveryError::Contradictory {
                    id: self.id.clone(),
                    reference,
                });
            }
        }
        Ok(())
    }
}

/// How an incident was tied to a deploy: shown with every incident, so a wrong attribution can
/// be seen and corrected (by naming the deploy, or marking it not caused by a change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Attribution {
    /// The incident named its deploy, or a version one deploy carried (`version` is set then).
    Explicit {
        deploy: DeployId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
    },
    /// The latest successful production deploy of an affected service that finished within
    /// `window` before the incident started.
    Window { deploy: DeployId, window: Span },
    /// Marked as not caused by a change.
    NotCausedByChange,
    /// It named a deploy or version that no deploy matches; counted against none.
    Unresolved {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deploy: Option<DeployId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
    },
    /// No deploy of an affected service finished within the window before it started.
    None,
}

impl Attribution {
    /// The deploy it is counted against, if any.
    pub fn deploy(&self) -> Option<&DeployId> {
        match self {
            Attribution::Explicit { deploy, .. } | Attribution::Window { deploy, .. } => {
                Some(deploy)
            }
            _ => None,
        }
    }
}
