use headroom_notify::*;
use serde_json::{Value, json};

use crate::common::*;

/// What Alertmanager 0.25+ posts for this group: `template.Data` fields first (Go encodes the
/// embedded struct's fields in place), then version, groupKey, truncatedAlerts; `&` escaped as
/// Go's encoder does; RFC 3339 with nanoseconds; zero time for a firing alert's endsAt.
const ALERTMANAGER_V4: &str = concat!(
    r#"{"receiver":"ops","status":"firing","alerts":["#,
    r#"{"status":"firing","labels":{"alertname":"HighErrorRate","instance":"api-1","severity":"page"},"#,
    r#""annotations":{"summary":"High error rate on checkout"},"startsAt":"2024-03-01T12:00:05.123456789Z","#,
    r#""endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=rate%28x%5B5m%5D%29\u0026g0.tab=1","#,
    r#""fingerprint":"1ab2c3d4e5f60718"},"#,
    r#"{"status":"firing","labels":{"alertname":"HighErrorRate","instance":"api-2","severity":"page"},"#,
    r#""annotations":{"summary":"High error rate on checkout"},"startsAt":"2024-03-01T12:00:05.123456789Z","#,
    r#""endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=rate%28x%5B5m%5D%29\u0026g0.tab=1","#,
    r#""fingerprint":"00000000000000ff"}],"#,
    r#""groupLabels":{"alertname":"HighErrorRate"},"#,
    r#""commonLabels":{"alertname":"HighErrorRate","severity":"page"},"#,
    r#""commonAnnotations":{"summary":"High error rate on checkout"},"#,
    r#""externalURL":"http://headroom.example.com","version":"4","#,
    r#""groupKey":"{}:{alertname=\"HighErrorRate\"}","truncatedAlerts":0}"#,
    "\n"
);

#[test]
fn webhook_body_is_alertmanagers_v4_payload() {
    let body = webhook_body(&message(), 0);
    let got: Value = serde_json::from_str(&body).unwrap();
    let want: Value = serde_json::from_str(ALERTMANAGER_V4).unwrap();
    // Field by field first, so a difference names the field.
    let (got_map, want_map) = (got.as_object().unwrap(), want.as_object().unwrap());
    assert_eq!(got_map.keys().collect::<Vec<_>>().len(), 10);
    for (key, value) in want_map {
        assert_eq!(got_map.get(key), Some(value), "field {key}");
    }
    assert_eq!(got_map.len(), want_map.len());
    assert_eq!(got["alerts"][0]["fingerprint"], "1ab2c3d4e5f60718");
    assert_eq!(got["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    // Then byte for byte: order, escaping, trailing newline.
    assert_eq!(body, ALERTMANAGER_V4);
    // headroom's extras stay out of the v4 payload.
    assert!(!body.contains("checkout-availability"));
    assert!(!body.contains("ack/abc"));
}

#[test]
fn resolved_alerts_carry_their_end_and_resolved_status() {
    let mut m = message();
    for a in &mut m.alerts {
        a.status = Status::Resolved;
        a.ends_at = Some(at(12, 30, 0));
    }
    let m = Message::new(
        m.receiver,
        m.group_key,
        m.group_labels,
        m.alerts,
        m.external_url,
    );
    let v: Value = serde_json::from_str(&webhook_body(&m, 0)).unwrap();
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["alerts"][1]["status"], "resolved");
    assert_eq!(v["alerts"][1]["endsAt"], "2024-03-01T12:30:00Z");
}

#[test]
fn max_alerts_keeps_the_first_and_counts_the_rest() {
    let mut m = message();
    m.alerts.push(alert("api-3", Status::Resolved, 3));
    m.alerts.push(alert("api-4", Status::Firing, 4));
    let v: Value = serde_json::from_str(&webhook_body(&m, 3)).unwrap();
    let instances: Vec<_> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["instance"].clone())
        .collect();
    assert_eq!(instances, [json!("api-1"), json!("api-2"), json!("api-3")]);
    assert_eq!(v["truncatedAlerts"], 1);
    // 0 and a limit at or above the count keep everything.
    for max in [0, 4, 10] {
        let v: Value = serde_json::from_str(&webhook_body(&m, max)).unwrap();
        assert_eq!(v["alerts"].as_array().unwrap().len(), 4, "max_alerts {max}");
        assert_eq!(v["truncatedAlerts"], 0);
    }
    let v: Value = serde_json::from_str(&webhook_body(&m, 1)).unwrap();
    assert_eq!(v["truncatedAlerts"], 3);
    // Common labels are those of the alerts kept: one alert has all its labels in common.
    assert_eq!(v["commonLabels"]["instance"], "api-1");
}

