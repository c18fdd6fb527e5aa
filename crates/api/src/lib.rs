//! The HTTP API's request and response bodies, shared by the server and the CLI.
//!
//! Each type reads and writes exactly the JSON the server sends or takes: field names, `null`
//! against absent, integers against fractions, nesting. `cli/tests/api_types.rs` drives every
//! endpoint of a real server and checks that each answer survives a round trip through its type
//! unchanged. Every type also derives `utoipa::ToSchema`, so an OpenAPI document can be built
//! from them.
//!
//! Conventions of the wire, kept here:
//! - Times are RFC 3339 text ([`Time`]), except an incident timeline's `impact_start_changed`,
//!   whose `from` and `to` are unix milliseconds. Durations are seconds as numbers
//!   (`…_seconds`) or Prometheus durations as text (`5m`, `1h`).
//! - Label and annotation maps are `BTreeMap<String, String>`.
//! - A figure that may be unknown (no data, not finite) is `Option<f64>`: `null` on the wire.
//!   An `Option` the server always writes (perhaps `null`) is `#[schema(required = true)]`; one
//!   it leaves out when empty is `skip_serializing_if`, so the schema tells the two apart.
//! - Request fields the server parses leniently (severities and roles in any case, times as
//!   RFC 3339, unix seconds or a date) are text, which the server validates and refuses with a
//!   reason; responses carry the same vocabulary as enums.
//!
//! Areas: [`slo`] (SLOs, series, events, alert transitions), [`probe`] (probes, heartbeats,
//! scrape targets), [`alertmanager`] (Alertmanager API v2 and forwarded webhooks), [`pagerduty`]
//! (Events API v2), [`oncall`] (users, teams, schedules, shifts, overrides), [`calendar`],
//! [`escalation`], [`incident`], [`reload`] and [`error`].

pub mod alertmanager;
pub mod calendar;
pub mod error;
pub mod escalation;
pub mod incident;
pub mod oncall;
pub mod pagerduty;
pub mod probe;
pub mod reload;
pub mod slo;
mod time;

pub use error::ErrorBody;
pub use time::Time;
