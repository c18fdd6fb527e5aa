//! Alertmanager API v2 bodies, Alertmanager's webhook payload and PagerDuty Events v2 events:
//! what real clients send parses, and every defect is named by its path.

use headroom_ingest::alertmanager::{parse_posted_alerts, parse_posted_silence, parse_webhook};
use headroom_ingest::pagerduty::{EventAction, EventSeverity, parse_event};

#[test]
fn prometheus_alert_batches_parse() {
    // The shape Prometheus 2.x posts (notifier.go): endsAt set, startsAt set.
    let body = br#"[{"labels":{"alertname":"HighLatency","severity":"page"},
        "annotations":{"summary":"p99 > 1s"},
        "startsAt":"2026-11-26T10:00:00.123Z","endsAt":"2026-11-26T10:04:00Z",
        "generatorURL":"http://prom:9090/graph?g0.expr=x"},
        {"labels":{"alertname":"Other"}}]"#;
    let alerts = parse_posted_alerts(body).unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].labels["severity"], "page");
    assert_eq!(alerts[0].annotations["summary"], "p99 > 1s");
    assert_eq!(
        alerts[0].starts_at.unwrap().to_rfc3339(),
        "2026-11-26T10:00:00.123+00:00"
    );
    assert_eq!(alerts[0].generator_url, "http://prom:9090/graph?g0.expr=x");
    assert_eq!(alerts[1].starts_at, None);
    assert_eq!(alerts[1].ends_at, None);

    // amtool (Go) sends its zero time for "not set".
    let zero = br#"[{"labels":{"alertname":"X"},"startsAt":"0001-01-01T00:00:00.000Z","endsAt":"0001-01-01T00:00:00Z"}]"#;
    let zeroed = parse_posted_alerts(zero).unwrap();
    assert_eq!((zeroed[0].starts_at, zeroed[0].ends_at), (None, None));
    assert!(alerts[1].annotations.is_empty());
}

#[test]
fn bad_alert_batches_name_the_defect() {
    let cases: [(&[u8], &str); 6] = [
        (b"{}", "expected a JSON array of alerts"),
        (
            b"[{\"labels\":{\"a\":1}}]",
            "[0].labels.a: must be a string",
        ),
        (b"[{}]", "[0].labels: is required"),
        (
            b"[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"yesterday\"}]",
            "[0].startsAt: \"yesterday\" is not an RFC 3339 time",
        ),
        (
            b"[{\"labels\":{\"a\":\"b\"}},3]",
            "[1]: must be a JSON object",
        ),
        (b"[", "invalid JSON at line 1 column 1"),
    ];
    for (body, want) in cases {
        let e = parse_posted_alerts(body).unwrap_err().to_string();
        assert!(e.starts_with(want), "{e:?} should start with {want:?}");
    }
}