#[test]
fn html_characters_are_escaped_like_go() {
    let mut m = message();
    m.alerts.truncate(1);
    m.alerts[0]
        .annotations
        .insert("description".into(), "p99 > 300ms & <rising>".into());
    let body = webhook_body(&m, 0);
    assert!(
        body.contains(r#""description":"p99 \u003e 300ms \u0026 \u003crising\u003e""#),
        "{body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["alerts"][0]["annotations"]["description"],
        "p99 > 300ms & <rising>"
    );
}

#[test]
fn message_derives_status_and_common_labels() {
    let m = Message::new(
        "ops",
        "k",
        Labels::new(),
        vec![
            alert("a", Status::Resolved, 1),
            alert("b", Status::Firing, 2),
        ],
        "",
    );
    assert_eq!(m.status, Status::Firing);
    assert_eq!(
        m.common_labels,
        labels(&[("alertname", "HighErrorRate"), ("severity", "page")])
    );
    let resolved_only = m.without_resolved().unwrap();
    assert_eq!(resolved_only.alerts.len(), 1);
    assert_eq!(resolved_only.alerts[0].labels["instance"], "b");
    assert_eq!(resolved_only.common_labels["instance"], "b");
    let m = Message::new(
        "ops",
        "k",
        Labels::new(),
        vec![alert("a", Status::Resolved, 1)],
        "",
    );
    assert_eq!(m.status, Status::Resolved);
    assert_eq!(m.without_resolved(), None);
}

#[test]
fn message_round_trips_through_its_json_form() {
    let m = message();
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["commonLabels"]["severity"], "page");
    assert_eq!(v["alerts"][0]["slo"]["budgetRemaining"], 0.42);
    assert_eq!(
        v["alerts"][0]["slo"]["runbookURL"],
        "https://runbooks.example.com/checkout"
    );
    assert_eq!(
        v["actions"]["acknowledgeURL"],
        "http://headroom.example.com/ack/abc"
    );
    assert_eq!(v["alerts"][1]["slo"], Value::Null);
    let back: Message = serde_json::from_value(v).unwrap();
    assert_eq!(back, m);
}

fn slack() -> Slack {
    Slack {
        url: "http://slack".into(),
        channel: Some("#ops".into()),
        username: Some("headroom".into()),
        title: None,
        text: None,
        send_resolved: true,
    }
}

