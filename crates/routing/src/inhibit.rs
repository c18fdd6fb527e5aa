//! Inhibition: a firing source alert suppresses target alerts, following Alertmanager 0.25's
//! `inhibit/inhibit.go`.
//!
//! A rule inhibits a target when the target satisfies the target matchers and some firing
//! alert satisfies the source matchers with the same value for every `equal` label (a label
//! missing on both sides, or missing on one and empty on the other, counts as equal). When the
//! target also satisfies the *source* matchers, sources that satisfy the *target* matchers are
//! skipped, so two alerts that each match both sides do not silence each other (upstream's
//! `excludeTwoSidedMatch`). So an alert never inhibits itself: to be both source and target it
//! must match both sides, and then it is skipped as a source.

use crate::LabelSet;
use crate::matcher::{Matcher, all_match};

/// One `inhibit_rules` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InhibitRule {
    /// Matchers a firing alert must satisfy to inhibit.
    pub source_matchers: Vec<Matcher>,
    /// Matchers an alert must satisfy to be inhibited.
    pub target_matchers: Vec<Matcher>,
    /// Labels whose values must be equal in source and target.
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// The first of `firing_sources` that inhibits `target` under this rule, if any. Callers
    /// pass only firing (unresolved) alerts; upstream skips resolved ones the same way.
    pub fn inhibiting_source<'a>(
        &self,
        target: &LabelSet,
        firing_sources: impl IntoIterator<Item = &'a LabelSet>,
    ) -> Option<&'a LabelSet> {
        if !all_match(&self.target_matchers, target) {
            return None;
        }
        let two_sided = all_match(&self.source_matchers, target);
        firing_sources.into_iter().find(|source| {
            all_match(&self.source_matchers, source)
                && self
                    .equal
                    .iter()
                    .all(|name| value(source, name) == value(target, name))
                && !(two_sided && all_match(&self.target_matchers, source))
        })
    }

    /// Whether one of `firing_sources` inhibits `target` under this rule.
    pub fn is_inhibited<'a>(
        &self,
        target: &LabelSet,
        firing_sources: impl IntoIterator<Item = &'a LabelSet>,
    ) -> bool {
        self.inhibiting_source(target, firing_sources).is_some()
    }
}

/// Whether any rule inhibits `target` given the firing alerts (upstream's `Inhibitor.Mutes`).
pub fn is_inhibited(rules: &[InhibitRule], target: &LabelSet, firing: &[LabelSet]) -> bool {
    rules.iter().any(|rule| rule.is_inhibited(target, firing))
}

/// Upstream reads a missing label as the empty string.
fn value<'a>(labels: &'a LabelSet, name: &str) -> &'a str {
    labels.get(name).map_or("", String::as_str)
}
