//! The status machine and every operation's refusals: each refused operation returns its error
//! and leaves the incident exactly as it was.

use headroom_core::{Span, Timestamp};
use headroom_incident::{
    ActionItemStatus, ActionItemUpdate, Declaration, Incident, IncidentError, IncidentStatus,
    LinkedAlert, Role, Severity, TimelineKind,
};
use headroom_routing::label_set;

/// 2026-03-14T00:00:00Z.
const DAY: i64 = 1_773_446_400;

fn t(h: i64, m: i64) -> Timestamp {
    Timestamp::from_secs(DAY + h * 3600 + m * 60)
}

fn declared() -> Incident {
    Incident::declare(
        Declaration::new("INC-1", "Checkout errors", Severity::Sev2),
        "alice",
        t(9, 0),
    )
    .unwrap()
}

/// An incident moved straight to `status` at 09:10.
fn at_status(status: IncidentStatus) -> Incident {
    let mut incident = declared();
    if status != IncidentStatus::Triggered {
        incident.set_status("alice", t(9, 10), status).unwrap();
    }
    incident
}

/// Runs an operation expected to fail and checks it changed nothing.
fn refused<T: std::fmt::Debug>(
    incident: &mut Incident,
    op: impl FnOnce(&mut Incident) -> Result<T, IncidentError>,
) -> IncidentError {
    let before = incident.clone();
    let err = op(incident).expect_err("operation should be refused");
    assert_eq!(
        *incident, before,
        "a refused operation changed the incident"
    );
    err
}

use IncidentStatus::*;

/// Every move the machine allows, written out rather than derived.
const ALLOWED: [(IncidentStatus, IncidentStatus); 16] = [
    (Triggered, Acknowledged),
    (Triggered, Investigating),
    (Triggered, Identified),
    (Triggered, Monitoring),
    (Triggered, Resolved),
    (Acknowledged, Investigating),
    (Acknowledged, Identified),
    (Acknowledged, Monitoring),
    (Acknowledged, Resolved),
    (Investigating, Identified),
    (Investigating, Monitoring),
    (Investigating, Resolved),
    (Identified, Monitoring),
    (Identified, Resolved),
    (Monitoring, Resolved),
    (Resolved, Investigating),
];

#[test]
fn every_status_move_is_allowed_or_refused_as_documented() {
    let mut allowed_seen = 0;
    for from in IncidentStatus::ALL {
        for to in IncidentStatus::ALL {
            let mut incident = at_status(from);
            let entries = incident.timeline().len();
            if ALLOWED.contains(&(from, to)) {
                allowed_seen += 1;
                incident.set_status("bob", t(9, 20), to).unwrap();
                assert_eq!(incident.status(), to);
                assert_eq!(incident.timeline().len(), entries + 1);
                let last = incident.timeline().last().unwrap();
                assert_eq!(last.kind, TimelineKind::StatusChanged { from, to });
                assert_eq!((last.at, last.actor.as_str()), (t(9, 20), "bob"));
            } else {
                let err = refused(&mut incident, |i| i.set_status("bob", t(9, 20), to));
                assert_eq!(err, IncidentError::StatusMove { from, to }, "{from} → {to}");
            }
        }
    }
    assert_eq!(allowed_seen, 16);
}

#[test]
fn status_texts_name_the_move_and_the_reopen() {
    let mut incident = at_status(Resolved);
    assert_eq!(
        incident.timeline().last().unwrap().text,
        "Status triggered → resolved"
    );
    incident.set_status("bob", t(9, 30), Investigating).unwrap();
    assert_eq!(
        incident.timeline().last().unwrap().text,
        "Reopened: resolved → investigating"
    );
}

