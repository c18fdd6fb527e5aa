//! The alert state machine: inactive → pending → firing → resolved, one per SLO, group and tier.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::budget::{BurnRate, SloStatus};
use crate::ident::{GroupKey, Severity, SloId};
use crate::policy::AlertTier;
use crate::slo::Slo;
use crate::time::{Span, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
    /// Was firing and stopped; behaves as inactive.
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<AlertState> {
        Some(match s {
            "inactive" => AlertState::Inactive,
            "pending" => AlertState::Pending,
            "firing" => AlertState::Firing,
            "resolved" => AlertState::Resolved,
            _ => return None,
        })
    }
    pub fn is_active(self) -> bool {
        matches!(self, AlertState::Pending | AlertState::Firing)
    }
}

/// One alert's current state and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub state: AlertState,
    pub since: Timestamp,
}

impl Default for Alert {
    fn default() -> Self {
        Alert {
            state: AlertState::Inactive,
            since: Timestamp(0),
        }
    }
}

impl Alert {
    /// Advances the machine given whether the condition holds at `now`; returns the new state when
    /// it changed.
    pub fn step(&mut self, holds: bool, hold_for: Span, now: Timestamp) -> Option<AlertState> {
        let next = match (self.state, holds) {
            (AlertState::Inactive | AlertState::Resolved, true) if hold_for.millis() <= 0 => {
                AlertState::Firing
            }
            (AlertState::Inactive | AlertState::Resolved, true) => AlertState::Pending,
            (AlertState::Pending, true) if now - self.since >= hold_for => AlertState::Firing,
            (AlertState::Pending, false) => AlertState::Inactive,
            (AlertState::Firing, false) => AlertState::Resolved,
            _ => return None,
        };
        *self = Alert {
            state: next,
            since: now,
        };
        Some(next)
    }
}

/// A stored change of state, with the values that caused it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertTransition {
    pub at: Timestamp,
    pub slo: SloId,
    pub group: GroupKey,
    /// The alert's name: its tier's severity, or `no_data`.
    pub severity: Severity,
    pub from: AlertState,
    pub to: AlertState,
    /// Burn rate per window at the transition, keyed by window (`5m`, `1h`, …).
    pub burn_rates: BTreeMap<String, Option<f64>>,
}

/// Whether a tier's condition holds: any window pair with both windows strictly above the factor
/// (as Sloth's rules compare), and enough events in the long window.
pub fn tier_holds(slo: &Slo, tier: &AlertTier, status: &SloStatus) -> bool {
    let threshold = |factor: f64| factor * slo.objective.error_budget_ratio();
    let over = |b: Option<&BurnRate>, factor: f64| {
        b.and_then(|b| b.error_ratio)
            .is_some_and(|e| e > threshold(factor))
    };
    tier.conditions.iter().any(|c| {
        let long = status.burn_rate(c.long);
        let enough = long.is_some_and(|b| b.events >= slo.alerting.min_events);
        enough && over(long, c.factor) && over(status.burn_rate(c.short), c.factor)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_once_without_for() {
        let mut a = Alert::default();
        assert_eq!(
            a.step(true, Span(0), Timestamp(1000)),
            Some(AlertState::Firing)
        );
        assert_eq!(a.step(true, Span(0), Timestamp(2000)), None);
        assert_eq!(
            a.step(false, Span(0), Timestamp(3000)),
            Some(AlertState::Resolved)
        );
        assert_eq!(a.since, Timestamp(3000));
        assert_eq!(a.step(false, Span(0), Timestamp(4000)), None);
    }

    #[test]
    fn pending_until_for_elapses() {
        let mut a = Alert::default();
        let hold = Span::minutes(5);
        assert_eq!(a.step(true, hold, Timestamp(0)), Some(AlertState::Pending));
        assert_eq!(a.step(true, hold, Timestamp(299_999)), None);
        assert_eq!(
            a.step(true, hold, Timestamp(300_000)),
            Some(AlertState::Firing)
        );
    }

    #[test]
    fn pending_that_clears_goes_back_to_inactive() {
        let mut a = Alert::default();
        let hold = Span::minutes(5);
        a.step(true, hold, Timestamp(0));
        assert_eq!(
            a.step(false, hold, Timestamp(60_000)),
            Some(AlertState::Inactive)
        );
    }
}
