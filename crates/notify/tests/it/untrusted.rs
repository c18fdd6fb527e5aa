//! Every body with labels and annotations that try to turn it against its reader: markup,
//! template syntax, CR/LF and 100 KB values. HTML escapes them everywhere, mrkdwn escapes
//! Slack's three characters, text keeps them as they are, JSON holds them exactly, no value
//! is evaluated as a template, and long values are kept whole except PagerDuty's summary.
//! (Email through a real SMTP server: `email.rs`.)

use headroom_notify::*;
use serde_json::{Value, json};

use crate::common::*;

/// Slack's forms: only `&`, `<` and `>`.
const SCRIPT_SLACK: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
const IMG_SLACK: &str = "\"&gt;&lt;img src=x onerror=alert(1)&gt;";
const MENTION_SLACK: &str = "&lt;!channel&gt; &amp; &lt;@U024BE7LH&gt;";

fn email() -> Email {
    serde_json::from_value(
        json!({"to": "a@example.com", "from": "b@example.com", "smarthost": "h:25"}),
    )
    .unwrap()
}

/// Nothing in `html` is markup that came from a value, and every value is there, escaped.
fn assert_html_holds_values_as_text(html: &str) {
    for raw in [
        "<script",
        "<img",
        "<b>",
        "<!channel>",
        "<@U024BE7LH>",
        "href=\"javascript",
    ] {
        assert!(!html.contains(raw), "{raw:?} unescaped in {}", cut(html));
    }
    for escaped in [SCRIPT_HTML, IMG_HTML, MENTION_HTML, EXPRESSION, RAW_TAG] {
        assert!(
            html.contains(escaped),
            "{escaped:?} missing from {}",
            cut(html)
        );
    }
    assert!(!html.contains("49"), "a value was evaluated: {}", cut(html));
    assert!(html.contains(&long_value()), "the long value is kept whole");
}

/// The first and last characters of a long body, for failure messages.
fn cut(s: &str) -> String {
    if s.len() < 4000 {
        return s.to_string();
    }
    let head: String = s.chars().take(2000).collect();
    let tail: String = s
        .chars()
        .rev()
        .take(2000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}\n[…]\n{tail}")
}

#[test]
fn default_html_email_escapes_every_value_also_in_the_included_subject() {
    let c = email_content(&email(), &hostile_message(), &Templates::default()).unwrap();
    assert_html_holds_values_as_text(&c.html);
    // The `<h2>` shows the subject template, included from the HTML one.
    let h2 = c.html.lines().find(|l| l.starts_with("<h2")).unwrap();
    assert!(
        h2.contains(&format!("[FIRING:2] {SCRIPT_HTML} ")),
        "{}",
        cut(h2)
    );
    // URLs that are not http(s) are shown, never linked.
    assert!(
        c.html
            .contains("<td>Runbook</td><td>javascript:alert(3)</td>")
    );
    assert!(c.html.contains(
        r#"<a href="https:&#x2f;&#x2f;grafana.example.com&#x2f;d&#x2f;x?a=1&amp;b=&quot;&gt;&lt;script&gt;">"#
    ));
    assert!(
        !c.html.contains(">Resolve</a>"),
        "a javascript: action is not linked"
    );
    assert!(c.html.contains(
        r#"<a href="http:&#x2f;&#x2f;headroom.example.com&#x2f;ack&#x2f;abc">Acknowledge</a>"#
    ));
}