#[test]
fn amtool_silences_parse() {
    // What `amtool silence add` posts (client/silence.go via the v2 client).
    let body =
        br#"{"matchers":[{"name":"alertname","value":"Disk.*","isRegex":true,"isEqual":true},
        {"name":"env","value":"dev","isRegex":false,"isEqual":false}],
        "startsAt":"2026-11-26T10:00:00Z","endsAt":"2026-11-26T11:00:00Z",
        "createdBy":"alice","comment":"maintenance"}"#;
    let s = parse_posted_silence(body).unwrap();
    assert_eq!(s.id, None);
    assert_eq!(s.matchers.len(), 2);
    assert!(s.matchers[0].is_regex && s.matchers[0].is_equal);
    assert!(!s.matchers[1].is_regex && !s.matchers[1].is_equal);
    assert_eq!(s.created_by, "alice");

    // isEqual defaults to true for clients predating it.
    let old = br#"{"id":"abc","matchers":[{"name":"a","value":"b","isRegex":false}],
        "startsAt":"2026-11-26T10:00:00Z","endsAt":"2026-11-26T11:00:00Z","createdBy":"x","comment":"y"}"#;
    let s = parse_posted_silence(old).unwrap();
    assert_eq!(s.id.as_deref(), Some("abc"));
    assert!(s.matchers[0].is_equal);

    for (body, want) in [
        (&br#"{"matchers":[],"startsAt":"2026-11-26T10:00:00Z","endsAt":"2026-11-26T11:00:00Z","createdBy":"x","comment":"y"}"#[..], "matchers: at least one matcher is required"),
        (br#"{"matchers":[{"name":"a","value":"b"}],"startsAt":"2026-11-26T10:00:00Z","endsAt":"2026-11-26T11:00:00Z","createdBy":"x","comment":"y"}"#, "matchers[0].isRegex: is required"),
        (br#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"endsAt":"2026-11-26T11:00:00Z","createdBy":"x","comment":"y"}"#, "startsAt: is required"),
        (br#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-11-26T10:00:00Z","endsAt":"2026-11-26T11:00:00Z","comment":"y"}"#, "createdBy: is required"),
    ] {
        assert_eq!(parse_posted_silence(body).unwrap_err().to_string(), want);
    }
}

#[test]
fn alertmanager_webhook_payloads_parse() {
    // Alertmanager 0.25's webhook body (notify/webhook): a firing alert carries Go's zero endsAt.
    let body = br#"{"receiver":"headroom","status":"firing","alerts":[
        {"status":"firing","labels":{"alertname":"X","severity":"page"},"annotations":{},
         "startsAt":"2026-11-26T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
         "generatorURL":"","fingerprint":"b2a7e1a7c0d3f3a1"},
        {"status":"resolved","labels":{"alertname":"Y"},"annotations":{"a":"b"},
         "startsAt":"2026-11-26T09:00:00Z","endsAt":"2026-11-26T10:00:00Z",
         "generatorURL":"","fingerprint":"0000000000000001"}],
        "groupLabels":{"alertname":"X"},"commonLabels":{},"commonAnnotations":{},
        "externalURL":"http://am:9093","version":"4","groupKey":"{}:{alertname=\"X\"}",
        "truncatedAlerts":0}"#;
    let p = parse_webhook(body).unwrap();
    assert_eq!(p.group_key, "{}:{alertname=\"X\"}");
    assert!(!p.resolved);
    assert_eq!(p.alerts[0].ends_at, None, "Go's zero time is no end");
    assert!(!p.alerts[0].resolved);
    assert!(p.alerts[1].resolved);
    assert_eq!(
        p.alerts[1].ends_at.unwrap().to_rfc3339(),
        "2026-11-26T10:00:00+00:00"
    );
    assert_eq!(p.alerts[0].fingerprint, "b2a7e1a7c0d3f3a1");

    let v3 = br#"{"version":"3","groupKey":"k","status":"firing","alerts":[]}"#;
    assert!(
        parse_webhook(v3)
            .unwrap_err()
            .to_string()
            .starts_with("version: unsupported payload version \"3\"")
    );
    let bad = br#"{"version":"4","groupKey":"k","status":"firing","alerts":[{"status":"burning","labels":{}}]}"#;
    assert_eq!(
        parse_webhook(bad).unwrap_err().to_string(),
        "alerts[0].status: must be \"firing\" or \"resolved\""
    );
}

const KEY: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn pagerduty_events_parse() {
    let trigger = format!(
        r#"{{"routing_key":"{KEY}","event_action":"trigger","dedup_key":"disk-1",
        "payload":{{"summary":"Disk full","source":"db-1","severity":"critical",
        "timestamp":"2026-11-26T10:00:00Z","component":"postgres","custom_details":{{"free":"0%"}}}},
        "links":[{{"href":"https://runbook","text":"Runbook"}}],"client":"cron"}}"#
    );
    let e = parse_event(trigger.as_bytes()).unwrap();
    assert_eq!(e.action, EventAction::Trigger);
    assert_eq!(e.dedup_key.as_deref(), Some("disk-1"));
    let p = e.payload.unwrap();
    assert_eq!(
        (p.summary.as_str(), p.source.as_str()),
        ("Disk full", "db-1")
    );
    assert_eq!(p.severity, EventSeverity::Critical);
    assert_eq!(p.component.as_deref(), Some("postgres"));
    assert_eq!(p.custom_details.unwrap()["free"], "0%");
    assert_eq!(e.links["https://runbook"], "Runbook");

    let ack =
        format!(r#"{{"routing_key":"{KEY}","event_action":"acknowledge","dedup_key":"disk-1"}}"#);
    let e = parse_event(ack.as_bytes()).unwrap();
    assert_eq!(e.action, EventAction::Acknowledge);
    assert!(e.payload.is_none());
}

#[test]
fn invalid_pagerduty_events_list_every_error() {
    let e = parse_event(br#"{"routing_key":"short","event_action":"trigger","payload":{"summary":"","source":"x","severity":"fatal"}}"#).unwrap_err();
    assert_eq!(
        e,
        [
            "Length of 'routing_key' is incorrect (should be 32 characters)",
            "'payload.summary' is missing or blank",
            "'payload.severity' is invalid (\"fatal\"; must be one of critical, error, warning, info)",
        ]
    );
    let e =
        parse_event(format!(r#"{{"routing_key":"{KEY}","event_action":"resolve"}}"#).as_bytes())
            .unwrap_err();
    assert_eq!(
        e,
        ["'dedup_key' is required for acknowledge and resolve events"]
    );
    let e = parse_event(format!(r#"{{"routing_key":"{KEY}","event_action":"page"}}"#).as_bytes())
        .unwrap_err();
    assert_eq!(
        e,
        ["'event_action' is invalid (\"page\"; must be one of trigger, acknowledge, resolve)"]
    );
    let long = "x".repeat(256);
    let e = parse_event(
        format!(r#"{{"routing_key":"{KEY}","event_action":"resolve","dedup_key":"{long}"}}"#)
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(e, ["'dedup_key' is too long (at most 255 characters)"]);
}