#[test]
fn slack_body_has_title_color_text_and_action_buttons() {
    let body = slack_body(&slack(), &message(), &Templates::default()).unwrap();
    assert_eq!(body["channel"], "#ops");
    assert_eq!(body["username"], "headroom");
    let a = &body["attachments"][0];
    assert_eq!(a["title"], "[FIRING:2] HighErrorRate (page)");
    assert_eq!(a["title_link"], "http://headroom.example.com");
    assert_eq!(a["color"], "danger");
    assert_eq!(
        a["fallback"],
        "[FIRING:2] HighErrorRate (page) | http://headroom.example.com"
    );
    let text = a["text"].as_str().unwrap();
    assert!(
        text.contains("*FIRING* High error rate on checkout"),
        "{text}"
    );
    assert!(text.contains("SLO `checkout-availability` (99.9%): budget remaining 42%, burn rate 14.4x, exhausted in 2h 5m"), "{text}");
    assert!(
        text.contains("<https://runbooks.example.com/checkout|Runbook>"),
        "{text}"
    );
    assert!(
        text.contains("<http://headroom.example.com/ack/abc|Acknowledge>"),
        "{text}"
    );
    assert_eq!(
        a["actions"][0],
        json!({"type": "button", "text": "Acknowledge", "url": "http://headroom.example.com/ack/abc", "style": "primary"})
    );
    assert_eq!(
        a["actions"][1]["url"],
        "http://headroom.example.com/resolve/abc"
    );

    let mut resolved = message();
    for a in &mut resolved.alerts {
        a.status = Status::Resolved;
    }
    resolved.status = Status::Resolved;
    resolved.actions = None;
    let body = slack_body(&slack(), &resolved, &Templates::default()).unwrap();
    assert_eq!(body["attachments"][0]["color"], "good");
    assert_eq!(
        body["attachments"][0]["title"],
        "[RESOLVED] HighErrorRate (page)"
    );
    assert!(body["attachments"][0].get("actions").is_none());
}

#[test]
fn slack_integration_templates_override_the_defaults() {
    let mut s = slack();
    s.title = Some("{{ alerts | length }} alerts for {{ commonLabels.severity }}".into());
    s.text = Some("{% for a in alerts %}{{ a.labels.instance }};{% endfor %}".into());
    let body = slack_body(&s, &message(), &Templates::default()).unwrap();
    assert_eq!(body["attachments"][0]["title"], "2 alerts for page");
    assert_eq!(body["attachments"][0]["text"], "api-1;api-2;");
}

fn pagerduty() -> PagerDuty {
    PagerDuty {
        routing_key: "R0UT1NG".into(),
        url: PAGERDUTY_EVENTS_URL.into(),
        severity: "critical".into(),
        send_resolved: true,
        event: Default::default(),
    }
}

#[test]
fn pagerduty_event_fields_are_templates_over_the_defaults() {
    let mut pd = pagerduty();
    pd.event = PagerDutyEvent {
        client: Some("shop-{{ receiver }}".into()),
        client_url: Some("https://grafana.example.com/d/{{ commonLabels.alertname }}".into()),
        class: Some("{{ commonLabels.alertname }}".into()),
        component: Some("{{ commonLabels.severity }}".into()),
        group: Some("prod".into()),
        details: [
            (
                "owner".to_string(),
                "team {{ commonLabels.severity }}".to_string(),
            ),
            (
                "num_firing".to_string(),
                "{{ alerts | firing | length }} now".to_string(),
            ),
        ]
        .into(),
    };
    let m = message();
    let body = pagerduty_body(&pd, &m, &Templates::default()).unwrap();
    assert_eq!(body["client"], "shop-ops");
    assert_eq!(
        body["client_url"],
        "https://grafana.example.com/d/HighErrorRate"
    );
    assert_eq!(body["payload"]["class"], "HighErrorRate");
    assert_eq!(body["payload"]["component"], "page");
    assert_eq!(body["payload"]["group"], "prod");
    let details = &body["payload"]["custom_details"];
    assert_eq!(details["owner"], "team page");
    // A configured detail replaces the default of the same name; the others stay.
    assert_eq!(details["num_firing"], "2 now");
    assert_eq!(details["num_resolved"], "0");

    // A template that fails to render fails the notification, naming the field.
    pd.event.group = Some("{{ status | no_such_filter }}".into());
    let err = pagerduty_body(&pd, &m, &Templates::default()).unwrap_err();
    assert!(err.to_string().contains("pagerduty.group"), "{err}");
}

#[test]
fn pagerduty_dedup_key_is_sha256_of_the_group_key() {
    assert_eq!(
        dedup_key(GROUP_KEY),
        "cbc7a356b874c7d0332c73753d5082204bea3c18a5cb2a9a50e75f6687ffb86b"
    );
}

