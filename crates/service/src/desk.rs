//! The desk: the dispatcher and the silences it applies, behind one lock (see
//! [`crate::alerting`]), and what mutes each alert it holds.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use headroom_core::Timestamp;
use headroom_routing::alert::Alert;
use headroom_routing::dispatch::{Dispatcher, Notification};
use headroom_routing::group::Fingerprint;
use headroom_routing::inhibit::InhibitRule;
use headroom_routing::matcher::all_match;
use headroom_routing::silence::Silence;

/// The dispatcher and the silences it applies: every change to either is made durable while
/// the desk is locked, so the store and memory never disagree.
pub struct Desk {
    pub dispatcher: Dispatcher,
    pub silences: Vec<Silence>,
    /// Flushed notifications the outbox has not accepted yet (the store was failing).
    pub(crate) unqueued: Vec<Notification>,
    /// When resolved alerts were last forgotten.
    pub(crate) last_gc: Timestamp,
    /// The SLO that raised each of headroom's own burn alerts, recorded when it raised them: a
    /// posted alert cannot claim an SLO by its labels or `generatorURL`.
    pub(crate) owners: HashMap<Fingerprint, String>,
}

impl Desk {
    pub fn new(dispatcher: Dispatcher, silences: Vec<Silence>, now: Timestamp) -> Desk {
        Desk {
            dispatcher,
            silences,
            unqueued: Vec::new(),
            last_gc: now,
            owners: HashMap::new(),
        }
    }

    /// (receiver, group key) of every group with an alert firing at `at`.
    pub fn live_groups(&self, at: DateTime<Utc>) -> HashSet<(String, String)> {
        self.dispatcher
            .groups()
            .into_iter()
            .filter(|g| g.alerts.iter().any(|a| !a.resolved_at(at)))
            .map(|g| {
                (
                    g.route.options.receiver.clone().unwrap_or_default(),
                    g.group_key,
                )
            })
            .collect()
    }

    /// (receiver, group key) of every group holding one of these alerts.
    pub fn groups_holding(&self, fingerprints: &[Fingerprint]) -> HashSet<(String, String)> {
        self.dispatcher
            .groups()
            .into_iter()
            .filter(|g| {
                g.alerts
                    .iter()
                    .any(|a| fingerprints.contains(&a.fingerprint()))
            })
            .filter_map(|g| Some((g.route.options.receiver?, g.group_key)))
            .collect()
    }

    /// The alert with these labels, if it fires at `at`.
    pub fn firing(&self, labels: &BTreeMap<String, String>, at: DateTime<Utc>) -> Option<Alert> {
        self.dispatcher
            .alerts()
            .get(headroom_routing::group::fingerprint(labels))
            .filter(|a| !a.resolved_at(at))
            .cloned()
    }
}

/// An inhibit rule's firing sources, by the values of its `equal` labels.
type SourcesByValues<'a> = HashMap<Vec<String>, Vec<&'a BTreeMap<String, String>>>;

/// The firing alerts at `now` and what mutes each: the silences, and each inhibit rule's firing
/// sources indexed by their `equal` label values, so a target looks up its own values instead
/// of scanning every firing alert (n² for thousands of alerts).
pub struct Mutes<'a> {
    pub firing: Vec<&'a Alert>,
    silences: &'a [Silence],
    rules: &'a [InhibitRule],
    sources: Vec<SourcesByValues<'a>>,
    now: DateTime<Utc>,
}

/// Why an alert is muted: silence ids and inhibiting alerts' fingerprints.
pub struct MuteStatus<'a> {
    pub silenced_by: Vec<&'a str>,
    pub inhibited_by: Vec<String>,
}

fn equal_values(rule: &InhibitRule, labels: &BTreeMap<String, String>) -> Vec<String> {
    rule.equal
        .iter()
        .map(|n| labels.get(n).cloned().unwrap_or_default())
        .collect()
}

impl<'a> Mutes<'a> {
    pub fn new(desk: &'a Desk, now: DateTime<Utc>) -> Self {
        let firing: Vec<&Alert> = desk
            .dispatcher
            .alerts()
            .iter()
            .filter(|a| !a.resolved_at(now))
            .collect();
        let rules = &desk.dispatcher.config().inhibit_rules;
        let sources = rules
            .iter()
            .map(|rule| {
                let mut by_values = SourcesByValues::new();
                for a in firing
                    .iter()
                    .filter(|a| all_match(&rule.source_matchers, &a.labels))
                {
                    by_values
                        .entry(equal_values(rule, &a.labels))
                        .or_default()
                        .push(&a.labels);
                }
                by_values
            })
            .collect();
        Mutes {
            firing,
            silences: &desk.silences,
            rules,
            sources,
            now,
        }
    }

    pub fn status(&self, alert: &Alert) -> MuteStatus<'a> {
        let silenced_by = self
            .silences
            .iter()
            .filter(|s| s.mutes(&alert.labels, self.now))
            .map(|s| s.id.as_str())
            .collect();
        let inhibited_by = self
            .rules
            .iter()
            .zip(&self.sources)
            .filter_map(|(rule, by_values)| {
                let candidates = by_values.get(&equal_values(rule, &alert.labels))?;
                rule.inhibiting_source(&alert.labels, candidates.iter().copied())
            })
            .map(|source| headroom_routing::group::fingerprint(source).to_string())
            .collect();
        MuteStatus {
            silenced_by,
            inhibited_by,
        }
    }
}

impl MuteStatus<'_> {
    pub fn suppressed(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty()
    }
}
