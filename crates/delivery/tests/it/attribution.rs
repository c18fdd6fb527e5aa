//! Which deploy an incident counts against: explicit first (a named deploy, then a named
//! version), "not caused by a change", then the latest successful production deploy of an
//! affected service within the window before it started.

use headroom_core::Span;
use headroom_delivery::{
    Attribution, DeliveryError, DeliveryHistory, DeployId, DeployStatus, DoraConfig, IncidentFacts,
};

use crate::common::{at, deploy, incident};

/// cart: production deploys p1 (Mon 10:00) and p2 (Mon 16:00, version 2.0), a failed p3 (Mon
/// 18:00), staging s1 (Mon 19:00, version 2.0 too); search: production q1 (Mon 12:00).
fn history(config: DoraConfig) -> DeliveryHistory {
    let mut h = DeliveryHistory::new(config).unwrap();
    let ok = DeployStatus::Success;
    h.record_deploy(deploy(
        "p1",
        "cart",
        "production",
        "a1",
        at("2026-01-05T10:00"),
        ok,
    ))
    .unwrap();
    let mut p2 = deploy("p2", "cart", "production", "a2", at("2026-01-05T16:00"), ok);
    p2.version = Some("2.0".to_string());
    h.record_deploy(p2).unwrap();
    h.record_deploy(deploy(
        "p3",
        "cart",
        "production",
        "a3",
        at("2026-01-05T18:00"),
        DeployStatus::Failure,
    ))
    .unwrap();
    let mut s1 = deploy("s1", "cart", "staging", "a3", at("2026-01-05T19:00"), ok);
    s1.version = Some("2.0".to_string());
    h.record_deploy(s1).unwrap();
    h.record_deploy(deploy(
        "q1",
        "search",
        "production",
        "b1",
        at("2026-01-05T12:00"),
        ok,
    ))
    .unwrap();
    h
}

fn attributed(h: &mut DeliveryHistory, facts: IncidentFacts) -> Attribution {
    let id = facts.id.clone();
    h.record_incident(facts).unwrap();
    h.attribution(&id).unwrap()
}

fn window(deploy: &str, hours: i64) -> Attribution {
    Attribution::Window {
        deploy: DeployId::new(deploy),
        window: Span::hours(hours),
    }
}

#[test]
fn the_latest_successful_production_deploy_within_the_window() {
    let mut h = history(DoraConfig::default());
    // Tue 09:00: p2 (Mon 16:00) is the latest successful production deploy of cart; the
    // failed p3 and the staging s1 are later but do not count.
    let i = incident("i1", &["cart"], at("2026-01-06T09:00"));
    assert_eq!(attributed(&mut h, i), window("p2", 24));
    // Mon 15:00 (before p2): p1.
    let i = incident("i2", &["cart"], at("2026-01-05T15:00"));
    assert_eq!(attributed(&mut h, i), window("p1", 24));
    // Affecting both services on Mon 13:00: search's q1 (12:00) is later than cart's p1.
    let i = incident("i3", &["cart", "search"], at("2026-01-05T13:00"));
    assert_eq!(attributed(&mut h, i), window("q1", 24));
    // A deploy finishing exactly as the incident starts is before it.
    let i = incident("i4", &["search"], at("2026-01-05T12:00"));
    assert_eq!(attributed(&mut h, i), window("q1", 24));
}