#[test]
fn user_templates_and_their_partials_are_escaped_in_html_whatever_their_names() {
    // As the config's `templates` gives them: an override of `email.html` including a partial
    // whose name says nothing about HTML, and the shared subject.
    let templates = Templates::with_overrides([
        (
            "email.html",
            r#"<div>{% include "footer" %}|{% include "subject" %}|{{ commonAnnotations.description }}</div>"#,
        ),
        ("footer", "<p>{{ commonLabels.alertname }} {{ commonLabels.long }}</p>"),
        ("subject", "{{ commonLabels.instance }} {{ commonLabels.mention }} {{ commonLabels.expr }} {{ commonLabels.raw }}"),
    ])
    .unwrap();
    let c = email_content(&email(), &hostile_message(), &templates).unwrap();
    assert_html_holds_values_as_text(&c.html);
    assert!(
        c.html.starts_with(&format!("<div><p>{SCRIPT_HTML} long-")),
        "{}",
        cut(&c.html)
    );
    // The same partials in the text part print the values as they are.
    assert_eq!(c.subject, format!("{IMG} {MENTION} {EXPRESSION} {RAW_TAG}"));

    // An integration's own `html` source, including a user partial, alike.
    let mut e = email();
    e.html = Some(r#"<i>{% include "footer" %}</i>{{ commonLabels.instance }}{{ commonLabels.mention }}{{ commonLabels.expr }}{{ commonLabels.raw }}"#.into());
    let html = email_content(&e, &hostile_message(), &templates)
        .unwrap()
        .html;
    assert_html_holds_values_as_text(&html);
    assert!(
        html.starts_with(&format!("<i><p>{SCRIPT_HTML}")),
        "{}",
        cut(&html)
    );
}

#[test]
fn email_text_and_subject_keep_values_as_they_are_and_evaluate_none() {
    let c = email_content(&email(), &hostile_message(), &Templates::default()).unwrap();
    assert!(c.subject == hostile_subject(), "{}", cut(&c.subject));
    for value in [SCRIPT, IMG, EXPRESSION, RAW_TAG, HEADER_SPLIT, MENTION] {
        assert!(
            c.text.contains(value),
            "{value:?} missing from the text part"
        );
    }
    assert!(c.text.contains(&format!(
        "Labels: alertname={SCRIPT}, crlf={HEADER_SPLIT}, expr={EXPRESSION}"
    )));
    assert!(c.text.contains(&long_value()));
    assert!(!c.text.contains("49") && !c.subject.contains("49"));
}

#[test]
fn a_line_break_in_the_subject_cannot_add_a_header() {
    let c = email_content(&email(), &hostile_message(), &Templates::default()).unwrap();
    let message = email_message(&email(), &c, at(12, 0, 0), "k@example.com").unwrap();
    let data = String::from_utf8(message.formatted()).unwrap();
    let head = data.split("\r\n\r\n").next().unwrap();
    let names: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "From",
            "Subject",
            "Date",
            "Message-ID",
            "To",
            "MIME-Version",
            "Content-Type"
        ]
    );
    assert!(head.split("\r\n").all(|l| l.len() <= 78));
    let to: Vec<String> = message
        .envelope()
        .to()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(to, ["a@example.com"]);
}

#[test]
fn slack_escapes_its_control_characters_in_values_and_keeps_its_links() {
    let slack = Slack {
        url: "http://slack".into(),
        channel: Some("#ops".into()),
        username: None,
        title: None,
        text: None,
        send_resolved: true,
    };
    let body = slack_body(&slack, &hostile_message(), &Templates::default()).unwrap();
    // A line break in a value stays inside its JSON string: no field is split or added.
    let wire = body.to_string();
    assert!(!wire.contains(['\r', '\n']));
    assert_eq!(serde_json::from_str::<Value>(&wire).unwrap(), body);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&body), ["attachments", "channel"]);
    let a = &body["attachments"][0];
    assert_eq!(
        keys(a),
        [
            "actions",
            "color",
            "fallback",
            "mrkdwn_in",
            "text",
            "title",
            "title_link"
        ]
    );
    let title = a["title"].as_str().unwrap();
    let want = format!(
        "[FIRING:2] {SCRIPT_SLACK} {HEADER_SPLIT} ({EXPRESSION} {IMG_SLACK} {} {MENTION_SLACK} {RAW_TAG})",
        long_value()
    );
    assert!(title == want, "{}", cut(title));
    assert!(a["fallback"] == format!("{title} | http://headroom.example.com"));
    let text = a["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("*FIRING* {IMG_SLACK}")),
        "{}",
        cut(text)
    );
    assert!(text.contains(&format!(
        "{SCRIPT_SLACK} {EXPRESSION} {RAW_TAG} {HEADER_SPLIT} {MENTION_SLACK}"
    )));
    assert!(
        text.contains("SLO `checkout&lt;b&gt;bold&lt;/b&gt;`"),
        "{}",
        cut(text)
    );
    for field in [title, text] {
        for raw in ["<script", "<img", "<!channel>", "<@U0", "<b>"] {
            assert!(!field.contains(raw), "{raw:?} unescaped in {}", cut(field));
        }
        assert!(!field.contains("49"));
    }
    // The template's own links stay links; a value inside one cannot end it early.
    assert!(text.contains("<http://headroom.example.com/ack/abc|Acknowledge>"));
    assert!(
        text.contains("<https://grafana.example.com/d/x?a=1&amp;b=\"&gt;&lt;script&gt;|Dashboard>")
    );
    assert!(
        !text.contains("javascript:"),
        "only http(s) URLs become links"
    );
}

