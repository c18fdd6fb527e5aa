//! Request bodies for each integration, built without IO.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use email_encoding::headers::{rfc2047, writer::EmailWriter};
use lettre::address::AddressError;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::config::{Email, PagerDuty, Slack};
use crate::message::{Alert, Labels, Message, Status, go_time_string};
use crate::template::{TemplateError, Templates, escape_chars, is_web_url, names, slack_escape};

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
    escape_chars(json, |c| match c {
        '<' => Some("\\u003c"),
        '>' => Some("\\u003e"),
        '&' => Some("\\u0026"),
        '\u{2028}' => Some("\\u2028"),
        '\u{2029}' => Some("\\u2029"),
        _ => None,
    })
}

/// Slack's (and Mattermost's) incoming-webhook body: one attachment coloured by status
/// (`danger` firing, `good` resolved, as Alertmanager's defaults), title linking to the
/// external URL, and Acknowledge/Resolve buttons when the message has action links. Title and
/// text are rendered as mrkdwn ([`Markup::Slack`](crate::Markup)): values have `&`, `<` and
/// `>` escaped, and are kept whole.
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
        "fallback": if message.external_url.is_empty() { title.clone() } else { format!("{title} | {}", slack_escape(&message.external_url)) },
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

/// PagerDuty Events API v2 body: `trigger` while any alert fires, `resolve` after. The summary
/// is cut at 1024 characters (the API's limit, marked `…`); other fields keep values whole;
/// runbook and dashboard become links only when they are `http(s)` URLs.
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
        for (url, text) in [
            (&slo.runbook_url, "Runbook"),
            (&slo.dashboard_url, "Dashboard"),
        ] {
            if let Some(url) = url.as_deref().filter(|u| is_web_url(u)) {
                links.push(json!({"href": url, "text": text}));
            }
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

/// An address in `from` or `to` that is not an email address (`Name <local@domain>` or
/// `local@domain`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("email {field} {value:?} is not an address: {reason}")]
pub struct BadAddress {
    /// `from` or `to`.
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

fn mailbox(field: &'static str, value: &str) -> Result<Mailbox, BadAddress> {
    value.parse().map_err(|e: AddressError| BadAddress {
        field,
        value: value.to_string(),
        reason: e.to_string(),
    })
}

impl Email {
    /// The sender and recipients as mailboxes, or the first that is not an address.
    pub fn mailboxes(&self) -> Result<(Mailbox, Vec<Mailbox>), BadAddress> {
        let from = mailbox("from", &self.from)?;
        let to = self
            .recipients()
            .into_iter()
            .map(|to| mailbox("to", to))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(BadAddress {
                field: "to",
                value: self.to.clone(),
                reason: "no recipient".into(),
            });
        }
        Ok((from, to))
    }
}

/// Longest word a header may carry as is: folding breaks only between words, and a line may
/// not pass 998 octets (RFC 5322 §2.1.1), `Subject: ` included.
const LONGEST_PLAIN_WORD: usize = 900;

/// The `Subject` header: one line (a rendered newline would start a new header), folded by
/// lettre, and as RFC 2047 encoded words when a word is too long to fold, since encoded words
/// may be split anywhere.
fn subject_header(subject: &str) -> HeaderValue {
    let subject = one_line(subject);
    let name = HeaderName::new_from_ascii_str("Subject");
    if subject.split(' ').all(|w| w.len() <= LONGEST_PLAIN_WORD) {
        return HeaderValue::new(name, subject);
    }
    let mut encoded = String::with_capacity(subject.len() * 2);
    {
        let mut writer = EmailWriter::new(&mut encoded, "Subject: ".len(), 0, false);
        rfc2047::encode(&subject, &mut writer).expect("writing to a String");
    }
    HeaderValue::dangerous_new_pre_encoded(name, subject, encoded)
}

/// The RFC 5322 message: `multipart/alternative` with text and HTML parts (each in 7bit,
/// quoted-printable or base64, whichever fits, so any UTF-8 and any line length pass), display
/// names and subject RFC 2047-encoded when not ASCII, long headers folded, CRLF line ends.
/// `message_id` is the part inside the angle brackets.
pub fn email_message(
    email: &Email,
    content: &EmailContent,
    date: DateTime<Utc>,
    message_id: &str,
) -> Result<lettre::Message, BadAddress> {
    let (from, to) = email.mailboxes()?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .raw_header(subject_header(&content.subject))
        .date(date.into())
        .message_id(Some(format!("<{message_id}>")));
    for to in to {
        builder = builder.to(to);
    }
    // Deterministic, and not to be guessed by whoever writes a label: a hash over the content
    // itself, which no part can contain.
    let mut hash = Sha256::new();
    for part in [message_id, &content.text, &content.html] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let boundary = format!("headroom-{}", &hex::encode(hash.finalize())[..32]);
    let body = MultiPart::alternative()
        .boundary(boundary)
        .singlepart(SinglePart::plain(content.text.clone()))
        .singlepart(SinglePart::html(content.html.clone()));
    Ok(builder
        .multipart(body)
        .expect("a From header and recipients are set"))
}

/// Header values must not break lines: a rendered subject with newlines would inject headers.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_single_lines() {
        assert_eq!(one_line("a\r\nBcc: x@y\n"), "a Bcc: x@y");
    }

    #[test]
    fn a_subject_word_too_long_to_fold_is_encoded_in_short_lines() {
        let long = format!("[FIRING] {}", "x".repeat(5000));
        let mut headers = lettre::message::header::Headers::new();
        headers.insert_raw(subject_header(&long));
        let shown = headers.to_string();
        assert!(shown.starts_with("Subject: =?utf-8?b?"), "{shown}");
        assert!(shown.lines().all(|l| l.len() <= 78), "{shown}");
        // A subject that folds keeps its words readable.
        let mut headers = lettre::message::header::Headers::new();
        headers.insert_raw(subject_header(&"word ".repeat(300)));
        let shown = headers.to_string();
        assert!(shown.starts_with("Subject: word word"), "{shown}");
        assert!(shown.lines().count() > 1 && shown.lines().all(|l| l.len() <= 78));
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate_chars("abcdef", 6), "abcdef");
        assert_eq!(truncate_chars("abcdefg", 6), "abcde…");
    }
}