#[test]
fn pagerduty_trigger_then_resolve_share_the_dedup_key() {
    let body = pagerduty_body(&pagerduty(), &message(), &Templates::default()).unwrap();
    assert_eq!(body["routing_key"], "R0UT1NG");
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(
        body["dedup_key"],
        "cbc7a356b874c7d0332c73753d5082204bea3c18a5cb2a9a50e75f6687ffb86b"
    );
    assert_eq!(
        body["payload"]["summary"],
        "[FIRING:2] HighErrorRate (page)"
    );
    assert_eq!(body["payload"]["severity"], "critical");
    assert_eq!(body["payload"]["source"], "headroom");
    let details = &body["payload"]["custom_details"];
    assert_eq!(details["num_firing"], "2");
    assert_eq!(details["num_resolved"], "0");
    assert_eq!(details["slo"], "checkout-availability");
    assert_eq!(details["burn_rate"], "14.4");
    assert_eq!(details["budget_remaining"], "0.42");
    assert_eq!(details["time_to_exhaustion_seconds"], "7500");
    assert!(
        details["firing"]
            .as_str()
            .unwrap()
            .contains("instance=api-2")
    );
    assert_eq!(
        body["links"],
        json!([
            {"href": "https://runbooks.example.com/checkout", "text": "Runbook"},
            {"href": "https://grafana.example.com/d/checkout", "text": "Dashboard"},
        ])
    );
    assert_eq!(body["client_url"], "http://headroom.example.com");

    let mut resolved = message();
    for a in &mut resolved.alerts {
        a.status = Status::Resolved;
    }
    let resolved = Message::new(
        resolved.receiver,
        resolved.group_key,
        resolved.group_labels,
        resolved.alerts,
        resolved.external_url,
    );
    let body2 = pagerduty_body(&pagerduty(), &resolved, &Templates::default()).unwrap();
    assert_eq!(body2["event_action"], "resolve");
    assert_eq!(body2["dedup_key"], body["dedup_key"]);
    assert_eq!(body2["payload"]["custom_details"]["num_resolved"], "2");
}

#[test]
fn pagerduty_summary_is_cut_to_1024_characters() {
    let t = Templates::with_overrides([("pagerduty.summary", "{{ 'x' * 2000 }}")]).unwrap();
    let body = pagerduty_body(&pagerduty(), &message(), &t).unwrap();
    let summary = body["payload"]["summary"].as_str().unwrap();
    assert_eq!(summary.chars().count(), 1024);
    assert!(summary.ends_with("x…"));
}

fn email() -> Email {
    Email {
        to: "oncall@example.com, lead@example.com".into(),
        from: "Headroom <alerts@example.com>".into(),
        smarthost: "127.0.0.1:25".parse().unwrap(),
        auth_username: None,
        auth_password: None,
        require_tls: true,
        hello: "localhost".into(),
        subject: None,
        text: None,
        html: None,
        send_resolved: false,
    }
}

