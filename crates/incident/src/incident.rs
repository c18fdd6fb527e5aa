//! The incident record and the operations a response team performs on it.
//!
//! Every operation validates first and changes nothing when it refuses, then applies the change
//! and appends one [`TimelineEntry`] naming the actor and the time.

use std::collections::BTreeMap;
use std::fmt;

use headroom_core::Timestamp;
use headroom_routing::LabelSet;
use headroom_routing::group::fingerprint;
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use crate::severity::{IncidentStatus, Role, Severity};

/// Who holds each incident role (a user id), if anyone yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub commander: Option<String>,
    pub communications: Option<String>,
    pub scribe: Option<String>,
}

impl Roles {
    pub fn get(&self, role: Role) -> Option<&str> {
        match role {
            Role::Commander => self.commander.as_deref(),
            Role::Communications => self.communications.as_deref(),
            Role::Scribe => self.scribe.as_deref(),
        }
    }

    fn slot(&mut self, role: Role) -> &mut Option<String> {
        match role {
            Role::Commander => &mut self.commander,
            Role::Communications => &mut self.communications,
            Role::Scribe => &mut self.scribe,
        }
    }
}

/// An alert attached to an incident: its identity, the labels worth keeping, when it fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedAlert {
    /// Alertmanager's fingerprint of the alert's full label set (16 hex digits); the key by
    /// which a repeat of the same alert is recognised.
    pub fingerprint: String,
    /// A summary of the labels (all of them, or the ones the caller chose to keep).
    pub labels: BTreeMap<String, String>,
    /// When the alert started firing.
    pub at: Timestamp,
}

impl LinkedAlert {
    /// An alert with its fingerprint computed from `labels`, keeping all of them.
    pub fn from_labels(labels: LabelSet, at: Timestamp) -> LinkedAlert {
        LinkedAlert {
            fingerprint: fingerprint(&labels).to_string(),
            labels,
            at,
        }
    }

    /// An alert identified by its full label set but keeping only the `keep` labels (say
    /// `alertname`, `service`, `severity`), so a stored incident stays small.
    pub fn keeping(labels: &LabelSet, keep: &[&str], at: Timestamp) -> LinkedAlert {
        LinkedAlert {
            fingerprint: fingerprint(labels).to_string(),
            labels: labels
                .iter()
                .filter(|(name, _)| keep.contains(&name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            at,
        }
    }

    /// The `alertname` label, or the fingerprint for an alert without one.
    pub fn name(&self) -> &str {
        self.labels
            .get("alertname")
            .map_or(self.fingerprint.as_str(), String::as_str)
    }

    /// `name=value` pairs other than `alertname`, comma-separated, in name order.
    pub fn label_summary(&self) -> String {
        self.labels
            .iter()
            .filter(|(name, _)| name.as_str() != "alertname")
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionItemStatus {
    Open,
    Done,
}

impl ActionItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionItemStatus::Open => "open",
            ActionItemStatus::Done => "done",
        }
    }
}

/// A follow-up the team commits to, numbered from 1 within its incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    pub id: u32,
    pub text: String,
    pub owner: Option<String>,
    pub status: ActionItemStatus,
    pub due: Option<Timestamp>,
}

/// The fields of an action item to change; `None` leaves a field as it is
/// (`Some(None)` clears an owner or due date).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionItemUpdate {
    pub text: Option<String>,
    pub owner: Option<Option<String>>,
    pub status: Option<ActionItemStatus>,
    pub due: Option<Option<Timestamp>>,
}

/// What a timeline entry records. The entry's `text` is its human-readable sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineKind {
    Declared {
        severity: Severity,
    },
    Alert {
        fingerprint: String,
    },
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
    ImpactStartChanged {
        from: Timestamp,
        to: Timestamp,
    },
    ContributingFactor,
    ActionItemAdded {
        id: u32,
    },
    ActionItemUpdated {
        id: u32,
    },
    /// What caused it was named, or handed back to automatic attribution.
    Attributed {
        cause: Cause,
    },
    Note,
}

