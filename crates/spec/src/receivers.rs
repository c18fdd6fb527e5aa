//! The native format's `receivers`, in Alertmanager's shape, and the `global` defaults they
//! inherit.
//!
//! ```yaml
//! global:
//!   smtp_from: alerts@example.com
//!   smtp_smarthost: mail.example.com:587
//!   smtp_hello: headroom.example.com
//!   smtp_auth_username: alerts
//!   smtp_auth_password_file: smtp-password     # or smtp_auth_password
//!   smtp_require_tls: true
//!   slack_api_url_file: slack-url              # or slack_api_url
//!   pagerduty_url: https://events.pagerduty.com/v2/enqueue
//! receivers:
//!   - name: shop
//!     webhook_configs:
//!       - url: https://hooks.example.com/alerts
//!         send_resolved: true                  # default true
//!         max_alerts: 10                       # default 0: all
//!         http_config: {authorization: {credentials_file: hook-token}}   # Bearer
//!         # or {authorization: {type: Token, credentials: …}}, {bearer_token_file: …},
//!         # {basic_auth: {username: …, password_file: …}}
//!     slack_configs:
//!       - {api_url: https://hooks.slack.com/…, channel: '#shop', username: headroom,
//!          title: '…', text: '…', send_resolved: false}
//!     email_configs:
//!       - {to: shop@example.com, from: …, smarthost: 'host:port', auth_username: …,
//!          auth_password_file: …, require_tls: true, hello: …, headers: {Subject: '…'},
//!          text: '…', html: '…', send_resolved: false}
//!     pagerduty_configs:
//!       - {routing_key_file: pd-key, url: …, severity: critical, send_resolved: true,
//!          client: …, client_url: …, class: …, component: …, group: …,
//!          details: {owner: '{{ commonLabels.team }}'}}   # each a template
//!     escalation_policy: shop-urgent           # headroom's own: also page this policy
//! ```
//!
//! Defaults are Alertmanager's: `send_resolved` true for webhook and PagerDuty, false for Slack
//! and email; `require_tls` true; `hello` localhost; PagerDuty `severity` error at
//! [`PAGERDUTY_EVENTS_URL`]. A `*_file` secret is read at load, relative to the file naming it.
//! Templates given inline (Slack `title`/`text`, email `Subject`/`text`/`html`) or by name in
//! the top-level `templates` are minijinja, not Go templates, and are compiled at load so a
//! mistake is located:
//!
//! ```yaml
//! templates:
//!   subject: "[{{ status | upper }}] {{ groupLabels | label_values }}"   # replaces a default
//!   footer: "Runbook: {{ alerts[0].slo.runbookURL }}"   # a partial: {% include "footer" %}
//! ```

use std::collections::BTreeMap;

use headroom_notify::{
    Email, HttpAuth, Integration, PAGERDUTY_EVENTS_URL, PagerDuty, PagerDutyEvent, Receiver, Slack,
    Smarthost, TemplateError, Templates, Webhook, WebhookTls, inline_sources, template_names,
};

use crate::native::set_once;
use crate::oncall::{self, Kind, whole};
use crate::read::{At, Cx, Fields, did_you_mean, fields, open, string};
use crate::signals::{http_url, read_secret};
use crate::yaml::{Node, Pos, Value};

