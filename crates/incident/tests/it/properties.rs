//! Any sequence of operations keeps the timeline sorted (ties in recording order), the status
//! moving only as allowed, and a refused operation changes nothing.

use headroom_core::{Span, Timestamp};
use headroom_incident::{
    ActionItemStatus, ActionItemUpdate, Declaration, Incident, IncidentError, IncidentStatus,
    LinkedAlert, Role, Severity, TimelineKind,
};
use headroom_routing::label_set;
use proptest::prelude::*;

const OPENED: Timestamp = Timestamp::from_secs(1_773_477_000);

#[derive(Debug, Clone)]
enum Op {
    Acknowledge,
    SetStatus(IncidentStatus),
    SetSeverity(Severity),
    Page(u32),
    Escalate(u32),
    Note,
    AssignRole(Role, u8),
    LinkAlert(u8),
    AddActionItem,
    UpdateActionItem(u32, bool),
    ImpactStart(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let status = proptest::sample::select(IncidentStatus::ALL.to_vec());
    let severity = proptest::sample::select(Severity::ALL.to_vec());
    let role = proptest::sample::select(Role::ALL.to_vec());
    prop_oneof![
        Just(Op::Acknowledge),
        status.prop_map(Op::SetStatus),
        severity.prop_map(Op::SetSeverity),
        (0u32..4).prop_map(Op::Page),
        (0u32..5).prop_map(Op::Escalate),
        Just(Op::Note),
        (role, 0u8..3).prop_map(|(r, u)| Op::AssignRole(r, u)),
        (0u8..4).prop_map(Op::LinkAlert),
        Just(Op::AddActionItem),
        (0u32..4, any::<bool>()).prop_map(|(id, done)| Op::UpdateActionItem(id, done)),
        (-30i64..90).prop_map(Op::ImpactStart),
    ]
}

/// Minutes relative to the opening; some fall before it.
fn at() -> impl Strategy<Value = i64> {
    -20i64..120
}

fn allowed(from: IncidentStatus, to: IncidentStatus) -> bool {
    use IncidentStatus::*;
    let rank = |s: IncidentStatus| IncidentStatus::ALL.iter().position(|x| *x == s).unwrap();
    rank(to) > rank(from) || (from == Resolved && to == Investigating)
}

fn e<T>(r: Result<T, IncidentError>) -> Result<(), IncidentError> {
    r.map(|_| ())
}

fn apply(incident: &mut Incident, op: &Op, at: Timestamp, n: usize) -> Result<(), IncidentError> {
    match op {
        Op::Acknowledge => e(incident.acknowledge("bob", at)),
        Op::SetStatus(s) => e(incident.set_status("bob", at, *s)),
        Op::SetSeverity(s) => e(incident.set_severity("bob", at, *s)),
        Op::Page(level) => e(incident.page("bot", at, "bob", *level)),
        Op::Escalate(level) => e(incident.escalate("bot", at, *level, "")),
        Op::Note => e(incident.note("dan", at, &format!("note {n}"))),
        Op::AssignRole(role, user) => {
            e(incident.assign_role("bob", at, *role, ["bob", "carol", "dan"][*user as usize]))
        }
        Op::LinkAlert(k) => e(incident.link_alert(
            "am",
            LinkedAlert::from_labels(label_set([("alertname", &*format!("A{k}"))]), at),
        )),
        Op::AddActionItem => e(incident.add_action_item("bob", at, "fix it", None, None)),
        Op::UpdateActionItem(id, done) => e(incident.update_action_item(
            "bob",
            at,
            *id,
            ActionItemUpdate {
                status: Some(if *done {
                    ActionItemStatus::Done
                } else {
                    ActionItemStatus::Open
                }),
                ..Default::default()
            },
        )),
        Op::ImpactStart(m) => e(incident.set_impact_start("bob", at, OPENED + Span::minutes(*m))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn operations_keep_the_invariants(ops in prop::collection::vec((op(), at()), 0..40)) {
        let mut incident = Incident::declare(
            Declaration::new("INC-P", "property", Severity::Sev3),
            "alice",
            OPENED,
        )
        .unwrap();
        let mut accepted = 1;
        for (n, (op, minutes)) in ops.iter().enumerate() {
            let before = incident.clone();
            let at = OPENED + Span::minutes(*minutes);
            match apply(&mut incident, op, at, n) {
                Ok(()) => {
                    accepted += 1;
                    let (from, to) = (before.status(), incident.status());
                    prop_assert!(from == to || allowed(from, to), "{from} → {to} by {op:?}");
                    if from != to {
                        prop_assert!(matches!(op, Op::Acknowledge | Op::SetStatus(_)));
                    }
                }
                Err(_) => prop_assert_eq!(&incident, &before, "refused {:?} changed it", op),
            }
            let timeline = incident.timeline();
            prop_assert_eq!(timeline.len(), accepted);
            prop_assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at), "unsorted");
        }

        // Notes with equal times read in the order they were recorded.
        let notes: Vec<(Timestamp, usize)> = incident
            .timeline()
            .iter()
            .filter(|e| e.kind == TimelineKind::Note)
            .map(|e| (e.at, e.text["note ".len()..].parse().unwrap()))
            .collect();
        for w in notes.windows(2) {
            prop_assert!(w[0].0 < w[1].0 || w[0].1 < w[1].1, "tie out of order: {w:?}");
        }

        // The status entries, read in time order, replay the moves to the final status.
        let mut status = IncidentStatus::Triggered;
        let mut first_ack = None;
        let mut first_resolve = None;
        for entry in incident.timeline() {
            let (from, to) = match &entry.kind {
                TimelineKind::Acknowledged => (IncidentStatus::Triggered, IncidentStatus::Acknowledged),
                TimelineKind::StatusChanged { from, to } => (*from, *to),
                _ => continue,
            };
            prop_assert_eq!(from, status);
            prop_assert!(allowed(from, to));
            prop_assert!(entry.at >= OPENED);
            if from == IncidentStatus::Triggered && first_ack.is_none() {
                first_ack = Some(entry.at);
            }
            if to == IncidentStatus::Resolved && first_resolve.is_none() {
                first_resolve = Some(entry.at);
            }
            status = to;
        }
        prop_assert_eq!(status, incident.status());
        prop_assert_eq!(first_ack, incident.acknowledged_at());
        prop_assert_eq!(first_resolve, incident.resolved_at());

        // And the record survives storage.
        let json = serde_json::to_string(&incident).unwrap();
        let back: Incident = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, incident);
    }
}
