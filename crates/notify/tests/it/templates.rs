use headroom_notify::*;

use crate::common::*;

fn email() -> Email {
    serde_json::from_value(serde_json::json!({"to": "a@x", "from": "b@x", "smarthost": "h:25"}))
        .unwrap()
}

#[test]
fn default_email_carries_the_slo_context_and_links() {
    let c = email_content(&email(), &message(), &Templates::default()).unwrap();
    assert_eq!(c.subject, "[FIRING:2] HighErrorRate (page)");
    assert!(
        c.text
            .starts_with("[FIRING:2] HighErrorRate (page)\n\n[FIRING] High error rate"),
        "{}",
        c.text
    );
    for needle in [
        "[FIRING] High error rate on checkout",
        "SLO: checkout-availability (objective 99.9%)",
        "Budget remaining: 42%",
        "Burn rate: 14.4x",
        "Budget exhausted in: 2h 5m",
        "Runbook: https://runbooks.example.com/checkout",
        "Dashboard: https://grafana.example.com/d/checkout",
        "Labels: alertname=HighErrorRate, instance=api-2, severity=page",
        "Acknowledge: http://headroom.example.com/ack/abc",
        "Resolve: http://headroom.example.com/resolve/abc",
    ] {
        assert!(
            c.text.contains(needle),
            "text lacks {needle:?}:\n{}",
            c.text
        );
    }
    // Only the first alert has SLO context.
    assert_eq!(c.text.matches("SLO:").count(), 1);
    for needle in [
        // minijinja's HTML escaping also escapes `/`; browsers read it back as `/`.
        r#"<a href="http:&#x2f;&#x2f;headroom.example.com&#x2f;ack&#x2f;abc">Acknowledge</a>"#,
        "<tr><td>Burn rate</td><td>14.4x</td></tr>",
        "<tr><td>Budget exhausted in</td><td>2h 5m</td></tr>",
    ] {
        assert!(
            c.html.contains(needle),
            "html lacks {needle:?}:\n{}",
            c.html
        );
    }
}

#[test]
fn html_template_escapes_alert_data() {
    let mut m = message();
    m.alerts[0]
        .annotations
        .insert("description".into(), "<script>alert(1)</script>".into());
    let c = email_content(&email(), &m, &Templates::default()).unwrap();
    assert!(
        c.html
            .contains("<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</p>"),
        "{}",
        c.html
    );
    assert!(!c.html.contains("<script>"));
    // The text part is not HTML: left as is.
    assert!(c.text.contains("<script>alert(1)</script>"));
}

#[test]
fn budget_without_optional_values_renders_what_is_known() {
    let mut m = message();
    let slo = m.alerts[0].slo.as_mut().unwrap();
    slo.burn_rate = None;
    slo.time_to_exhaustion = None;
    slo.budget_remaining = Some(0.0);
    let c = email_content(&email(), &m, &Templates::default()).unwrap();
    assert!(c.text.contains("Budget remaining: 0%"), "{}", c.text);
    assert!(!c.text.contains("Burn rate"));
    assert!(!c.text.contains("exhausted"));
}

#[test]
fn overrides_replace_defaults_and_the_shared_subject() {
    let t = Templates::with_overrides([("subject", "{{ status }}: {{ groupLabels.alertname }}")])
        .unwrap();
    let m = message();
    assert_eq!(
        t.render("email.subject", &m).unwrap(),
        "firing: HighErrorRate"
    );
    assert_eq!(
        t.render("pagerduty.summary", &m).unwrap(),
        "firing: HighErrorRate"
    );
    let t = Templates::with_overrides([("email.subject", "only {{ receiver }}")]).unwrap();
    assert_eq!(t.render("email.subject", &m).unwrap(), "only ops");
    assert_eq!(
        t.render("slack.title", &m).unwrap(),
        "[FIRING:2] HighErrorRate (page)"
    );
    // An integration's own template wins over the named one.
    let mut e = email();
    e.subject = Some(
        "{{ alerts | firing | length }} firing, {{ alerts | resolved | length }} resolved".into(),
    );
    assert_eq!(
        email_content(&e, &m, &t).unwrap().subject,
        "2 firing, 0 resolved"
    );
}

