//! SLOs and their data: `GET /api/v1/slos`, `GET /api/v1/slos/{slo}`,
//! `GET /api/v1/slos/{slo}/series`, `POST /api/v1/slos/{slo}/events`,
//! `GET /api/v1/alerts/transitions`.

use std::collections::BTreeMap;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::Time;

/// `GET /api/v1/slos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SloList {
    pub slos: Vec<Slo>,
}

/// One SLO: its definition, the figures of its group with the least budget left (the one
/// that pages first) at top level, and every group of a grouped SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Slo {
    pub id: String,
    pub service: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The objective as a ratio, e.g. `0.999`.
    pub objective: f64,
    /// A rolling window's length (`30d`), or a calendar window described
    /// (`calendar month (Europe/Paris)`).
    pub window: String,
    pub budgeting: Budgeting,
    pub indicator: Indicator,
    /// Label names whose values each get their own budget; empty for one budget.
    pub grouping: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// The windows the alert policy reads, shortest first.
    pub alert_windows: Vec<String>,
    /// The figures of the group with the least budget left.
    #[serde(flatten)]
    pub standing: Standing,
    /// Every group, for a grouped SLO only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<SloGroup>>,
    /// Where the SLO is defined: `file:line:column`.
    pub source: String,
}

/// One group of a grouped SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SloGroup {
    /// The group key: `label=value` pairs in grouping order, comma-separated.
    pub group: String,
    #[serde(flatten)]
    pub status: GroupStatus,
}

/// An SLO's top-level figures: those of its worst group, or, for a grouped SLO with no group
/// yet, figures that are all `null` with no burn rate and no alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Standing {
    Measured(GroupStatus),
    NoGroupYet(Figures),
}

/// Written by hand for `anyOf` where the derive writes `oneOf`: a measured group's figures
/// satisfy [`Figures`] as well, so "exactly one" would refuse every measured SLO.
impl utoipa::PartialSchema for Standing {
    fn schema() -> RefOr<Schema> {
        let any_of = AnyOfBuilder::new()
            .item(Ref::from_schema_name(GroupStatus::name()))
            .item(Ref::from_schema_name(Figures::name()))
            .description(Some(
                "The figures of the group with the least budget left, or, for a grouped SLO \
                 with no group yet, figures that are all `null` with no burn rate and no alert.",
            ));
        Schema::AnyOf(any_of.build()).into()
    }
}

impl ToSchema for Standing {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Standing")
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((GroupStatus::name().into(), GroupStatus::schema()));
        <GroupStatus as ToSchema>::schemas(schemas);
        schemas.push((Figures::name().into(), Figures::schema()));
        <Figures as ToSchema>::schemas(schemas);
    }
}

impl Standing {
    pub fn figures(&self) -> &Figures {
        match self {
            Standing::Measured(s) => &s.figures,
            Standing::NoGroupYet(f) => f,
        }
    }
}

/// An evaluated group's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupStatus {
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub measurement: Measurement,
}

/// The figures every SLO shows, known or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    /// Good over total in the window; `null` without data (no data is not good data).
    #[schema(required = true)]
    pub sli: Option<f64>,
    #[schema(required = true)]
    pub good_events: Option<f64>,
    #[schema(required = true)]
    pub total_events: Option<f64>,
    /// Fraction of the error budget spent: 1 is all of it.
    #[schema(required = true)]
    pub budget_consumed: Option<f64>,
    /// `1 - budget_consumed`; negative when overspent.
    #[schema(required = true)]
    pub budget_remaining: Option<f64>,
    /// Burn rate per alert window (`5m`, `1h`, …); `null` where the window holds no events.
    pub burn_rates: BTreeMap<String, Option<f64>>,
    pub alerts: Vec<SloAlert>,
}

/// What an evaluated group shows beside its [`Figures`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Measurement {
    pub budget: Budget,
    /// Timeslice methods only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<Slices>,
    /// At the current burn rate, how long until the budget is gone; `null` when it is not
    /// being spent.
    #[schema(required = true)]
    pub time_to_exhaustion_seconds: Option<f64>,
    /// Budget remaining at the end of the period if the current burn rate holds.
    #[schema(required = true)]
    pub forecast_budget_remaining: Option<f64>,
    pub evaluated_at: Time,
}

/// The error budget in the SLO's own units: events (occurrences) or slices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Budget {
    #[schema(required = true)]
    pub allowed: Option<f64>,
    #[schema(required = true)]
    pub spent: Option<f64>,
    #[schema(required = true)]
    pub remaining: Option<f64>,
    /// Timeslice methods: the budget and the spend in minutes.
    #[schema(required = true)]
    pub allowed_minutes: Option<f64>,
    #[schema(required = true)]
    pub spent_minutes: Option<f64>,
}