const RECEIVER: &[&str] = &[
    "name",
    "webhook_configs",
    "slack_configs",
    "email_configs",
    "pagerduty_configs",
    "escalation_policy",
];
const WEBHOOK: &[&str] = &["url", "send_resolved", "max_alerts", "http_config"];
const HTTP_CONFIG: &[&str] = &[
    "authorization",
    "basic_auth",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
];
const TLS_CONFIG: &[&str] = &["ca_file", "insecure_skip_verify"];
const BASIC_AUTH: &[&str] = &["username", "password", "password_file"];
const AUTHORIZATION: &[&str] = &["type", "credentials", "credentials_file"];
const SLACK: &[&str] = &[
    "api_url",
    "api_url_file",
    "channel",
    "username",
    "title",
    "text",
    "send_resolved",
];
const EMAIL: &[&str] = &[
    "to",
    "from",
    "smarthost",
    "auth_username",
    "auth_password",
    "auth_password_file",
    "require_tls",
    "hello",
    "headers",
    "text",
    "html",
    "send_resolved",
];
const PAGERDUTY: &[&str] = &[
    "routing_key",
    "routing_key_file",
    "url",
    "severity",
    "send_resolved",
    "client",
    "client_url",
    "class",
    "component",
    "group",
    "details",
];
const PAGERDUTY_SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// Alertmanager's `global` settings that receivers inherit, each set in one place only.
#[derive(Default)]
pub(crate) struct Defaults {
    smtp_from: Option<At<String>>,
    smtp_smarthost: Option<At<Smarthost>>,
    smtp_hello: Option<At<String>>,
    smtp_auth_username: Option<At<String>>,
    smtp_auth_password: Option<At<String>>,
    smtp_require_tls: Option<At<bool>>,
    slack_api_url: Option<At<String>>,
    pagerduty_url: Option<At<String>>,
    /// Keys given but refused (already reported): a receiver missing what they would have
    /// given is not reported a second time.
    refused: Vec<&'static str>,
}

impl Defaults {
    /// The global SMTP server as an email integration with no recipient (`to` empty), when
    /// `smtp_from` and `smtp_smarthost` are set: what on-call email contact methods send through.
    pub(crate) fn smtp(&self) -> Option<Email> {
        Some(Email {
            to: String::new(),
            from: self.smtp_from.as_ref()?.v.clone(),
            smarthost: self.smtp_smarthost.as_ref()?.v.clone(),
            auth_username: self.smtp_auth_username.as_ref().map(|a| a.v.clone()),
            auth_password: self.smtp_auth_password.as_ref().map(|a| a.v.clone()),
            require_tls: self.smtp_require_tls.as_ref().is_none_or(|a| a.v),
            hello: self
                .smtp_hello
                .as_ref()
                .map_or_else(|| "localhost".to_string(), |a| a.v.clone()),
            subject: None,
            text: None,
            html: None,
            send_resolved: true,
        })
    }
}

/// Reads the receiver defaults of a `global` mapping whose keys were checked already.
pub(crate) fn read_global(cx: &mut Cx, g: &Fields, d: &mut Defaults) {
    let text = |cx: &mut Cx, key: &str, slot: &mut Option<At<String>>| {
        if let Some(s) = g.str(cx, key) {
            set_once(cx, slot, s, &format!("global.{key}"));
        }
    };
    let mark = cx.mark();
    text(cx, "smtp_from", &mut d.smtp_from);
    if !cx.clean_since(mark) {
        d.refused.push("smtp_from");
    }
    text(cx, "smtp_hello", &mut d.smtp_hello);
    text(cx, "smtp_auth_username", &mut d.smtp_auth_username);
    let mark = cx.mark();
    if let Some(s) = g.str(cx, "smtp_smarthost")
        && let Some(h) = smarthost(cx, &s, "smtp_smarthost")
    {
        set_once(cx, &mut d.smtp_smarthost, h, "global.smtp_smarthost");
    }
    if !cx.clean_since(mark) {
        d.refused.push("smtp_smarthost");
    }
    if let Some(s) = secret(cx, g, "smtp_auth_password") {
        set_once(
            cx,
            &mut d.smtp_auth_password,
            s,
            "global.smtp_auth_password",
        );
    }
    if let Some(n) = g.val("smtp_require_tls")
        && let Some(b) = crate::read::boolean(cx, n, "smtp_require_tls")
    {
        let b = At { v: b, pos: n.pos };
        set_once(cx, &mut d.smtp_require_tls, b, "global.smtp_require_tls");
    }
    let mark = cx.mark();
    if let Some(u) = url_secret(cx, g, "slack_api_url") {
        set_once(cx, &mut d.slack_api_url, u, "global.slack_api_url");
    }
    if !cx.clean_since(mark) {
        d.refused.push("slack_api_url");
    }
    if let Some(u) = g.str(cx, "pagerduty_url")
        && let Some(url) = http_url(cx, u.clone())
    {
        let u = At { v: url, pos: u.pos };
        set_once(cx, &mut d.pagerduty_url, u, "global.pagerduty_url");
    }
}

