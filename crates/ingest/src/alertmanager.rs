//! Alertmanager's wire formats in: API v2 `postableAlerts` and `postableSilence` bodies, and
//! the webhook payload (version 4) another Alertmanager sends when it forwards to headroom.
//!
//! Parsing checks shape and types and names the JSON path of the first defect
//! (`[2].labels.severity: must be a string`). Alertmanager's own semantic checks (label name
//! rules, `endsAt` before `startsAt`) belong to the routing layer, which owns alerts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use headroom_routing::alert::PostableAlert;
use serde_json::{Map, Value};

/// A defect in a body, at a JSON path (empty for the whole body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct FormatError {
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> FormatError {
    FormatError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// A `POST /api/v2/alerts` body: a JSON array of alerts, as the routing layer takes them.
pub fn parse_posted_alerts(body: &[u8]) -> Result<Vec<PostableAlert>, FormatError> {
    let value = json(body)?;
    let Value::Array(items) = value else {
        return Err(err("", "expected a JSON array of alerts"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| posted_alert(item, &format!("[{i}]")))
        .collect()
}

fn posted_alert(v: &Value, path: &str) -> Result<PostableAlert, FormatError> {
    let o = object(v, path)?;
    Ok(PostableAlert {
        labels: string_map(o.get("labels"), &format!("{path}.labels"), true)?,
        annotations: string_map(o.get("annotations"), &format!("{path}.annotations"), false)?,
        starts_at: time(o.get("startsAt"), &format!("{path}.startsAt"))?,
        ends_at: time(o.get("endsAt"), &format!("{path}.endsAt"))?,
        generator_url: opt_string(o.get("generatorURL"), &format!("{path}.generatorURL"))?
            .unwrap_or_default(),
    })
}

/// One matcher of a silence, in the API's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    /// `false` for `!=` and `!~`; absent means `true`, as for older clients.
    pub is_equal: bool,
}

/// A `POST /api/v2/silences` body.
#[derive(Debug, Clone, PartialEq)]
pub struct PostedSilence {
    /// Set when updating an existing silence.
    pub id: Option<String>,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub comment: String,
}

pub fn parse_posted_silence(body: &[u8]) -> Result<PostedSilence, FormatError> {
    let value = json(body)?;
    let o = object(&value, "")?;
    let matchers = match o.get("matchers") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, m)| silence_matcher(m, &format!("matchers[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Array(_)) => return Err(err("matchers", "at least one matcher is required")),
        Some(_) => return Err(err("matchers", "must be an array")),
        None => return Err(err("matchers", "is required")),
    };
    let required_time = |key: &str| time(o.get(key), key)?.ok_or_else(|| err(key, "is required"));
    let required_string =
        |key: &str| opt_string(o.get(key), key)?.ok_or_else(|| err(key, "is required"));
    Ok(PostedSilence {
        id: opt_string(o.get("id"), "id")?.filter(|s| !s.is_empty()),
        matchers,
        starts_at: required_time("startsAt")?,
        ends_at: required_time("endsAt")?,
        created_by: required_string("createdBy")?,
        comment: required_string("comment")?,
    })
}

fn silence_matcher(v: &Value, path: &str) -> Result<SilenceMatcher, FormatError> {
    let o = object(v, path)?;
    let flag = |key: &str, default: Option<bool>| match (o.get(key), default) {
        (Some(Value::Bool(b)), _) => Ok(*b),
        (None | Some(Value::Null), Some(d)) => Ok(d),
        (None | Some(Value::Null), None) => Err(err(&format!("{path}.{key}"), "is required")),
        (Some(_), _) => Err(err(&format!("{path}.{key}"), "must be true or false")),
    };
    Ok(SilenceMatcher {
        name: opt_string(o.get("name"), &format!("{path}.name"))?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| err(&format!("{path}.name"), "is required"))?,
        value: opt_string(o.get("value"), &format!("{path}.value"))?
            .ok_or_else(|| err(&format!("{path}.value"), "is required"))?,
        is_regex: flag("isRegex", None)?,
        is_equal: flag("isEqual", Some(true))?,
    })
}

/// One alert of a forwarded webhook payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardedAlert {
    pub resolved: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Option<DateTime<Utc>>,
    /// `None` for Go's zero time, which a firing alert carries.
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: String,
    pub fingerprint: String,
}

