//! Error budgets and burn rates: the arithmetic of an SLO at one moment.

use serde::Serialize;

use crate::sli::{Counts, SliData, SliceTally, window_end};
use crate::slo::{BudgetingMethod, Slo};
use crate::time::{Span, Timestamp};
use crate::window::Period;

/// The window whose burn rate stands for "the current burn" in time-to-exhaustion and forecasts.
pub const CURRENT_BURN_WINDOW: Span = Span::HOUR;

/// How much of the budget is spent, as fractions of the whole budget and in its own units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorBudget {
    /// Fraction of the budget spent: 1.0 is all of it.
    pub consumed: f64,
    /// `1 - consumed`; negative when overspent.
    pub remaining: f64,
    /// The budget in events (Occurrences) or bad slices (timeslice methods) for the whole period.
    pub allowed: f64,
    /// Bad events (or bad slices) so far.
    pub spent: f64,
    /// For timeslice methods: the budget and the spend in minutes.
    pub allowed_minutes: Option<f64>,
    pub spent_minutes: Option<f64>,
}

/// The burn rate over one window: how many times faster than sustainable the budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BurnRate {
    pub window: Span,
    /// Error ratio over the window, `None` with no events.
    pub error_ratio: Option<f64>,
    /// `error_ratio / (1 - objective)`.
    pub rate: Option<f64>,
    /// Events (or slices) seen in the window, for minimum-traffic checks.
    pub events: f64,
}

/// An SLO's state at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloStatus {
    pub at: Timestamp,
    /// The elapsed part of the budget period (for rolling windows: the whole window).
    #[serde(skip)]
    pub period: Period,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slices: Option<SliceTally>,
    /// SLI over the period; `None` with no data.
    pub sli: Option<f64>,
    pub budget: ErrorBudget,
    pub burn_rates: Vec<BurnRate>,
    /// At the current burn rate, how long until the budget is gone (zero when it already is).
    pub time_to_exhaustion: Option<Span>,
    /// Budget remaining at the end of the period if the current burn rate holds (rolling windows: after
    /// one full window).
    pub forecast_remaining: Option<f64>,
}

impl SloStatus {
    pub fn burn_rate(&self, window: Span) -> Option<&BurnRate> {
        self.burn_rates.iter().find(|b| b.window == window)
    }
}

/// Error ratio over `[from, to)` in the SLO's own units, with the number of events (or slices) seen.
pub fn error_ratio(
    slo: &Slo,
    data: &dyn SliData,
    from: Timestamp,
    to: Timestamp,
) -> (Option<f64>, f64) {
    match slo.budgeting {
        BudgetingMethod::Occurrences => {
            let c = data.counts(from, to);
            (c.ratio().map(|r| 1.0 - r), c.total)
        }
        BudgetingMethod::Timeslices { .. } => {
            let s = data.slices(from, to);
            ((s.slices > 0.0).then(|| s.bad() / s.slices), s.slices)
        }
        BudgetingMethod::RatioTimeslices { .. } => {
            let s = data.slices(from, to);
            (
                (s.slices > 0.0).then(|| 1.0 - s.ratio_sum / s.slices),
                s.slices,
            )
        }
    }
}

/// Burn rate over the `window` ending at the end of the bucket holding `now`.
pub fn burn_rate(slo: &Slo, data: &dyn SliData, now: Timestamp, window: Span) -> BurnRate {
    let end = window_end(now, data.resolution());
    let (error_ratio, events) = error_ratio(slo, data, end - window, end);
    let rate = error_ratio.map(|e| e / slo.objective.error_budget_ratio());
    BurnRate {
        window,
        error_ratio,
        rate,
        events,
    }
}

/// Computes an SLO's full status at `now`: SLI, budget, burn rate per window in `windows`,
/// time to exhaustion and forecast.
pub fn status(slo: &Slo, data: &dyn SliData, now: Timestamp, windows: &[Span]) -> SloStatus {
    let res = data.resolution();
    let full = slo.window.period(now);
    // Rolling windows end at the current bucket's end like every other window; calendar periods
    // start at their boundary and take everything up to now.
    let elapsed = match slo.window {
        crate::window::Window::Rolling { length } => {
            let end = window_end(now, res);
            Period {
                start: end - length,
                end,
            }
        }
        crate::window::Window::Calendar { .. } => Period {
            start: full.start,
            end: window_end(now, res).min(full.end),
        },
    };
    let budget_ratio = slo.objective.error_budget_ratio();
    let end = window_end(now, res);
    data.prefetch(&mut std::iter::once(elapsed.start).chain(windows.iter().map(|w| end - *w)));
    let counts = data.counts(elapsed.start, elapsed.end);
    let (sli, budget, slices) = match slo.budgeting {
        BudgetingMethod::Occurrences => {
            let allowed = budget_ratio * counts.total;
            let spent = counts.bad();
            let consumed = if allowed > 0.0 { spent / allowed } else { 0.0 };
            let budget = ErrorBudget {
                consumed,
                remaining: 1.0 - consumed,
                allowed,
                spent,
                allowed_minutes: None,
                spent_minutes: None,
            };
            (counts.ratio(), budget, None)
        }
        BudgetingMethod::Timeslices { slice, .. } | BudgetingMethod::RatioTimeslices { slice } => {
            let s = data.slices(elapsed.start, elapsed.end);
            // The budget is a share of every slice in the whole period, data or not.
            let allowed = budget_ratio * full.length().ratio(slice);
            let (sli, spent) = match slo.budgeting {
                BudgetingMethod::Timeslices { .. } => {
                    ((s.slices > 0.0).then(|| s.good / s.slices), s.bad())
                }
                _ => (
                    (s.slices > 0.0).then(|| s.ratio_sum / s.slices),
                    s.slices - s.ratio_sum,
                ),
            };
            let consumed = spent / allowed;
            let minutes = slice.ratio(Span::MINUTE);
            let budget = ErrorBudget {
                consumed,
                remaining: 1.0 - consumed,
                allowed,
                spent,
                allowed_minutes: Some(allowed * minutes),
                spent_minutes: Some(spent * minutes),
            };
            (sli, budget, Some(s))
        }
    };
    let burn_rates: Vec<BurnRate> = windows
        .iter()
        .map(|w| burn_rate(slo, data, now, *w))
        .collect();
    let current = burn_rates
        .iter()
        .find(|b| b.window == CURRENT_BURN_WINDOW)
        .copied()
        .unwrap_or_else(|| burn_rate(slo, data, now, CURRENT_BURN_WINDOW));
    let period_len = full.length();
    let time_to_exhaustion = match current.rate {
        _ if budget.remaining <= 0.0 => Some(Span(0)),
        Some(rate) if rate > 0.0 => Some(Span(
            (budget.remaining * period_len.millis() as f64 / rate).round() as i64,
        )),
        _ => None,
    };
    let forecast_remaining = current.rate.map(|rate| match slo.window {
        crate::window::Window::Rolling { .. } => 1.0 - rate,
        crate::window::Window::Calendar { .. } => {
            let left = (full.end - now).ratio(period_len).max(0.0);
            budget.remaining - rate * left
        }
    });
    SloStatus {
        at: now,
        period: elapsed,
        counts,
        slices,
        sli,
        budget,
        burn_rates,
        time_to_exhaustion,
        forecast_remaining,
    }
}