#[test]
fn compile_errors_name_the_template_and_line() {
    let err = Templates::with_overrides([(
        "email.text",
        "line one\nline two\n{% if status %}\nunclosed",
    )])
    .unwrap_err();
    match &err {
        TemplateError::Compile { name, line, .. } => {
            assert_eq!(name, "email.text");
            assert_eq!(*line, 4);
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with("template email.text, line 4: "),
        "{err}"
    );

    let err = Templates::check("ops/slack.text", "ok\n{{ broken(").unwrap_err();
    assert!(
        matches!(&err, TemplateError::Compile { name, line: 2, .. } if name == "ops/slack.text"),
        "{err:?}"
    );
    assert_eq!(Templates::check("ops/slack.text", "{{ status }}"), Ok(()));
}

#[test]
fn rendering_errors_are_typed() {
    let t = Templates::with_overrides([("email.subject", "ok\n{{ status | no_such_filter }}")])
        .unwrap();
    match t.render("email.subject", &message()).unwrap_err() {
        TemplateError::Render {
            name, line, kind, ..
        } => {
            assert_eq!(name, "email.subject");
            assert_eq!(line, Some(2));
            assert_eq!(kind, RenderErrorKind::UnknownFilter);
        }
        other => panic!("expected a render error, got {other:?}"),
    }
    let t = Templates::default();
    let err = t.render("no.such.template", &message()).unwrap_err();
    assert!(
        matches!(
            err,
            TemplateError::Render {
                kind: RenderErrorKind::UnknownTemplate,
                ..
            }
        ),
        "{err:?}"
    );
    let mut e = email();
    e.subject = Some("{{ 1 + receiver }}".into());
    let err = email_content(&e, &message(), &t).unwrap_err();
    assert!(
        matches!(&err, TemplateError::Render { name, kind: RenderErrorKind::InvalidOperation, .. } if name == "ops/email.subject"),
        "{err:?}"
    );
}

#[test]
fn default_subject_matches_alertmanagers_layout() {
    let t = Templates::default();
    let mut m = message();
    m.alerts.truncate(1);
    let m = Message::new(
        m.receiver,
        m.group_key,
        m.group_labels,
        m.alerts,
        m.external_url,
    );
    // One alert: every label is common, and those not grouped on follow in parentheses.
    assert_eq!(
        t.render("subject", &m).unwrap(),
        "[FIRING:1] HighErrorRate (api-1 page)"
    );
    let m = Message::new("ops", "k", m.common_labels.clone(), m.alerts.clone(), "");
    assert_eq!(
        t.render("subject", &m).unwrap(),
        "[FIRING:1] HighErrorRate api-1 page"
    );
}

#[test]
fn receiver_templates_are_checked_at_load_with_their_names() {
    let receiver: Receiver = serde_json::from_value(serde_json::json!({
        "name": "ops",
        "slack_configs": [{"api_url": "http://s", "title": "{{ status }}"}],
        "email_configs": [{"to": "a@x", "from": "b@x", "smarthost": "h:25", "html": "<p>\n{% for a in alerts %}\n</p>"}]
    }))
    .unwrap();
    let err = Templates::check_receiver(&receiver).unwrap_err();
    assert!(
        matches!(&err, TemplateError::Compile { name, line: 3, .. } if name == "ops/email.html"),
        "{err:?}"
    );
    let mut fixed = receiver.clone();
    fixed.integrations.truncate(1);
    assert_eq!(Templates::check_receiver(&fixed), Ok(()));
}

#[test]
fn templates_and_messages_can_be_shared_across_tasks() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<Templates>();
    shared::<Message>();
    shared::<Receiver>();
}
