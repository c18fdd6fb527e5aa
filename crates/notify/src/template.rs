//! Templates with minijinja: defaults carrying the SLO context, user overrides by name, and
//! integration-level sources (a Slack `title`, an email `subject`, …).
//!
//! The context is the serde form of [`Message`]: the names of Alertmanager's webhook JSON
//! (`status`, `alerts`, `groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`,
//! `groupKey`, `truncatedAlerts`; per alert `labels`, `annotations`, `startsAt`, `endsAt`,
//! `generatorURL`, `fingerprint`), plus `alerts[].slo` (`id`, `objective`, `budgetRemaining`,
//! `burnRate`, `timeToExhaustion` in seconds, `runbookURL`, `dashboardURL`) and `actions`
//! (`acknowledgeURL`, `resolveURL`). Absent values are `none`.
//!
//! Filters besides minijinja's built-ins: `firing` and `resolved` (alerts of that status),
//! `label_values` (a label map's values in name order, space separated), `without(other)`
//! (a label map less the names in `other`), `percent` (0.123 → `12.3%`), `duration`
//! (seconds → `2h 5m`). Test: `web_url` (an `http:` or `https:` URL, so a `javascript:` one
//! never becomes a link).
//!
//! Escaping follows where the output goes ([`Markup`]), not a template's name: the HTML email
//! escapes every value as HTML, also inside templates it includes (a shared `subject`, a user's
//! partial) and inside user overrides; Slack's mrkdwn escapes `&`, `<` and `>`; text (email text
//! and subject, PagerDuty fields) escapes nothing. Values are data, never template source: label
//! text such as `{{ 7*7 }}` is printed as is.

use std::collections::BTreeMap;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, ErrorKind, Output, State, escape_formatter};

use crate::config::{Integration, Receiver};
use crate::message::Message;

/// The names of the templates headroom renders.
pub mod names {
    /// Shared by the default subject-like templates: `[FIRING:2] group values (extra common)`.
    pub const SUBJECT: &str = "subject";
    pub const SLACK_TITLE: &str = "slack.title";
    pub const SLACK_TEXT: &str = "slack.text";
    pub const EMAIL_SUBJECT: &str = "email.subject";
    pub const EMAIL_TEXT: &str = "email.text";
    /// Rendered as HTML: every value escaped, also in the templates it includes.
    pub const EMAIL_HTML: &str = "email.html";
    pub const PAGERDUTY_SUMMARY: &str = "pagerduty.summary";
    pub const ALL: [&str; 7] = [
        SUBJECT,
        SLACK_TITLE,
        SLACK_TEXT,
        EMAIL_SUBJECT,
        EMAIL_TEXT,
        EMAIL_HTML,
        PAGERDUTY_SUMMARY,
    ];
}

const DEFAULT_SUBJECT: &str = r#"[{{ status | upper }}{% if status == "firing" %}:{{ alerts | firing | length }}{% endif %}] {{ groupLabels | label_values }}{% set extra = commonLabels | without(groupLabels) %}{% if extra %} ({{ extra | label_values }}){% endif %}"#;

const DEFAULT_SLACK_TEXT: &str = r#"{% for alert in alerts %}
*{{ alert.status | upper }}* {{ alert.annotations.summary or alert.labels.alertname }}
{% if alert.annotations.description %}
{{ alert.annotations.description }}
{% endif %}
{% if alert.slo %}
SLO `{{ alert.slo.id }}` ({{ alert.slo.objective | percent }}){% if alert.slo.budgetRemaining is not none %}: budget remaining {{ alert.slo.budgetRemaining | percent }}{% endif %}{% if alert.slo.burnRate is not none %}, burn rate {{ alert.slo.burnRate | round(1) }}x{% endif %}{% if alert.slo.timeToExhaustion is not none %}, exhausted in {{ alert.slo.timeToExhaustion | duration }}{% endif %}

{% if alert.slo.runbookURL is web_url %}<{{ alert.slo.runbookURL }}|Runbook> {% endif %}{% if alert.slo.dashboardURL is web_url %}<{{ alert.slo.dashboardURL }}|Dashboard>{% endif %}