/// Alertmanager's webhook payload, version 4.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookPayload {
    pub receiver: String,
    pub group_key: String,
    pub resolved: bool,
    pub external_url: String,
    pub truncated_alerts: u64,
    pub alerts: Vec<ForwardedAlert>,
}

pub fn parse_webhook(body: &[u8]) -> Result<WebhookPayload, FormatError> {
    let value = json(body)?;
    let o = object(&value, "")?;
    match o.get("version") {
        Some(Value::String(v)) if v == "4" => {}
        Some(other) => {
            return Err(err(
                "version",
                format!("unsupported payload version {other}; Alertmanager sends \"4\""),
            ));
        }
        None => return Err(err("version", "is required")),
    }
    let alerts = match o.get("alerts") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, a)| forwarded_alert(a, &format!("alerts[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(err("alerts", "must be an array")),
    };
    Ok(WebhookPayload {
        receiver: opt_string(o.get("receiver"), "receiver")?.unwrap_or_default(),
        group_key: opt_string(o.get("groupKey"), "groupKey")?
            .ok_or_else(|| err("groupKey", "is required"))?,
        resolved: status(o.get("status"), "status")?,
        external_url: opt_string(o.get("externalURL"), "externalURL")?.unwrap_or_default(),
        truncated_alerts: match o.get("truncatedAlerts") {
            None | Some(Value::Null) => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| err("truncatedAlerts", "must be a non-negative integer"))?,
        },
        alerts,
    })
}

fn forwarded_alert(v: &Value, path: &str) -> Result<ForwardedAlert, FormatError> {
    let o = object(v, path)?;
    let ends_at = time(o.get("endsAt"), &format!("{path}.endsAt"))?;
    Ok(ForwardedAlert {
        resolved: status(o.get("status"), &format!("{path}.status"))?,
        labels: string_map(o.get("labels"), &format!("{path}.labels"), true)?,
        annotations: string_map(o.get("annotations"), &format!("{path}.annotations"), false)?,
        starts_at: time(o.get("startsAt"), &format!("{path}.startsAt"))?
            .filter(|t| t.timestamp() > 0),
        ends_at,
        generator_url: opt_string(o.get("generatorURL"), &format!("{path}.generatorURL"))?
            .unwrap_or_default(),
        fingerprint: opt_string(o.get("fingerprint"), &format!("{path}.fingerprint"))?
            .unwrap_or_default(),
    })
}

/// Go's zero `time.Time` in Unix seconds.
const GO_ZERO_SECS: i64 = -62_135_596_800;

fn status(v: Option<&Value>, path: &str) -> Result<bool, FormatError> {
    match v {
        Some(Value::String(s)) if s == "firing" => Ok(false),
        Some(Value::String(s)) if s == "resolved" => Ok(true),
        Some(_) => Err(err(path, "must be \"firing\" or \"resolved\"")),
        None => Err(err(path, "is required")),
    }
}

pub(crate) fn json(body: &[u8]) -> Result<Value, FormatError> {
    serde_json::from_slice(body).map_err(|e| {
        err(
            "",
            format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

pub(crate) fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, FormatError> {
    v.as_object()
        .ok_or_else(|| err(path, "must be a JSON object"))
}

pub(crate) fn opt_string(v: Option<&Value>, path: &str) -> Result<Option<String>, FormatError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(path, "must be a string")),
    }
}

fn string_map(
    v: Option<&Value>,
    path: &str,
    required: bool,
) -> Result<BTreeMap<String, String>, FormatError> {
    match v {
        None | Some(Value::Null) if required => Err(err(path, "is required")),
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(err(&format!("{path}.{k}"), "must be a string")),
            })
            .collect(),
        Some(_) => Err(err(path, "must be an object of strings")),
    }
}

/// An RFC 3339 instant; absent, null or Go's zero time (`0001-01-01T00:00:00Z`, which Go
/// clients such as `amtool` send for "not set") is `None`.
pub(crate) fn time(v: Option<&Value>, path: &str) -> Result<Option<DateTime<Utc>>, FormatError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)).filter(|t| t.timestamp() > GO_ZERO_SECS))
            .map_err(|e| err(path, format!("{s:?} is not an RFC 3339 time: {e}"))),
        Some(_) => Err(err(path, "must be an RFC 3339 time string")),
    }
}
