//! Receiver configuration, in Alertmanager's shape (`webhook_configs`, `slack_configs`,
//! `email_configs`, `pagerduty_configs`) and with its defaults for `send_resolved`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where one route's notifications go: a name and the integrations notified in turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ReceiverFile", into = "ReceiverFile")]
pub struct Receiver {
    pub name: String,
    pub integrations: Vec<Integration>,
}

/// One way of notifying.
#[derive(Debug, Clone, PartialEq)]
pub enum Integration {
    Webhook(Webhook),
    Slack(Slack),
    Email(Email),
    PagerDuty(PagerDuty),
}

impl Integration {
    /// The Alertmanager name of the integration kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Integration::Webhook(_) => "webhook",
            Integration::Slack(_) => "slack",
            Integration::Email(_) => "email",
            Integration::PagerDuty(_) => "pagerduty",
        }
    }

    pub fn send_resolved(&self) -> bool {
        match self {
            Integration::Webhook(w) => w.send_resolved,
            Integration::Slack(s) => s.send_resolved,
            Integration::Email(e) => e.send_resolved,
            Integration::PagerDuty(p) => p.send_resolved,
        }
    }
}

fn yes() -> bool {
    true
}

/// A generic webhook receiving Alertmanager's version 4 JSON.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// At most this many alerts per payload; 0 means all.
    #[serde(default)]
    pub max_alerts: u64,
    /// The `Authorization` header sent with each request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// How the receiver's certificate is checked, when not against the web PKI alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<WebhookTls>,
}

/// Alertmanager's `http_config.tls_config` for a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTls {
    /// PEM certificates also trusted (a private CA), read from `ca_file` at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Accept any certificate: for a test receiver only.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// How a webhook request authenticates (Alertmanager's `http_config`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HttpAuth {
    /// `Authorization: <scheme> <credentials>`; the scheme is Bearer unless configured.
    Credentials { scheme: String, credentials: String },
    /// `Authorization: Basic base64(username:password)`.
    Basic { username: String, password: String },
}

/// A Slack (or Mattermost) incoming webhook.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slack {
    /// The incoming-webhook URL.
    #[serde(rename = "api_url")]
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Template source overriding the `slack.title` template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Template source overriding the `slack.text` template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub send_resolved: bool,
}

/// `host:port` of an SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smarthost {
    pub host: String,
    pub port: u16,
}

/// A smarthost that is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("smarthost {0:?} is not host:port")]
pub struct BadSmarthost(pub String);

impl FromStr for Smarthost {
    type Err = BadSmarthost;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadSmarthost(s.to_string());
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        // "[::1]:25" names an IPv6 host.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(bad());
        }
        let port = port.parse().map_err(|_| bad())?;
        Ok(Smarthost {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Smarthost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Serialize for Smarthost {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Smarthost {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

fn localhost() -> String {
    "localhost".to_string()
}

/// Email over SMTP.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// Recipients, comma separated as in Alertmanager.
    pub to: String,
    pub from: String,
    pub smarthost: Smarthost,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<String>,
    /// Insist on STARTTLS before authenticating or sending anything.
    #[serde(default = "yes")]
    pub require_tls: bool,
    /// The name given in EHLO.
    #[serde(default = "localhost")]
    pub hello: String,
    /// Template source overriding `email.subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Template source overriding `email.text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Template source overriding `email.html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default)]
    pub send_resolved: bool,
}

impl Email {
    /// The `to` addresses, trimmed.
    pub fn recipients(&self) -> Vec<&str> {
        self.to
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect()
    }
}

/// The PagerDuty Events API v2 endpoint Alertmanager uses by default.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

fn pagerduty_url() -> String {
    PAGERDUTY_EVENTS_URL.to_string()
}

fn error_severity() -> String {
    "error".to_string()
}

/// PagerDuty Events API v2.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDuty {
    pub routing_key: String,
    #[serde(default = "pagerduty_url")]
    pub url: String,
    /// `critical`, `error`, `warning` or `info`.
    #[serde(default = "error_severity")]
    pub severity: String,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Alertmanager's optional event fields, each a template.
    #[serde(default)]
    pub event: PagerDutyEvent,
}

/// The templated fields of a PagerDuty event beyond its summary (Alertmanager's names):
/// `client` and `client_url` replace headroom's, `details` are added to (or replace) the
/// default `custom_details`, and `class`, `component` and `group` are set when given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl PagerDutyEvent {
    /// Each template with the name it renders under (`client`, `details.KEY`, …).
    pub fn sources(&self) -> impl Iterator<Item = (String, &str)> {
        [
            ("client", &self.client),
            ("client_url", &self.client_url),
            ("class", &self.class),
            ("component", &self.component),
            ("group", &self.group),
        ]
        .into_iter()
        .filter_map(|(n, s)| Some((n.to_string(), s.as_deref()?)))
        .chain(
            self.details
                .iter()
                .map(|(k, v)| (format!("details.{k}"), v.as_str())),
        )
    }
}

/// Alertmanager's receiver layout, integrations grouped by kind.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiverFile {
    name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    webhook_configs: Vec<Webhook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    slack_configs: Vec<Slack>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    email_configs: Vec<Email>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pagerduty_configs: Vec<PagerDuty>,
}