{% endif %}
{% endfor %}
{% if truncatedAlerts %}
…and {{ truncatedAlerts }} more
{% endif %}
{% if actions %}
{% if actions.acknowledgeURL is web_url %}<{{ actions.acknowledgeURL }}|Acknowledge> {% endif %}{% if actions.resolveURL is web_url %}<{{ actions.resolveURL }}|Resolve>{% endif %}

{% endif %}"#;

// trim_blocks eats the newline after the include: two more make one blank line.
const DEFAULT_EMAIL_TEXT: &str = r#"{% include "subject" %}


{% for alert in alerts %}
[{{ alert.status | upper }}] {{ alert.annotations.summary or alert.labels.alertname }}
{% if alert.annotations.description %}
  {{ alert.annotations.description }}
{% endif %}
{% if alert.slo %}
  SLO: {{ alert.slo.id }} (objective {{ alert.slo.objective | percent }})
{% if alert.slo.budgetRemaining is not none %}
  Budget remaining: {{ alert.slo.budgetRemaining | percent }}
{% endif %}
{% if alert.slo.burnRate is not none %}
  Burn rate: {{ alert.slo.burnRate | round(1) }}x
{% endif %}
{% if alert.slo.timeToExhaustion is not none %}
  Budget exhausted in: {{ alert.slo.timeToExhaustion | duration }}
{% endif %}
{% if alert.slo.runbookURL %}
  Runbook: {{ alert.slo.runbookURL }}
{% endif %}
{% if alert.slo.dashboardURL %}
  Dashboard: {{ alert.slo.dashboardURL }}
{% endif %}
{% endif %}
  Labels: {% for name, value in alert.labels | items %}{{ name }}={{ value }}{% if not loop.last %}, {% endif %}{% endfor %}

  Started: {{ alert.startsAt }}
{% if alert.generatorURL %}
  Source: {{ alert.generatorURL }}
{% endif %}

{% endfor %}
{% if truncatedAlerts %}
…and {{ truncatedAlerts }} more.
{% endif %}
{% if actions and actions.acknowledgeURL %}
Acknowledge: {{ actions.acknowledgeURL }}
{% endif %}
{% if actions and actions.resolveURL %}
Resolve: {{ actions.resolveURL }}
{% endif %}
{% if externalURL %}
{{ externalURL }}
{% endif %}
"#;

const DEFAULT_EMAIL_HTML: &str = r#"<!DOCTYPE html>
<html>
<body style="font-family: sans-serif">
<h2 style="color: {% if status == "firing" %}#c0392b{% else %}#27ae60{% endif %}">{% include "subject" %}</h2>
{% if actions %}
<p>{% if actions.acknowledgeURL is web_url %}<a href="{{ actions.acknowledgeURL }}">Acknowledge</a> {% endif %}{% if actions.resolveURL is web_url %}<a href="{{ actions.resolveURL }}">Resolve</a>{% endif %}</p>
{% endif %}
{% for alert in alerts %}
<h3>[{{ alert.status | upper }}] {{ alert.annotations.summary or alert.labels.alertname }}</h3>
{% if alert.annotations.description %}
<p>{{ alert.annotations.description }}</p>
{% endif %}
<table>
{% if alert.slo %}
<tr><td>SLO</td><td>{{ alert.slo.id }} (objective {{ alert.slo.objective | percent }})</td></tr>
{% if alert.slo.budgetRemaining is not none %}
<tr><td>Budget remaining</td><td>{{ alert.slo.budgetRemaining | percent }}</td></tr>
{% endif %}
{% if alert.slo.burnRate is not none %}
<tr><td>Burn rate</td><td>{{ alert.slo.burnRate | round(1) }}x</td></tr>
{% endif %}
{% if alert.slo.timeToExhaustion is not none %}
<tr><td>Budget exhausted in</td><td>{{ alert.slo.timeToExhaustion | duration }}</td></tr>
{% endif %}
{% for name, url in [("Runbook", alert.slo.runbookURL), ("Dashboard", alert.slo.dashboardURL)] if url %}
<tr><td>{{ name }}</td><td>{% if url is web_url %}<a href="{{ url }}">{{ url }}</a>{% else %}{{ url }}{% endif %}</td></tr>
{% endfor %}
{% endif %}
{% for name, value in alert.labels | items %}
<tr><td>{{ name }}</td><td>{{ value }}</td></tr>
{% endfor %}
<tr><td>Started</td><td>{{ alert.startsAt }}</td></tr>
</table>
{% endfor %}
{% if truncatedAlerts %}
<p>…and {{ truncatedAlerts }} more.</p>
{% endif %}
</body>
</html>
"#;

