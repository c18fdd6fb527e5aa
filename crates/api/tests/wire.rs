//! The shapes serde's derive makes hard to see: a grouped SLO before its first group, the SLI
//! kinds, an action item patch's absent / `null` / value, timeline entries, and the schemas
//! utoipa makes of them. (Every type against a real server: `cli/tests/api_types.rs`.)

use headroom_api::incident::{ActionItemPatch, TimelineEntry, TimelineEvent};
use headroom_api::slo::{Indicator, Slo, Standing};
use headroom_api::*;
use serde_json::{Value, json};
use utoipa::OpenApi;

/// A grouped SLO with no group yet, as the server shows it: null figures, no budget, no
/// `evaluated_at`, an empty `groups`.
fn ungrouped_yet() -> Value {
    json!({
        "id": "api-by-route", "service": "api", "name": "api-by-route", "description": null,
        "objective": 0.99, "window": "30d", "budgeting": {"method": "occurrences"},
        "indicator": {"kind": "events", "queries": {}}, "grouping": ["route"], "labels": {},
        "alert_windows": ["5m", "30m", "1h"], "sli": null, "good_events": null,
        "total_events": null, "budget_consumed": null, "budget_remaining": null,
        "burn_rates": {}, "alerts": [], "groups": [], "source": "s.yaml:2:5"
    })
}

#[test]
fn a_grouped_slo_without_groups_keeps_its_nulls_and_absences() {
    let v = ungrouped_yet();
    let slo: Slo = serde_json::from_value(v.clone()).unwrap();
    assert!(matches!(slo.standing, Standing::NoGroupYet(_)));
    assert_eq!(slo.groups.as_deref(), Some(&[][..]));
    assert_eq!(serde_json::to_value(&slo).unwrap(), v);
}

#[test]
fn a_measured_slo_has_its_budget_and_evaluation_time() {
    let mut v = ungrouped_yet();
    let m = v.as_object_mut().unwrap();
    m.remove("groups");
    for (k, x) in [
        ("sli", json!(0.5)),
        ("good_events", json!(1.0)),
        ("total_events", json!(2.0)),
        (
            "budget",
            json!({"allowed": 0.02, "spent": 1.0, "remaining": -0.98,
                          "allowed_minutes": null, "spent_minutes": null}),
        ),
        ("slices", json!({"with_data": 3.0, "ratio_sum": 2.5})),
        ("time_to_exhaustion_seconds", json!(0.0)),
        ("forecast_budget_remaining", Value::Null),
        ("evaluated_at", json!("2027-01-15T08:00:30Z")),
    ] {
        m.insert(k.into(), x);
    }
    let slo: Slo = serde_json::from_value(v.clone()).unwrap();
    let Standing::Measured(status) = &slo.standing else {
        panic!("measured: {:?}", slo.standing)
    };
    let measured = &status.measurement;
    assert_eq!(measured.evaluated_at.as_str(), "2027-01-15T08:00:30Z");
    assert!(matches!(
        measured.slices,
        Some(slo::Slices::Ratios { ratio_sum, .. }) if ratio_sum == 2.5
    ));
    assert_eq!(slo.groups, None);
    assert_eq!(serde_json::to_value(&slo).unwrap(), v);
}

#[test]
fn every_sli_kind_keeps_its_queries_object() {
    for v in [
        json!({"kind": "events", "queries": {}}),
        json!({"kind": "ratio", "queries": {"queries": {"bad_total": {"bad": "b", "total": "t"}}}}),
        json!({"kind": "threshold", "queries": {"good": "g", "total": "t", "threshold": null}}),
        json!({"kind": "raw_error_ratio", "queries": {"error_ratio": "e"}}),
        json!({"kind": "probe", "queries": {"probe": "web", "latency": "200ms"}}),
    ] {
        let i: Indicator = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&i).unwrap(), v);
    }
}

#[test]
fn a_patch_tells_absent_from_null() {
    let absent: ActionItemPatch = serde_json::from_value(json!({"text": "x"})).unwrap();
    assert_eq!((absent.owner.clone(), absent.due.clone()), (None, None));
    let cleared: ActionItemPatch =
        serde_json::from_value(json!({"owner": null, "due": "2030-01-31"})).unwrap();
    assert_eq!(cleared.owner, Some(None));
    assert_eq!(cleared.due, Some(Some("2030-01-31".to_string())));
    assert_eq!(
        serde_json::to_value(&cleared).unwrap(),
        json!({"owner": null, "due": "2030-01-31"})
    );
    assert_eq!(serde_json::to_value(&absent).unwrap(), json!({"text": "x"}));
}

#[test]
fn timeline_entries_carry_their_kind_beside_the_common_fields() {
    let v = json!({"type": "status_changed", "from": "triggered", "to": "investigating",
                   "at": "2027-01-15T08:01:00Z", "actor": "alice", "text": "Status → investigating"});
    let e: TimelineEntry = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(
        e.event,
        TimelineEvent::StatusChanged {
            from: incident::IncidentStatus::Triggered,
            to: incident::IncidentStatus::Investigating
        }
    );
    assert_eq!(serde_json::to_value(&e).unwrap(), v);
}

#[derive(OpenApi)]
#[openapi(components(schemas(
    ErrorBody,
    reload::Reloaded,
    calendar::FeedSubscription,
    slo::SloList,
    slo::SloSeries,
    slo::EventBatch,
    slo::EventsAccepted,
    slo::TransitionList,
    probe::ProbeList,
    probe::ProbeResults,
    probe::HeartbeatReceived,
    probe::TargetList,
    alertmanager::PostableAlert,
    alertmanager::GettableAlert,
    alertmanager::AlertGroup,
    alertmanager::AlertmanagerStatus,
    alertmanager::Receiver,
    alertmanager::PostableSilence,
    alertmanager::SilenceCreated,
    alertmanager::GettableSilence,
    alertmanager::WebhookMessage,
    alertmanager::WebhookAccepted,
    pagerduty::PagerDutyEvent,
    pagerduty::EventResponse,
    oncall::UserList,
    oncall::TeamList,
    oncall::ScheduleList,
    oncall::OnCallAt,
    oncall::ShiftList,
    oncall::NewOverride,
    oncall::Override,
    escalation::EscalationList,
    escalation::Escalation,
    escalation::Responder,
    incident::IncidentList,
    incident::Incident,
    incident::IncidentMetrics,
    incident::Declaration,
    incident::StatusChange,
    incident::SeverityChange,
    incident::RoleAssignment,
    incident::Note,
    incident::ImpactStart,
    incident::NewActionItem,
    incident::ActionItemPatch,
)))]
struct Document;

#[test]
fn schemas_say_what_is_required_and_how_times_are_written() {
    let doc = serde_json::to_value(Document::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Time"],
        json!({"type": "string", "format": "date-time", "description": schemas["Time"]["description"]})
    );
    let required = |name: &str| -> Vec<String> {
        serde_json::from_value(schemas[name]["required"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}: {}", schemas[name]))
    };
    // Present (perhaps null) is required; what may be absent is not.
    let incident = required("Incident");
    assert!(
        incident.contains(&"resolved_at".to_string()),
        "{incident:?}"
    );
    assert!(!incident.contains(&"timeline".to_string()), "{incident:?}");
    let silence = required("PostableSilence");
    assert!(silence.contains(&"startsAt".to_string()), "{silence:?}");
    assert!(!silence.contains(&"id".to_string()), "{silence:?}");
    assert_eq!(required("ErrorBody"), ["error", "detail"]);
}