impl TimelineKind {
    /// Whether the entry moved the status (declaring counts: it sets the first status).
    pub fn is_status_change(&self) -> bool {
        matches!(
            self,
            TimelineKind::Declared { .. }
                | TimelineKind::Acknowledged
                | TimelineKind::StatusChanged { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub actor: String,
    pub kind: TimelineKind,
    pub text: String,
}

/// What someone said caused the incident, for DORA's change failure rate: a deploy (by id), a
/// version, no change at all, or nothing said (`Automatic`: the deploy is found by time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Cause {
    #[default]
    Automatic,
    Deploy {
        deploy: String,
    },
    Version {
        version: String,
    },
    NotCausedByChange,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Automatic => f.write_str("attributed automatically"),
            Cause::Deploy { deploy } => write!(f, "attributed to deploy {deploy}"),
            Cause::Version { version } => write!(f, "attributed to version {version}"),
            Cause::NotCausedByChange => f.write_str("not caused by a change"),
        }
    }
}

/// Why an operation was refused. A refused operation leaves the incident unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IncidentError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} {value:?} is already listed")]
    Duplicate { field: &'static str, value: String },
    #[error(
        "cannot move from {from} to {to}: only forward, or from resolved back to investigating"
    )]
    StatusMove {
        from: IncidentStatus,
        to: IncidentStatus,
    },
    #[error("already acknowledged (status is {status})")]
    AlreadyAcknowledged { status: IncidentStatus },
    #[error("the incident is resolved: reopen it before this {operation}")]
    Resolved { operation: &'static str },
    #[error("{at} is before the incident was opened ({opened_at})")]
    BeforeOpened { at: Timestamp, opened_at: Timestamp },
    #[error("{at} is before the last status change ({last})")]
    BeforeLastStatusChange { at: Timestamp, last: Timestamp },
    #[error("impact cannot start at {started_at}, after the resolution ({resolved_at})")]
    ImpactAfterResolution {
        started_at: Timestamp,
        resolved_at: Timestamp,
    },
    #[error("impact start is already {0}")]
    ImpactStartUnchanged(Timestamp),
    #[error("severity is already {0}")]
    SeverityUnchanged(Severity),
    #[error("{user} is already {role}")]
    RoleUnchanged { role: Role, user: String },
    #[error("page level must be at least 1")]
    PageLevel,
    #[error("escalation level {to} is not above the current level {current}")]
    NotAnEscalation { current: u32, to: u32 },
    #[error("alert {fingerprint} is already linked")]
    AlertAlreadyLinked { fingerprint: String },
    #[error("no action item {0}")]
    UnknownActionItem(u32),
    #[error("the update changes nothing in action item {0}")]
    ActionItemUnchanged(u32),
    #[error("the incident is already {0}")]
    CauseUnchanged(Cause),
}

/// What declaring an incident needs. `started_at` defaults to the declaration time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub started_at: Option<Timestamp>,
    pub services: Vec<String>,
    pub slos: Vec<String>,
}

impl Declaration {
    pub fn new(id: impl Into<String>, title: impl Into<String>, severity: Severity) -> Self {
        Declaration {
            id: id.into(),
            title: title.into(),
            severity,
            started_at: None,
            services: Vec::new(),
            slos: Vec::new(),
        }
    }
}

/// An incident. Fields are read through accessors so that only the operations below change
/// them, each keeping the invariants listed in the crate documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    id: String,
    title: String,
    severity: Severity,
    status: IncidentStatus,
    opened_at: Timestamp,
    started_at: Timestamp,
    acknowledged_at: Option<Timestamp>,
    resolved_at: Option<Timestamp>,
    roles: Roles,
    services: Vec<String>,
    slos: Vec<String>,
    alerts: Vec<LinkedAlert>,
    escalation_level: u32,
    #[serde(deserialize_with = "sorted_timeline")]
    timeline: Vec<TimelineEntry>,
    action_items: Vec<ActionItem>,
    contributing_factors: Vec<String>,
    /// Absent in incidents stored before causes were recorded: automatic.
    #[serde(default)]
    cause: Cause,
}

/// A stored timeline is re-sorted on load (stably, so equal times keep their order), so a
/// hand-edited record cannot break the ordering invariant.
fn sorted_timeline<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TimelineEntry>, D::Error> {
    let mut entries = Vec::<TimelineEntry>::deserialize(d)?;
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}