#[test]
fn email_message_is_multipart_with_encoded_headers() {
    let content = EmailContent {
        subject: "Budget für checkout".into(),
        text: "plain\n".into(),
        html: "<p>x</p>".into(),
    };
    let message = email_message(&email(), &content, at(12, 0, 0), "key-1@example.com").unwrap();
    let data = String::from_utf8(message.formatted()).unwrap();
    assert!(
        data.contains("From: Headroom <alerts@example.com>\r\n"),
        "{data}"
    );
    assert!(
        data.contains("To: oncall@example.com, lead@example.com\r\n"),
        "{data}"
    );
    assert!(
        data.contains("Subject: Budget =?utf-8?b?ZsO8cg==?= checkout\r\n"),
        "{data}"
    );
    assert!(
        data.contains("Date: Fri, 01 Mar 2024 12:00:00 +0000\r\n"),
        "{data}"
    );
    assert!(
        data.contains("Message-ID: <key-1@example.com>\r\n"),
        "{data}"
    );
    assert!(
        data.contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{data}"
    );
    assert!(
        data.contains("Content-Type: text/html; charset=utf-8\r\n"),
        "{data}"
    );
    assert!(data.contains("\r\n\r\nplain\r\n"), "{data}");
    assert!(data.contains("\r\n\r\n<p>x</p>\r\n"), "{data}");
    assert!(data.is_ascii());
    for line in data.split("\r\n") {
        assert!(line.len() <= 78, "{line}");
    }
    let envelope = message.envelope();
    assert_eq!(envelope.from().unwrap().to_string(), "alerts@example.com");
    let to: Vec<String> = envelope.to().iter().map(|a| a.to_string()).collect();
    assert_eq!(to, ["oncall@example.com", "lead@example.com"]);
    // The same content gives the same bytes: the boundary is derived, not random.
    let again = email_message(&email(), &content, at(12, 0, 0), "key-1@example.com").unwrap();
    assert_eq!(again.formatted(), message.formatted());
}

#[test]
fn a_bad_address_is_refused_naming_the_field() {
    let content = EmailContent {
        subject: "s".into(),
        text: "t".into(),
        html: "h".into(),
    };
    let mut e = email();
    e.to = "oncall@example.com, not an address".into();
    let err = email_message(&e, &content, at(12, 0, 0), "k@x").unwrap_err();
    assert_eq!(err.field, "to");
    assert_eq!(err.value, "not an address");
    assert!(
        err.to_string()
            .starts_with(r#"email to "not an address" is not an address: "#),
        "{err}"
    );
    let mut e = email();
    e.from = "Headroom <alerts>".into();
    let err = email_message(&e, &content, at(12, 0, 0), "k@x").unwrap_err();
    assert_eq!(err.field, "from");
    let mut e = email();
    e.to = " , ".into();
    let err = email_message(&e, &content, at(12, 0, 0), "k@x").unwrap_err();
    assert_eq!((err.field, err.reason.as_str()), ("to", "no recipient"));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    use headroom_notify::{Email, HttpAuth, Integration, PagerDuty, Slack, Webhook};
    let all = [
        Integration::Webhook(Webhook {
            url: "https://hooks.example.com/a".into(),
            send_resolved: true,
            max_alerts: 0,
            tls: None,
            auth: Some(HttpAuth::Credentials {
                scheme: "Bearer".into(),
                credentials: "tok-SECRET-1".into(),
            }),
        }),
        Integration::Webhook(Webhook {
            url: "https://hooks.example.com/b".into(),
            send_resolved: true,
            max_alerts: 0,
            tls: None,
            auth: Some(HttpAuth::Basic {
                username: "hook-user".into(),
                password: "pw-SECRET-5".into(),
            }),
        }),
        Integration::Slack(Slack {
            url: "https://hooks.slack.com/services/SECRET-2".into(),
            channel: None,
            username: None,
            title: None,
            text: None,
            send_resolved: false,
        }),
        Integration::Email(Email {
            to: "a@example.com".into(),
            from: "b@example.com".into(),
            smarthost: "mail.example.com:587".parse().unwrap(),
            auth_username: Some("b".into()),
            auth_password: Some("pw-SECRET-3".into()),
            require_tls: true,
            hello: "localhost".into(),
            subject: None,
            text: None,
            html: None,
            send_resolved: false,
        }),
        Integration::PagerDuty(PagerDuty {
            routing_key: "key-SECRET-4".into(),
            url: "https://events.pagerduty.com/v2/enqueue".into(),
            severity: "error".into(),
            send_resolved: true,
            event: Default::default(),
        }),
    ];
    let shown = format!("{all:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert_eq!(shown.matches("<hidden>").count(), 5, "{shown}");
    assert!(
        shown.contains("hooks.example.com/a") && shown.contains("hook-user"),
        "non-secrets still shown"
    );
}
