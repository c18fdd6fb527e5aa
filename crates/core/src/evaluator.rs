//! Continuous evaluation: recompute an SLO's status and step its alerts, at whatever moment the
//! caller says. The caller decides when (on new data, on bucket close); nothing here waits.

use std::collections::HashMap;

use crate::alert::{Alert, AlertState, AlertTransition, tier_holds};
use crate::budget::{SloStatus, status};
use crate::sli::{SliData, window_end};
use crate::slo::Slo;
use crate::time::{Span, Timestamp};

/// The alert name of the no-data rule (tiers are named by their severity).
pub const NO_DATA: &str = "no_data";

type AlertKey = (String, String, String);

/// Alert state machines for every SLO, group and tier, and the time evaluation began (so a no-data
/// alert waits a full `after` from start).
#[derive(Debug, Default)]
pub struct Evaluator {
    alerts: HashMap<AlertKey, Alert>,
    started: Option<Timestamp>,
}

impl Evaluator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores one alert's state after a restart.
    pub fn restore(&mut self, slo: &str, group: &str, alert: &str, state: Alert) {
        self.alerts.insert(
            (slo.to_string(), group.to_string(), alert.to_string()),
            state,
        );
    }

    /// Every window this SLO's status reports a burn rate for.
    pub fn windows(slo: &Slo) -> Vec<Span> {
        let mut w = slo.alerting.windows();
        if !w.contains(&crate::budget::CURRENT_BURN_WINDOW) {
            w.push(crate::budget::CURRENT_BURN_WINDOW);
            w.sort();
        }
        w
    }

    /// Recomputes one SLO group's status at `now` and steps its alerts.
    pub fn evaluate(
        &mut self,
        slo: &Slo,
        group: &str,
        data: &dyn SliData,
        now: Timestamp,
    ) -> (SloStatus, Vec<AlertTransition>) {
        let started = *self.started.get_or_insert(now);
        let st = status(slo, data, now, &Self::windows(slo));
        let mut out = Vec::new();
        for tier in &slo.alerting.tiers {
            let holds = tier_holds(slo, tier, &st);
            self.step(
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
            self.step(slo, group, NO_DATA, holds, Span(0), now, &st, &mut out);
        }
        (st, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        slo: &Slo,
        group: &str,
        name: &str,
        holds: bool,
        hold_for: Span,
        now: Timestamp,
        st: &SloStatus,
        out: &mut Vec<AlertTransition>,
    ) {
        let key = (slo.id.clone(), group.to_string(), name.to_string());
        let alert = self.alerts.entry(key).or_default();
        let from = alert.state;
        if let Some(to) = alert.step(holds, hold_for, now) {
            out.push(AlertTransition {
                at: now,
                slo: slo.id.clone(),
                group: group.to_string(),
                severity: name.to_string(),
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

    /// The current state of every alert of one SLO group, by alert name.
    pub fn alerts_of(&self, slo: &Slo, group: &str) -> Vec<(String, Alert)> {
        let mut names: Vec<&str> = slo
            .alerting
            .tiers
            .iter()
            .map(|t| t.severity.as_str())
            .collect();
        if slo.alerting.no_data.is_some() {
            names.push(NO_DATA);
        }
        names
            .into_iter()
            .map(|n| {
                let key = (slo.id.clone(), group.to_string(), n.to_string());
                (
                    n.to_string(),
                    self.alerts.get(&key).copied().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Drops the state of SLOs that are no longer configured.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.alerts.retain(|(slo, _, _), _| keep(slo));
    }

    pub fn firing(&self) -> impl Iterator<Item = (&str, &str, &str, &Alert)> {
        self.alerts
            .iter()
            .filter(|(_, a)| a.state == AlertState::Firing)
            .map(|((s, g, n), a)| (s.as_str(), g.as_str(), n.as_str(), a))
    }
}
