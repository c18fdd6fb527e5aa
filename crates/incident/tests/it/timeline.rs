//! The timeline reads in time order, entries with equal times in the order they were recorded.

use headroom_core::Timestamp;
use headroom_incident::{Declaration, Incident, LinkedAlert, Severity};
use headroom_routing::label_set;

/// 2026-03-14T00:00:00Z.
const DAY: i64 = 1_773_446_400;

fn t(h: i64, m: i64) -> Timestamp {
    Timestamp::from_secs(DAY + h * 3600 + m * 60)
}

#[test]
fn entries_recorded_out_of_order_read_in_time_order() {
    let mut incident = Incident::declare(
        Declaration::new("INC-7", "Search latency", Severity::Sev3),
        "alice",
        t(9, 0),
    )
    .unwrap();
    incident.note("bob", t(9, 30), "rolled back").unwrap();
    incident.note("bob", t(9, 10), "first at 09:10").unwrap();
    incident
        .link_alert(
            "alertmanager",
            LinkedAlert::from_labels(label_set([("alertname", "SlowSearch")]), t(8, 55)),
        )
        .unwrap();
    incident.note("carol", t(9, 10), "second at 09:10").unwrap();
    incident.acknowledge("carol", t(9, 10)).unwrap();
    incident
        .note("dan", t(9, 0), "after the declaration, same instant")
        .unwrap();

    let read: Vec<(Timestamp, &str, &str)> = incident
        .timeline()
        .iter()
        .map(|e| (e.at, e.actor.as_str(), e.text.as_str()))
        .collect();
    assert_eq!(
        read,
        [
            (t(8, 55), "alertmanager", "Alert SlowSearch fired"),
            (t(9, 0), "alice", "Declared SEV3: Search latency"),
            (t(9, 0), "dan", "after the declaration, same instant"),
            (t(9, 10), "bob", "first at 09:10"),
            (t(9, 10), "carol", "second at 09:10"),
            (t(9, 10), "carol", "Acknowledged"),
            (t(9, 30), "bob", "rolled back"),
        ]
    );
}

#[test]
fn notes_may_be_backfilled_before_the_opening_but_are_never_empty() {
    let mut incident = Incident::declare(
        Declaration::new("INC-8", "Queue backlog", Severity::Sev4),
        "alice",
        t(9, 0),
    )
    .unwrap();
    incident
        .note("bob", t(8, 0), "  batch job started  ")
        .unwrap();
    assert_eq!(incident.timeline()[0].text, "batch job started");
    assert_eq!(incident.timeline()[0].at, t(8, 0));
    let before = incident.clone();
    assert!(incident.note("bob", t(9, 5), " \n ").is_err());
    assert_eq!(incident, before);
}
