//! Response metrics with worked numbers.

use std::cell::RefCell;
use std::collections::BTreeMap;

use headroom_core::{Span, Timestamp};
use headroom_incident::{
    BudgetConsumed, Declaration, Incident, IncidentFilter, IncidentStatus, MeanTime, Severity,
    budget_consumed, mtta, mttr,
};

/// 2026-03-14T00:00:00Z.
const DAY: i64 = 1_773_446_400;

/// Day `d` of the range (0 = 2026-03-14) at `h:m`.
fn t(d: i64, h: i64, m: i64) -> Timestamp {
    Timestamp::from_secs(DAY + d * 86_400 + h * 3600 + m * 60)
}

fn incident(
    id: &str,
    service: &str,
    opened: Timestamp,
    ack_after: Option<i64>,
    resolve_after: Option<i64>,
) -> Incident {
    let mut decl = Declaration::new(id, id, Severity::Sev3);
    decl.services = vec![service.to_string()];
    let mut incident = Incident::declare(decl, "alice", opened).unwrap();
    if let Some(m) = ack_after {
        incident
            .acknowledge("bob", opened + Span::minutes(m))
            .unwrap();
    }
    if let Some(m) = resolve_after {
        incident
            .set_status("bob", opened + Span::minutes(m), IncidentStatus::Resolved)
            .unwrap();
    }
    incident
}

/// A: api, TTA 4m, TTR 1h. B: checkout, 10m / 40m. C: api, 2m, unresolved. D: api, outside
/// the range. E: search, never acknowledged.
fn incidents() -> Vec<Incident> {
    vec![
        incident("A", "api", t(0, 9, 0), Some(4), Some(60)),
        incident("B", "checkout", t(1, 12, 0), Some(10), Some(40)),
        incident("C", "api", t(2, 8, 0), Some(2), None),
        incident("D", "api", t(6, 0, 0), Some(1), Some(5)),
        incident("E", "search", t(2, 20, 0), None, None),
    ]
}

fn teams() -> BTreeMap<String, String> {
    [
        ("api", "core"),
        ("search", "core"),
        ("checkout", "payments"),
    ]
    .into_iter()
    .map(|(s, t)| (s.to_string(), t.to_string()))
    .collect()
}

fn mean(minutes: i64, seconds: i64, counted: usize, excluded: usize) -> MeanTime {
    MeanTime {
        mean: Some(Span::minutes(minutes) + Span::seconds(seconds)),
        counted,
        excluded,
    }
}

#[test]
fn time_to_acknowledge_and_resolve_per_incident() {
    let all = incidents();
    assert_eq!(all[0].time_to_acknowledge(), Some(Span::minutes(4)));
    assert_eq!(all[0].time_to_resolve(), Some(Span::hours(1)));
    assert_eq!(all[2].time_to_acknowledge(), Some(Span::minutes(2)));
    assert_eq!(all[2].time_to_resolve(), None);
    assert_eq!(all[4].time_to_acknowledge(), None);
    // Resolving straight from triggered acknowledges at the same moment.
    let quick = incident("Q", "api", t(0, 0, 0), None, Some(3));
    assert_eq!(quick.time_to_acknowledge(), Some(Span::minutes(3)));
}

#[test]
fn means_over_a_range_count_incidents_opened_in_it() {
    let all = incidents();
    let (from, to) = (t(0, 0, 0), t(3, 0, 0));
    let every = IncidentFilter::all();
    // (4 + 10 + 2) / 3 = 5m20s; E was never acknowledged.
    assert_eq!(mtta(&all, from, to, &every), mean(5, 20, 3, 1));
    // (60 + 40) / 2 = 50m; C and E are unresolved.
    assert_eq!(mttr(&all, from, to, &every), mean(50, 0, 2, 2));
    // The whole history includes D (1m / 5m).
    assert_eq!(
        mtta(&all, t(0, 0, 0), t(7, 0, 0), &every),
        mean(4, 15, 4, 1)
    );
    assert_eq!(
        mttr(&all, t(0, 0, 0), t(7, 0, 0), &every),
        mean(35, 0, 3, 2)
    );
}