#[test]
fn first_moves_set_acknowledged_and_resolved_times_once() {
    let mut incident = declared();
    assert_eq!(incident.acknowledged_at(), None);
    // Skipping acknowledged still acknowledges.
    incident.set_status("bob", t(9, 5), Investigating).unwrap();
    assert_eq!(incident.acknowledged_at(), Some(t(9, 5)));
    incident.set_status("bob", t(9, 40), Identified).unwrap();
    assert_eq!(incident.acknowledged_at(), Some(t(9, 5)));
    incident.set_status("bob", t(10, 0), Resolved).unwrap();
    assert_eq!(incident.resolved_at(), Some(t(10, 0)));
    assert_eq!(incident.time_to_resolve(), Some(Span::hours(1)));

    incident
        .set_status("bob", t(10, 30), Investigating)
        .unwrap();
    assert!(incident.is_open());
    assert_eq!(
        incident.resolved_at(),
        Some(t(10, 0)),
        "kept across a reopen"
    );
    assert_eq!(incident.time_to_resolve(), None, "open again");

    incident.set_status("bob", t(11, 0), Resolved).unwrap();
    assert_eq!(incident.resolved_at(), Some(t(10, 0)));
    assert_eq!(incident.time_to_resolve(), Some(Span::hours(1)));
    assert_eq!(incident.time_to_acknowledge(), Some(Span::minutes(5)));
}

#[test]
fn acknowledge_only_from_triggered() {
    let mut incident = declared();
    incident.acknowledge("bob", t(9, 4)).unwrap();
    assert_eq!(incident.status(), Acknowledged);
    assert_eq!(incident.acknowledged_at(), Some(t(9, 4)));
    let last = incident.timeline().last().unwrap();
    assert_eq!(
        (&last.kind, last.text.as_str()),
        (&TimelineKind::Acknowledged, "Acknowledged")
    );
    for status in [
        Acknowledged,
        Investigating,
        Identified,
        Monitoring,
        Resolved,
    ] {
        let mut incident = at_status(status);
        let err = refused(&mut incident, |i| i.acknowledge("bob", t(9, 30)));
        assert_eq!(err, IncidentError::AlreadyAcknowledged { status });
    }
}

#[test]
fn status_changes_cannot_be_dated_before_the_last_one_or_the_opening() {
    let mut incident = at_status(Investigating);
    let err = refused(&mut incident, |i| i.set_status("bob", t(9, 9), Identified));
    assert_eq!(
        err,
        IncidentError::BeforeLastStatusChange {
            at: t(9, 9),
            last: t(9, 10)
        }
    );
    // The same instant as the last change is fine.
    incident.set_status("bob", t(9, 10), Identified).unwrap();

    let mut incident = declared();
    let err = refused(&mut incident, |i| i.acknowledge("bob", t(8, 59)));
    assert_eq!(
        err,
        IncidentError::BeforeOpened {
            at: t(8, 59),
            opened_at: t(9, 0)
        }
    );
}

#[test]
fn declare_validates_its_fields() {
    let ok = Declaration::new("INC-1", "Checkout errors", Severity::Sev2);
    let cases = [
        (
            Declaration {
                id: " ".into(),
                ..ok.clone()
            },
            "alice",
            IncidentError::Empty { field: "id" },
        ),
        (
            Declaration {
                title: String::new(),
                ..ok.clone()
            },
            "alice",
            IncidentError::Empty { field: "title" },
        ),
        (ok.clone(), "", IncidentError::Empty { field: "actor" }),
        (
            Declaration {
                services: vec!["api".into(), "api".into()],
                ..ok.clone()
            },
            "alice",
            IncidentError::Duplicate {
                field: "service",
                value: "api".into(),
            },
        ),
    ];
    for (declaration, actor, want) in cases {
        assert_eq!(
            Incident::declare(declaration, actor, t(9, 0)).unwrap_err(),
            want
        );
    }

    let incident = Incident::declare(
        Declaration {
            started_at: Some(t(8, 45)),
            services: vec!["checkout".into()],
            slos: vec!["checkout-availability".into()],
            ..ok
        },
        "alice",
        t(9, 0),
    )
    .unwrap();
    assert_eq!(incident.status(), Triggered);
    assert_eq!(incident.opened_at(), t(9, 0));
    assert_eq!(incident.started_at(), t(8, 45));
    assert_eq!(incident.services(), ["checkout"]);
    assert_eq!(incident.timeline().len(), 1);
    assert_eq!(
        incident.timeline()[0].text,
        "Declared SEV2: Checkout errors"
    );
    assert_eq!(declared().started_at(), t(9, 0), "defaults to the opening");
}

