//! On-call: who is reachable when, and who gets paged as an alert goes unanswered.
//!
//! This crate owns the on-call model: the [`Directory`] of users, teams, schedules and
//! escalation policies; [`Schedule`]s built from rotation [`Layer`]s and [`Override`]s; the
//! [`ical`] feeds of their shifts; and the [`Escalation`] state machine that turns an
//! [`EscalationPolicy`] into pages.
//!
//! It is pure: no IO, no async, no clock. Every time-dependent function takes the instant it
//! works at, so a month of rotations or an hour of escalation runs in simulated time.
//!
//! Invariants:
//! - Every time range is `[start, end)`: a shift's end belongs to the next one.
//! - Day-based turns hand off at the same local wall-clock time in the schedule's zone across
//!   DST changes. A local time skipped by a spring-forward gap means the first instant after
//!   the gap; a local time repeated by a fall-back means its first occurrence. `Hours` turns
//!   are elapsed time instead. Restrictions mask a layer's time; they do not pause its turns.
//! - Precedence: an override beats every layer (among overlapping overrides the later one in
//!   the list wins); a later layer beats earlier ones wherever it has someone on call.
//! - `Schedule::oncall_at(t)` is the user of the `final_shifts` piece holding `t`.
//! - An escalation returns each page at most once, in time order, and never more than one
//!   full pass through the levels in one call (see [`Escalation::due`]). Page times follow
//!   from the start and the delays alone, never from when `due` was called.
//! - An unknown id never panics: a feed shows the id in place of a name, a page skips a
//!   schedule it cannot find. [`Directory::validate`] is where such references are reported.

pub mod directory;
pub mod escalation;
pub mod ical;
pub mod ids;
mod local;
pub mod schedule;

pub use directory::{ContactMethod, Directory, DirectoryError, Team, User};
pub use escalation::{
    Escalation, EscalationError, EscalationLevel, EscalationPolicy, EscalationState, Page, Target,
};
pub use ids::{OverrideId, PolicyId, ScheduleId, TeamId, UserId};
pub use local::{local_of, resolve as resolve_local};
pub use schedule::{Layer, Override, Restriction, Schedule, Shift, Source, TurnLength};