#[test]
fn ranges_are_half_open() {
    let all = incidents();
    let every = IncidentFilter::all();
    // C opens exactly at `from` and counts; D opens exactly at `to` and does not.
    let m = mtta(&all, t(2, 8, 0), t(6, 0, 0), &every);
    assert_eq!(m, mean(2, 0, 1, 1));
    let m = mtta(&all, t(2, 8, 0), t(6, 0, 1), &every);
    assert_eq!(
        m,
        MeanTime {
            mean: Some(Span::seconds(90)),
            counted: 2,
            excluded: 1
        }
    );
}

#[test]
fn means_per_service_and_team() {
    let all = incidents();
    let (from, to) = (t(0, 0, 0), t(3, 0, 0));
    let teams = teams();

    let api = IncidentFilter::all().service("api");
    assert_eq!(mtta(&all, from, to, &api), mean(3, 0, 2, 0));
    assert_eq!(mttr(&all, from, to, &api), mean(60, 0, 1, 1));

    let core = IncidentFilter::all().team("core", &teams);
    assert_eq!(mtta(&all, from, to, &core), mean(3, 0, 2, 1));
    assert_eq!(mttr(&all, from, to, &core), mean(60, 0, 1, 2));

    let payments = IncidentFilter::all().team("payments", &teams);
    assert_eq!(mtta(&all, from, to, &payments), mean(10, 0, 1, 0));
    assert_eq!(mttr(&all, from, to, &payments), mean(40, 0, 1, 0));

    // Both filters: api belongs to core, not payments.
    let none = IncidentFilter::all()
        .service("api")
        .team("payments", &teams);
    assert_eq!(
        mttr(&all, from, to, &none),
        MeanTime {
            mean: None,
            counted: 0,
            excluded: 0
        }
    );
    // A service without a team belongs to no team.
    let unmapped = [incident("F", "billing", t(0, 1, 0), Some(1), Some(2))];
    assert_eq!(mtta(&unmapped, from, to, &core).counted, 0);
}

#[test]
fn means_round_down_to_the_millisecond() {
    let opened = t(0, 0, 0);
    let mut a = Incident::declare(Declaration::new("a", "a", Severity::Sev4), "x", opened).unwrap();
    a.acknowledge("x", opened + Span(1)).unwrap();
    let mut b = Incident::declare(Declaration::new("b", "b", Severity::Sev4), "x", opened).unwrap();
    b.acknowledge("x", opened + Span(2)).unwrap();
    let m = mtta(&[a, b], opened, t(1, 0, 0), &IncidentFilter::all());
    assert_eq!(m.mean, Some(Span(1)));
}

#[test]
fn budget_consumed_asks_for_the_impact_window_of_each_slo() {
    let mut decl = Declaration::new("INC-9", "Checkout errors", Severity::Sev2);
    decl.started_at = Some(t(0, 8, 50));
    decl.slos = vec!["checkout-availability".into(), "checkout-latency".into()];
    let mut incident = Incident::declare(decl, "alice", t(0, 9, 0)).unwrap();

    let calls = RefCell::new(Vec::new());
    let consumed = |slo: &str, from: Timestamp, to: Timestamp| {
        calls.borrow_mut().push((slo.to_string(), from, to));
        (slo == "checkout-availability").then_some(0.125)
    };

    // Open: the window runs to `now`.
    let open = budget_consumed(&incident, t(0, 9, 30), consumed);
    assert_eq!(open[0].fraction, Some(0.125));
    assert_eq!(
        calls.borrow()[0],
        (
            "checkout-availability".to_string(),
            t(0, 8, 50),
            t(0, 9, 30)
        )
    );

    incident
        .set_status("bob", t(0, 10, 0), IncidentStatus::Resolved)
        .unwrap();
    calls.borrow_mut().clear();
    let closed = budget_consumed(&incident, t(5, 0, 0), consumed);
    assert_eq!(
        closed,
        [
            BudgetConsumed {
                slo: "checkout-availability".into(),
                fraction: Some(0.125)
            },
            BudgetConsumed {
                slo: "checkout-latency".into(),
                fraction: None
            },
        ]
    );
    assert_eq!(
        *calls.borrow(),
        [
            (
                "checkout-availability".to_string(),
                t(0, 8, 50),
                t(0, 10, 0)
            ),
            ("checkout-latency".to_string(), t(0, 8, 50), t(0, 10, 0)),
        ]
    );
}