/// The slices a timeslice budget counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Slices {
    /// `timeslices`: slices that met the slice target, and those that did not.
    Counted { with_data: f64, good: f64, bad: f64 },
    /// `ratio_timeslices`: the sum of every slice's own good/total ratio.
    Ratios { with_data: f64, ratio_sum: f64 },
}

/// How the error budget is counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Budgeting {
    /// Good events over all events.
    Occurrences,
    /// Good slices over all slices; a slice is good when its SLI is at least `slice_target`.
    Timeslices { slice_target: f64, slice: String },
    /// The mean of every slice's own good/total ratio.
    RatioTimeslices { slice: String },
}

/// How the SLI is measured: `kind` and the queries of that kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "queries", rename_all = "snake_case")]
pub enum Indicator {
    /// Good and total counts pushed to the events API.
    Events {},
    /// A ratio of two counting PromQL queries.
    Ratio { queries: RatioQueries },
    /// Events under a threshold, e.g. a histogram bucket against its count.
    Threshold {
        good: String,
        total: String,
        #[schema(required = true)]
        threshold: Option<f64>,
    },
    /// A query that yields the error ratio directly.
    RawErrorRatio { error_ratio: String },
    /// The runs of one of headroom's probes; `latency` a duration such as `300ms`.
    Probe {
        probe: String,
        #[schema(required = true)]
        latency: Option<String>,
    },
}

/// Which two of good, bad and total a ratio SLI names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RatioQueries {
    GoodTotal { good: String, total: String },
    BadTotal { bad: String, total: String },
    GoodBad { good: String, bad: String },
}

/// One alert of an SLO group (a tier of its alert policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SloAlert {
    /// The tier's name, e.g. `page` or `ticket`.
    pub name: String,
    pub state: AlertState,
    /// When it entered its state; `null` if it never left `inactive`.
    #[schema(required = true)]
    pub since: Option<Time>,
}

/// An SLO alert's state: inactive → pending (with a `for`) → firing → resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = SloAlertState)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
    Resolved,
}

/// `GET /api/v1/slos/{slo}/series`: SLI, budget and burn rates over time, for charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SloSeries {
    pub slo: String,
    /// The group key; empty for an ungrouped SLO.
    pub group: String,
    /// The step between points, as a duration (`5m`).
    pub step: String,
    pub points: Vec<SeriesPoint>,
    /// Deploys of the SLO's service (every environment) that finished in the range, newest
    /// first, at most 500.
    pub deploys: Vec<crate::delivery::DeployMarker>,
    /// Change markers of the SLO's service (PagerDuty change events) in the range, newest
    /// first, at most 500.
    pub changes: Vec<crate::delivery::ChangeMarker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeriesPoint {
    pub t: Time,
    #[schema(required = true)]
    pub sli: Option<f64>,
    #[schema(required = true)]
    pub budget_remaining: Option<f64>,
    /// Burn rate per alert window (`5m`, `1h`, …); `null` where the window holds no events.
    pub burn_rates: BTreeMap<String, Option<f64>>,
}

/// `POST /api/v1/slos/{slo}/events` as JSON (NDJSON sends one [`Event`] a line). The batch
/// is accepted whole or not at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventBatch {
    pub events: Vec<Event>,
}

/// Good and total events observed at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub timestamp: EventTime,
    pub good: f64,
    pub total: f64,
    /// Values of the SLO's grouping labels (none for an ungrouped SLO).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// When an event happened: RFC 3339 or unix seconds as text, or unix seconds as a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EventTime {
    Text(String),
    UnixSeconds(f64),
}

/// The answer to an event batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventsAccepted {
    /// Samples stored: one per event and group; 0 for a duplicate.
    pub accepted: u64,
    /// The batch's `Idempotency-Key` was seen before: nothing was counted again.
    pub duplicate: bool,
}

/// `GET /api/v1/alerts/transitions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TransitionList {
    pub transitions: Vec<Transition>,
}

/// One change of an SLO alert's state, with the burn rates that caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Transition {
    pub at: Time,
    pub slo: String,
    pub group: String,
    /// The alert's name (the tier: [`SloAlert::name`]).
    pub alert: String,
    pub from: AlertState,
    pub to: AlertState,
    /// `null` when the stored rates are unreadable.
    #[schema(required = true)]
    pub burn_rates: Option<BTreeMap<String, Option<f64>>>,
}
