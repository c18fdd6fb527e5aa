//! Incidents as an SRE team runs them: the record, the response, the numbers and the
//! postmortem draft.
//!
//! This crate owns:
//! - the [`Incident`] record (serde, stored as JSON by the server) with its [`Severity`]
//!   (`SEV1`…`SEV4`), [`IncidentStatus`] (triggered → acknowledged → investigating →
//!   identified → monitoring → resolved), [`Role`]s, linked alerts, timeline, action items and
//!   contributing factors, and the operations that change it ([`Incident::declare`],
//!   [`Incident::link_alert`], [`Incident::page`], [`Incident::acknowledge`],
//!   [`Incident::escalate`], [`Incident::set_status`], [`Incident::set_severity`],
//!   [`Incident::assign_role`], [`Incident::note`], action items…);
//! - [`IncidentPolicy`]: which alerts (Alertmanager matchers) open an incident, with which
//!   severity and title, and [`route_alert`], which joins an alert to an open incident instead
//!   of opening a duplicate;
//! - response metrics ([`Incident::time_to_acknowledge`], [`Incident::time_to_resolve`],
//!   [`mtta`], [`mttr`]) and the error budget consumed during an incident
//!   ([`budget_consumed`]);
//! - [`postmortem_markdown`], a deterministic, blameless Markdown draft.
//!
//! Invariants:
//! - Pure: no IO, no async, no clock. Every operation takes the time it happened at.
//! - Every operation validates before it changes anything: a refused operation returns an
//!   [`IncidentError`] and leaves the incident exactly as it was. An accepted one appends one
//!   [`TimelineEntry`] with its actor and time.
//! - The timeline is always in time order, entries with equal times in the order they were
//!   recorded. A stored timeline is re-sorted stably on load; the other stored fields are
//!   trusted as written, so records should only be written by serializing an `Incident`.
//! - The status moves only forward (steps may be skipped), except that a resolved incident may
//!   be reopened to investigating. A status change is never dated before the previous one or
//!   before the incident opened, so the timeline's status entries replay the moves in order.
//! - `acknowledged_at` is the first move out of triggered and `resolved_at` the first move to
//!   resolved; neither changes afterwards (a reopen shows in the timeline, not by erasing them).
//! - Means ([`mtta`], [`mttr`]) count the incidents *opened* in a half-open range `[from, to)`,
//!   so consecutive ranges partition the incidents; one lacking the measure is excluded and
//!   counted as such, never averaged in as zero.

mod incident;
mod metrics;
mod policy;
mod postmortem;
mod severity;

pub use incident::{
    ActionItem, ActionItemStatus, ActionItemUpdate, Cause, Declaration, Incident, IncidentError,
    LinkedAlert, Roles, TimelineEntry, TimelineKind,
};
pub use metrics::{BudgetConsumed, IncidentFilter, MeanTime, budget_consumed, mtta, mttr};
pub use policy::{AlertDisposition, IncidentPolicy, render_title, route_alert};
pub use postmortem::{Impact, escape_markdown, postmortem_markdown};
pub use severity::{IncidentStatus, ParseError, Role, Severity};
