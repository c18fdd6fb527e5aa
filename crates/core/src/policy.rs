//! Multi-window multi-burn-rate alert policies, as the SRE Workbook describes and Sloth generates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ident::Severity;
use crate::time::Span;

/// One multi-window condition: both windows burn faster than `factor` times the sustainable rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BurnCondition {
    pub long: Span,
    pub short: Span,
    pub factor: f64,
}

/// A window pair given as the share of the budget it may burn, the way Sloth's AlertWindows say it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetWindow {
    pub error_budget_percent: f64,
    pub short: Span,
    pub long: Span,
}

impl BudgetWindow {
    /// The burn factor that spends `error_budget_percent` of a `period` budget within `long`:
    /// 2% of 30 days in 1h is 14.4; of 28 days, 13.44.
    pub fn factor(&self, period: Span) -> f64 {
        self.error_budget_percent / 100.0 * period.ratio(self.long)
    }
    pub fn condition(&self, period: Span) -> BurnCondition {
        BurnCondition {
            long: self.long,
            short: self.short,
            factor: self.factor(period),
        }
    }
}

/// Sloth's `AlertWindows`: quick and slow window pairs for the page and ticket tiers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlertWindows {
    pub slo_period: Span,
    pub page_quick: BudgetWindow,
    pub page_slow: BudgetWindow,
    pub ticket_quick: BudgetWindow,
    pub ticket_slow: BudgetWindow,
}

impl AlertWindows {
    /// The Workbook's recommended windows, which Sloth ships as google-30d and google-28d.
    pub fn google(period: Span) -> Self {
        let w = |p, s, l| BudgetWindow {
            error_budget_percent: p,
            short: Span::minutes(s),
            long: Span::minutes(l),
        };
        AlertWindows {
            slo_period: period,
            page_quick: w(2.0, 5, 60),
            page_slow: w(5.0, 30, 360),
            ticket_quick: w(10.0, 120, 1440),
            ticket_slow: w(10.0, 360, 4320),
        }
    }
}

/// One alert tier (page, ticket, or a custom severity): fires when any condition holds for `for_`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertTier {
    pub severity: Severity,
    pub conditions: Vec<BurnCondition>,
    #[serde(rename = "for")]
    pub for_: Span,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Fires when an SLO has seen no events for `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoDataRule {
    pub after: Span,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    /// The alert name (Sloth's `alerting.name`).
    pub name: Option<String>,
    pub tiers: Vec<AlertTier>,
    pub no_data: Option<NoDataRule>,
    /// A burn condition only counts when its long window holds at least this many events (or slices),
    /// so a single failure of a quiet service does not page.
    pub min_events: f64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl AlertPolicy {
    /// Sloth's default policy for an SLO window of `period`: page and ticket from the Google windows,
    /// factors scaled to the period.
    pub fn sloth_default(period: Span) -> Self {
        Self::from_windows(&AlertWindows::google(period), period)
    }

    /// The page and ticket tiers of `windows`, factors scaled to `period`.
    pub fn from_windows(windows: &AlertWindows, period: Span) -> Self {
        let tier = |sev: &str, a: &BudgetWindow, b: &BudgetWindow| AlertTier {
            severity: sev.into(),
            conditions: vec![a.condition(period), b.condition(period)],
            for_: Span(0),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        };
        AlertPolicy {
            name: None,
            tiers: vec![
                tier("page", &windows.page_quick, &windows.page_slow),
                tier("ticket", &windows.ticket_quick, &windows.ticket_slow),
            ],
            no_data: None,
            min_events: 0.0,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    pub fn none() -> Self {
        AlertPolicy {
            name: None,
            tiers: Vec::new(),
            no_data: None,
            min_events: 0.0,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// Every distinct window the tiers look at, shortest first.
    pub fn windows(&self) -> Vec<Span> {
        let mut w: Vec<Span> = self
            .tiers
            .iter()
            .flat_map(|t| t.conditions.iter().flat_map(|c| [c.short, c.long]))
            .collect();
        w.sort();
        w.dedup();
        w
    }

    pub fn longest_window(&self) -> Option<Span> {
        // Without building `windows()`: this runs for every ingest batch (via `Slo::retention`).
        self.tiers
            .iter()
            .flat_map(|t| t.conditions.iter().map(|c| c.short.max(c.long)))
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factors(period: Span) -> Vec<f64> {
        AlertPolicy::sloth_default(period)
            .tiers
            .iter()
            .flat_map(|t| t.conditions.iter().map(|c| c.factor))
            .collect()
    }

    #[test]
    fn sloth_factors_for_30_days() {
        let f = factors(Span::days(30));
        let want = [14.4, 6.0, 3.0, 1.0];
        for (got, want) in f.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        }
    }

    #[test]
    fn sloth_factors_scale_to_28_days() {
        let f = factors(Span::days(28));
        let want = [13.44, 5.6, 2.8, 0.9333333333333333];
        for (got, want) in f.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        }
    }

    #[test]
    fn windows_are_distinct_and_sorted() {
        let w = AlertPolicy::sloth_default(Span::days(30)).windows();
        let mins: Vec<i64> = w.iter().map(|s| s.millis() / 60_000).collect();
        assert_eq!(mins, vec![5, 30, 60, 120, 360, 1440, 4320]);
    }
}