#[test]
fn the_window_is_inclusive_and_configurable() {
    let mut h = history(DoraConfig::default());
    // Exactly 24 h after p2: still within; a minute more: none.
    let i = incident("edge", &["cart"], at("2026-01-06T16:00"));
    assert_eq!(attributed(&mut h, i), window("p2", 24));
    let i = incident("late", &["cart"], at("2026-01-06T16:01"));
    assert_eq!(attributed(&mut h, i), Attribution::None);
    // Before any deploy, or of a service with none: none.
    let i = incident("early", &["cart"], at("2026-01-05T09:00"));
    assert_eq!(attributed(&mut h, i), Attribution::None);
    let i = incident("other", &["billing"], at("2026-01-05T13:00"));
    assert_eq!(attributed(&mut h, i), Attribution::None);

    let mut short = history(DoraConfig {
        attribution_window: Span::hours(2),
        ..DoraConfig::default()
    });
    let i = incident("two-hours", &["cart"], at("2026-01-05T18:00"));
    assert_eq!(attributed(&mut short, i), window("p2", 2));
    let i = incident("three-hours", &["cart"], at("2026-01-05T19:00"));
    assert_eq!(attributed(&mut short, i), Attribution::None);

    let err = DeliveryHistory::new(DoraConfig {
        attribution_window: Span(0),
        ..DoraConfig::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "attribution window is 0s; it must be longer than zero"
    );
    let err = DeliveryHistory::new(DoraConfig {
        walk_limit: 0,
        ..DoraConfig::default()
    })
    .unwrap_err();
    assert_eq!(err, DeliveryError::WalkLimit);
}

#[test]
fn a_named_deploy_or_version_wins_over_the_window() {
    let mut h = history(DoraConfig::default());
    // Within p2's window, but it names p1.
    let i = IncidentFacts {
        deploy: Some(DeployId::new("p1")),
        ..incident("named", &["cart"], at("2026-01-05T17:00"))
    };
    assert_eq!(
        attributed(&mut h, i),
        Attribution::Explicit {
            deploy: DeployId::new("p1"),
            version: None
        }
    );
    // A week later, far outside any window: version 2.0 is p2 in production (s1 in staging
    // carries it too, but incidents are production's).
    let i = IncidentFacts {
        version: Some("2.0".to_string()),
        ..incident("versioned", &["cart"], at("2026-01-12T09:00"))
    };
    assert_eq!(
        attributed(&mut h, i),
        Attribution::Explicit {
            deploy: DeployId::new("p2"),
            version: Some("2.0".to_string())
        }
    );
    // Named but matching nothing: shown as such, counted against no deploy.
    let i = IncidentFacts {
        deploy: Some(DeployId::new("p9")),
        ..incident("typo", &["cart"], at("2026-01-05T17:00"))
    };
    let a = attributed(&mut h, i);
    assert_eq!(a.deploy(), None);
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::json!({"how": "unresolved", "deploy": "p9"})
    );
    let i = IncidentFacts {
        version: Some("2.0".to_string()),
        ..incident("wrong-service", &["search"], at("2026-01-05T17:00"))
    };
    assert_eq!(
        attributed(&mut h, i),
        Attribution::Unresolved {
            deploy: None,
            version: Some("2.0".to_string())
        }
    );
}

#[test]
fn not_caused_by_a_change_is_attributed_to_nothing() {
    let mut h = history(DoraConfig::default());
    let i = IncidentFacts {
        not_caused_by_change: true,
        ..incident("cloud", &["cart"], at("2026-01-05T17:00"))
    };
    assert_eq!(attributed(&mut h, i), Attribution::NotCausedByChange);
    // Correcting an attribution is recording the incident again.
    let i = incident("cloud", &["cart"], at("2026-01-05T17:00"));
    assert_eq!(attributed(&mut h, i), window("p2", 24));
    assert_eq!(h.incidents().len(), 1);
}

#[test]
fn attributions_are_json_that_says_how() {
    let cases = [
        (
            window("p2", 24),
            serde_json::json!({"how": "window", "deploy": "p2", "window": "1d"}),
        ),
        (
            Attribution::Explicit {
                deploy: DeployId::new("p1"),
                version: None,
            },
            serde_json::json!({"how": "explicit", "deploy": "p1"}),
        ),
        (
            Attribution::Explicit {
                deploy: DeployId::new("p2"),
                version: Some("2.0".to_string()),
            },
            serde_json::json!({"how": "explicit", "deploy": "p2", "version": "2.0"}),
        ),
        (
            Attribution::NotCausedByChange,
            serde_json::json!({"how": "not_caused_by_change"}),
        ),
        (Attribution::None, serde_json::json!({"how": "none"})),
    ];
    for (attribution, json) in cases {
        assert_eq!(serde_json::to_value(&attribution).unwrap(), json);
        let back: Attribution = serde_json::from_value(json).unwrap();
        assert_eq!(back, attribution);
    }
}

#[test]
fn contradictory_or_impossible_incidents_are_refused_whole() {
    let mut h = history(DoraConfig::default());
    let both = IncidentFacts {
        deploy: Some(DeployId::new("p1")),
        not_caused_by_change: true,
        ..incident("both", &["cart"], at("2026-01-05T17:00"))
    };
    assert_eq!(
        h.record_incident(both).unwrap_err().to_string(),
        "incident \"both\": names deploy \"p1\" as its cause and is marked not caused by a \
         change; keep one of the two"
    );
    let backwards = IncidentFacts {
        resolved: Some(at("2026-01-05T16:00")),
        ..incident("backwards", &["cart"], at("2026-01-05T17:00"))
    };
    assert!(matches!(
        h.record_incident(backwards).unwrap_err(),
        DeliveryError::IncidentTimes { .. }
    ));
    let nameless = incident("", &["cart"], at("2026-01-05T17:00"));
    assert_eq!(
        h.record_incident(nameless).unwrap_err().to_string(),
        "incident \"\": id is empty"
    );
    assert!(h.incidents().is_empty());
    assert_eq!(h.attribution("both"), None);

    let mut backwards = deploy(
        "late",
        "cart",
        "production",
        "a9",
        at("2026-01-05T10:00"),
        DeployStatus::Success,
    );
    backwards.started = at("2026-01-05T11:00");
    assert!(matches!(
        h.record_deploy(backwards).unwrap_err(),
        DeliveryError::DeployTimes { .. }
    ));
    assert!(h.deploy(&DeployId::new("late")).is_none());
    assert_eq!(h.deploys().len(), 5);
}