/// Second pass over a native document: its receivers (each placed at its name), once every
/// `global` is known. A receiver's `escalation_policy` is returned with it and noted as a
/// reference in `directory`.
pub(crate) fn read(
    cx: &mut Cx,
    doc: &Node,
    defaults: &Defaults,
    directory: &mut oncall::Parts,
    out: &mut Vec<(At<Receiver>, Option<String>)>,
) {
    // Keys were checked in the first pass; only reopen the mapping.
    let Some(f) = open(cx, doc, "headroom config") else {
        return;
    };
    for item in f.list(cx, "receivers").unwrap_or_default() {
        out.extend(receiver(cx, item, defaults, directory));
    }
}

fn receiver(
    cx: &mut Cx,
    node: &Node,
    defaults: &Defaults,
    directory: &mut oncall::Parts,
) -> Option<(At<Receiver>, Option<String>)> {
    let f = fields(cx, node, "receiver", RECEIVER)?;
    let name = f.req_str(cx, "name");
    let mut integrations = Vec::new();
    for n in f.list(cx, "webhook_configs").unwrap_or_default() {
        integrations.extend(webhook(cx, n).map(Integration::Webhook));
    }
    for n in f.list(cx, "slack_configs").unwrap_or_default() {
        integrations.extend(slack(cx, n, defaults).map(Integration::Slack));
    }
    for n in f.list(cx, "email_configs").unwrap_or_default() {
        integrations.extend(email(cx, n, defaults).map(Integration::Email));
    }
    for n in f.list(cx, "pagerduty_configs").unwrap_or_default() {
        integrations.extend(pagerduty(cx, n, defaults).map(Integration::PagerDuty));
    }
    let policy = f.str(cx, "escalation_policy");
    if let Some(p) = &policy {
        directory.refer(Kind::Policy, p.clone());
    }
    // Declared even when an integration was refused (the load fails on that problem anyway),
    // so routes naming it report nothing more. Placed at its name, where a second declaration
    // is reported.
    let name = name?;
    let receiver = Receiver {
        name: name.v,
        integrations,
    };
    Some((
        At {
            v: receiver,
            pos: name.pos,
        },
        policy.map(|p| p.v),
    ))
}

fn webhook(cx: &mut Cx, node: &Node) -> Option<Webhook> {
    let f = fields(cx, node, "webhook config", WEBHOOK)?;
    let mark = cx.mark();
    let url = f.req_str(cx, "url").and_then(|u| http_url(cx, u));
    let send_resolved = f.bool(cx, "send_resolved").unwrap_or(true);
    let max_alerts = f.val("max_alerts").map_or(Some(0), |n| {
        whole(cx, n, "max_alerts").map(|m| u64::from(m.v))
    });
    let (auth, tls) = match f.val("http_config") {
        Some(n) => (http_auth(cx, n), webhook_tls(cx, n)),
        None => (None, None),
    };
    cx.clean_since(mark).then_some(())?;
    Some(Webhook {
        url: url?,
        send_resolved,
        max_alerts: max_alerts?,
        auth,
        tls,
    })
}

/// An `http_config`'s `tls_config`: a CA file (PEM, read at load) and `insecure_skip_verify`.
fn webhook_tls(cx: &mut Cx, node: &Node) -> Option<WebhookTls> {
    let t = open(cx, node, "http_config")?.val("tls_config")?;
    let t = fields(cx, t, "tls_config", TLS_CONFIG)?;
    let ca_pem = t.str(cx, "ca_file").and_then(|path| {
        let pem = read_secret(cx, &path)?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            cx.err(
                path.pos,
                format!("ca_file {:?} holds no PEM certificate", path.v),
            );
            return None;
        }
        Some(pem)
    });
    Some(WebhookTls {
        ca_pem,
        insecure_skip_verify: t.bool(cx, "insecure_skip_verify").unwrap_or(false),
    })
}

