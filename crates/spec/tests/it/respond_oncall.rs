//! The on-call directory and incident policies in a native document: a full example read into
//! its values, references across files, and every mistake located at FILE:LINE:COLUMN.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use headroom_core::Span;
use headroom_incident::Severity;
use headroom_oncall::{
    ContactMethod, Directory, EscalationLevel, EscalationPolicy, Layer, Override, Restriction,
    Schedule, Target, Team, TurnLength, User, UserId,
};
use headroom_routing::label_set;
use headroom_spec::{Config, Problem, load_sources, load_str};

fn ok(text: &str) -> Config {
    load_str("o.yaml", text).unwrap_or_else(|p| panic!("should load:\n{}", render(&p)))
}

fn errors(text: &str) -> Vec<String> {
    match load_str("o.yaml", text) {
        Ok(_) => panic!("should fail"),
        Err(p) => p.iter().map(|p| p.to_string()).collect(),
    }
}

fn render(p: &[Problem]) -> String {
    p.iter().map(|p| format!("  {p}\n")).collect()
}

const DIRECTORY: &str = r#"
users:
  - id: alice
    name: Alice Adams
    email: alice@example.com
    time_zone: Europe/Berlin
    contact_methods:
      - email: alice@example.com
      - slack: https://hooks.slack.com/services/T0/B0/alice
      - webhook: https://pager.example.com/alice
  - {id: bob, name: Bob Brown, email: bob@example.com}
teams:
  - {id: shop, name: Shop, members: [alice, bob], escalation_policy: shop-urgent}
  - {id: ops, members: [bob]}
schedules:
  - id: shop-primary
    name: Shop primary
    time_zone: Europe/Berlin
    layers:
      - name: weekdays
        users: [alice, bob]
        turn: weekly
        rotation_start: "2026-01-05T09:00"
        restrictions:
          - weekly: {start: "monday 09:00", end: "friday 17:00"}
        end: "2026-12-28T09:00"
      - users: [bob]
        turn: {hours: 12}
        rotation_start: "2026-01-05T21:00:30"
        restrictions: [{daily: {start: "21:00", end: "07:00"}}]
      - {users: [alice], turn: daily, rotation_start: "2026-01-05T00:00"}
      - {users: [bob, alice, bob], turn: {days: 3}, rotation_start: "2026-01-05T00:00"}
    overrides:
      - {id: swap-1, user: bob, start: "2026-01-06T09:00:00+01:00", end: "2026-01-07T09:00:00Z"}
escalation_policies:
  - id: shop-urgent
    name: Shop urgent
    repeat: 2
    ack_timeout: 30m
    levels:
      - {delay: 10m, targets: [{schedule: shop-primary}]}
      - delay: 15m
        targets: [{user: alice}, {user: bob}]
incident_policies:
  - name: tier-1-pages
    matchers: ['severity="page"', 'tier="1"']
    severity: SEV2
    title: "{{alertname}} on {{service}}"
    group_by: [service]
  - {name: anything, severity: sev4, title: "{{ alertname }}"}
"#;

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, s)
        .unwrap()
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

