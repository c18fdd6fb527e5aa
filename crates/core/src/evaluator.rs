//! Continuous evaluation: recompute an SLO group's status and step its alerts, at whatever moment
//! the caller says. The caller decides when (on new data, on bucket close); nothing here waits.
//!
//! Alert state lives with the group it belongs to (`GroupAlerts`), indexed like the SLO's tiers,
//! so evaluating thousands of SLOs involves no lookups by name.

use crate::alert::{Alert, AlertState, AlertTransition, tier_holds};
use crate::budget::{CURRENT_BURN_WINDOW, SloStatus, status};
use crate::ident::GroupKey;
use crate::sli::{SliData, window_end};
use crate::slo::Slo;
use crate::time::{Span, Timestamp};

/// The alert name of the no-data rule (tiers are named by their severity).
pub const NO_DATA: &str = "no_data";

/// Every window an SLO's status reports a burn rate for: its alert windows and the current-burn
/// window, shortest first.
pub fn windows(slo: &Slo) -> Vec<Span> {
    let mut w = slo.alerting.windows();
    if !w.contains(&CURRENT_BURN_WINDOW) {
        w.push(CURRENT_BURN_WINDOW);
        w.sort();
    }
    w
}

/// The alert names of an SLO in the order `GroupAlerts` keeps them: tiers, then no-data.
pub fn alert_names(slo: &Slo) -> impl Iterator<Item = &str> {
    let tiers = slo.alerting.tiers.iter().map(|t| t.severity.as_str());
    tiers.chain(slo.alerting.no_data.as_ref().map(|_| NO_DATA))
}

/// The alert state machines of one SLO group: one per tier in tier order, then the no-data rule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupAlerts {
    alerts: Vec<Alert>,
}

impl GroupAlerts {
    pub fn new(slo: &Slo) -> Self {
        GroupAlerts {
            alerts: vec![Alert::default(); alert_names(slo).count()],
        }
    }

    /// The same states under a changed SLO (a reload): carried over by alert name.
    pub fn realigned(&self, old: &Slo, new: &Slo) -> Self {
        let mut out = GroupAlerts::new(new);
        for (name, alert) in self.iter(old) {
            out.restore(new, name, alert);
        }
        out
    }

    /// Sets one alert's state by name (after a restart); unknown names are ignored.
    pub fn restore(&mut self, slo: &Slo, name: &str, alert: Alert) {
        if let Some(i) = alert_names(slo).position(|n| n == name) {
            self.alerts[i] = alert;
        }
    }

    /// `(name, state)` of every alert, in tier order.
    pub fn iter<'a>(&'a self, slo: &'a Slo) -> impl Iterator<Item = (&'a str, Alert)> + 'a {
        alert_names(slo).zip(self.alerts.iter().copied())
    }

    /// When the earliest pending alert's `for` runs out: the moment to evaluate again even if no
    /// data arrives, so `for` delays a page by exactly its length.
    pub fn next_deadline(&self, slo: &Slo) -> Option<Timestamp> {
        slo.alerting
            .tiers
            .iter()
            .zip(&self.alerts)
            .filter(|(_, a)| a.state == AlertState::Pending)
            .map(|(t, a)| a.since + t.for_)
            .min()
    }

    /// Recomputes the group's status at `now` over `windows` (see [`windows`]) and steps every
    /// alert. `started` is when evaluation began, so a no-data alert waits a full `after` from start.
    pub fn evaluate(
        &mut self,
        slo: &Slo,
        group: &GroupKey,
        data: &dyn SliData,
        now: Timestamp,
        started: Timestamp,
        windows: &[Span],
    ) -> (SloStatus, Vec<AlertTransition>) {
        let st = status(slo, data, now, windows);
        let mut out = Vec::new();
        let tiers = slo.alerting.tiers.len();
        for (i, tier) in slo.alerting.tiers.iter().enumerate() {
            let holds = tier_holds(slo, tier, &st);
            step(
                &mut self.alerts[i],
                slo,
                group,
                &tier.severity,
                holds,
                tier.for_,
                now,
                &st,
                &mut out,
            );
        }
        if let Some(rule) = &slo.alerting.no_data {
            let end = window_end(now, data.resolution());
            let silent = data.counts(end - rule.after, end).total <= 0.0;
            let holds = silent && now - started >= rule.after;
            step(
                &mut self.alerts[tiers],
                slo,
                group,
                NO_DATA,
                holds,
                Span(0),
                now,
                &st,
                &mut out,
            );
        }
        (st, out)
    }
}

#[allow(clippy::too_many_arguments)]
fn step(
    alert: &mut Alert,
    slo: &Slo,
    group: &GroupKey,
    name: &str,
    holds: bool,
    hold_for: Span,
    now: Timestamp,
    st: &SloStatus,
    out: &mut Vec<AlertTransition>,
) {
    let from = alert.state;
    if let Some(to) = alert.step(holds, hold_for, now) {
        out.push(AlertTransition {
            at: now,
            slo: slo.id.clone(),
            group: group.clone(),
            severity: name.into(),
            from,
            to,
            burn_rates: st
                .burn_rates
                .iter()
                .map(|b| (b.window.to_string(), b.rate))
                .collect(),
        });
    }
}
