//! Alert windows (Sloth's `AlertWindows`) and the default policy an SLO gets when it names none.

use headroom_core::{AlertPolicy, AlertWindows, BudgetWindow, Span};

use crate::read::{At, Cx, fields};
use crate::yaml::Node;

/// What SLOs fall back to when they do not say: the loaded set's alert windows, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct Defaults {
    pub windows: Option<AlertWindows>,
}

impl Defaults {
    /// The period of Sloth specs, which carry none: the windows' period, or Sloth's 30 days.
    pub fn sloth_period(&self) -> Span {
        self.windows.map_or(Span::days(30), |w| w.slo_period)
    }

    /// Page and ticket tiers for an SLO whose budget spans `period`: the loaded alert windows,
    /// or the Workbook's (Sloth's google-30d) windows, factors scaled to `period`.
    pub fn policy(&self, period: Span) -> AlertPolicy {
        match &self.windows {
            Some(w) => AlertPolicy::from_windows(w, period),
            None => AlertPolicy::sloth_default(period),
        }
    }
}

/// Field spellings: Sloth's AlertWindows files are camelCase, the native format snake_case.
pub(crate) struct Spelling {
    pub slo_period: &'static str,
    pub error_budget_percent: &'static str,
    pub short_window: &'static str,
    pub long_window: &'static str,
}

pub(crate) const SNAKE: Spelling = Spelling {
    slo_period: "slo_period",
    error_budget_percent: "error_budget_percent",
    short_window: "short_window",
    long_window: "long_window",
};

pub(crate) const CAMEL: Spelling = Spelling {
    slo_period: "sloPeriod",
    error_budget_percent: "errorBudgetPercent",
    short_window: "shortWindow",
    long_window: "longWindow",
};

/// Reads `{slo_period, page: {quick, slow}, ticket: {quick, slow}}`. With `period` given (an
/// SLO's own windows) the period is the SLO's and may not be written.
pub(crate) fn read_windows(
    cx: &mut Cx,
    node: &Node,
    what: &'static str,
    names: &Spelling,
    period: Option<Span>,
) -> Option<AlertWindows> {
    let allowed: &[&str] = if period.is_some() {
        &["page", "ticket"]
    } else {
        &[names.slo_period, "page", "ticket"]
    };
    let f = fields(cx, node, what, allowed)?;
    let mark = cx.mark();
    let slo_period = match period {
        Some(p) => Some(p),
        None => f.req_span(cx, names.slo_period).map(|s| s.v),
    };
    let pair = |cx: &mut Cx, tier: &'static str| -> Option<(BudgetWindow, BudgetWindow)> {
        let node = f.req(cx, tier)?;
        let p = fields(cx, node, tier, &["quick", "slow"])?;
        let quick = p
            .req(cx, "quick")
            .and_then(|n| budget_window(cx, n, "quick", names));
        let slow = p
            .req(cx, "slow")
            .and_then(|n| budget_window(cx, n, "slow", names));
        Some((quick?, slow?))
    };
    let page = pair(cx, "page");
    let ticket = pair(cx, "ticket");
    if !cx.clean_since(mark) {
        return None;
    }
    let ((page_quick, page_slow), (ticket_quick, ticket_slow)) = (page?, ticket?);
    Some(AlertWindows {
        slo_period: slo_period?,
        page_quick,
        page_slow,
        ticket_quick,
        ticket_slow,
    })
}

fn budget_window(
    cx: &mut Cx,
    node: &Node,
    what: &'static str,
    names: &Spelling,
) -> Option<BudgetWindow> {
    let f = fields(
        cx,
        node,
        what,
        &[
            names.error_budget_percent,
            names.short_window,
            names.long_window,
        ],
    )?;
    let pct = f
        .req(cx, names.error_budget_percent)
        .and_then(|n| crate::read::number(cx, n, names.error_budget_percent));
    let short = f.req_span(cx, names.short_window);
    let long = f.req_span(cx, names.long_window);
    let pct = pct.and_then(|p| budget_percent(cx, &p, names.error_budget_percent));
    let (short, long) = (short?, long?);
    if short.v >= long.v {
        cx.err(
            short.pos,
            format!(
                "{} {} must be shorter than {} {}",
                names.short_window, short.v, names.long_window, long.v
            ),
        );
        return None;
    }
    Some(BudgetWindow {
        error_budget_percent: pct?,
        short: short.v,
        long: long.v,
    })
}

fn budget_percent(cx: &mut Cx, p: &At<f64>, field: &str) -> Option<f64> {
    if p.v > 0.0 && p.v <= 100.0 {
        Some(p.v)
    } else {
        cx.err(
            p.pos,
            format!(
                "{field} {} is out of range: it is the share of the error budget, above 0 and at most 100",
                p.v
            ),
        );
        None
    }
}
