//! Response metrics: time to acknowledge and resolve, their means over a range, and the error
//! budget an incident consumed.

use std::collections::BTreeMap;

use headroom_core::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::incident::Incident;

impl Incident {
    /// From opening to the first acknowledgement.
    pub fn time_to_acknowledge(&self) -> Option<Span> {
        self.acknowledged_at().map(|at| at - self.opened_at())
    }

    /// From opening to the first resolution; `None` while the incident is open, including
    /// after a reopen.
    pub fn time_to_resolve(&self) -> Option<Span> {
        if self.is_open() {
            return None;
        }
        self.resolved_at().map(|at| at - self.opened_at())
    }

    /// The impact's interval: from its start to the resolution, or to `now` while open.
    pub fn impact_window(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        let end = match self.resolved_at() {
            Some(at) if !self.is_open() => at,
            _ => now,
        };
        (self.started_at(), end)
    }
}

/// Which incidents a mean counts, besides the range: those affecting a service and/or a team
/// (a team's incidents are those affecting any service the map assigns to it).
#[derive(Debug, Clone, Copy, Default)]
pub struct IncidentFilter<'a> {
    service: Option<&'a str>,
    team: Option<(&'a str, &'a BTreeMap<String, String>)>,
}

impl<'a> IncidentFilter<'a> {
    /// Every incident.
    pub fn all() -> Self {
        IncidentFilter::default()
    }

    /// Only incidents affecting `service`.
    pub fn service(mut self, service: &'a str) -> Self {
        self.service = Some(service);
        self
    }

    /// Only incidents affecting a service that `teams` (service → team) gives to `team`.
    pub fn team(mut self, team: &'a str, teams: &'a BTreeMap<String, String>) -> Self {
        self.team = Some((team, teams));
        self
    }

    pub fn accepts(&self, incident: &Incident) -> bool {
        let service_ok = self
            .service
            .is_none_or(|s| incident.services().iter().any(|x| x == s));
        let team_ok = self.team.is_none_or(|(team, teams)| {
            incident
                .services()
                .iter()
                .any(|s| teams.get(s).is_some_and(|t| t == team))
        });
        service_ok && team_ok
    }
}

/// A mean over the incidents selected, with how many it counted and how many it had to leave
/// out for lack of the measure (never acknowledged, or not resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeanTime {
    /// Rounded down to the millisecond; `None` when nothing was counted.
    pub mean: Option<Span>,
    pub counted: usize,
    pub excluded: usize,
}

/// Mean time to acknowledge of the incidents *opened* in `[from, to)` that pass `filter`.
/// Counting by opening time puts each incident in exactly one range, so consecutive ranges
/// add up; an incident not yet acknowledged is excluded.
pub fn mtta(
    incidents: &[Incident],
    from: Timestamp,
    to: Timestamp,
    filter: &IncidentFilter<'_>,
) -> MeanTime {
    mean_of(incidents, from, to, filter, Incident::time_to_acknowledge)
}

/// Mean time to resolve, selected as [`mtta`]; an incident not resolved (or reopened and open
/// again) is excluded rather than counted as zero or as "so far".
pub fn mttr(
    incidents: &[Incident],
    from: Timestamp,
    to: Timestamp,
    filter: &IncidentFilter<'_>,
) -> MeanTime {
    mean_of(incidents, from, to, filter, Incident::time_to_resolve)
}

fn mean_of(
    incidents: &[Incident],
    from: Timestamp,
    to: Timestamp,
    filter: &IncidentFilter<'_>,
    measure: impl Fn(&Incident) -> Option<Span>,
) -> MeanTime {
    let (mut total, mut counted, mut excluded) = (0i128, 0usize, 0usize);
    for incident in incidents
        .iter()
        .filter(|i| i.opened_at() >= from && i.opened_at() < to && filter.accepts(i))
    {
        match measure(incident) {
            Some(span) => {
                total += i128::from(span.millis());
                counted += 1;
            }
            None => excluded += 1,
        }
    }
    let mean = (counted > 0).then(|| Span(total.div_euclid(counted as i128) as i64));
    MeanTime {
        mean,
        counted,
        excluded,
    }
}

/// The error budget one SLO lost during an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetConsumed {
    pub slo: String,
    /// Fraction of the SLO's budget (0.25 is a quarter); `None` when there was no data.
    pub fraction: Option<f64>,
}

/// The budget each affected SLO consumed over the impact window (see
/// [`Incident::impact_window`]), in the incident's SLO order. `consumed(slo, from, to)` answers
/// for `[from, to)`; the engine's budget math is its business, not this crate's.
pub fn budget_consumed(
    incident: &Incident,
    now: Timestamp,
    consumed: impl Fn(&str, Timestamp, Timestamp) -> Option<f64>,
) -> Vec<BudgetConsumed> {
    let (from, to) = incident.impact_window(now);
    incident
        .slos()
        .iter()
        .map(|slo| BudgetConsumed {
            slo: slo.clone(),
            fraction: consumed(slo, from, to),
        })
        .collect()
}
