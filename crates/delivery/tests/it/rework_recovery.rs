//! Rework (labels, deploys while an incident is open), recovery with incidents and without
//! (a failed deploy until the next success), and no data shown as null.

use headroom_delivery::dora::Tier;
use headroom_delivery::{
    DeliveryHistory, DeployId, DeployStatus, DoraConfig, DoraFilter, IncidentFacts, TimeRange,
    report,
};

use crate::common::{at, deploy, incident};

fn week() -> TimeRange {
    TimeRange::new(at("2026-01-05T00:00"), at("2026-01-12T00:00")).unwrap()
}

fn cart() -> DoraFilter {
    DoraFilter {
        service: Some("cart".to_string()),
        ..DoraFilter::default()
    }
}

fn ok(id: &str, time: &str) -> headroom_delivery::Deploy {
    deploy(
        id,
        "cart",
        "production",
        id,
        at(time),
        DeployStatus::Success,
    )
}

#[test]
fn rework_is_hotfixes_rollbacks_and_deploys_while_an_incident_is_open() {
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    h.record_deploy(ok("d1", "2026-01-05T10:00")).unwrap();
    let mut hotfix = ok("d2", "2026-01-05T12:00");
    hotfix.labels = vec!["HOTFIX".to_string()];
    h.record_deploy(hotfix).unwrap();
    let mut rollback = ok("d3", "2026-01-06T10:00");
    rollback.labels = vec!["rollback".to_string(), "team:shop".to_string()];
    h.record_deploy(rollback).unwrap();
    // An incident on cart, Wed 09:00–11:00, not caused by a change: deploys finishing after
    // it started and up to its resolution are rework.
    h.record_incident(IncidentFacts {
        resolved: Some(at("2026-01-07T11:00")),
        not_caused_by_change: true,
        ..incident("i1", &["cart"], at("2026-01-07T09:00"))
    })
    .unwrap();
    h.record_deploy(ok("d4", "2026-01-07T09:00")).unwrap(); // as it starts: planned
    h.record_deploy(ok("d5", "2026-01-07T10:00")).unwrap(); // rework
    h.record_deploy(ok("d6", "2026-01-07T11:00")).unwrap(); // the fix, at resolution: rework
    h.record_deploy(ok("d7", "2026-01-07T12:00")).unwrap(); // after
    // Another service's incident, still open, does not make cart's deploys rework.
    h.record_incident(incident("i2", &["search"], at("2026-01-08T09:00")))
        .unwrap();
    h.record_deploy(ok("d8", "2026-01-08T10:00")).unwrap();
    // A cancelled deploy is no deploy.
    h.record_deploy(deploy(
        "d9",
        "cart",
        "production",
        "d9",
        at("2026-01-08T11:00"),
        DeployStatus::Cancelled,
    ))
    .unwrap();

    let r = report(&h, week(), &cart());
    let rework = &r.metrics.rework_rate;
    // d2 (hotfix), d3 (rollback), d5, d6 of d1..d8.
    assert_eq!((rework.deployments, rework.rework), (8, 4));
    assert_eq!(rework.rate, Some(0.5));
    assert_eq!(rework.tier, None);
    // i1 is listed for the filtered service though attributed to nothing; i2 is search's.
    let listed: Vec<&str> = r.incidents.iter().map(|i| i.incident.as_str()).collect();
    assert_eq!(listed, ["i1"]);
}

#[test]
fn recovery_runs_from_the_deploy_to_its_incidents_resolution() {
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    h.record_deploy(ok("d1", "2026-01-05T10:00")).unwrap();
    h.record_deploy(ok("d2", "2026-01-06T10:00")).unwrap();
    h.record_deploy(ok("d3", "2026-01-07T10:00")).unwrap();
    h.record_deploy(ok("d4", "2026-01-08T10:00")).unwrap();
    // Two incidents against d1: recovered when the later resolves, 5 h after d1.
    for (id, start, end) in [
        ("a", "2026-01-05T11:00", "2026-01-05T13:00"),
        ("b", "2026-01-05T12:00", "2026-01-05T15:00"),
    ] {
        h.record_incident(IncidentFacts {
            resolved: Some(at(end)),
            ..incident(id, &["cart"], at(start))
        })
        .unwrap();
    }
    // Against d2: 30 min.
    h.record_incident(IncidentFacts {
        resolved: Some(at("2026-01-06T10:30")),
        ..incident("c", &["cart"], at("2026-01-06T10:10"))
    })
    .unwrap();
    // Against d3 by name, still open: a failure not recovered yet.
    h.record_incident(IncidentFacts {
        deploy: Some(DeployId::new("d3")),
        ..incident("d", &["cart"], at("2026-01-09T08:00"))
    })
    .unwrap();

    let r = report(&h, week(), &cart());
    let cfr = &r.metrics.change_failure_rate;
    assert_eq!((cfr.deployments, cfr.failed), (4, 3));
    assert_eq!(cfr.rate, Some(0.75));
    assert_eq!(cfr.tier, Some(Tier::Low));
    let recovery = &r.metrics.recovery_time;
    assert_eq!((recovery.failures, recovery.unrecovered), (3, 1));
    // Median of 0.5 h and 5 h.
    assert_eq!(recovery.median_seconds, Some(2.75 * 3600.0));
    assert_eq!(recovery.tier, Some(Tier::High));
}

