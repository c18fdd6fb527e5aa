//! On-call: `GET /api/v1/users`, `GET /api/v1/teams`, `GET /api/v1/schedules`,
//! `GET /api/v1/schedules/{id}/oncall`, `GET /api/v1/schedules/{id}/shifts`,
//! `POST /api/v1/schedules/{id}/overrides` (and `DELETE /api/v1/overrides/{id}`, 204 without a
//! body). Calendar feeds are iCalendar text; their subscription keys are in [`crate::calendar`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// `GET /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    /// An IANA zone, e.g. `Europe/Paris`.
    pub time_zone: String,
    pub contact_methods: Vec<ContactMethod>,
    /// Ids of the teams the user is a member of.
    pub teams: Vec<String>,
}

/// How a user is paged. Webhook and Slack URLs are secrets: only their kind is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ContactMethod {
    Email { address: String },
    Slack,
    Webhook,
}

/// A user by id, with the name to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRef {
    pub id: String,
    /// The user's name, or the id for a user the directory does not know.
    pub name: String,
}

/// `GET /api/v1/teams`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TeamList {
    pub teams: Vec<Team>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub members: Vec<UserRef>,
    /// The team's usual escalation policy id.
    #[schema(required = true)]
    pub escalation_policy: Option<String>,
}

/// `GET /api/v1/schedules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<Schedule>,
}

/// A schedule with who is on call now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub layers: Vec<Layer>,
    #[schema(required = true)]
    pub oncall_now: Option<UserRef>,
}

/// One rotation of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Layer {
    pub name: String,
    /// User ids, in turn order.
    pub users: Vec<String>,
    pub turn: TurnLength,
}

/// How long one turn lasts: `"daily"`, `"weekly"`, `{"days": n}` or `{"hours": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TurnLength {
    Daily,
    Weekly,
    Days(u32),
    Hours(u32),
}

/// `GET /api/v1/schedules/{id}/oncall?at=`: who is on call at an instant, from which layer or
/// override, since and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OnCallAt {
    pub schedule: String,
    pub at: Time,
    /// `null` when nobody is on call.
    #[schema(required = true)]
    pub user: Option<UserRef>,
    #[schema(required = true)]
    pub source: Option<ShiftSource>,
    /// When the shift began; `null` beyond the 92 days searched, or when nobody is on call.
    #[schema(required = true)]
    pub since: Option<Time>,
    /// When the shift ends (or, with nobody on call, when the next one begins); `null` when no
    /// change is in sight.
    #[schema(required = true)]
    pub until: Option<Time>,
}

/// Where a shift comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ShiftSource {
    /// A rotation: its index in the schedule and its name.
    Layer { layer: u64, name: Option<String> },
    /// An override; only those not `from_config` can be deleted through the API.
    Override { id: String, from_config: bool },
}

/// `GET /api/v1/schedules/{id}/shifts?from=&to=`: the final schedule over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShiftList {
    pub schedule: String,
    pub from: Time,
    pub to: Time,
    pub shifts: Vec<Shift>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Shift {
    pub user: UserRef,
    pub start: Time,
    pub end: Time,
    pub source: ShiftSource,
}

/// `POST /api/v1/schedules/{id}/overrides`: `user` covers `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewOverride {
    /// A user id.
    pub user: String,
    pub start: Time,
    pub end: Time,
    /// Who added it; `api` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The override added (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Override {
    pub id: String,
    pub schedule: String,
    /// A user id.
    pub user: String,
    pub start: Time,
    pub end: Time,
}
