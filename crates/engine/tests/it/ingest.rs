//! Ingest through the engine: a refused batch leaves nothing behind.

use std::collections::BTreeMap;

use headroom_core::{
    AlertPolicy, BudgetingMethod, Objective, RulesSpec, Sli, Slo, SourceRef, Span, Timestamp,
    Window,
};
use headroom_engine::{Engine, IngestError};
use headroom_ingest::Event;
use headroom_tsdb::Tsdb;

fn grouped() -> Slo {
    Slo {
        id: "api".into(),
        service: "svc".into(),
        name: "api".into(),
        description: None,
        objective: Objective::new(0.99).unwrap(),
        window: Window::Rolling {
            length: Span::days(7),
        },
        budgeting: BudgetingMethod::Occurrences,
        sli: Sli::Events,
        grouping: vec!["endpoint".into()],
        alerting: AlertPolicy::sloth_default(Span::days(7)),
        labels: BTreeMap::new(),
        backend: None,
        rules: RulesSpec::new("api", "svc", "api"),
        source: SourceRef::default(),
    }
}

fn event(at: Timestamp, endpoint: &str) -> Event {
    Event {
        at,
        good: 9.0,
        total: 10.0,
        labels: [("endpoint".to_string(), endpoint.to_string())].into(),
    }
}

#[test]
fn a_refused_batch_creates_no_group() {
    let engine = Engine::new(Tsdb::in_memory(), vec![grouped()]).unwrap();
    let now = Timestamp::from_secs(1_800_000_000);
    engine
        .ingest("api", &[event(now, "/a")], None, now)
        .unwrap();
    // The second event is an hour in the future: the whole batch, and the group it named, go.
    let batch = [event(now, "/b"), event(now + Span::HOUR, "/b")];
    let err = engine.ingest("api", &batch, None, now).unwrap_err();
    assert!(matches!(err, IngestError::Store(_)), "{err}");
    assert_eq!(
        engine.tsdb().groups_of("api"),
        vec!["endpoint=/a".to_string()]
    );
    engine.evaluate(None, now);
    let view = engine.view("api").unwrap();
    let groups: Vec<&str> = view.groups.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(groups, vec!["endpoint=/a"]);
    assert_eq!(view.groups[0].status.counts.total, 10.0);
}

#[test]
fn a_new_group_gets_its_own_budget() {
    let engine = Engine::new(Tsdb::in_memory(), vec![grouped()]).unwrap();
    let now = Timestamp::from_secs(1_800_000_000);
    engine
        .ingest(
            "api",
            &[event(now, "/a"), event(now, "/b"), event(now, "/b")],
            None,
            now,
        )
        .unwrap();
    engine.evaluate(None, now);
    let view = engine.view("api").unwrap();
    let totals: Vec<(String, f64)> = view
        .groups
        .iter()
        .map(|g| (g.group.to_string(), g.status.counts.total))
        .collect();
    assert_eq!(
        totals,
        vec![
            ("endpoint=/a".to_string(), 10.0),
            ("endpoint=/b".to_string(), 20.0)
        ]
    );
}

#[test]
fn groups_are_bounded() {
    let engine = Engine::new(Tsdb::in_memory(), vec![grouped()]).unwrap();
    let now = Timestamp::from_secs(1_800_000_000);
    let fill: Vec<Event> = (0..headroom_engine::MAX_GROUPS - 1)
        .map(|i| event(now, &format!("/{i}")))
        .collect();
    engine.ingest("api", &fill, None, now).unwrap();
    // Two new groups where one is left: the whole batch is refused and nothing is created.
    let err = engine
        .ingest("api", &[event(now, "/x"), event(now, "/y")], None, now)
        .unwrap_err();
    assert!(
        matches!(err, IngestError::TooManyGroups { max: 1000, .. }),
        "{err}"
    );
    assert_eq!(
        engine.tsdb().groups_of("api").len(),
        headroom_engine::MAX_GROUPS - 1
    );
    // Existing groups still take events, and the last free one can be used.
    engine
        .ingest("api", &[event(now, "/0"), event(now, "/x")], None, now)
        .unwrap();
    assert_eq!(
        engine.tsdb().groups_of("api").len(),
        headroom_engine::MAX_GROUPS
    );
}

/// Routed increments never refuse a batch for one event: what cannot be stored is left out and
/// counted, and the baseline moves are stored regardless, in the same record as the rest.
#[test]
fn routed_increments_leave_out_what_cannot_be_stored_and_keep_the_baselines() {
    use headroom_tsdb::{Baseline, BaselineKey, BaselineMove};
    let engine = Engine::new(Tsdb::in_memory(), vec![grouped()]).unwrap();
    let now = Timestamp::from_secs(1_800_000_000);
    let fill: Vec<Event> = (0..headroom_engine::MAX_GROUPS - 1)
        .map(|i| event(now, &format!("/{i}")))
        .collect();
    engine.ingest("api", &fill, None, now).unwrap();
    let moved = BaselineMove::Set(
        BaselineKey::Series([4; 16]),
        Baseline {
            at: now,
            value: 7.0,
        },
    );
    let batches = vec![
        (
            "api".into(),
            vec![
                event(now, "/0"),              // an existing group
                event(now + Span::HOUR, "/y"), // from the future: no group is opened for it
                event(now, "/x"),              // the last free group
                event(now, "/z"),              // over the limit
                Event {
                    labels: BTreeMap::new(), // names no group
                    ..event(now, "")
                },
            ],
        ),
        ("gone".into(), vec![event(now, "/0")]), // an SLO no longer configured
    ];
    let r = engine
        .ingest_routed(&batches, std::slice::from_ref(&moved), now)
        .unwrap();
    assert_eq!((r.logged.samples, r.dropped), (2, 4));
    assert_eq!(r.slos, vec!["api".to_string()]);
    let mut groups = engine.tsdb().groups_of("api");
    groups.retain(|g| {
        ["endpoint=/0", "endpoint=/x", "endpoint=/y", "endpoint=/z"].contains(&g.as_str())
    });
    assert_eq!(groups, ["endpoint=/0", "endpoint=/x"]);
    assert_eq!(
        engine.tsdb().baseline(&BaselineKey::Series([4; 16])),
        Some(Baseline {
            at: now,
            value: 7.0
        })
    );
}