/// A template that failed to compile or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}, line {line}: {message}")]
    Compile {
        name: String,
        line: usize,
        message: String,
    },
    #[error("rendering template {name}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Render {
        name: String,
        line: Option<usize>,
        kind: RenderErrorKind,
        message: String,
    },
}

/// Why a render failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderErrorKind {
    UnknownFilter,
    UnknownTest,
    UnknownFunction,
    UnknownMethod,
    UnknownTemplate,
    InvalidOperation,
    BadArguments,
    Other,
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

fn compile_error(name: &str, e: &minijinja::Error) -> TemplateError {
    TemplateError::Compile {
        name: e.name().unwrap_or(name).to_string(),
        line: e.line().unwrap_or(0),
        message: describe(e),
    }
}

fn render_error(name: &str, e: &minijinja::Error) -> TemplateError {
    if e.kind() == ErrorKind::SyntaxError {
        return compile_error(name, e);
    }
    let kind = match e.kind() {
        ErrorKind::UnknownFilter => RenderErrorKind::UnknownFilter,
        ErrorKind::UnknownTest => RenderErrorKind::UnknownTest,
        ErrorKind::UnknownFunction => RenderErrorKind::UnknownFunction,
        ErrorKind::UnknownMethod => RenderErrorKind::UnknownMethod,
        ErrorKind::TemplateNotFound => RenderErrorKind::UnknownTemplate,
        ErrorKind::InvalidOperation => RenderErrorKind::InvalidOperation,
        ErrorKind::MissingArgument | ErrorKind::TooManyArguments => RenderErrorKind::BadArguments,
        _ => RenderErrorKind::Other,
    };
    TemplateError::Render {
        name: e.name().unwrap_or(name).to_string(),
        line: e.line(),
        kind,
        message: describe(e),
    }
}

/// What a rendered template becomes, and so how the values printed into it are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Plain text (email text and subject, PagerDuty fields): nothing escaped.
    Text,
    /// HTML: `<`, `>`, `&`, quotes and `/` in values escaped.
    Html,
    /// Slack and Mattermost mrkdwn: `&`, `<` and `>` in values escaped as Slack asks, so a
    /// value can neither add a link nor mention `<!channel>`.
    Slack,
}

impl Markup {
    /// The markup of one of headroom's templates ([`names`]), named bare or as
    /// `receiver/name`: `email.html` is HTML, `slack.*` mrkdwn, the rest text.
    pub fn of(name: &str) -> Markup {
        match name.rsplit('/').next().unwrap_or(name) {
            names::EMAIL_HTML => Markup::Html,
            n if n.starts_with("slack.") => Markup::Slack,
            _ => Markup::Text,
        }
    }

    fn auto_escape(self) -> AutoEscape {
        match self {
            Markup::Text => AutoEscape::None,
            Markup::Html => AutoEscape::Html,
            Markup::Slack => AutoEscape::Custom(SLACK),
        }
    }
}

/// minijinja's name for the mrkdwn escaping, which its own formatter does not know.
const SLACK: &str = "slack";

/// The compiled templates: headroom's defaults with any overrides applied.
///
/// The same sources are compiled once per [`Markup`], each environment escaping every template
/// alike: minijinja otherwise picks escaping by the name of each template, and an included
/// `subject` would print label values raw into the HTML email.
#[derive(Debug, Clone)]
pub struct Templates {
    text: Environment<'static>,
    html: Environment<'static>,
    slack: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::with_overrides(std::iter::empty::<(String, String)>())
            .expect("default templates compile")
    }
}