/// How an `http_config` authenticates: `authorization` (type Bearer by default), the older
/// `bearer_token(_file)`, or `basic_auth`; one of them.
fn http_auth(cx: &mut Cx, node: &Node) -> Option<HttpAuth> {
    let h = fields(cx, node, "http_config", HTTP_CONFIG)?;
    let old = secret(cx, &h, "bearer_token");
    let mut given: Vec<(&str, Pos)> = ["authorization", "basic_auth"]
        .into_iter()
        .filter_map(|k| Some((k, h.val(k)?.pos)))
        .collect();
    given.extend(old.as_ref().map(|t| ("bearer_token", t.pos)));
    if let [.., (_, at)] = given[..]
        && given.len() > 1
    {
        let names: Vec<&str> = given.iter().map(|(k, _)| *k).collect();
        let msg = match names[..] {
            [a, b] => format!("give {a} or {b}, not both"),
            _ => format!("give one of {}", names.join(", ")),
        };
        cx.err(at, msg);
        return None;
    }
    if let Some(t) = old {
        return Some(HttpAuth::Credentials {
            scheme: "Bearer".into(),
            credentials: t.v,
        });
    }
    if let Some(b) = h.val("basic_auth") {
        let b = fields(cx, b, "basic_auth", BASIC_AUTH)?;
        let username = b.req_str(cx, "username");
        let mark = cx.mark();
        let password = secret(cx, &b, "password");
        if password.is_none() && cx.clean_since(mark) {
            cx.err(b.pos, "basic_auth needs password or password_file");
        }
        return Some(HttpAuth::Basic {
            username: username?.v,
            password: password?.v,
        });
    }
    let a = fields(cx, h.val("authorization")?, "authorization", AUTHORIZATION)?;
    let scheme = a.str(cx, "type").map_or("Bearer".to_string(), |t| t.v);
    let at = a.val("type").map_or(a.pos, |n| n.pos);
    if scheme.eq_ignore_ascii_case("basic") {
        cx.err(
            at,
            format!("authorization type {scheme:?} cannot be used: give basic_auth instead"),
        );
        return None;
    }
    if scheme.is_empty() || scheme.contains(char::is_whitespace) {
        cx.err(
            at,
            format!("authorization type {scheme:?} must be one word"),
        );
        return None;
    }
    let mark = cx.mark();
    let credentials = secret(cx, &a, "credentials");
    if credentials.is_none() && cx.clean_since(mark) {
        cx.err(a.pos, "authorization needs credentials or credentials_file");
    }
    Some(HttpAuth::Credentials {
        scheme,
        credentials: credentials?.v,
    })
}

fn slack(cx: &mut Cx, node: &Node, defaults: &Defaults) -> Option<Slack> {
    let f = fields(cx, node, "slack config", SLACK)?;
    let mark = cx.mark();
    let url = url_secret(cx, &f, "api_url").or_else(|| defaults.slack_api_url.clone());
    if url.is_none() && cx.clean_since(mark) && !defaults.refused.contains(&"slack_api_url") {
        cx.err(
            f.pos,
            "missing field \"api_url\" in slack config (or api_url_file, or global slack_api_url)",
        );
    }
    let channel = f.str(cx, "channel").map(|c| c.v);
    let username = f.str(cx, "username").map(|u| u.v);
    let title = template(cx, &f, "title", template_names::SLACK_TITLE);
    let text = template(cx, &f, "text", template_names::SLACK_TEXT);
    let send_resolved = f.bool(cx, "send_resolved").unwrap_or(false);
    cx.clean_since(mark).then_some(())?;
    Some(Slack {
        url: url?.v,
        channel,
        username,
        title,
        text,
        send_resolved,
    })
}