#[test]
fn a_failed_deploy_recovers_with_the_next_successful_one() {
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    let failed = |id, time| {
        deploy(
            id,
            "cart",
            "production",
            id,
            at(time),
            DeployStatus::Failure,
        )
    };
    h.record_deploy(ok("d1", "2026-01-05T10:00")).unwrap();
    h.record_deploy(failed("f1", "2026-01-06T10:00")).unwrap();
    h.record_deploy(failed("f2", "2026-01-06T10:20")).unwrap();
    h.record_deploy(ok("d2", "2026-01-06T10:40")).unwrap();
    h.record_deploy(failed("f3", "2026-01-09T10:00")).unwrap();
    // A failed staging deploy is not production's.
    h.record_deploy(deploy(
        "s1",
        "cart",
        "staging",
        "s1",
        at("2026-01-06T09:00"),
        DeployStatus::Failure,
    ))
    .unwrap();

    let r = report(&h, week(), &cart());
    let recovery = &r.metrics.recovery_time;
    // f1: 40 min, f2: 20 min, f3: no successful deploy since.
    assert_eq!((recovery.failures, recovery.unrecovered), (3, 1));
    assert_eq!(recovery.median_seconds, Some(30.0 * 60.0));
    assert_eq!(recovery.tier, Some(Tier::Elite));
    // Failed deploys are not deploys, and without incidents nothing failed.
    let cfr = &r.metrics.change_failure_rate;
    assert_eq!((cfr.deployments, cfr.failed, cfr.rate), (2, 0, Some(0.0)));
    assert_eq!(cfr.tier, Some(Tier::Elite));

    let staging = report(
        &h,
        week(),
        &DoraFilter {
            environment: headroom_delivery::Environment::named("staging"),
            ..cart()
        },
    );
    assert_eq!(staging.metrics.recovery_time.failures, 1);
    assert_eq!(staging.metrics.recovery_time.unrecovered, 1);
    assert_eq!(staging.metrics.recovery_time.median_seconds, None);
}

#[test]
fn no_data_is_null_never_zero() {
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    // A deploy outside the range, so the service exists but nothing counts in it.
    h.record_deploy(ok("d0", "2026-01-01T10:00")).unwrap();
    let r = report(&h, week(), &cart());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["deployment_frequency"],
        serde_json::json!({"deployments": 0, "per_day": null, "deployment_days_per_week": null, "tier": null})
    );
    assert_eq!(json["lead_time"]["changes"], 0);
    assert_eq!(json["lead_time"]["median_seconds"], serde_json::Value::Null);
    assert_eq!(json["lead_time"]["p90_seconds"], serde_json::Value::Null);
    assert_eq!(json["lead_time"]["tier"], serde_json::Value::Null);
    assert_eq!(
        json["lead_time"]["review"],
        serde_json::json!({"changes": 0, "median_seconds": null})
    );
    assert_eq!(
        json["change_failure_rate"],
        serde_json::json!({"deployments": 0, "failed": 0, "rate": null, "tier": null})
    );
    assert_eq!(
        json["recovery_time"],
        serde_json::json!({"failures": 0, "unrecovered": 0, "median_seconds": null, "tier": null})
    );
    assert_eq!(
        json["rework_rate"],
        serde_json::json!({"deployments": 0, "rework": 0, "rate": null, "tier": null})
    );
    assert_eq!(
        json["tier_source"],
        "DORA 2024 Accelerate State of DevOps Report"
    );
    assert_eq!(json["tier_year"], 2024);
    assert_eq!(json["weeks"].as_array().unwrap().len(), 1);
    assert_eq!(json["attribution_window"], "1d");
    // A report reads back as it was written.
    let back: headroom_delivery::DoraReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}