type Operation = dyn FnOnce(&mut Incident) -> Result<(), IncidentError>;

#[test]
fn a_resolved_incident_refuses_response_operations_but_takes_review_ones() {
    let mut incident = at_status(Resolved);
    let alert = LinkedAlert::from_labels(label_set([("alertname", "X")]), t(9, 30));
    let cases: Vec<(IncidentError, Box<Operation>)> = vec![
        (
            IncidentError::Resolved { operation: "page" },
            Box::new(|i| i.page("bot", t(9, 30), "carol", 1)),
        ),
        (
            IncidentError::Resolved {
                operation: "escalation",
            },
            Box::new(|i| i.escalate("bot", t(9, 30), 2, "")),
        ),
        (
            IncidentError::Resolved {
                operation: "role assignment",
            },
            Box::new(|i| i.assign_role("bob", t(9, 30), Role::Scribe, "dan")),
        ),
        (
            IncidentError::Resolved {
                operation: "alert link",
            },
            Box::new(move |i| i.link_alert("am", alert)),
        ),
    ];
    for (want, op) in cases {
        assert_eq!(refused(&mut incident, op), want);
    }

    incident.note("bob", t(11, 0), "review scheduled").unwrap();
    incident
        .set_severity("bob", t(11, 0), Severity::Sev1)
        .unwrap();
    let id = incident
        .add_action_item("bob", t(11, 0), "Add a canary", Some("carol"), None)
        .unwrap();
    incident
        .add_contributing_factor("bob", t(11, 0), "No canary stage")
        .unwrap();
    assert_eq!(id, 1);
    assert_eq!(incident.severity(), Severity::Sev1);
    assert_eq!(incident.contributing_factors(), ["No canary stage"]);
}

#[test]
fn severity_roles_pages_and_escalations() {
    let mut incident = declared();
    assert_eq!(
        refused(&mut incident, |i| i.set_severity(
            "bob",
            t(9, 5),
            Severity::Sev2
        )),
        IncidentError::SeverityUnchanged(Severity::Sev2)
    );
    incident
        .set_severity("bob", t(9, 5), Severity::Sev1)
        .unwrap();
    assert_eq!(
        incident.timeline().last().unwrap().text,
        "Severity SEV2 → SEV1"
    );
    assert_eq!(
        incident.timeline().last().unwrap().kind,
        TimelineKind::SeverityChanged {
            from: Severity::Sev2,
            to: Severity::Sev1
        }
    );

    incident
        .assign_role("alice", t(9, 6), Role::Commander, "bob")
        .unwrap();
    assert_eq!(
        refused(&mut incident, |i| i.assign_role(
            "x",
            t(9, 7),
            Role::Commander,
            "bob"
        )),
        IncidentError::RoleUnchanged {
            role: Role::Commander,
            user: "bob".into()
        }
    );
    incident
        .assign_role("bob", t(9, 8), Role::Commander, "carol")
        .unwrap();
    assert_eq!(incident.roles().get(Role::Commander), Some("carol"));
    assert_eq!(incident.roles().get(Role::Scribe), None);
    assert_eq!(
        incident.timeline().last().unwrap().text,
        "carol is commander (was bob)"
    );

    assert_eq!(
        refused(&mut incident, |i| i.page("bot", t(9, 1), "bob", 0)),
        IncidentError::PageLevel
    );
    assert_eq!(
        refused(&mut incident, |i| i.page("bot", t(8, 0), "bob", 1)),
        IncidentError::BeforeOpened {
            at: t(8, 0),
            opened_at: t(9, 0)
        }
    );
    incident.page("bot", t(9, 9), "bob", 1).unwrap();
    assert_eq!(incident.escalation_level(), 1);
    assert_eq!(
        incident.timeline().last().unwrap().text,
        "Paged bob (level 1)"
    );
    assert_eq!(
        refused(&mut incident, |i| i.escalate("bot", t(9, 20), 1, "")),
        IncidentError::NotAnEscalation { current: 1, to: 1 }
    );
    incident
        .escalate("bot", t(9, 20), 2, "no acknowledgement in 15m")
        .unwrap();
    assert_eq!(incident.escalation_level(), 2);
    let last = incident.timeline().last().unwrap();
    assert_eq!(last.kind, TimelineKind::Escalated { from: 1, to: 2 });
    assert_eq!(last.text, "Escalated to level 2: no acknowledgement in 15m");
}

