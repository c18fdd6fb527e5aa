//! Incidents: `GET/POST /api/v1/incidents`, `GET /api/v1/incidents/{id}`, the operations
//! `POST …/{id}/acknowledge|status|severity|roles|notes|resolve|impact-start|action-items` and
//! `PATCH …/{id}/action-items/{n}` and `PUT …/{id}/attribution` (each answers the changed
//! incident), and
//! `GET /api/v1/incidents/metrics`. (`GET …/{id}/postmortem` is Markdown.)

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// `GET /api/v1/incidents`: newest first, without timelines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<Incident>,
}

/// An incident; with its timeline wherever one incident is answered, without it in lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Incident {
    pub id: i64,
    /// Grows with every change.
    pub version: i64,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub opened_at: Time,
    /// When the impact began (`opened_at` unless corrected).
    pub started_at: Time,
    #[schema(required = true)]
    pub acknowledged_at: Option<Time>,
    /// `null` while open (a reopened incident is open again).
    #[schema(required = true)]
    pub resolved_at: Option<Time>,
    #[schema(required = true)]
    pub time_to_acknowledge_seconds: Option<f64>,
    #[schema(required = true)]
    pub time_to_resolve_seconds: Option<f64>,
    pub roles: Roles,
    pub services: Vec<String>,
    pub slos: Vec<String>,
    pub alerts: Vec<LinkedAlert>,
    /// The highest escalation level paged for it (0: none).
    pub escalation_level: u32,
    pub action_items: Vec<ActionItem>,
    pub contributing_factors: Vec<String>,
    /// What someone said caused it (`{}`: nothing, attributed by time). How DORA counts it is
    /// in `GET /api/v1/dora` and `GET /api/v1/deployments/{id}`.
    pub cause: Cause,
    /// In time order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
    /// In `GET /api/v1/incidents/{id}`: deploys of its services that finished from the
    /// attribution window before it started until it was resolved (or now), newest first, at
    /// most 100; read from the stored deploys, not kept in the timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploys: Option<Vec<crate::delivery::DeployMarker>>,
}

/// What caused an incident, for DORA: at most one of a deploy id, a version or
/// `not_caused_by_change: true`; `{}` hands it back to automatic attribution (the latest
/// successful production deploy of an affected service within the window before it started).
/// The body of `PUT /api/v1/incidents/{id}/attribution`, and an incident's `cause`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cause {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_caused_by_change: bool,
}

/// `SEV1` (worst) to `SEV4`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

/// Where an incident is in its life, in the order of progress.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Triggered,
    Acknowledged,
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Commander,
    Communications,
    Scribe,
}

/// Who holds each role (a user id), if anyone yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Roles {
    #[schema(required = true)]
    pub commander: Option<String>,
    #[schema(required = true)]
    pub communications: Option<String>,
    #[schema(required = true)]
    pub scribe: Option<String>,
}

/// An alert attached to the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LinkedAlert {
    /// Alertmanager's fingerprint of its label set (16 hex digits).
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
    /// When it started firing.
    pub at: Time,
}

/// A follow-up, numbered from 1 within its incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActionItem {
    pub id: u32,
    pub text: String,
    #[schema(required = true)]
    pub owner: Option<String>,
    pub status: ActionItemStatus,
    #[schema(required = true)]
    pub due: Option<Time>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionItemStatus {
    Open,
    Done,
}

/// One entry of the timeline: what happened (`type` and its fields), when, by whom, and the
/// sentence that tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub at: Time,
    pub actor: String,
    pub text: String,
    #[serde(flatten)]
    pub event: TimelineEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEvent {
    Declared {
        severity: Severity,
    },
    Alert {
        fingerprint: String,
    },
    /// `who` was paged at escalation `level` (from 1).
    Page {
        who: String,
        level: u32,
    },
    Acknowledged,
    Escalated {
        from: u32,
        to: u32,
    },
    StatusChanged {
        from: IncidentStatus,
        to: IncidentStatus,
    },
    SeverityChanged {
        from: Severity,
        to: Severity,
    },
    RoleAssigned {
        role: Role,
        user: String,
    },
    ServiceAffected {
        service: String,
    },
    SloAffected {
        slo: String,
    },
    /// `from` and `to` are unix milliseconds, not RFC 3339 (the entry's `text` gives both).
    ImpactStartChanged {
        from: i64,
        to: i64,
    },
    ContributingFactor,
    ActionItemAdded {
        id: u32,
    },
    ActionItemUpdated {
        id: u32,
    },
    Attributed {
        cause: Cause,
    },
    Note,
}

/// `GET /api/v1/incidents/metrics`: MTTA and MTTR of the incidents opened in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentMetrics {
    pub from: Time,
    pub to: Time,
    /// The `service` filter, if given.
    #[schema(required = true)]
    pub service: Option<String>,
    /// The `team` filter, if given.
    #[schema(required = true)]
    pub team: Option<String>,
    /// With `team`: the services counted as that team's.
    #[schema(required = true)]
    pub team_services: Option<Vec<String>>,
    /// Mean time to acknowledge.
    pub mtta: MeanTime,
    /// Mean time to resolve.
    pub mttr: MeanTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeanTime {
    /// `null` when no incident was counted.
    #[schema(required = true)]
    pub seconds: Option<f64>,
    pub counted: u64,
    /// Incidents in range not yet acknowledged (or resolved).
    pub excluded: u64,
}

// ---- request bodies ----

/// `POST /api/v1/incidents`: declares an incident (201 with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    pub title: String,
    /// `SEV1` to `SEV4`, in any case.
    pub severity: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Ids of configured SLOs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<String>,
    /// When the impact began: RFC 3339, unix seconds or a date; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// A user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commander: Option<String>,
    /// The deploy that caused it (its id), when known; at most one of `deploy`, `version`
    /// and `not_caused_by_change`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<i64>,
    /// The version that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_caused_by_change: bool,
}

/// `POST …/{id}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// A later status than the current one: `acknowledged` … `resolved`.
    pub status: String,
}

/// `POST …/{id}/severity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityChange {
    /// `SEV1` to `SEV4`, in any case.
    pub severity: String,
}

/// `POST …/{id}/roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    /// `commander`, `communications` or `scribe`, in any case.
    pub role: String,
    pub user: String,
}

/// `POST …/{id}/notes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub text: String,
}

/// `POST …/{id}/impact-start`: corrects when the impact began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactStart {
    /// RFC 3339, unix seconds or a date.
    pub started_at: String,
}

/// `POST …/{id}/action-items` (201 with the incident; the new item is the last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActionItem {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// RFC 3339, unix seconds or a date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
}

/// `PATCH …/{id}/action-items/{n}`: changes the fields given. `owner` and `due` tell three
/// cases apart: absent (leave it), `null` (clear it), a value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ActionItemPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schema(value_type = Option<String>)]
    pub owner: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ActionItemStatus>,
    /// RFC 3339, unix seconds or a date.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schema(value_type = Option<String>)]
    pub due: Option<Option<String>>,
}

/// A field that is present: `null` is `Some(None)` (absent is `None`, by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