#[test]
fn a_full_directory_reads_into_its_values() {
    let c = ok(DIRECTORY);
    let berlin = chrono_tz::Europe::Berlin;
    let want = Directory {
        users: vec![
            User {
                id: "alice".into(),
                name: "Alice Adams".into(),
                email: "alice@example.com".into(),
                time_zone: berlin,
                contact_methods: vec![
                    ContactMethod::Email {
                        address: "alice@example.com".into(),
                    },
                    ContactMethod::Slack {
                        webhook_url: "https://hooks.slack.com/services/T0/B0/alice".into(),
                    },
                    ContactMethod::Webhook {
                        url: "https://pager.example.com/alice".into(),
                    },
                ],
            },
            User {
                id: "bob".into(),
                name: "Bob Brown".into(),
                email: "bob@example.com".into(),
                time_zone: chrono_tz::UTC,
                contact_methods: vec![],
            },
        ],
        teams: vec![
            Team {
                id: "shop".into(),
                name: "Shop".into(),
                members: vec!["alice".into(), "bob".into()],
                escalation_policy: Some("shop-urgent".into()),
            },
            Team {
                id: "ops".into(),
                name: "ops".into(),
                members: vec!["bob".into()],
                escalation_policy: None,
            },
        ],
        schedules: vec![Schedule {
            id: "shop-primary".into(),
            name: "Shop primary".into(),
            time_zone: berlin,
            layers: vec![
                Layer {
                    name: "weekdays".into(),
                    users: vec!["alice".into(), "bob".into()],
                    turn: TurnLength::Weekly,
                    rotation_start: at(2026, 1, 5, 9, 0, 0),
                    restrictions: vec![Restriction::Weekly {
                        start_day: Weekday::Mon,
                        start: hm(9, 0),
                        end_day: Weekday::Fri,
                        end: hm(17, 0),
                    }],
                    end: Some(at(2026, 12, 28, 9, 0, 0)),
                },
                Layer {
                    name: "layer 2".into(),
                    users: vec!["bob".into()],
                    turn: TurnLength::Hours(12),
                    rotation_start: at(2026, 1, 5, 21, 0, 30),
                    restrictions: vec![Restriction::Daily {
                        start: hm(21, 0),
                        end: hm(7, 0),
                    }],
                    end: None,
                },
                Layer {
                    name: "layer 3".into(),
                    users: vec!["alice".into()],
                    turn: TurnLength::Daily,
                    rotation_start: at(2026, 1, 5, 0, 0, 0),
                    restrictions: vec![],
                    end: None,
                },
                Layer {
                    name: "layer 4".into(),
                    // A rotation may give someone more turns than the others.
                    users: vec!["bob".into(), "alice".into(), "bob".into()],
                    turn: TurnLength::Days(3),
                    rotation_start: at(2026, 1, 5, 0, 0, 0),
                    restrictions: vec![],
                    end: None,
                },
            ],
            overrides: vec![Override {
                id: "swap-1".into(),
                user: "bob".into(),
                start: Utc.with_ymd_and_hms(2026, 1, 6, 8, 0, 0).unwrap(),
                end: Utc.with_ymd_and_hms(2026, 1, 7, 9, 0, 0).unwrap(),
            }],
        }],
        escalation_policies: vec![EscalationPolicy {
            id: "shop-urgent".into(),
            name: "Shop urgent".into(),
            levels: vec![
                EscalationLevel {
                    targets: vec![Target::Schedule("shop-primary".into())],
                    delay: Span::minutes(10),
                },
                EscalationLevel {
                    targets: vec![Target::User("alice".into()), Target::User("bob".into())],
                    delay: Span::minutes(15),
                },
            ],
            repeat: 2,
            ack_timeout: Some(Span::minutes(30)),
        }],
    };
    assert_eq!(c.oncall, want);
    assert_eq!(c.oncall.validate(), Ok(()));
}

