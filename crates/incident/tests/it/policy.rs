//! Incident policies: which alerts open an incident, and which join one already open.

use headroom_core::Timestamp;
use headroom_incident::{
    AlertDisposition, Declaration, Incident, IncidentPolicy, IncidentStatus, LinkedAlert, Severity,
    render_title, route_alert,
};
use headroom_routing::{LabelSet, label_set};

/// 2026-03-14T00:00:00Z.
const DAY: i64 = 1_773_446_400;

fn t(h: i64, m: i64) -> Timestamp {
    Timestamp::from_secs(DAY + h * 3600 + m * 60)
}

fn tier1_pages() -> IncidentPolicy {
    IncidentPolicy::new(
        "tier-1 pages",
        r#"{severity="page", tier="1"}"#,
        Severity::Sev2,
        "{{alertname}} on {{ service }}",
    )
    .unwrap()
}

fn page(service: &str, alertname: &str) -> LabelSet {
    label_set([
        ("alertname", alertname),
        ("service", service),
        ("severity", "page"),
        ("tier", "1"),
    ])
}

/// An open incident opened at `opened` for the alert `labels`.
fn incident_for(id: &str, opened: Timestamp, labels: &LabelSet) -> Incident {
    let mut incident = Incident::declare(
        Declaration::new(id, "x", Severity::Sev2),
        "headroom",
        opened,
    )
    .unwrap();
    incident
        .link_alert("headroom", LinkedAlert::from_labels(labels.clone(), opened))
        .unwrap();
    incident
}

#[test]
fn a_policy_opens_for_matching_alerts_only() {
    let policy = tier1_pages();
    assert_eq!(
        policy.opens(&page("checkout", "HighErrorRate")),
        Some((Severity::Sev2, "HighErrorRate on checkout".to_string()))
    );
    let ticket = label_set([("severity", "ticket"), ("tier", "1"), ("service", "api")]);
    assert_eq!(policy.opens(&ticket), None);
    let tier2 = label_set([("severity", "page"), ("tier", "2"), ("service", "api")]);
    assert_eq!(policy.opens(&tier2), None);
    // A missing label reads as "" and so fails `tier="1"`.
    assert_eq!(policy.opens(&label_set([("severity", "page")])), None);

    let regex = IncidentPolicy::new(
        "any prod page",
        r#"env=~"prod|prod-eu""#,
        Severity::Sev3,
        "{{env}}",
    )
    .unwrap();
    assert_eq!(
        regex.opens(&label_set([("env", "prod-eu")])),
        Some((Severity::Sev3, "prod-eu".to_string()))
    );
    assert_eq!(
        regex.opens(&label_set([("env", "prod-eu-2")])),
        None,
        "anchored"
    );
    assert!(IncidentPolicy::new("bad", "tier=~\"(\"", Severity::Sev1, "").is_err());
}

#[test]
fn titles_substitute_labels() {
    let labels = label_set([("service", "checkout"), ("region", "eu")]);
    assert_eq!(
        render_title("{{service}} down in {{ region }}", &labels),
        "checkout down in eu"
    );
    assert_eq!(render_title("{{missing}}!", &labels), "!");
    assert_eq!(
        render_title("{{service}} {{unclosed", &labels),
        "checkout {{unclosed"
    );
    assert_eq!(render_title("no labels", &labels), "no labels");
}

#[test]
fn unmatched_alerts_are_ignored_and_matched_ones_open() {
    let policies = [tier1_pages()];
    assert_eq!(
        route_alert(&policies, &[], &label_set([("severity", "info")])),
        AlertDisposition::Ignore
    );
    assert_eq!(
        route_alert(&policies, &[], &page("checkout", "HighErrorRate")),
        AlertDisposition::Open {
            policy: "tier-1 pages".into(),
            severity: Severity::Sev2,
            title: "HighErrorRate on checkout".into(),
        }
    );
}

