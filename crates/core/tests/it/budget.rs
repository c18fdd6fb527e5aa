//! Budgets and burn rates against answers worked out by hand, on a naive minute-bucket reference.

use headroom_core::budget::status;
use headroom_core::evaluator::{GroupAlerts, windows};
use headroom_core::*;

/// Exact per-minute buckets from `origin`: the simplest correct `SliData`.
struct Minutes {
    origin: Timestamp,
    buckets: Vec<(f64, f64)>,
    slice: Option<(Span, Option<f64>)>,
}

impl Minutes {
    fn new(origin: Timestamp, minutes: usize) -> Self {
        Minutes {
            origin,
            buckets: vec![(0.0, 0.0); minutes],
            slice: None,
        }
    }
    fn add(&mut self, minute: usize, good: f64, total: f64) {
        self.buckets[minute].0 += good;
        self.buckets[minute].1 += total;
    }
    fn idx(&self, t: Timestamp) -> usize {
        ((t - self.origin).millis().max(0) / 60_000).min(self.buckets.len() as i64) as usize
    }
}

impl SliData for Minutes {
    fn resolution(&self) -> Span {
        Span::MINUTE
    }
    fn counts(&self, from: Timestamp, to: Timestamp) -> Counts {
        let mut c = Counts::default();
        for (g, t) in &self.buckets[self.idx(from)..self.idx(to)] {
            c += Counts {
                good: *g,
                total: *t,
            };
        }
        c
    }
    fn slices(&self, from: Timestamp, to: Timestamp) -> SliceTally {
        let Some((width, target)) = self.slice else {
            return SliceTally::default();
        };
        let per = (width.millis() / 60_000) as usize;
        let mut tally = SliceTally::default();
        let (a, b) = (self.idx(from), self.idx(to));
        for start in (a..b).filter(|m| m % per == 0) {
            let end = (start + per).min(self.buckets.len());
            let (g, t) = self.buckets[start..end]
                .iter()
                .fold((0.0, 0.0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
            if t > 0.0 {
                tally.slices += 1.0;
                tally.ratio_sum += g / t;
                if target.is_some_and(|tg| g / t >= tg) {
                    tally.good += 1.0;
                }
            }
        }
        tally
    }
}

fn slo(objective: f64, window: Window, budgeting: BudgetingMethod) -> Slo {
    Slo {
        id: "svc-slo".into(),
        service: "svc".into(),
        name: "slo".into(),
        description: None,
        objective: Objective::new(objective).unwrap(),
        window,
        budgeting,
        sli: Sli::Events,
        grouping: vec![],
        alerting: AlertPolicy::sloth_default(window.nominal_length()),
        labels: Default::default(),
        backend: None,
        rules: RulesSpec::sloth("svc", "slo"),
        source: SourceRef::default(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

const DAYS30: usize = 30 * 1440;

#[test]
fn occurrences_budget_over_a_rolling_window() {
    // 1,000,000 events, 400 bad, objective 99.9%: allowed 1,000 bad, 40% spent.
    let s = slo(
        0.999,
        Window::Rolling {
            length: Span::days(30),
        },
        BudgetingMethod::Occurrences,
    );
    let mut d = Minutes::new(Timestamp(0), DAYS30);
    for m in 0..1000 {
        d.add(m * 40, 999.6, 1000.0);
    }
    let now = Timestamp(0) + Span::minutes(DAYS30 as i64 - 1);
    let st = status(&s, &d, now, &[Span::HOUR]);
    assert!(close(st.counts.total, 1_000_000.0));
    assert!(close(st.sli.unwrap(), 0.9996));
    assert!(close(st.budget.allowed, 1000.0));
    assert!(close(st.budget.spent, 400.0));
    assert!(close(st.budget.consumed, 0.4));
    assert!(close(st.budget.remaining, 0.6));
}

#[test]
fn burn_rate_is_error_ratio_over_allowed_ratio() {
    // Last hour: 10,000 events with 144 bad = 1.44% errors = 14.4x a 99.9% budget.
    let s = slo(
        0.999,
        Window::Rolling {
            length: Span::days(30),
        },
        BudgetingMethod::Occurrences,
    );
    let mut d = Minutes::new(Timestamp(0), 200);
    for m in 100..160 {
        d.add(m, 10_000.0 / 60.0 - 144.0 / 60.0, 10_000.0 / 60.0);
    }
    let now = Timestamp(0) + Span::minutes(159) + Span::SECOND * 30;
    let st = status(&s, &d, now, &[Span::minutes(5), Span::HOUR]);
    let hour = st.burn_rate(Span::HOUR).unwrap();
    assert!(close(hour.error_ratio.unwrap(), 0.0144));
    assert!(close(hour.rate.unwrap(), 14.4));
    assert!(close(hour.events, 10_000.0));
    let five = st.burn_rate(Span::minutes(5)).unwrap();
    assert!(close(five.rate.unwrap(), 14.4));
    // Whole window = the same hour: 144 of an allowed 10 bad events.
    assert!(close(st.budget.consumed, 14.4));
    assert!(st.budget.remaining < 0.0);
    assert_eq!(st.time_to_exhaustion, Some(Span(0)));
}

#[test]
fn no_data_is_not_good_data() {
    let s = slo(
        0.99,
        Window::Rolling {
            length: Span::days(7),
        },
        BudgetingMethod::Occurrences,
    );
    let d = Minutes::new(Timestamp(0), 100);
    let st = status(&s, &d, Timestamp(0) + Span::minutes(50), &[Span::HOUR]);
    assert_eq!(st.sli, None);
    assert_eq!(st.burn_rate(Span::HOUR).unwrap().rate, None);
    assert_eq!(st.budget.consumed, 0.0);
    assert_eq!(st.time_to_exhaustion, None);
}

#[test]
fn time_to_exhaustion_and_forecast_at_current_burn() {
    // 30-day window, 99% objective. Earlier: 100,000 events, 400 bad (40% of 1,000 allowed... of the
    // final total). Last hour burns at 2x: 1,000 events, 20 bad.
    let s = slo(
        0.99,
        Window::Rolling {
            length: Span::days(30),
        },
        BudgetingMethod::Occurrences,
    );
    let mut d = Minutes::new(Timestamp(0), 2000);
    d.add(10, 98_600.0 - 20.0 + 20.0, 99_000.0); // 400 bad
    for m in 1000..1060 {
        d.add(m, (1000.0 - 20.0) / 60.0, 1000.0 / 60.0);
    }
    let now = Timestamp(0) + Span::minutes(1059);
    let st = status(&s, &d, now, &[Span::HOUR]);
    // 420 bad of 100,000 events; allowed 1,000 → consumed 0.42.
    assert!(close(st.budget.consumed, 0.42), "{}", st.budget.consumed);
    let rate = st.burn_rate(Span::HOUR).unwrap().rate.unwrap();
    assert!(close(rate, 2.0));
    // remaining 0.58 of a 720h budget at 2x → 0.58 × 720h / 2 = 208.8h.
    let tte = st.time_to_exhaustion.unwrap();
    assert!(close(tte.millis() as f64, 208.8 * 3_600_000.0), "{tte}");
    assert!(close(st.forecast_remaining.unwrap(), -1.0));
}

#[test]
fn timeslices_budget_in_slices_and_minutes() {
    // 1 day, 1-minute slices good at 95%, objective 99%: 14.4 bad slices allowed.
    let method = BudgetingMethod::Timeslices {
        target: 0.95,
        slice: Span::MINUTE,
    };
    let s = slo(0.99, Window::Rolling { length: Span::DAY }, method);
    let mut d = Minutes::new(Timestamp(0), 1440);
    d.slice = Some((Span::MINUTE, Some(0.95)));
    for m in 0..1440 {
        let good = if m % 144 == 0 { 90.0 } else { 100.0 }; // 10 slices at 90%
        d.add(m, good, 100.0);
    }
    let st = status(&s, &d, Timestamp(0) + Span::minutes(1439), &[Span::HOUR]);
    let slices = st.slices.unwrap();
    assert_eq!((slices.slices, slices.good), (1440.0, 1430.0));
    assert!(close(st.budget.allowed, 14.4));
    assert!(close(st.budget.spent, 10.0));
    assert!(close(st.budget.consumed, 10.0 / 14.4));
    assert!(close(st.budget.allowed_minutes.unwrap(), 14.4));
    assert!(close(st.budget.spent_minutes.unwrap(), 10.0));
    assert!(close(st.sli.unwrap(), 1430.0 / 1440.0));
}

#[test]
fn ratio_timeslices_average_slice_ratios() {
    // 5-minute slices, one slice at 50% and three at 100%: SLI 87.5% though events say otherwise.
    let method = BudgetingMethod::RatioTimeslices {
        slice: Span::minutes(5),
    };
    let s = slo(0.9, Window::Rolling { length: Span::HOUR }, method);
    let mut d = Minutes::new(Timestamp(0), 60);
    d.slice = Some((Span::minutes(5), None));
    d.add(0, 1.0, 2.0);
    d.add(5, 1000.0, 1000.0);
    d.add(10, 1000.0, 1000.0);
    d.add(15, 1000.0, 1000.0);
    let st = status(&s, &d, Timestamp(0) + Span::minutes(59), &[Span::HOUR]);
    assert!(close(st.sli.unwrap(), 0.875));
    // 12 slices in the hour, 10% allowed = 1.2 slices; spent 0.5 of a slice.
    assert!(close(st.budget.allowed, 1.2));
    assert!(close(st.budget.spent, 0.5));
}

#[test]
fn calendar_month_budget_and_forecast() {
    let w = Window::Calendar {
        unit: CalendarUnit::Month,
        tz: chrono_tz::UTC,
    };
    let s = slo(0.99, w, BudgetingMethod::Occurrences);
    // 2026-04 has 30 days; at the middle, 1% errors all along burns at 1x.
    let start = Timestamp(1_775_001_600_000); // 2026-04-01T00:00:00Z
    let mut d = Minutes::new(start, 30 * 1440);
    for m in 0..(15 * 1440) {
        d.add(m, 99.0, 100.0);
    }
    let now = start + Span::days(15) - Span::MINUTE;
    let st = status(&s, &d, now, &[Span::HOUR]);
    assert!(close(st.budget.consumed, 1.0));
    assert_eq!(st.period.start, start);
    // 1x burn with half the month left spends another half: forecast -0.5 (plus one minute's worth).
    let f = st.forecast_remaining.unwrap();
    assert!((f - -0.5).abs() < 1e-3, "{f}");
}

#[test]
fn page_fires_and_resolves_by_the_workbook_windows() {
    let s = slo(
        0.999,
        Window::Rolling {
            length: Span::days(30),
        },
        BudgetingMethod::Occurrences,
    );
    let mut d = Minutes::new(Timestamp(0), 3 * 1440);
    let mut alerts = GroupAlerts::new(&s);
    let windows = windows(&s);
    // One day clean, then 2% errors (20x): the 1h window passes 14.4x after 14.4/20 h = 43.2 min.
    let start = 1440;
    let mut fired = None;
    let mut resolved = None;
    for m in 0..(1440 + 180) {
        let bad = if (start..start + 120).contains(&m) {
            2.0
        } else {
            0.0
        };
        d.add(m, 100.0 - bad, 100.0);
        let now = Timestamp(0) + Span::minutes(m as i64);
        let (_, tr) = alerts.evaluate(&s, &GroupKey::ungrouped(), &d, now, Timestamp(0), &windows);
        for t in tr.iter().filter(|t| t.severity == "page") {
            match t.to {
                AlertState::Firing => fired = fired.or(Some(m)),
                AlertState::Resolved => resolved = resolved.or(Some(m)),
                _ => {}
            }
        }
    }
    // Minute 43 of the incident holds 44 bad minutes × 2 = 88 bad of 6,000: 1.4667% > 1.44%,
    // while minute 42 holds 1.43%.
    assert_eq!(fired, Some(start + 43));
    // Errors stop after 120 minutes. The quick pair clears at +122 (the 5m window holds 3 bad
    // minutes = 6 of 500 < 1.44%), but by then the slow pair holds too: 6h at 240/36,000 = 0.67% > 6 ×
    // 0.1%. It clears when its 30m window holds 18 bad of 3,000 (0.6%, not above): 9 bad minutes,
    // at +140.
    assert_eq!(resolved, Some(start + 140));
}

#[test]
fn a_pending_alert_names_when_its_for_runs_out() {
    let mut s = slo(
        0.999,
        Window::Rolling {
            length: Span::days(30),
        },
        BudgetingMethod::Occurrences,
    );
    s.alerting.tiers[0].for_ = Span::minutes(5);
    let windows = windows(&s);
    let mut alerts = GroupAlerts::new(&s);
    let mut d = Minutes::new(Timestamp(0), 60);
    assert_eq!(alerts.next_deadline(&s), None);
    // Every event bad: the page condition holds at once and waits out its 5 minutes.
    d.add(0, 0.0, 100.0);
    let t = Timestamp(0) + Span::SECOND * 20;
    let (_, tr) = alerts.evaluate(&s, &GroupKey::ungrouped(), &d, t, Timestamp(0), &windows);
    assert_eq!(tr[0].to, AlertState::Pending);
    assert_eq!(alerts.next_deadline(&s), Some(t + Span::minutes(5)));
    let (_, tr) = alerts.evaluate(
        &s,
        &GroupKey::ungrouped(),
        &d,
        t + Span::minutes(5),
        Timestamp(0),
        &windows,
    );
    assert_eq!(
        (tr[0].severity.as_str(), tr[0].to),
        ("page", AlertState::Firing)
    );
    assert_eq!(alerts.next_deadline(&s), None);
}