impl Templates {
    /// Defaults, each replaced by an override of the same name (see [`names`]); other names
    /// are added and can be included (`{% include "name" %}`).
    pub fn with_overrides<N, S>(
        overrides: impl IntoIterator<Item = (N, S)>,
    ) -> Result<Templates, TemplateError>
    where
        N: Into<String>,
        S: Into<String>,
    {
        let mut sources: BTreeMap<String, String> = [
            (names::SUBJECT, DEFAULT_SUBJECT),
            (names::SLACK_TITLE, r#"{% include "subject" %}"#),
            (names::SLACK_TEXT, DEFAULT_SLACK_TEXT),
            (names::EMAIL_SUBJECT, r#"{% include "subject" %}"#),
            (names::EMAIL_TEXT, DEFAULT_EMAIL_TEXT),
            (names::EMAIL_HTML, DEFAULT_EMAIL_HTML),
            (names::PAGERDUTY_SUMMARY, r#"{% include "subject" %}"#),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
        for (name, source) in overrides {
            sources.insert(name.into(), source.into());
        }
        let compiled = |markup: Markup| {
            let mut env = environment(markup);
            for (name, source) in &sources {
                env.add_template_owned(name.clone(), source.clone())
                    .map_err(|e| compile_error(name, &e))?;
            }
            Ok(env)
        };
        Ok(Templates {
            text: compiled(Markup::Text)?,
            html: compiled(Markup::Html)?,
            slack: compiled(Markup::Slack)?,
        })
    }

    fn env(&self, markup: Markup) -> &Environment<'static> {
        match markup {
            Markup::Text => &self.text,
            Markup::Html => &self.html,
            Markup::Slack => &self.slack,
        }
    }

    /// Renders the named template, escaped for its [`Markup::of`].
    pub fn render(&self, name: &str, message: &Message) -> Result<String, TemplateError> {
        let template = self
            .env(Markup::of(name))
            .get_template(name)
            .map_err(|e| render_error(name, &e))?;
        template
            .render(Value::from_serialize(message))
            .map_err(|e| render_error(name, &e))
    }

    /// Renders `source` when given (an integration's own template, reported as `name`), else
    /// the template registered under the last segment of `name` (after a `/`); escaped for the
    /// [`Markup::of`] `name` either way.
    pub fn render_source(
        &self,
        name: &str,
        source: Option<&str>,
        message: &Message,
    ) -> Result<String, TemplateError> {
        match source {
            Some(source) => self
                .env(Markup::of(name))
                .render_named_str(name, source, Value::from_serialize(message))
                .map_err(|e| render_error(name, &e)),
            None => self.render(name.rsplit('/').next().unwrap_or(name), message),
        }
    }

    /// Compiles every integration-level template of `receiver`, named as rendering names them
    /// (`receiver/slack.title`), so a config loader refuses a bad one before any alert fires.
    pub fn check_receiver(receiver: &Receiver) -> Result<(), TemplateError> {
        for (name, source) in inline_sources(receiver) {
            Templates::check(&format!("{}/{name}", receiver.name), source)?;
        }
        Ok(())
    }

    /// Compiles a template source without rendering it, so a config loader can refuse a bad
    /// one up front.
    pub fn check(name: &str, source: &str) -> Result<(), TemplateError> {
        let mut env = environment(Markup::Text);
        env.add_template(name, source)
            .map_err(|e| compile_error(name, &e))
    }
}

/// Renders an action's template (`spec::actions`: an HTTP body, a dispatch input, a pipeline
/// variable) over `context`. With `json`, every printed value is written as JSON (a string
/// quoted and escaped), so a body template stays valid JSON whatever the values hold; without,
/// values are printed as they are (the caller puts the result into JSON or a form field).
pub fn render_action(
    source: &str,
    context: &serde_json::Value,
    json: bool,
) -> Result<String, TemplateError> {
    const NAME: &str = "action";
    let mut env = environment(Markup::Text);
    // One action serves several triggers: `alert.labels.x` is undefined, not an error, when
    // the trigger has no alert.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    if json {
        env.set_auto_escape_callback(|_| AutoEscape::Json);
    }
    env.add_template(NAME, source)
        .map_err(|e| compile_error(NAME, &e))?;
    let template = env.get_template(NAME).map_err(|e| render_error(NAME, &e))?;
    template
        .render(Value::from_serialize(context))
        .map_err(|e| render_error(NAME, &e))
}

/// A receiver's integration-level template sources, each with the name it renders under.
pub fn inline_sources(receiver: &Receiver) -> impl Iterator<Item = (String, &str)> {
    receiver.integrations.iter().flat_map(|integration| {
        let sources: Vec<(String, Option<&str>)> = match integration {
            Integration::Slack(s) => vec![
                (names::SLACK_TITLE.into(), s.title.as_deref()),
                (names::SLACK_TEXT.into(), s.text.as_deref()),
            ],
            Integration::Email(e) => vec![
                (names::EMAIL_SUBJECT.into(), e.subject.as_deref()),
                (names::EMAIL_TEXT.into(), e.text.as_deref()),
                (names::EMAIL_HTML.into(), e.html.as_deref()),
            ],
            Integration::PagerDuty(p) => p
                .event
                .sources()
                .map(|(n, s)| (format!("pagerduty.{n}"), Some(s)))
                .collect(),
            Integration::Webhook(_) => vec![],
        };
        sources
            .into_iter()
            .filter_map(|(name, source)| Some((name, source?)))
    })
}

fn environment(markup: Markup) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Every template of this environment alike, whatever its name (see `Templates`).
    let escape = markup.auto_escape();
    env.set_auto_escape_callback(move |_| escape);
    if markup == Markup::Slack {
        env.set_formatter(slack_formatter);
    }
    env.add_filter("firing", |alerts: Vec<Value>| by_status(alerts, "firing"));
    env.add_filter("resolved", |alerts: Vec<Value>| {
        by_status(alerts, "resolved")
    });
    env.add_filter("label_values", label_values);
    env.add_filter("without", without);
    env.add_filter("percent", percent);
    env.add_filter("duration", duration);
    env.add_test("web_url", |url: Value| url.as_str().is_some_and(is_web_url));
    env
}

/// Prints values escaped for mrkdwn while the Slack escaping is on; template text and values
/// marked safe pass as they are.
fn slack_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    if state.auto_escape() != AutoEscape::Custom(SLACK) || value.is_safe() {
        return escape_formatter(out, state, value);
    }
    out.write_str(&slack_escape(&value.to_string()))
        .map_err(minijinja::Error::from)
}

