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

/// A map key kept inline when short (SLO ids and alert names usually are), so comparing keys in a
/// lookup reads the table slot only: with thousands of SLOs, a key in its own allocation costs a
/// cache miss per lookup.
#[derive(Clone, PartialEq, Eq)]
enum Key {
    Inline { len: u8, buf: [u8; 30] },
    Heap(Box<str>),
}

impl Key {
    fn new(s: &str) -> Key {
        if s.len() <= 30 {
            let mut buf = [0; 30];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Key::Inline {
                len: s.len() as u8,
                buf,
            }
        } else {
            Key::Heap(s.into())
        }
    }
    fn as_str(&self) -> &str {
        match self {
            Key::Inline { len, buf } => {
                std::str::from_utf8(&buf[..*len as usize]).expect("copied from a str whole")
            }
            Key::Heap(s) => s,
        }
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // As `str` hashes, so that lookups by `&str` find it.
        self.as_str().hash(h)
    }
}

impl std::borrow::Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// The alert states of one SLO group, by alert name (tiers in policy order, then `no_data`).
#[derive(Debug, Default)]
struct GroupAlerts {
    alerts: Vec<(Key, Alert)>,
}

impl GroupAlerts {
    fn get_or_insert(&mut self, name: &str) -> &mut Alert {
        let i = match self.alerts.iter().position(|(n, _)| n.as_str() == name) {
            Some(i) => i,
            None => {
                self.alerts.push((Key::new(name), Alert::default()));
                self.alerts.len() - 1
            }
        };
        &mut self.alerts[i].1
    }
    fn get(&self, name: &str) -> Option<Alert> {
        self.alerts
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, a)| *a)
    }
}

/// One SLO's alert states: the ungrouped SLO's in place, a grouped one's by group.
#[derive(Debug, Default)]
struct SloAlerts {
    ungrouped: GroupAlerts,
    groups: HashMap<Key, GroupAlerts>,
}

impl SloAlerts {
    fn group(&self, group: &str) -> Option<&GroupAlerts> {
        if group.is_empty() {
            Some(&self.ungrouped)
        } else {
            self.groups.get(group)
        }
    }
}

/// Alert state machines for every SLO, group and tier, and the time evaluation began (so a no-data
/// alert waits a full `after` from start).
///
/// State is kept by SLO id, then by group, then in a short list by alert name: evaluating a group
/// does one lookup per level and allocates only the first time a group or alert is seen.
#[derive(Debug, Default)]
pub struct Evaluator {
    alerts: HashMap<Key, SloAlerts>,
    started: Option<Timestamp>,
    /// Scratch buffer for the windows of the SLO being evaluated.
    windows: Vec<Span>,
}

impl Evaluator {
    pub fn new() -> Self {
        Self::default()
    }

    fn group_mut(&mut self, slo: &str, group: &str) -> &mut GroupAlerts {
        // Look up by &str first so the steady state allocates nothing.
        if !self.alerts.contains_key(slo) {
            self.alerts.insert(Key::new(slo), SloAlerts::default());
        }
        let alerts = self.alerts.get_mut(slo).expect("inserted above");
        if group.is_empty() {
            return &mut alerts.ungrouped;
        }
        if !alerts.groups.contains_key(group) {
            alerts
                .groups
                .insert(Key::new(group), GroupAlerts::default());
        }
        alerts.groups.get_mut(group).expect("inserted above")
    }

    /// Restores one alert's state after a restart.
    pub fn restore(&mut self, slo: &str, group: &str, alert: &str, state: Alert) {
        *self.group_mut(slo, group).get_or_insert(alert) = state;
    }

    /// Every window this SLO's status reports a burn rate for.
    pub fn windows(slo: &Slo) -> Vec<Span> {
        let mut w = Vec::new();
        Self::windows_into(slo, &mut w);
        w
    }

    /// [`Evaluator::windows`] into a reused buffer.
    fn windows_into(slo: &Slo, w: &mut Vec<Span>) {
        w.clear();
        for t in &slo.alerting.tiers {
            for c in &t.conditions {
                w.push(c.short);
                w.push(c.long);
            }
        }
        w.push(crate::budget::CURRENT_BURN_WINDOW);
        w.sort_unstable();
        w.dedup();
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
        let mut windows = std::mem::take(&mut self.windows);
        Self::windows_into(slo, &mut windows);
        let st = status(slo, data, now, &windows);
        self.windows = windows;
        let mut out = Vec::new();
        let alerts = self.group_mut(&slo.id, group);
        for tier in &slo.alerting.tiers {
            let holds = tier_holds(slo, tier, &st);
            let alert = alerts.get_or_insert(&tier.severity);
            step(
                alert,
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
            let alert = alerts.get_or_insert(NO_DATA);
            step(
                alert,
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

    /// The current state of every alert of one SLO group, by alert name.
    pub fn alerts_of(&self, slo: &Slo, group: &str) -> Vec<(String, Alert)> {
        let mut out = Vec::new();
        self.each_alert_of(slo, group, |n, a| out.push((n.to_string(), a)));
        out
    }

    /// Calls `f` with the name and current state of every alert of one SLO group, in the order
    /// [`Evaluator::alerts_of`] lists them, without allocating.
    pub fn each_alert_of(&self, slo: &Slo, group: &str, mut f: impl FnMut(&str, Alert)) {
        let states = self
            .alerts
            .get(slo.id.as_str())
            .and_then(|g| g.group(group));
        let state = |n: &str| states.and_then(|s| s.get(n)).unwrap_or_default();
        for t in &slo.alerting.tiers {
            f(&t.severity, state(&t.severity));
        }
        if slo.alerting.no_data.is_some() {
            f(NO_DATA, state(NO_DATA));
        }
    }

    /// Drops the state of SLOs that are no longer configured.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.alerts.retain(|slo, _| keep(slo.as_str()));
    }

    pub fn firing(&self) -> impl Iterator<Item = (&str, &str, &str, &Alert)> {
        self.alerts.iter().flat_map(|(s, slo)| {
            std::iter::once(("", &slo.ungrouped))
                .chain(slo.groups.iter().map(|(g, a)| (g.as_str(), a)))
                .flat_map(move |(g, alerts)| {
                    alerts
                        .alerts
                        .iter()
                        .filter(|(_, a)| a.state == AlertState::Firing)
                        .map(move |(n, a)| (s.as_str(), g, n.as_str(), a))
                })
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn step(
    alert: &mut Alert,
    slo: &Slo,
    group: &str,
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