impl From<ReceiverFile> for Receiver {
    fn from(f: ReceiverFile) -> Receiver {
        let mut integrations = Vec::new();
        integrations.extend(f.webhook_configs.into_iter().map(Integration::Webhook));
        integrations.extend(f.slack_configs.into_iter().map(Integration::Slack));
        integrations.extend(f.email_configs.into_iter().map(Integration::Email));
        integrations.extend(f.pagerduty_configs.into_iter().map(Integration::PagerDuty));
        Receiver {
            name: f.name,
            integrations,
        }
    }
}

impl From<Receiver> for ReceiverFile {
    fn from(r: Receiver) -> ReceiverFile {
        let mut f = ReceiverFile {
            name: r.name,
            webhook_configs: vec![],
            slack_configs: vec![],
            email_configs: vec![],
            pagerduty_configs: vec![],
        };
        for i in r.integrations {
            match i {
                Integration::Webhook(w) => f.webhook_configs.push(w),
                Integration::Slack(s) => f.slack_configs.push(s),
                Integration::Email(e) => f.email_configs.push(e),
                Integration::PagerDuty(p) => f.pagerduty_configs.push(p),
            }
        }
        f
    }
}

/// Shown instead of a secret in debug output (configs are logged and printed in errors).
const HIDDEN: &str = "<hidden>";

fn hidden(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| HIDDEN)
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("send_resolved", &self.send_resolved)
            .field("max_alerts", &self.max_alerts)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .finish()
    }
}

impl fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpAuth::Credentials { scheme, .. } => f
                .debug_struct("Credentials")
                .field("scheme", scheme)
                .field("credentials", &HIDDEN)
                .finish(),
            HttpAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &HIDDEN)
                .finish(),
        }
    }
}

impl fmt::Debug for Slack {
    /// The incoming-webhook URL is the credential itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slack")
            .field("url", &HIDDEN)
            .field("channel", &self.channel)
            .field("username", &self.username)
            .field("title", &self.title)
            .field("text", &self.text)
            .field("send_resolved", &self.send_resolved)
            .finish()
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("to", &self.to)
            .field("from", &self.from)
            .field("smarthost", &self.smarthost)
            .field("auth_username", &self.auth_username)
            .field("auth_password", &hidden(&self.auth_password))
            .field("require_tls", &self.require_tls)
            .field("hello", &self.hello)
            .field("subject", &self.subject)
            .field("text", &self.text)
            .field("html", &self.html)
            .field("send_resolved", &self.send_resolved)
            .finish()
    }
}

impl fmt::Debug for PagerDuty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagerDuty")
            .field("routing_key", &HIDDEN)
            .field("url", &self.url)
            .field("severity", &self.severity)
            .field("send_resolved", &self.send_resolved)
            .field("event", &self.event)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_reads_alertmanager_layout_with_its_defaults() {
        let r: Receiver = serde_json::from_value(serde_json::json!({
            "name": "ops",
            "webhook_configs": [{"url": "http://hook"}],
            "slack_configs": [{"api_url": "http://slack", "channel": "#ops"}],
            "email_configs": [{"to": "a@x, b@x", "from": "h@x", "smarthost": "mail:587"}],
            "pagerduty_configs": [{"routing_key": "k"}]
        }))
        .unwrap();
        assert_eq!(r.name, "ops");
        let kinds: Vec<_> = r
            .integrations
            .iter()
            .map(|i| (i.kind(), i.send_resolved()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("webhook", true),
                ("slack", false),
                ("email", false),
                ("pagerduty", true)
            ]
        );
        let Integration::Email(e) = &r.integrations[2] else {
            panic!()
        };
        assert_eq!(
            e.smarthost,
            Smarthost {
                host: "mail".into(),
                port: 587
            }
        );
        assert_eq!(e.recipients(), ["a@x", "b@x"]);
        assert!(e.require_tls);
        assert_eq!(e.hello, "localhost");
        let Integration::PagerDuty(p) = &r.integrations[3] else {
            panic!()
        };
        assert_eq!(p.url, PAGERDUTY_EVENTS_URL);
        assert_eq!(p.severity, "error");
        let back: Receiver = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn unknown_fields_and_bad_smarthosts_are_refused() {
        let err = serde_json::from_value::<Receiver>(serde_json::json!({
            "name": "ops", "webhook_configs": [{"url": "u", "max_alert": 3}]
        }))
        .unwrap_err();
        assert!(err.to_string().contains("max_alert"), "{err}");
        assert!("mail".parse::<Smarthost>().is_err());
        assert!(":25".parse::<Smarthost>().is_err());
        assert_eq!("[::1]:25".parse::<Smarthost>().unwrap().host, "::1");
        assert_eq!(
            "[::1]:25".parse::<Smarthost>().unwrap().to_string(),
            "[::1]:25"
        );
    }
}
