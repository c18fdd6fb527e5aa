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
//!   Figures are rounded to 1e-9 ([`figure`]): float noise such as `-198.99999999999983` is
//!   not shown; `/metrics` keeps full precision for machines, and so does a p-value, whose
//!   small digits are its meaning.
//!   An `Option` the server always writes (perhaps `null`) is `#[schema(required = true)]`; one
//!   it leaves out when empty is `skip_serializing_if`, so the schema tells the two apart.
//! - Request fields the server parses leniently (severities and roles in any case, times as
//!   RFC 3339, unix seconds or a date) are text, which the server validates and refuses with a
//!   reason; responses carry the same vocabulary as enums.
//!
//! Areas: [`slo`] (SLOs, series, events, alert transitions), [`probe`] (probes, heartbeats,
//! scrape targets), [`alertmanager`] (Alertmanager API v2 and forwarded webhooks), [`pagerduty`]
//! (Events API v2), [`oncall`] (users, teams, schedules, shifts, overrides), [`calendar`],
//! [`escalation`], [`incident`], [`canary`] (canary judgement, in Kayenta's camelCase names),
//! [`delivery`] (hook results, reported and listed deploys, deploy markers), [`dora`] (DORA
//! metrics and incident attribution), [`gate`] (release gate decisions and overrides),
//! [`actions`] (configured actions, their runs, runs by hand and approvals),
//! [`reload`], [`home`] (`GET /`) and [`error`].

pub mod actions;
pub mod alertmanager;
pub mod calendar;
pub mod canary;
pub mod delivery;
pub mod dora;
pub mod error;
pub mod escalation;
pub mod gate;
pub mod home;
pub mod incident;
pub mod oncall;
pub mod pagerduty;
pub mod probe;
pub mod reload;
pub mod slo;
mod time;

pub use error::ErrorBody;
pub use time::Time;

/// A figure as the API and the CLI show it: unknown (`None`) when not finite, else rounded to
/// nine decimal places, far below any meaningful digit of a ratio, a budget or a count, and
/// enough to hide the noise that sums of floats leave.
pub fn figure(x: f64) -> Option<f64> {
    if !x.is_finite() {
        return None;
    }
    // Beyond 1e15 there is no fractional noise to hide, and scaling would overflow precision.
    if x.abs() >= 1e15 {
        return Some(x);
    }
    Some((x * 1e9).round() / 1e9 + 0.0)
}

#[cfg(test)]
mod tests {
    use super::figure;

    #[test]
    fn figures_drop_float_noise_and_unknowns() {
        assert_eq!(figure(1.0 - 1.0 / (1.0 - 0.995)), Some(-199.0));
        assert_eq!(figure(0.1 + 0.2), Some(0.3));
        assert_eq!(figure(0.999_123_456_7), Some(0.999_123_457));
        // -0.0 would print as `-0.0`.
        assert_eq!(figure(-1e-12).map(f64::to_bits), Some(0.0f64.to_bits()));
        assert_eq!(figure(1e20), Some(1e20));
        assert_eq!(figure(f64::NAN), None);
        assert_eq!(figure(f64::INFINITY), None);
    }
}
