//! Directory validation: every broken reference is reported, each as its own typed error.

use chrono_tz::Europe::London;
use headroom_core::Span;
use headroom_oncall::{
    ContactMethod, Directory, DirectoryError, EscalationLevel, EscalationPolicy, Target, Team,
    TurnLength, User,
};

use crate::common::*;

fn person(id: &str) -> User {
    User {
        id: user(id),
        name: id.to_uppercase(),
        email: format!("{id}@example.com"),
        time_zone: London,
        contact_methods: vec![
            ContactMethod::Email {
                address: format!("{id}@example.com"),
            },
            ContactMethod::Slack {
                webhook_url: "https://hooks.slack.com/services/T/B/X".into(),
            },
            ContactMethod::Webhook {
                url: "https://example.com/page".into(),
            },
        ],
    }
}

fn valid() -> Directory {
    let mut s = schedule(
        London,
        vec![layer(
            "Daily",
            &["a", "b"],
            TurnLength::Daily,
            "2026-06-01 09:00",
        )],
    );
    s.overrides.push(over(
        "o1",
        "a",
        "2026-06-02T00:00:00Z",
        "2026-06-02T06:00:00Z",
    ));
    Directory {
        users: vec![person("a"), person("b")],
        teams: vec![Team {
            id: "sre".into(),
            name: "SRE".into(),
            members: vec![user("a"), user("b")],
            escalation_policy: Some("ops".into()),
        }],
        schedules: vec![s],
        escalation_policies: vec![EscalationPolicy {
            id: "ops".into(),
            name: "Ops".into(),
            levels: vec![EscalationLevel {
                targets: vec![Target::Schedule("primary".into()), Target::User(user("b"))],
                delay: Span::minutes(10),
            }],
            repeat: 1,
            ack_timeout: None,
        }],
    }
}

#[test]
fn a_consistent_directory_validates_and_round_trips() {
    let dir = valid();
    assert_eq!(dir.validate(), Ok(()));
    let json = serde_json::to_string(&dir).unwrap();
    let back: Directory = serde_json::from_str(&json).unwrap();
    assert_eq!(back, dir);
    assert_eq!(dir.user(&user("b")).map(|u| u.name.as_str()), Some("B"));
    assert!(dir.schedule(&"primary".into()).is_some());
    assert!(dir.policy(&"ops".into()).is_some());
    assert!(dir.team(&"sre".into()).is_some());
}

#[test]
fn every_unknown_reference_is_reported() {
    let mut dir = valid();
    dir.teams[0].members.push(user("ghost"));
    dir.teams[0].escalation_policy = Some("nope".into());
    dir.schedules[0].layers[0].users.push(user("casper"));
    dir.schedules[0].overrides[0].user = user("nobody");
    dir.escalation_policies[0].levels[0].targets.extend([
        Target::Schedule("missing".into()),
        Target::User(user("who")),
    ]);
    let errors = dir.validate().unwrap_err();
    assert_eq!(
        errors,
        vec![
            DirectoryError::UnknownUser {
                place: "team \"sre\"".into(),
                user: user("ghost"),
            },
            DirectoryError::UnknownPolicy {
                place: "team \"sre\"".into(),
                policy: "nope".into(),
            },
            DirectoryError::UnknownUser {
                place: "schedule \"primary\" layer 0".into(),
                user: user("casper"),
            },
            DirectoryError::UnknownUser {
                place: "schedule \"primary\" override \"o1\"".into(),
                user: user("nobody"),
            },
            DirectoryError::UnknownSchedule {
                place: "escalation policy \"ops\" level 0".into(),
                schedule: "missing".into(),
            },
            DirectoryError::UnknownUser {
                place: "escalation policy \"ops\" level 0".into(),
                user: user("who"),
            },
        ]
    );
    assert_eq!(
        errors[4].to_string(),
        "escalation policy \"ops\" level 0: unknown schedule \"missing\""
    );
}

#[test]
fn duplicates_and_meaningless_shapes_are_reported() {
    let mut dir = valid();
    dir.users.push(person("a"));
    dir.schedules[0].layers[0].turn = TurnLength::Days(0);
    dir.schedules[0]
        .layers
        .push(layer("Empty", &[], TurnLength::Daily, "2026-06-01 09:00"));
    let o = &mut dir.schedules[0].overrides[0];
    o.end = o.start;
    dir.escalation_policies.push(EscalationPolicy {
        id: "none".into(),
        name: "None".into(),
        levels: vec![],
        repeat: 0,
        ack_timeout: None,
    });
    dir.escalation_policies[0].levels[0].delay = Span::minutes(0);
    dir.escalation_policies[0].levels.push(EscalationLevel {
        targets: vec![],
        delay: Span::minutes(5),
    });
    let errors = dir.validate().unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        text,
        vec![
            "duplicate user id \"a\"",
            "schedule \"primary\" layer 0: a turn must be longer than zero",
            "schedule \"primary\" layer 1: a layer needs at least one user",
            "schedule \"primary\" override \"o1\": an override must end after it starts",
            "escalation policy \"ops\" level 0: a level's delay must be longer than zero",
            "escalation policy \"ops\" level 1: a level needs at least one target",
            "escalation policy \"none\": a policy needs at least one level",
        ]
    );
}