fn non_empty(field: &'static str, value: &str) -> Result<(), IncidentError> {
    if value.trim().is_empty() {
        Err(IncidentError::Empty { field })
    } else {
        Ok(())
    }
}

fn no_duplicates(field: &'static str, values: &[String]) -> Result<(), IncidentError> {
    for (i, value) in values.iter().enumerate() {
        non_empty(field, value)?;
        if values[..i].contains(value) {
            return Err(IncidentError::Duplicate {
                field,
                value: value.clone(),
            });
        }
    }
    Ok(())
}

impl Incident {
    /// Opens an incident at `at`, status triggered, with a `Declared` entry.
    pub fn declare(
        declaration: Declaration,
        actor: &str,
        at: Timestamp,
    ) -> Result<Incident, IncidentError> {
        non_empty("id", &declaration.id)?;
        non_empty("title", &declaration.title)?;
        non_empty("actor", actor)?;
        no_duplicates("service", &declaration.services)?;
        no_duplicates("slo", &declaration.slos)?;
        let Declaration {
            id,
            title,
            severity,
            started_at,
            services,
            slos,
        } = declaration;
        let text = format!("Declared {severity}: {title}");
        Ok(Incident {
            id,
            title,
            severity,
            status: IncidentStatus::Triggered,
            opened_at: at,
            started_at: started_at.unwrap_or(at),
            acknowledged_at: None,
            resolved_at: None,
            roles: Roles::default(),
            services,
            slos,
            alerts: Vec::new(),
            escalation_level: 0,
            timeline: vec![TimelineEntry {
                at,
                actor: actor.to_string(),
                kind: TimelineKind::Declared { severity },
                text,
            }],
            action_items: Vec::new(),
            contributing_factors: Vec::new(),
            cause: Cause::Automatic,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn severity(&self) -> Severity {
        self.severity
    }
    pub fn status(&self) -> IncidentStatus {
        self.status
    }
    /// Whether the incident is not resolved.
    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }
    /// When the incident was declared.
    pub fn opened_at(&self) -> Timestamp {
        self.opened_at
    }
    /// When the impact began; may be before `opened_at` (found later) or corrected.
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }
    /// The first move out of triggered.
    pub fn acknowledged_at(&self) -> Option<Timestamp> {
        self.acknowledged_at
    }
    /// The first move to resolved; kept if the incident is reopened.
    pub fn resolved_at(&self) -> Option<Timestamp> {
        self.resolved_at
    }
    pub fn roles(&self) -> &Roles {
        &self.roles
    }
    pub fn services(&self) -> &[String] {
        &self.services
    }
    pub fn slos(&self) -> &[String] {
        &self.slos
    }
    /// Linked alerts in the order they were linked.
    pub fn alerts(&self) -> &[LinkedAlert] {
        &self.alerts
    }
    /// The highest escalation level paged or escalated to (0: nobody paged yet).
    pub fn escalation_level(&self) -> u32 {
        self.escalation_level
    }
    /// Entries in time order; entries with equal times in the order they were recorded.
    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.timeline
    }
    pub fn action_items(&self) -> &[ActionItem] {
        &self.action_items
    }
    pub fn action_item(&self, id: u32) -> Option<&ActionItem> {
        self.action_items.iter().find(|item| item.id == id)
    }
    pub fn cause(&self) -> &Cause {
        &self.cause
    }

    pub fn contributing_factors(&self) -> &[String] {
        &self.contributing_factors
    }

    /// The alert that fired first, if any is linked.
    pub fn first_alert(&self) -> Option<&LinkedAlert> {
        // min_by_key keeps the first of equal times, so link order breaks ties.
        self.alerts.iter().min_by_key(|a| a.at)
    }