#[test]
fn local_times_are_read_in_the_schedule_zone() {
    let c = ok(r#"
users: [{id: alice, name: A, email: a@x}, {id: bob, name: B, email: b@x}]
schedules:
  - id: s
    time_zone: America/New_York
    layers: [{users: [alice, bob], turn: daily, rotation_start: "2026-01-05T09:00"}]
"#);
    let s = &c.oncall.schedules[0];
    // 09:00 in New York in January is 14:00 UTC: alice until then on the 6th, bob after.
    let on = |h| s.oncall_at(Utc.with_ymd_and_hms(2026, 1, 6, h, 0, 0).unwrap());
    assert_eq!(on(13), Some(UserId::new("alice")));
    assert_eq!(on(14), Some(UserId::new("bob")));
}

#[test]
fn unquoted_times_read_as_written() {
    let c = ok(r#"
users: [{id: alice, name: A, email: a@x}]
schedules:
  - id: s
    time_zone: UTC
    layers:
      - users: [alice]
        turn: daily
        rotation_start: 2026-01-05T09:00
        restrictions: [{daily: {start: 09:00, end: 17:30}}]
"#);
    let layer = &c.oncall.schedules[0].layers[0];
    assert_eq!(layer.rotation_start, at(2026, 1, 5, 9, 0, 0));
    assert_eq!(
        layer.restrictions,
        [Restriction::Daily {
            start: hm(9, 0),
            end: hm(17, 30)
        }]
    );
}

#[test]
fn incident_policies_read_into_their_values() {
    let c = ok(DIRECTORY);
    let p = &c.incident_policies;
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].name, "tier-1-pages");
    let matchers: Vec<String> = p[0].matchers.iter().map(|m| m.to_string()).collect();
    assert_eq!(matchers, [r#"severity="page""#, r#"tier="1""#]);
    assert_eq!(p[0].severity, Severity::Sev2);
    assert_eq!(p[0].title, "{{alertname}} on {{service}}");
    assert_eq!(p[0].group_by, ["service"]);
    let alert = label_set([
        ("alertname", "Burn"),
        ("service", "checkout"),
        ("severity", "page"),
        ("tier", "1"),
    ]);
    assert_eq!(
        p[0].opens(&alert),
        Some((Severity::Sev2, "Burn on checkout".to_string()))
    );
    assert_eq!(p[0].opens(&label_set([("severity", "ticket")])), None);
    // No matchers: every alert; severity in any case.
    assert!(p[1].matchers.is_empty());
    assert_eq!(p[1].severity, Severity::Sev4);
    assert_eq!(
        p[1].opens(&alert),
        Some((Severity::Sev4, "Burn".to_string()))
    );
}

#[test]
fn references_resolve_across_files() {
    let c = load_sources(&[
        (
            "people.yaml".to_string(),
            "users: [{id: alice, name: A, email: a@x}]\n".to_string(),
        ),
        (
            "paging.yaml".to_string(),
            "escalation_policies: [{id: p, levels: [{delay: 5m, targets: [{user: alice}]}]}]\n\
             teams: [{id: t, members: [alice], escalation_policy: p}]\n\
             receivers: [{name: oncall, escalation_policy: p}]\n"
                .to_string(),
        ),
    ])
    .unwrap_or_else(|p| panic!("should load:\n{}", render(&p)));
    assert_eq!(c.oncall.teams[0].members, [UserId::new("alice")]);
    assert_eq!(c.receiver_escalations["oncall"].as_str(), "p");

    let Err(e) = load_sources(&[
        (
            "a.yaml".to_string(),
            "users: [{id: alice, name: A, email: a@x}]\n".to_string(),
        ),
        (
            "b.yaml".to_string(),
            "users:\n  - {id: alice, name: A2, email: a2@x}\n".to_string(),
        ),
    ]) else {
        panic!("should fail")
    };
    let e: Vec<String> = e.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        e,
        ["b.yaml:2:10: user \"alice\" is already defined at a.yaml:1:14"]
    );
}

#[test]
fn directory_mistakes_are_located() {
    let e = errors(
        r#"
users:
  - {id: alice, name: Alice, email: alice, time_zone: Europe/Berln}
  - {id: alice, name: Again, email: a@x}
  - {id: bob, name: Bob, email: b@x, contact_methods: [{sms: "123"}, {slack: hooks.slack.com}, {email: a@x, webhook: "https://x"}]}
  - {id: "bad id", name: B, email: b@x}
teams:
  - {id: shop, members: [alice, carol, alice], escalation_policy: shop-urgnt}
schedules:
  - id: s
    time_zone: Europe/Berlin
    layers:
      - name: l
        users: []
        turn: fortnightly
        rotation_start: "2026-01-05 09:00"
        restrictions:
          - daily: {start: "9am", end: "17:00"}
          - weekly: {start: "mondy 09:00", end: "friday"}
          - hourly: {}
      - users: [bob]
        turn: {days: 0}
        rotation_start: "2026-01-05T09:00"
        end: "2026-01-05T08:00"
      - {users: [bob], turn: {weeks: 2}, rotation_start: "2026-01-05T09:00"}
      - {users: [bob], turn: {hours: -1}, rotation_start: "2026-01-05T09:00"}
    overrides:
      - {id: o1, user: bobby, start: "2026-01-06T09:00:00+01:00", end: "2026-01-06T08:00:00Z"}
      - {id: o1, user: bob, start: "2026-01-06", end: "2026-01-07T09:00:00Z"}
  - {id: t, layers: []}
escalation_policies:
  - id: shop-urgent
    repeat: twice
    levels:
      - {delay: 10m, targets: [{schedule: primary}, {team: shop}]}
      - {delay: soon, targets: []}
  - {id: empty, ack_timeout: 0m, levels: []}
"#,
    );
    let want = [
        "o.yaml:3:37: email \"alice\" must be an address such as alice@example.com",
        "o.yaml:3:55: unknown time zone \"Europe/Berln\"; did you mean \"Europe/Berlin\"?",
        "o.yaml:4:10: user \"alice\" is already defined at o.yaml:3:10",
        "o.yaml:5:57: unknown field \"sms\" in contact method; expected one of: email, slack, webhook",
        "o.yaml:5:78: url \"hooks.slack.com\" must be an http:// or https:// URL with a host",
        "o.yaml:5:118: a contact method is one of email, slack or webhook, not several",
        "o.yaml:6:10: user id \"bad id\" is not a valid name: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
        "o.yaml:8:40: members: \"alice\" is listed twice",
        "o.yaml:14:16: users is empty: a layer needs at least one user",
        "o.yaml:15:15: unknown turn \"fortnightly\": use daily, weekly, {days: n} or {hours: n}",
        "o.yaml:16:25: rotation_start \"2026-01-05 09:00\" must be a local date and time such as 2026-01-05T09:00",
        "o.yaml:18:28: start \"9am\" must be a time of day such as 09:00",
        "o.yaml:19:29: start \"mondy 09:00\" must be a weekday and a time of day such as monday 09:00; did you mean \"monday\"?",
        "o.yaml:19:49: end \"friday\" must be a weekday and a time of day such as monday 09:00",
        "o.yaml:20:13: unknown field \"hourly\" in restriction; expected one of: daily, weekly",
        "o.yaml:22:22: days must be at least 1: a turn cannot be empty",
        "o.yaml:24:14: end 2026-01-05T08:00 is not after rotation_start 2026-01-05T09:00: a layer must end after its rotation starts",
        "o.yaml:25:31: unknown field \"weeks\" in turn; expected one of: days, hours",
        "o.yaml:26:38: hours must be a whole number (0 or more), found \"-1\"",
        "o.yaml:28:72: end 2026-01-06T08:00:00+00:00 is not after start 2026-01-06T08:00:00+00:00: an override must end after it starts",
        "o.yaml:29:36: start \"2026-01-06\" must be an RFC 3339 time such as 2026-02-02T09:00:00+01:00",
        "o.yaml:30:5: missing field \"time_zone\" in schedule",
        "o.yaml:33:13: repeat must be a whole number (0 or more), found \"twice\"",
        "o.yaml:35:54: unknown field \"team\" in target; expected one of: user, schedule",
        "o.yaml:36:17: delay: invalid duration \"soon\": expected a number",
        "o.yaml:36:32: targets is empty: a level needs at least one",
        "o.yaml:37:30: ack_timeout: invalid duration \"0m\": must be greater than zero",
        "o.yaml:37:42: levels is empty: a policy needs at least one",
        "o.yaml:8:33: unknown user \"carol\"",
        "o.yaml:8:67: unknown escalation policy \"shop-urgnt\"; did you mean \"shop-urgent\"?",
        "o.yaml:28:24: unknown user \"bobby\"",
        "o.yaml:35:43: unknown schedule \"primary\"",
    ];
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|w| !e.iter().any(|got| got.starts_with(w)))
        .collect();
    assert!(
        missing.is_empty(),
        "missing:\n{}\nin:\n{}",
        missing.join("\n"),
        e.join("\n")
    );
    assert_eq!(e.len(), want.len(), "{}", e.join("\n"));
}

