//! Request bodies for each integration, built without IO.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{Email, PagerDuty, Slack};
use crate::message::{Alert, Labels, Message, Status, go_time_string};
use crate::template::{TemplateError, Templates, names};

/// Alertmanager's webhook payload, version 4, in Go's field order: the embedded
/// `template.Data` first, then `version`, `groupKey`, `truncatedAlerts`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookPayload<'a> {
    receiver: &'a str,
    status: Status,
    alerts: Vec<WebhookAlert<'a>>,
    group_labels: &'a Labels,
    common_labels: &'a Labels,
    common_annotations: &'a Labels,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    version: &'static str,
    group_key: &'a str,
    truncated_alerts: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookAlert<'a> {
    status: Status,
    labels: &'a Labels,
    annotations: &'a Labels,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    fingerprint: String,
}

impl<'a> From<&'a Alert> for WebhookAlert<'a> {
    fn from(a: &'a Alert) -> Self {
        WebhookAlert {
            status: a.status,
            labels: &a.labels,
            annotations: &a.annotations,
            starts_at: go_time_string(Some(a.starts_at)),
            ends_at: go_time_string(a.ends_at),
            generator_url: &a.generator_url,
            fingerprint: a.fingerprint.to_string(),
        }
    }
}

/// The webhook body, byte for byte as Alertmanager's `json.Encoder` writes it (HTML characters
/// escaped, newline at the end), keeping the first `max_alerts` alerts (0 keeps all).
/// headroom's SLO context and actions are not in it: consumers get exactly Alertmanager's v4.
pub fn webhook_body(message: &Message, max_alerts: u64) -> String {
    let m = message.truncated(max_alerts);
    let payload = WebhookPayload {
        receiver: &m.receiver,
        status: m.status,
        alerts: m.alerts.iter().map(WebhookAlert::from).collect(),
        group_labels: &m.group_labels,
        common_labels: &m.common_labels,
        common_annotations: &m.common_annotations,
        external_url: &m.external_url,
        version: "4",
        group_key: &m.group_key,
        truncated_alerts: m.truncated_alerts,
    };
    let mut out = go_json(&serde_json::to_string(&payload).expect("payload serializes"));
    out.push('\n');
    out
}

/// Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029; these only occur inside strings.
fn go_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Slack's (and Mattermost's) incoming-webhook body: one attachment coloured by status
/// (`danger` firing, `good` resolved, as Alertmanager's defaults), title linking to the
/// external URL, and Acknowledge/Resolve buttons when the message has action links.
pub fn slack_body(
    slack: &Slack,
    message: &Message,
    templates: &Templates,
) -> Result<Value, TemplateError> {
    let name = |t: &str| format!("{}/{t}", message.receiver);
    let title =
        templates.render_source(&name(names::SLACK_TITLE), slack.title.as_deref(), message)?;
    let text = templates.render_source(&name(names::SLACK_TEXT), slack.text.as_deref(), message)?;
    let color = match message.status {
        Status::Firing => "danger",
        Status::Resolved => "good",
    };
    let mut attachment = json!({
        "title": title,
        "text": text,
        "fallback": if message.external_url.is_empty() { title.clone() } else { format!("{title} | {}", message.external_url) },
        "color": color,
        "mrkdwn_in": ["fallback", "pretext", "text"],
    });
    if !message.external_url.is_empty() {
        attachment["title_link"] = json!(message.external_url);
    }
    let buttons: Vec<Value> = message
        .actions
        .iter()
        .flat_map(|a| {
            [
                ("Acknowledge", a.acknowledge_url.as_deref(), "primary"),
                ("Resolve", a.resolve_url.as_deref(), "default"),
            ]
        })
        .filter_map(|(text, url, style)| {
            url.map(|url| json!({"type": "button", "text": text, "url": url, "style": style}))
        })
        .collect();
    if !buttons.is_empty() {
        attachment["actions"] = Value::Array(buttons);
    }
    let mut body = json!({ "attachments": [attachment] });
    if let Some(channel) = &slack.channel {
        body["channel"] = json!(channel);
    }
    if let Some(username) = &slack.username {
        body["username"] = json!(username);
    }
    Ok(body)
}

/// PagerDuty's deduplication key for a group: the SHA-256 hex of the group key, as
/// Alertmanager's `Key.Hash()`, so a page opened by either is resolved by either.
pub fn dedup_key(group_key: &str) -> String {
    hex::encode(Sha256::digest(group_key.as_bytes()))
}