#[test]
fn alerts_scope_and_impact_start() {
    let mut incident = declared();
    let labels = label_set([("alertname", "HighErrorRate"), ("service", "checkout")]);
    let alert = LinkedAlert::from_labels(labels.clone(), t(8, 55));
    incident.link_alert("alertmanager", alert.clone()).unwrap();
    assert_eq!(
        refused(&mut incident, |i| i
            .link_alert("alertmanager", alert.clone())),
        IncidentError::AlertAlreadyLinked {
            fingerprint: alert.fingerprint.clone()
        }
    );
    assert_eq!(incident.timeline()[0].at, t(8, 55), "placed when it fired");
    assert_eq!(
        incident.timeline()[0].text,
        "Alert HighErrorRate fired (service=checkout)"
    );

    incident.affect_service("bob", t(9, 2), "checkout").unwrap();
    assert_eq!(
        refused(&mut incident, |i| i.affect_service(
            "bob",
            t(9, 3),
            "checkout"
        )),
        IncidentError::Duplicate {
            field: "service",
            value: "checkout".into()
        }
    );
    incident
        .affect_slo("bob", t(9, 2), "checkout-availability")
        .unwrap();
    assert_eq!(incident.slos(), ["checkout-availability"]);

    assert_eq!(
        refused(&mut incident, |i| i.set_impact_start(
            "bob",
            t(9, 3),
            t(9, 0)
        )),
        IncidentError::ImpactStartUnchanged(t(9, 0))
    );
    incident.set_impact_start("bob", t(9, 3), t(8, 40)).unwrap();
    assert_eq!(incident.started_at(), t(8, 40));
    incident.set_status("bob", t(9, 50), Resolved).unwrap();
    assert_eq!(
        refused(&mut incident, |i| i.set_impact_start(
            "bob",
            t(10, 0),
            t(9, 51)
        )),
        IncidentError::ImpactAfterResolution {
            started_at: t(9, 51),
            resolved_at: t(9, 50)
        }
    );
}

#[test]
fn action_items_are_numbered_and_updated() {
    let mut incident = declared();
    let a = incident
        .add_action_item("bob", t(9, 30), "Add a canary", None, None)
        .unwrap();
    let b = incident
        .add_action_item(
            "bob",
            t(9, 31),
            "Alert on 5xx",
            Some("carol"),
            Some(t(24 * 7, 0)),
        )
        .unwrap();
    assert_eq!((a, b), (1, 2));
    assert_eq!(
        refused(&mut incident, |i| i.update_action_item(
            "bob",
            t(9, 40),
            3,
            ActionItemUpdate::default()
        )),
        IncidentError::UnknownActionItem(3)
    );
    assert_eq!(
        refused(&mut incident, |i| i.update_action_item(
            "bob",
            t(9, 40),
            2,
            ActionItemUpdate {
                owner: Some(Some("carol".into())),
                ..Default::default()
            }
        )),
        IncidentError::ActionItemUnchanged(2)
    );
    incident
        .update_action_item(
            "carol",
            t(10, 0),
            1,
            ActionItemUpdate {
                owner: Some(Some("dan".into())),
                status: Some(ActionItemStatus::Done),
                ..Default::default()
            },
        )
        .unwrap();
    let item = incident.action_item(1).unwrap();
    assert_eq!(item.owner.as_deref(), Some("dan"));
    assert_eq!(item.status, ActionItemStatus::Done);
    assert_eq!(item.text, "Add a canary");
    let last = incident.timeline().last().unwrap();
    assert_eq!(last.kind, TimelineKind::ActionItemUpdated { id: 1 });
    assert_eq!(last.text, "Action item 1: owner dan, done");
    assert_eq!(
        incident.action_item(2).unwrap().status,
        ActionItemStatus::Open
    );
}