#[test]
fn slack_user_templates_and_partials_are_escaped_too() {
    let templates = Templates::with_overrides([
        (
            "slack.text",
            r#"{% include "part" %} <https://example.com|ok>"#,
        ),
        (
            "part",
            "{{ commonLabels.alertname }} {{ commonLabels.mention }}",
        ),
    ])
    .unwrap();
    let slack = Slack {
        url: "http://slack".into(),
        channel: None,
        username: None,
        title: Some("{{ commonLabels.instance }} {{ commonLabels.expr }}".into()),
        text: None,
        send_resolved: true,
    };
    let body = slack_body(&slack, &hostile_message(), &templates).unwrap();
    let a = &body["attachments"][0];
    assert_eq!(
        a["text"],
        format!("{SCRIPT_SLACK} {MENTION_SLACK} <https://example.com|ok>")
    );
    assert_eq!(a["title"], format!("{IMG_SLACK} {EXPRESSION}"));
}

#[test]
fn pagerduty_holds_values_exactly_and_cuts_only_the_summary() {
    let mut pd = PagerDuty {
        routing_key: "R0UT1NG".into(),
        url: PAGERDUTY_EVENTS_URL.into(),
        severity: "critical".into(),
        send_resolved: true,
        event: Default::default(),
    };
    pd.event.class = Some("{{ commonLabels.crlf }}".into());
    pd.event.details = [(
        "description".to_string(),
        "{{ commonAnnotations.description }}".to_string(),
    )]
    .into();
    let body = pagerduty_body(&pd, &hostile_message(), &Templates::default()).unwrap();
    let wire = body.to_string();
    assert!(!wire.contains(['\r', '\n']));
    assert_eq!(serde_json::from_str::<Value>(&wire).unwrap(), body);

    // PagerDuty's API takes at most 1024 characters of summary: cut, and marked.
    let summary = body["payload"]["summary"].as_str().unwrap();
    let want: String = hostile_subject().chars().take(1023).chain(['…']).collect();
    assert_eq!(summary, want);
    assert_eq!(summary.chars().count(), 1024);

    assert_eq!(body["payload"]["class"], HEADER_SPLIT);
    let details = &body["payload"]["custom_details"];
    assert_eq!(
        details["description"],
        format!("{SCRIPT} {EXPRESSION} {RAW_TAG} {HEADER_SPLIT} {MENTION}")
    );
    let firing = details["firing"].as_str().unwrap();
    for pair in [
        format!("alertname={SCRIPT}"),
        format!("crlf={HEADER_SPLIT}"),
        format!("expr={EXPRESSION}"),
        format!("long={}", long_value()),
        format!("raw={RAW_TAG}"),
    ] {
        assert!(
            firing.contains(&pair),
            "{:?} missing",
            &pair[..pair.len().min(40)]
        );
    }
    assert_eq!(details["slo"], "checkout<b>bold</b>");
    assert!(!summary.contains("49") && !firing.contains("49"));
    // Only a web URL is offered as a link.
    assert_eq!(
        body["links"],
        json!([{"href": r#"https://grafana.example.com/d/x?a=1&b="><script>"#, "text": "Dashboard"}])
    );
}

#[test]
fn webhook_json_holds_every_value_exactly_on_one_line() {
    let m = hostile_message();
    let body = webhook_body(&m, 0);
    // One line: a CR/LF in a value is `\r\n` inside its string; markup is `\u003c…` as Go
    // writes it.
    let line = body.strip_suffix('\n').unwrap();
    assert!(!line.contains(['\r', '\n', '<', '>', '&']));
    assert!(line.contains(EXPRESSION) && line.contains(RAW_TAG));
    let v: Value = serde_json::from_str(&body).unwrap();
    for (i, alert) in m.alerts.iter().enumerate() {
        let labels: Labels = serde_json::from_value(v["alerts"][i]["labels"].clone()).unwrap();
        assert!(labels == alert.labels, "labels of alert {i} changed");
        let annotations: Labels =
            serde_json::from_value(v["alerts"][i]["annotations"].clone()).unwrap();
        assert!(
            annotations == alert.annotations,
            "annotations of alert {i} changed"
        );
        assert_eq!(v["alerts"][i]["generatorURL"], "javascript:alert(2)");
    }
    assert_eq!(
        v["alerts"][0]["labels"]["long"].as_str().unwrap().len(),
        long_value().len()
    );
    assert_eq!(v["groupLabels"]["crlf"], HEADER_SPLIT);
}