/// PagerDuty Events API v2 body: `trigger` while any alert fires, `resolve` after.
pub fn pagerduty_body(
    pd: &PagerDuty,
    message: &Message,
    templates: &Templates,
) -> Result<Value, TemplateError> {
    let summary = templates.render(names::PAGERDUTY_SUMMARY, message)?;
    let action = match message.status {
        Status::Firing => "trigger",
        Status::Resolved => "resolve",
    };
    let list = |alerts: Vec<&Alert>| {
        alerts
            .iter()
            .map(|a| {
                let name = a
                    .annotations
                    .get("summary")
                    .or_else(|| a.labels.get("alertname"));
                let labels: Vec<String> =
                    a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "{} [{}]",
                    name.map(String::as_str).unwrap_or(""),
                    labels.join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut details = serde_json::Map::new();
    details.insert("firing".into(), json!(list(message.firing().collect())));
    details.insert("resolved".into(), json!(list(message.resolved().collect())));
    details.insert(
        "num_firing".into(),
        json!(message.firing().count().to_string()),
    );
    details.insert(
        "num_resolved".into(),
        json!(message.resolved().count().to_string()),
    );
    let mut links = Vec::new();
    let event = &pd.event;
    let render = |name: &str, source: &str| {
        templates.render_source(&format!("pagerduty.{name}"), Some(source), message)
    };
    for (key, source) in &event.details {
        details.insert(
            key.clone(),
            json!(render(&format!("details.{key}"), source)?),
        );
    }
    if let Some(slo) = message.first_slo() {
        details.insert("slo".into(), json!(slo.id));
        details.insert("objective".into(), json!(slo.objective.to_string()));
        if let Some(b) = slo.budget_remaining {
            details.insert("budget_remaining".into(), json!(b.to_string()));
        }
        if let Some(b) = slo.burn_rate {
            details.insert("burn_rate".into(), json!(b.to_string()));
        }
        if let Some(t) = slo.time_to_exhaustion {
            details.insert(
                "time_to_exhaustion_seconds".into(),
                json!(t.round().to_string()),
            );
        }
        if let Some(url) = &slo.runbook_url {
            links.push(json!({"href": url, "text": "Runbook"}));
        }
        if let Some(url) = &slo.dashboard_url {
            links.push(json!({"href": url, "text": "Dashboard"}));
        }
    }
    let mut body = json!({
        "routing_key": pd.routing_key,
        "dedup_key": dedup_key(&message.group_key),
        "event_action": action,
        "payload": {
            "summary": truncate_chars(&summary, 1024),
            "source": "headroom",
            "severity": pd.severity,
            "custom_details": details,
        },
        "client": "headroom",
    });
    if !message.external_url.is_empty() {
        body["client_url"] = json!(message.external_url);
    }
    for (key, source) in [("client", &event.client), ("client_url", &event.client_url)] {
        if let Some(source) = source {
            body[key] = json!(render(key, source)?);
        }
    }
    for (key, source) in [
        ("class", &event.class),
        ("component", &event.component),
        ("group", &event.group),
    ] {
        if let Some(source) = source {
            body["payload"][key] = json!(render(key, source)?);
        }
    }
    if !links.is_empty() {
        body["links"] = Value::Array(links);
    }
    Ok(body)
}

/// At most `max` characters, the last one `…` when cut (as Alertmanager's `Truncate`).
fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// An email's rendered parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailContent {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders subject, text and HTML, each from the integration's own template when set.
pub fn email_content(
    email: &Email,
    message: &Message,
    templates: &Templates,
) -> Result<EmailContent, TemplateError> {
    let name = |t: &str| format!("{}/{t}", message.receiver);
    Ok(EmailContent {
        subject: templates.render_source(
            &name(names::EMAIL_SUBJECT),
            email.subject.as_deref(),
            message,
        )?,
        text: templates.render_source(&name(names::EMAIL_TEXT), email.text.as_deref(), message)?,
        html: templates.render_source(&name(names::EMAIL_HTML), email.html.as_deref(), message)?,
    })
}

/// The RFC 5322 message: `multipart/alternative` with text and HTML parts (base64, so any
/// UTF-8 and any line length pass), CRLF line ends, subject RFC 2047-encoded when not ASCII.
/// `message_id` is the part inside the angle brackets.
pub fn email_message(
    email: &Email,
    content: &EmailContent,
    date: DateTime<Utc>,
    message_id: &str,
) -> String {
    let boundary = format!(
        "headroom-{}",
        &hex::encode(Sha256::digest(message_id.as_bytes()))[..16]
    );
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&one_line(value));
        out.push_str("\r\n");
    };
    header("From", &email.from);
    header("To", &email.recipients().join(", "));
    header("Subject", &encode_header(&one_line(&content.subject)));
    header("Date", &date.to_rfc2822());
    header("Message-Id", &format!("<{message_id}>"));
    header("MIME-Version", "1.0");
    header(
        "Content-Type",
        &format!("multipart/alternative; boundary=\"{boundary}\""),
    );
    out.push_str("\r\n");
    for (kind, body) in [("plain", &content.text), ("html", &content.html)] {
        out.push_str(&format!("--{boundary}\r\n"));
        out.push_str(&format!("Content-Type: text/{kind}; charset=UTF-8\r\n"));
        out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let encoded = base64(body.as_bytes());
        for line in encoded.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

/// Header values must not break lines: a rendered subject with newlines would inject headers.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn encode_header(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    // Encoded words are at most 75 characters: 45 bytes of UTF-8 become 60 of base64.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
    }
    words.join(" ")
}

/// Standard base64 with padding (RFC 4648), for MIME parts and SMTP AUTH.
pub fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn headers_are_single_lines_and_encoded_when_not_ascii() {
        assert_eq!(one_line("a\r\nBcc: x@y\n"), "a Bcc: x@y");
        assert_eq!(encode_header("plain"), "plain");
        assert_eq!(encode_header("é"), "=?UTF-8?B?w6k=?=");
        let long = "é".repeat(40);
        let encoded = encode_header(&long);
        assert!(encoded.split(' ').all(|w| w.len() <= 75), "{encoded}");
        assert_eq!(encoded.split(' ').count(), 2);
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate_chars("abcdef", 6), "abcdef");
        assert_eq!(truncate_chars("abcdefg", 6), "abcde…");
    }
}