fn email(cx: &mut Cx, node: &Node, defaults: &Defaults) -> Option<Email> {
    let f = fields(cx, node, "email config", EMAIL)?;
    let mark = cx.mark();
    let to = f.req_str(cx, "to");
    if let Some(t) = &to
        && t.v.split(',').all(|a| a.trim().is_empty())
    {
        cx.err(t.pos, "to is empty: an email needs a recipient");
    }
    let from = f.str(cx, "from").or_else(|| defaults.smtp_from.clone());
    if from.is_none() && !defaults.refused.contains(&"smtp_from") {
        cx.err(
            f.pos,
            "missing field \"from\" in email config (or global smtp_from)",
        );
    }
    let smarthost = match f.str(cx, "smarthost") {
        Some(s) => smarthost(cx, &s, "smarthost"),
        None => {
            let inherited = defaults.smtp_smarthost.clone();
            if inherited.is_none() && !defaults.refused.contains(&"smtp_smarthost") {
                cx.err(
                    f.pos,
                    "missing field \"smarthost\" in email config (or global smtp_smarthost)",
                );
            }
            inherited
        }
    };
    let auth_username = f
        .str(cx, "auth_username")
        .or_else(|| defaults.smtp_auth_username.clone());
    let auth_password =
        secret(cx, &f, "auth_password").or_else(|| defaults.smtp_auth_password.clone());
    let require_tls = f
        .bool(cx, "require_tls")
        .or(defaults.smtp_require_tls.as_ref().map(|b| b.v))
        .unwrap_or(true);
    let hello = f
        .str(cx, "hello")
        .or_else(|| defaults.smtp_hello.clone())
        .map_or_else(|| "localhost".to_string(), |h| h.v);
    let subject = f.val("headers").and_then(|n| subject(cx, n));
    let text = template(cx, &f, "text", template_names::EMAIL_TEXT);
    let html = template(cx, &f, "html", template_names::EMAIL_HTML);
    let send_resolved = f.bool(cx, "send_resolved").unwrap_or(false);
    cx.clean_since(mark).then_some(())?;
    let (to, from) = (to?, from?);
    let email = Email {
        to: to.v,
        from: from.v,
        smarthost: smarthost?.v,
        auth_username: auth_username.map(|u| u.v),
        auth_password: auth_password.map(|p| p.v),
        require_tls,
        hello,
        subject,
        text,
        html,
        send_resolved,
    };
    // Refused now rather than at the first alert: every delivery would fail the same way.
    if let Err(bad) = email.mailboxes() {
        cx.err(
            if bad.field == "from" {
                from.pos
            } else {
                to.pos
            },
            bad.to_string(),
        );
        return None;
    }
    Some(email)
}

/// The `Subject` of an email's `headers` (any case, as Alertmanager canonicalises header
/// names): headroom writes the other headers itself.
fn subject(cx: &mut Cx, node: &Node) -> Option<String> {
    let h = open(cx, node, "headers")?;
    let mut subject = None;
    for (k, v) in h.entries() {
        let Some(name) = crate::read::string(cx, k, "headers") else {
            continue;
        };
        if !name.v.eq_ignore_ascii_case("subject") {
            cx.err(
                name.pos,
                format!("header {:?} cannot be set: only Subject can", name.v),
            );
            continue;
        }
        if let Some(s) = crate::read::string(cx, v, "Subject") {
            subject = compile(cx, &s, "Subject", template_names::EMAIL_SUBJECT);
        }
    }
    subject
}

fn pagerduty(cx: &mut Cx, node: &Node, defaults: &Defaults) -> Option<PagerDuty> {
    let f = fields(cx, node, "pagerduty config", PAGERDUTY)?;
    let mark = cx.mark();
    let routing_key = secret(cx, &f, "routing_key");
    if routing_key.is_none() && cx.clean_since(mark) {
        cx.err(
            f.pos,
            "missing field \"routing_key\" in pagerduty config (or routing_key_file)",
        );
    }
    let url = match f.str(cx, "url") {
        Some(u) => http_url(cx, u),
        None => Some(
            defaults
                .pagerduty_url
                .as_ref()
                .map_or_else(|| PAGERDUTY_EVENTS_URL.to_string(), |u| u.v.clone()),
        ),
    };
    let severity = match f.str(cx, "severity") {
        Some(s) if PAGERDUTY_SEVERITIES.contains(&s.v.as_str()) => Some(s.v),
        Some(s) => {
            let hint = did_you_mean(&s.v, PAGERDUTY_SEVERITIES)
                .map(|h| format!("; did you mean {h:?}?"))
                .unwrap_or_default();
            cx.err(
                s.pos,
                format!(
                    "unknown severity {:?}: use critical, error, warning or info{hint}",
                    s.v
                ),
            );
            None
        }
        None => Some("error".to_string()),
    };
    let send_resolved = f.bool(cx, "send_resolved").unwrap_or(true);
    let field = |cx: &mut Cx, key: &str| template(cx, &f, key, &format!("pagerduty.{key}"));
    let mut event = PagerDutyEvent {
        client: field(cx, "client"),
        client_url: field(cx, "client_url"),
        class: field(cx, "class"),
        component: field(cx, "component"),
        group: field(cx, "group"),
        details: BTreeMap::new(),
    };
    if let Some(d) = f.val("details") {
        let details = template_map(cx, d, "details", "detail name", |k| {
            format!("pagerduty.details.{k}")
        });
        event.details = details.into_iter().map(|(k, s)| (k.v, s.v)).collect();
    }
    cx.clean_since(mark).then_some(())?;
    Some(PagerDuty {
        routing_key: routing_key?.v,
        url: url?,
        severity: severity?,
        send_resolved,
        event,
    })
}