#[test]
fn severity_and_status_parse_and_print() {
    for (text, sev) in [("SEV1", Severity::Sev1), ("sev4", Severity::Sev4)] {
        assert_eq!(text.parse::<Severity>().unwrap(), sev);
    }
    assert_eq!(Severity::Sev3.to_string(), "SEV3");
    assert!("SEV5".parse::<Severity>().is_err());
    assert!("P1".parse::<Severity>().is_err());
    assert!(Severity::Sev1 < Severity::Sev2, "SEV1 sorts first");
    assert_eq!("Monitoring".parse::<IncidentStatus>().unwrap(), Monitoring);
    assert!("closed".parse::<IncidentStatus>().is_err());
}

#[test]
fn json_round_trip_and_resorted_timeline() {
    let mut incident = declared();
    incident.acknowledge("bob", t(9, 4)).unwrap();
    incident
        .note("bob", t(8, 50), "deploy 142 went out")
        .unwrap();
    incident
        .assign_role("bob", t(9, 5), Role::Scribe, "dan")
        .unwrap();
    let json = serde_json::to_value(&incident).unwrap();
    assert_eq!(json["severity"], "SEV2");
    assert_eq!(json["status"], "acknowledged");
    assert_eq!(json["roles"]["scribe"], "dan");
    assert_eq!(json["timeline"][0]["kind"]["type"], "note");
    assert_eq!(json["timeline"][2]["kind"]["type"], "acknowledged");
    let back: Incident = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, incident);

    // A stored timeline out of order is sorted on load.
    let mut shuffled = json;
    shuffled["timeline"].as_array_mut().unwrap().reverse();
    let back: Incident = serde_json::from_value(shuffled).unwrap();
    assert_eq!(back, incident);

    let bad = serde_json::json!("SEV9");
    assert!(serde_json::from_value::<Severity>(bad).is_err());
}

#[test]
fn a_cause_is_named_changed_and_handed_back_each_on_the_timeline() {
    use headroom_incident::Cause;
    let mut incident = declared();
    assert_eq!(incident.cause(), &Cause::Automatic);
    let deploy = Cause::Deploy {
        deploy: "42".into(),
    };
    incident.attribute("bob", t(9, 5), deploy.clone()).unwrap();
    assert_eq!(incident.cause(), &deploy);
    incident
        .set_status("bob", t(9, 30), IncidentStatus::Resolved)
        .unwrap();
    // After the resolution too: reviews find causes.
    incident
        .attribute("carol", t(10, 0), Cause::NotCausedByChange)
        .unwrap();
    incident
        .attribute("carol", t(10, 5), Cause::Automatic)
        .unwrap();
    let entries: Vec<(&str, &str)> = incident
        .timeline()
        .iter()
        .filter(|e| matches!(e.kind, TimelineKind::Attributed { .. }))
        .map(|e| (e.actor.as_str(), e.text.as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            ("bob", "Attributed to deploy 42"),
            ("carol", "Marked not caused by a change"),
            ("carol", "Attributed automatically"),
        ]
    );
    assert_eq!(
        refused(&mut incident, |i| i.attribute(
            "carol",
            t(10, 6),
            Cause::Automatic
        )),
        IncidentError::CauseUnchanged(Cause::Automatic)
    );
    let empty = Cause::Version {
        version: " ".into(),
    };
    assert_eq!(
        refused(&mut incident, |i| i.attribute("carol", t(10, 6), empty)),
        IncidentError::Empty { field: "version" }
    );
    assert!(matches!(
        refused(&mut incident, |i| i.attribute(
            "carol",
            t(8, 0),
            Cause::NotCausedByChange
        )),
        IncidentError::BeforeOpened { .. }
    ));
    // Stored before causes were: automatic.
    let mut doc = serde_json::to_value(declared()).unwrap();
    doc.as_object_mut().unwrap().remove("cause");
    let old: Incident = serde_json::from_value(doc).unwrap();
    assert_eq!(old.cause(), &Cause::Automatic);
}