#[test]
fn the_first_matching_policy_decides() {
    let specific = IncidentPolicy::new(
        "checkout pages",
        r#"severity="page", service="checkout""#,
        Severity::Sev1,
        "Checkout: {{alertname}}",
    )
    .unwrap();
    let policies = [specific, tier1_pages()];
    let AlertDisposition::Open {
        policy, severity, ..
    } = route_alert(&policies, &[], &page("checkout", "HighErrorRate"))
    else {
        panic!("should open");
    };
    assert_eq!(
        (policy.as_str(), severity),
        ("checkout pages", Severity::Sev1)
    );
    let AlertDisposition::Open { policy, .. } = route_alert(&policies, &[], &page("api", "X"))
    else {
        panic!("should open");
    };
    assert_eq!(policy, "tier-1 pages");
}

#[test]
fn the_same_alert_joins_its_open_incident() {
    let policies = [tier1_pages()];
    let alert = page("checkout", "HighErrorRate");
    let incidents = [incident_for("INC-1", t(9, 0), &alert)];
    assert_eq!(
        route_alert(&policies, &incidents, &alert),
        AlertDisposition::Join {
            incident: "INC-1".into()
        }
    );
    // Without group_by another alert for the same service opens its own incident.
    assert!(matches!(
        route_alert(&policies, &incidents, &page("checkout", "HighLatency")),
        AlertDisposition::Open { .. }
    ));
    // Joining by fingerprint needs no policy: the alert is already part of the incident.
    assert_eq!(
        route_alert(&[], &incidents, &alert),
        AlertDisposition::Join {
            incident: "INC-1".into()
        }
    );
}

#[test]
fn group_by_joins_alerts_agreeing_on_the_labels() {
    let policies = [tier1_pages().group_by(["service"])];
    let incidents = [incident_for(
        "INC-1",
        t(9, 0),
        &page("checkout", "HighErrorRate"),
    )];
    assert_eq!(
        route_alert(&policies, &incidents, &page("checkout", "HighLatency")),
        AlertDisposition::Join {
            incident: "INC-1".into()
        }
    );
    assert_eq!(
        route_alert(&policies, &incidents, &page("search", "HighLatency")),
        AlertDisposition::Open {
            policy: "tier-1 pages".into(),
            severity: Severity::Sev2,
            title: "HighLatency on search".into(),
        }
    );
}

#[test]
fn resolved_incidents_take_nothing_and_the_earliest_open_one_wins() {
    let policies = [tier1_pages().group_by(["service"])];
    let alert = page("checkout", "HighErrorRate");
    let mut resolved = incident_for("INC-1", t(8, 0), &alert);
    resolved
        .set_status("bob", t(8, 30), IncidentStatus::Resolved)
        .unwrap();
    assert!(matches!(
        route_alert(&policies, std::slice::from_ref(&resolved), &alert),
        AlertDisposition::Open { .. }
    ));

    let later = incident_for("INC-3", t(9, 30), &page("checkout", "A"));
    let earlier = incident_for("INC-2", t(9, 0), &page("checkout", "B"));
    assert_eq!(
        route_alert(&policies, &[resolved, later, earlier], &alert),
        AlertDisposition::Join {
            incident: "INC-2".into()
        }
    );
}

#[test]
fn a_trimmed_alert_keeps_its_full_fingerprint() {
    let labels = page("checkout", "HighErrorRate");
    let full = LinkedAlert::from_labels(labels.clone(), t(9, 0));
    let kept = LinkedAlert::keeping(&labels, &["alertname", "service"], t(9, 0));
    assert_eq!(kept.fingerprint, full.fingerprint);
    assert_eq!(kept.labels.len(), 2);
    assert_eq!(kept.label_summary(), "service=checkout");
    assert_eq!(kept.name(), "HighErrorRate");
    assert_eq!(full.fingerprint.len(), 16);
}