/// A secret given inline as `key` or read from the file `key_file` (relative to the config
/// file); giving both is a problem.
fn secret(cx: &mut Cx, f: &Fields, key: &str) -> Option<At<String>> {
    let file_key = format!("{key}_file");
    let inline = f.str(cx, key);
    let file = f.str(cx, &file_key);
    match (inline, file) {
        (Some(_), Some(path)) => {
            cx.err(path.pos, format!("give {key} or {file_key}, not both"));
            None
        }
        (Some(s), None) => Some(s),
        (None, Some(path)) => read_secret(cx, &path).map(|v| At { v, pos: path.pos }),
        (None, None) => None,
    }
}

/// A URL that may be a secret (a Slack webhook URL): inline it must be http(s); read from a
/// file it is not echoed in messages.
fn url_secret(cx: &mut Cx, f: &Fields, key: &str) -> Option<At<String>> {
    let file_key = format!("{key}_file");
    if f.val(&file_key).is_none() {
        let u = f.str(cx, key)?;
        let pos = u.pos;
        return http_url(cx, u).map(|v| At { v, pos });
    }
    let u = secret(cx, f, key)?;
    if u.v.starts_with("http://") || u.v.starts_with("https://") {
        Some(u)
    } else {
        let file = f.str(cx, &file_key).map(|p| cx.relative_path(&p));
        let file = file.map_or_else(String::new, |p| p.display().to_string());
        cx.err(
            u.pos,
            format!("{file} must hold an http:// or https:// URL"),
        );
        None
    }
}

fn smarthost(cx: &mut Cx, s: &At<String>, what: &str) -> Option<At<Smarthost>> {
    match s.v.parse::<Smarthost>() {
        Ok(h) => Some(At { v: h, pos: s.pos }),
        Err(e) => {
            cx.err(s.pos, format!("{what}: {e} (e.g. mail.example.com:587)"));
            None
        }
    }
}

/// An inline template under `key`, compiled now so a mistake is reported at load.
fn template(cx: &mut Cx, f: &Fields, key: &str, name: &str) -> Option<String> {
    let s = f.str(cx, key)?;
    compile(cx, &s, key, name)
}

fn compile(cx: &mut Cx, s: &At<String>, key: &str, name: &str) -> Option<String> {
    let (line, mut message) = match Templates::check(name, &s.v) {
        Ok(()) => return Some(s.v.clone()),
        Err(TemplateError::Compile { line, message, .. }) => (line, message),
        Err(TemplateError::Render { message, .. }) => (1, message),
    };
    if looks_like_go_template(&s.v) {
        message.push_str(
            " (this looks like an Alertmanager Go template; headroom's are minijinja: \
             {{ .CommonLabels.alertname }} is {{ commonLabels.alertname }}, \
             {{ range .Alerts }} is {% for alert in alerts %})",
        );
    }
    if s.v.lines().count() <= 1 {
        cx.err(s.pos, format!("{key}: {message}"));
    } else if let Some(pos) = template_line(cx, s, line) {
        cx.err(pos, format!("{key}: {message}"));
    } else {
        cx.err(s.pos, format!("{key}: template line {line}: {message}"));
    }
    None
}