    /// Attaches an alert; its entry is placed at the time the alert fired, which may be
    /// before the incident was opened (the alert is often why it was).
    pub fn link_alert(&mut self, actor: &str, alert: LinkedAlert) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        non_empty("fingerprint", &alert.fingerprint)?;
        self.require_open("alert link")?;
        if self
            .alerts
            .iter()
            .any(|a| a.fingerprint == alert.fingerprint)
        {
            return Err(IncidentError::AlertAlreadyLinked {
                fingerprint: alert.fingerprint,
            });
        }
        let summary = alert.label_summary();
        let text = if summary.is_empty() {
            format!("Alert {} fired", alert.name())
        } else {
            format!("Alert {} fired ({summary})", alert.name())
        };
        let kind = TimelineKind::Alert {
            fingerprint: alert.fingerprint.clone(),
        };
        let at = alert.at;
        self.alerts.push(alert);
        self.record(at, actor, kind, text);
        Ok(())
    }

    /// Records that `who` was paged at escalation `level` (1 is the first responder).
    pub fn page(
        &mut self,
        actor: &str,
        at: Timestamp,
        who: &str,
        level: u32,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        non_empty("who", who)?;
        self.require_open("page")?;
        self.require_after_open(at)?;
        if level == 0 {
            return Err(IncidentError::PageLevel);
        }
        self.escalation_level = self.escalation_level.max(level);
        let text = format!("Paged {who} (level {level})");
        self.record(
            at,
            actor,
            TimelineKind::Page {
                who: who.to_string(),
                level,
            },
            text,
        );
        Ok(())
    }

    /// Moves triggered → acknowledged.
    pub fn acknowledge(&mut self, actor: &str, at: Timestamp) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        if self.status != IncidentStatus::Triggered {
            return Err(IncidentError::AlreadyAcknowledged {
                status: self.status,
            });
        }
        self.require_after_last_status_change(at)?;
        self.status = IncidentStatus::Acknowledged;
        self.acknowledged_at.get_or_insert(at);
        self.record(
            at,
            actor,
            TimelineKind::Acknowledged,
            "Acknowledged".to_string(),
        );
        Ok(())
    }

    /// Raises the escalation level to `to`, which must be above the current one.
    pub fn escalate(
        &mut self,
        actor: &str,
        at: Timestamp,
        to: u32,
        reason: &str,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        self.require_open("escalation")?;
        self.require_after_open(at)?;
        let from = self.escalation_level;
        if to <= from {
            return Err(IncidentError::NotAnEscalation { current: from, to });
        }
        self.escalation_level = to;
        let reason = reason.trim();
        let text = if reason.is_empty() {
            format!("Escalated to level {to}")
        } else {
            format!("Escalated to level {to}: {reason}")
        };
        self.record(at, actor, TimelineKind::Escalated { from, to }, text);
        Ok(())
    }

    /// Moves the status forward, or reopens a resolved incident to
    /// [`IncidentStatus::REOPENED`] (see [`IncidentStatus::can_move_to`]). A status change may
    /// not be dated before the previous one, so the timeline tells the moves in order.
    pub fn set_status(
        &mut self,
        actor: &str,
        at: Timestamp,
        to: IncidentStatus,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        let from = self.status;
        if !from.can_move_to(to) {
            return Err(IncidentError::StatusMove { from, to });
        }
        self.require_after_last_status_change(at)?;
        self.status = to;
        if from == IncidentStatus::Triggered {
            self.acknowledged_at.get_or_insert(at);
        }
        if to == IncidentStatus::Resolved {
            self.resolved_at.get_or_insert(at);
        }
        let text = if from == IncidentStatus::Resolved {
            format!("Reopened: {from} → {to}")
        } else {
            format!("Status {from} → {to}")
        };
        self.record(at, actor, TimelineKind::StatusChanged { from, to }, text);
        Ok(())
    }

    /// Reclassifies the incident; allowed after resolution too (reviews often do).
    pub fn set_severity(
        &mut self,
        actor: &str,
        at: Timestamp,
        to: Severity,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        self.require_after_open(at)?;
        let from = self.severity;
        if from == to {
            return Err(IncidentError::SeverityUnchanged(to));
        }
        self.severity = to;
        let text = format!("Severity {from} → {to}");
        self.record(at, actor, TimelineKind::SeverityChanged { from, to }, text);
        Ok(())
    }

    /// Hands `role` to `user`, replacing whoever held it.
    pub fn assign_role(
        &mut self,
        actor: &str,
        at: Timestamp,
        role: Role,
        user: &str,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        non_empty("user", user)?;
        self.require_open("role assignment")?;
        self.require_after_open(at)?;
        let text = match self.roles.get(role) {
            Some(current) if current == user => {
                return Err(IncidentError::RoleUnchanged {
                    role,
                    user: user.to_string(),
                });
            }
            Some(current) => format!("{user} is {role} (was {current})"),
            None => format!("{user} is {role}"),
        };
        *self.roles.slot(role) = Some(user.to_string());
        self.record(
            at,
            actor,
            TimelineKind::RoleAssigned {
                role,
                user: user.to_string(),
            },
            text,
        );
        Ok(())
    }

    /// Adds a service to the affected ones.
    pub fn affect_service(
        &mut self,
        actor: &str,
        at: Timestamp,
        service: &str,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        non_empty("service", service)?;
        self.require_after_open(at)?;
        if self.services.iter().any(|s| s == service) {
            return Err(IncidentError::Duplicate {
                field: "service",
                value: service.to_string(),
            });
        }
        self.services.push(service.to_string());
        self.record(
            at,
            actor,
            TimelineKind::ServiceAffected {
                service: service.to_string(),
            },
            format!("Service {service} affected"),
        );
        Ok(())
    }

    /// Adds an SLO to the affected ones.
    pub fn affect_slo(
        &mut self,
        actor: &str,
        at: Timestamp,
        slo: &str,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        non_empty("slo", slo)?;
        self.require_after_open(at)?;
        if self.slos.iter().any(|s| s == slo) {
            return Err(IncidentError::Duplicate {
                field: "slo",
                value: slo.to_string(),
            });
        }
        self.slos.push(slo.to_string());
        self.record(
            at,
            actor,
            TimelineKind::SloAffected {
                slo: slo.to_string(),
            },
            format!("SLO {slo} affected"),
        );
        Ok(())
    }

    /// Corrects when the impact began, as the investigation learns it. It may not move past
    /// the resolution, so the impact's duration is never negative.
    pub fn set_impact_start(
        &mut self,
        actor: &str,
        at: Timestamp,
        started_at: Timestamp,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        self.require_after_open(at)?;
        if let Some(resolved_at) = self.resolved_at
            && started_at > resolved_at
        {
            return Err(IncidentError::ImpactAfterResolution {
                started_at,
                resolved_at,
            });
        }
        let from = self.started_at;
        if from == started_at {
            return Err(IncidentError::ImpactStartUnchanged(started_at));
        }
        self.started_at = started_at;
        let text = format!("Impact start {from} → {started_at}");
        self.record(
            at,
            actor,
            TimelineKind::ImpactStartChanged {
                from,
                to: started_at,
            },
            text,
        );
        Ok(())
    }

    /// Names what caused the incident, or hands it back to automatic attribution; allowed
    /// after resolution too (reviews find the cause).
    pub fn attribute(
        &mut self,
        actor: &str,
        at: Timestamp,
        cause: Cause,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        match &cause {
            Cause::Deploy { deploy } => non_empty("deploy", deploy)?,
            Cause::Version { version } => non_empty("version", version)?,
            Cause::Automatic | Cause::NotCausedByChange => {}
        }
        self.require_after_open(at)?;
        if self.cause == cause {
            return Err(IncidentError::CauseUnchanged(cause));
        }
        let text = match &cause {
            Cause::NotCausedByChange => "Marked not caused by a change".to_string(),
            other => {
                let s = other.to_string();
                s[..1].to_uppercase() + &s[1..]
            }
        };
        self.cause = cause.clone();
        self.record(at, actor, TimelineKind::Attributed { cause }, text);
        Ok(())
    }

    /// A free-text entry. It may be dated before the incident opened: a scribe backfills what
    /// happened before anyone declared anything.
    pub fn note(&mut self, actor: &str, at: Timestamp, text: &str) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        non_empty("note", text)?;
        self.record(at, actor, TimelineKind::Note, text.trim().to_string());
        Ok(())
    }

    /// Records a condition that contributed to the incident (systems and processes, not
    /// people: the postmortem is blameless).
    pub fn add_contributing_factor(
        &mut self,
        actor: &str,
        at: Timestamp,
        factor: &str,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        non_empty("contributing factor", factor)?;
        self.require_after_open(at)?;
        let factor = factor.trim().to_string();
        if self.contributing_factors.contains(&factor) {
            return Err(IncidentError::Duplicate {
                field: "contributing factor",
                value: factor,
            });
        }
        let text = format!("Contributing factor: {factor}");
        self.contributing_factors.push(factor);
        self.record(at, actor, TimelineKind::ContributingFactor, text);
        Ok(())
    }

    /// Adds an open action item and returns its id (1, 2, … in order of creation).
    pub fn add_action_item(
        &mut self,
        actor: &str,
        at: Timestamp,
        text: &str,
        owner: Option<&str>,
        due: Option<Timestamp>,
    ) -> Result<u32, IncidentError> {
        non_empty("actor", actor)?;
        non_empty("action item", text)?;
        if let Some(owner) = owner {
            non_empty("owner", owner)?;
        }
        self.require_after_open(at)?;
        let id = self.action_items.iter().map(|i| i.id).max().unwrap_or(0) + 1;
        let item = ActionItem {
            id,
            text: text.trim().to_string(),
            owner: owner.map(str::to_string),
            status: ActionItemStatus::Open,
            due,
        };
        let entry = format!("Action item {id} added: {}", item.text);
        self.action_items.push(item);
        self.record(at, actor, TimelineKind::ActionItemAdded { id }, entry);
        Ok(id)
    }

    /// Changes an action item; refused when it names no item or changes nothing.
    pub fn update_action_item(
        &mut self,
        actor: &str,
        at: Timestamp,
        id: u32,
        update: ActionItemUpdate,
    ) -> Result<(), IncidentError> {
        non_empty("actor", actor)?;
        if let Some(text) = &update.text {
            non_empty("action item", text)?;
        }
        if let Some(Some(owner)) = &update.owner {
            non_empty("owner", owner)?;
        }
        self.require_after_open(at)?;
        let item = self
            .action_items
            .iter()
            .find(|i| i.id == id)
            .ok_or(IncidentError::UnknownActionItem(id))?;
        let mut changed = item.clone();
        let mut changes = Vec::new();
        if let Some(text) = update.text.map(|t| t.trim().to_string())
            && text != changed.text
        {
            changes.push(format!("text \"{text}\""));
            changed.text = text;
        }
        if let Some(owner) = update.owner
            && owner != changed.owner
        {
            changes.push(match &owner {
                Some(owner) => format!("owner {owner}"),
                None => "no owner".to_string(),
            });
            changed.owner = owner;
        }
        if let Some(status) = update.status
            && status != changed.status
        {
            changes.push(status.as_str().to_string());
            changed.status = status;
        }
        if let Some(due) = update.due
            && due != changed.due
        {
            changes.push(match due {
                Some(due) => format!("due {due}"),
                None => "no due date".to_string(),
            });
            changed.due = due;
        }
        if changes.is_empty() {
            return Err(IncidentError::ActionItemUnchanged(id));
        }
        let text = format!("Action item {id}: {}", changes.join(", "));
        if let Some(slot) = self.action_items.iter_mut().find(|i| i.id == id) {
            *slot = changed;
        }
        self.record(at, actor, TimelineKind::ActionItemUpdated { id }, text);
        Ok(())
    }

    /// Inserts after every entry at or before `at`: time order, ties in insertion order.
    fn record(&mut self, at: Timestamp, actor: &str, kind: TimelineKind, text: String) {
        let index = self.timeline.partition_point(|e| e.at <= at);
        self.timeline.insert(
            index,
            TimelineEntry {
                at,
                actor: actor.to_string(),
                kind,
                text,
            },
        );
    }

    fn require_open(&self, operation: &'static str) -> Result<(), IncidentError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(IncidentError::Resolved { operation })
        }
    }

    fn require_after_open(&self, at: Timestamp) -> Result<(), IncidentError> {
        if at < self.opened_at {
            Err(IncidentError::BeforeOpened {
                at,
                opened_at: self.opened_at,
            })
        } else {
            Ok(())
        }
    }

    fn require_after_last_status_change(&self, at: Timestamp) -> Result<(), IncidentError> {
        self.require_after_open(at)?;
        // The timeline is sorted, so the last status entry is the latest one.
        let last = self
            .timeline
            .iter()
            .rev()
            .find(|e| e.kind.is_status_change())
            .map_or(self.opened_at, |e| e.at);
        if at < last {
            Err(IncidentError::BeforeLastStatusChange { at, last })
        } else {
            Ok(())
        }
    }
}