#[test]
fn override_ids_are_unique_per_schedule() {
    let e = errors(
        r#"
users: [{id: bob, name: B, email: b@x}]
schedules:
  - id: s
    time_zone: UTC
    layers: [{users: [bob], turn: daily, rotation_start: "2026-01-05T09:00"}]
    overrides:
      - {id: o1, user: bob, start: "2026-01-06T09:00:00Z", end: "2026-01-07T09:00:00Z"}
      - {id: o1, user: bob, start: "2026-01-08T09:00:00Z", end: "2026-01-09T09:00:00Z"}
"#,
    );
    assert_eq!(
        e,
        ["o.yaml:9:9: override \"o1\" is already defined at o.yaml:8:9"]
    );
}

#[test]
fn incident_policy_mistakes_are_located() {
    let e = errors(
        r#"
incident_policies:
  - name: pages
    matchers: ['severity="page"', 'tier=~"(1"']
    severity: SEV5
    title: " "
    group_by: [service, "not a label", service]
  - {name: ok, severity: SEV1, title: t}
  - {name: ok, severity: SEV1, title: t}
  - {name: x, severty: SEV1, title: t}
"#,
    );
    assert_eq!(
        e,
        [
            "o.yaml:4:42: matcher \"tier=~\\\"(1\\\"\": invalid regex: unclosed group",
            "o.yaml:5:15: unknown severity \"SEV5\" (expected one of SEV1, SEV2, SEV3, SEV4)",
            "o.yaml:6:12: title is empty",
            "o.yaml:7:25: group_by \"not a label\" is not a valid Prometheus label name: use letters, digits and '_', not starting with a digit or with \"__\"",
            "o.yaml:7:40: group_by: \"service\" is listed twice",
            "o.yaml:9:5: incident policy \"ok\" is already defined at o.yaml:8:5",
            "o.yaml:10:15: unknown field \"severty\" in incident policy; did you mean \"severity\"?",
            "o.yaml:10:5: missing field \"severity\" in incident policy",
        ]
    );
}