/// Go's `{{ .Field }}`, `{{ range … }}`, `{{ template … }}`: actions minijinja has no use for.
fn looks_like_go_template(source: &str) -> bool {
    source.split("{{").skip(1).any(|action| {
        let action = action.trim_start_matches('-').trim_start();
        action.starts_with('.')
            || ["template ", "range ", "define ", "end", "with ", "if ."]
                .iter()
                .any(|w| action.starts_with(w))
    })
}

/// Top-level `templates`: minijinja sources by name. A default's name (`subject`,
/// `slack.title`, …) replaces that default; any other name is a partial the others
/// `{% include %}`. Alertmanager's list of Go template files is refused, saying what to do.
pub(crate) fn read_templates(cx: &mut Cx, node: &Node, out: &mut Vec<(At<String>, At<String>)>) {
    if matches!(node.value, Value::Seq(_)) {
        cx.err(
            node.pos,
            format!(
                "templates: Alertmanager's Go template files are not read; headroom's templates \
                 are minijinja, set here by name ({}: source) or inline in a receiver",
                template_names::ALL.join(", ")
            ),
        );
        return;
    }
    out.extend(template_map(
        cx,
        node,
        "templates",
        "template name",
        str::to_string,
    ));
}

/// A mapping of names to template sources, each compiled (as `registered(name)`); the entries
/// that compile, with their locations.
fn template_map(
    cx: &mut Cx,
    node: &Node,
    what: &str,
    key_what: &str,
    registered: impl Fn(&str) -> String,
) -> Vec<(At<String>, At<String>)> {
    let Some(f) = open(cx, node, what) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in f.entries() {
        let Some(name) = string(cx, k, key_what) else {
            continue;
        };
        let Some(source) = string(cx, v, &name.v) else {
            continue;
        };
        if compile(cx, &source, &name.v, &registered(&name.v)).is_some() {
            out.push((name, source));
        }
    }
    out
}

/// The set's templates by name: each set once; a warning for a partial nothing includes
/// (likely a misspelt default's name).
pub(crate) fn finish_templates(
    cx: &mut Cx,
    parts: Vec<(At<String>, At<String>)>,
    receivers: &[Receiver],
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: Vec<&At<String>> = Vec::new();
    for (name, source) in &parts {
        if let Some(first) = seen.iter().find(|s| s.v == name.v) {
            let at = cx.source(first.pos);
            cx.err(
                name.pos,
                format!("template {:?} is already set at {at}; set it once", name.v),
            );
            continue;
        }
        seen.push(name);
        out.insert(name.v.clone(), source.v.clone());
    }
    let sources: Vec<&str> = out
        .values()
        .map(String::as_str)
        .chain(
            receivers
                .iter()
                .flat_map(|r| inline_sources(r).map(|(_, s)| s)),
        )
        .collect();
    for name in seen {
        let quoted = [format!("\"{}\"", name.v), format!("'{}'", name.v)];
        let included = sources.iter().any(|s| quoted.iter().any(|q| s.contains(q)));
        if !template_names::ALL.contains(&name.v.as_str()) && !included {
            let hint = did_you_mean(&name.v, template_names::ALL)
                .map(|h| format!("; did you mean {h:?}?"))
                .unwrap_or_default();
            cx.warn(
                name.pos,
                format!(
                    "template {:?} replaces no default ({}) and no template includes it{hint}",
                    name.v,
                    template_names::ALL.join(", ")
                ),
            );
        }
    }
    out
}

/// Where line `line` (1-based) of a multi-line template is in the file: found when the
/// scalar's lines stand in the file as written (a `|` block), not when YAML folded them.
fn template_line(cx: &Cx, s: &At<String>, line: usize) -> Option<crate::yaml::Pos> {
    let want = s.v.lines().nth(line.checked_sub(1)?)?;
    let at = (s.pos.line as usize).saturating_sub(1) + line - 1;
    let written = cx.texts.get(s.pos.file)?.lines().nth(at)?;
    let from = written
        .char_indices()
        .nth((s.pos.column as usize).saturating_sub(1))?
        .0;
    written[from..].starts_with(want).then(|| crate::yaml::Pos {
        line: at as u32 + 1,
        ..s.pos
    })
}
