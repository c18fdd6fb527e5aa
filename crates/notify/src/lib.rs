//! Notifications out, Alertmanager-compatible.
//!
//! Owns what a notification is and how it leaves: the receiver config types ([`Receiver`],
//! [`Integration`]: webhook, Slack/Mattermost, email, PagerDuty) in Alertmanager's layout and
//! defaults; the [`Message`] one notification carries (Alertmanager's template data plus
//! headroom's SLO context and action links); the request bodies of each integration; the
//! minijinja [`Templates`]; retry timing ([`Backoff`]); and, with feature `send`, one delivery
//! attempt ([`deliver`]) classified as an [`Outcome`].
//!
//! Invariants:
//! - Without `send` nothing here does IO, so the config loader can depend on it: bodies,
//!   templates and backoff are pure functions (time and randomness are passed in).
//! - The webhook body is Alertmanager's version 4 byte for byte (Go's field order, time format
//!   and HTML escaping); a firing alert's `endsAt` is Go's zero time.
//! - A PagerDuty `dedup_key` is the SHA-256 hex of the group key, as Alertmanager derives it,
//!   so `trigger` and `resolve` for one group meet in one incident.
//! - The template context is the serde form of [`Message`], whose names are those of the
//!   webhook JSON (`commonLabels`, `alerts[].startsAt`), so templates and webhook consumers see
//!   the same names.
//! - A delivery is retried only when retrying can help: timeouts, connection loss, HTTP 5xx and
//!   429, SMTP 4xx. Other failures (HTTP 4xx, SMTP 5xx, templates, TLS) are final.
//! - Values from outside (labels, annotations, SLO names, URLs) are data, never markup or
//!   template source: the HTML email escapes them everywhere, also through includes and user
//!   templates; Slack's mrkdwn escapes `&`, `<`, `>`; text parts and JSON keep them exactly;
//!   no header gets a line break; only `http(s)` URLs become links. Long values are kept whole
//!   (long header words as encoded words) except the PagerDuty summary, cut at the 1024
//!   characters its API takes.
//! - Email leaves through one pooled SMTP connection per smarthost and login (lettre),
//!   reused across deliveries.
//! - One idempotency key per notification: sent as `Idempotency-Key` on HTTP, used as the
//!   email's Message-ID, so a retried delivery can be recognised downstream.

mod backoff;
mod body;
mod config;
mod message;
#[cfg(feature = "send")]
mod send;
#[cfg(feature = "send")]
mod smtp;
pub mod template;

pub use backoff::Backoff;
pub use body::{
    BadAddress, EmailContent, dedup_key, email_content, email_message, pagerduty_body, slack_body,
    webhook_body,
};
pub use config::{
    BadSmarthost, Email, HttpAuth, Integration, PAGERDUTY_EVENTS_URL, PagerDuty, PagerDutyEvent,
    Receiver, Slack, Smarthost, Webhook, WebhookTls,
};
pub use message::{
    Actions, Alert, BadFingerprint, Fingerprint, Labels, Message, SloContext, Status,
    go_time_string,
};
#[cfg(feature = "send")]
pub use send::{
    ActionRequest, Client, ClientError, EXCERPT_BYTES, Outcome, deliver, retry_after, send_action,
};
pub use template::{
    Markup, RenderErrorKind, TemplateError, Templates, inline_sources, names as template_names,
    render_action,
};