/// Slack's three control characters as the entities it reads back.
pub(crate) fn slack_escape(text: &str) -> String {
    escape_chars(text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    })
}

/// `text` with each character `escape` names replaced by its escape.
pub(crate) fn escape_chars(text: &str, escape: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match escape(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
    }
    out
}

/// An `http:` or `https:` URL: the only kind offered as a link.
pub(crate) fn is_web_url(url: &str) -> bool {
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

fn by_status(alerts: Vec<Value>, status: &str) -> Vec<Value> {
    alerts
        .into_iter()
        .filter(|a| {
            a.get_attr("status")
                .ok()
                .and_then(|s| s.as_str().map(|s| s == status))
                == Some(true)
        })
        .collect()
}

fn label_map(v: &Value) -> Result<BTreeMap<String, String>, minijinja::Error> {
    let mut out = BTreeMap::new();
    if v.is_undefined() || v.is_none() {
        return Ok(out);
    }
    for key in v.try_iter()? {
        let value = v.get_item(&key)?;
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

fn label_values(labels: Value) -> Result<String, minijinja::Error> {
    Ok(label_map(&labels)?
        .into_values()
        .collect::<Vec<_>>()
        .join(" "))
}

fn without(labels: Value, other: Value) -> Result<Value, minijinja::Error> {
    let other = label_map(&other)?;
    let mut kept = label_map(&labels)?;
    kept.retain(|k, _| !other.contains_key(k));
    Ok(Value::from_serialize(&kept))
}

fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    // Objectives need their nines: 99.95% must not print as 100.0%.
    let mut digits = 1;
    while digits < 4 && (p * 10f64.powi(digits)).fract().abs() > 1e-6 {
        digits += 1;
    }
    let s = format!("{p:.digits$}", digits = digits as usize);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}%")
}

fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "never".to_string();
    }
    let total = seconds.max(0.0).round() as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_keeps_the_nines() {
        assert_eq!(percent(0.9995), "99.95%");
        assert_eq!(percent(0.999), "99.9%");
        assert_eq!(percent(0.5), "50%");
        assert_eq!(percent(0.123), "12.3%");
        assert_eq!(percent(-0.25), "-25%");
    }

    #[test]
    fn duration_shows_two_largest_units() {
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(59.4), "59s");
        assert_eq!(duration(7500.0), "2h 5m");
        assert_eq!(duration(90_061.0), "1d 1h");
        assert_eq!(duration(86_400.0 + 30.0), "1d");
        assert_eq!(duration(f64::INFINITY), "never");
    }
}
