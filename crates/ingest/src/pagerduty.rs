//! PagerDuty Events API v2 in: the event `POST /v2/enqueue` accepts, validated as PagerDuty
//! validates it, with every defect listed (PagerDuty answers 400 with an `errors` array).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::alertmanager::{FormatError, json, object, opt_string};

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    Trigger,
    Acknowledge,
    Resolve,
}

/// PagerDuty's four severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSeverity {
    Critical,
    Error,
    Warning,
    Info,
}

impl EventSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSeverity::Critical => "critical",
            EventSeverity::Error => "error",
            EventSeverity::Warning => "warning",
            EventSeverity::Info => "info",
        }
    }
}

/// A trigger's payload.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPayload {
    pub summary: String,
    pub source: String,
    pub severity: EventSeverity,
    pub timestamp: Option<DateTime<Utc>>,
    pub component: Option<String>,
    pub group: Option<String>,
    pub class: Option<String>,
    /// Kept as JSON: PagerDuty accepts any object here.
    pub custom_details: Option<Value>,
}

/// A validated Events API v2 event.
#[derive(Debug, Clone, PartialEq)]
pub struct PagerDutyEvent {
    pub routing_key: String,
    pub action: EventAction,
    /// Required for acknowledge and resolve; a trigger without one gets a generated key.
    pub dedup_key: Option<String>,
    /// Present exactly for triggers.
    pub payload: Option<EventPayload>,
    pub client: Option<String>,
    pub client_url: Option<String>,
    /// `links[].href` → text.
    pub links: BTreeMap<String, String>,
}

/// The limits PagerDuty documents.
const ROUTING_KEY_LEN: usize = 32;
const DEDUP_KEY_MAX: usize = 255;
const SUMMARY_MAX: usize = 1024;

/// Parses and validates one event; `Err` holds every message, as PagerDuty's `errors`.
pub fn parse_event(body: &[u8]) -> Result<PagerDutyEvent, Vec<String>> {
    let value = json(body).map_err(|e| vec![e.to_string()])?;
    let o = object(&value, "").map_err(|_| vec!["Event object is invalid".to_string()])?;
    let mut errors = Vec::new();
    let text = |key: &str, errors: &mut Vec<String>| match opt_string(o.get(key), key) {
        Ok(v) => v,
        Err(FormatError { .. }) => {
            errors.push(format!("'{key}' must be a string"));
            None
        }
    };
    let routing_key = text("routing_key", &mut errors);
    match &routing_key {
        None => errors.push("'routing_key' is missing or blank".to_string()),
        Some(k) if k.len() != ROUTING_KEY_LEN => errors.push(format!(
            "Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LEN} characters)"
        )),
        Some(_) => {}
    }
    let action = match text("event_action", &mut errors).as_deref() {
        Some("trigger") => Some(EventAction::Trigger),
        Some("acknowledge") => Some(EventAction::Acknowledge),
        Some("resolve") => Some(EventAction::Resolve),
        Some(other) => {
            errors.push(format!(
                "'event_action' is invalid ({other:?}; must be one of trigger, acknowledge, resolve)"
            ));
            None
        }
        None => {
            errors.push("'event_action' is missing or blank".to_string());
            None
        }
    };
    let dedup_key = text("dedup_key", &mut errors);
    if let Some(k) = &dedup_key
        && k.len() > DEDUP_KEY_MAX
    {
        errors.push(format!(
            "'dedup_key' is too long (at most {DEDUP_KEY_MAX} characters)"
        ));
    }
    if matches!(
        action,
        Some(EventAction::Acknowledge | EventAction::Resolve)
    ) && dedup_key.as_deref().is_none_or(str::is_empty)
    {
        errors.push("'dedup_key' is required for acknowledge and resolve events".to_string());
    }
    let payload = if action == Some(EventAction::Trigger) {
        payload(o.get("payload"), &mut errors)
    } else {
        None
    };
    let client = text("client", &mut errors);
    let client_url = text("client_url", &mut errors);
    let mut links = BTreeMap::new();
    if let Some(v) = o.get("links").filter(|v| !v.is_null()) {
        match v.as_array() {
            Some(items) => {
                for (i, l) in items.iter().enumerate() {
                    match l.get("href").and_then(Value::as_str) {
                        Some(href) => {
                            let label = l.get("text").and_then(Value::as_str).unwrap_or(href);
                            links.insert(href.to_string(), label.to_string());
                        }
                        None => errors.push(format!("'links[{i}].href' is missing")),
                    }
                }
            }
            None => errors.push("'links' must be an array".to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PagerDutyEvent {
        routing_key: routing_key.unwrap_or_default(),
        action: action.unwrap_or(EventAction::Trigger),
        dedup_key: dedup_key.filter(|k| !k.is_empty()),
        payload,
        client,
        client_url,
        links,
    })
}

fn payload(v: Option<&Value>, errors: &mut Vec<String>) -> Option<EventPayload> {
    let Some(o) = v.and_then(Value::as_object) else {
        errors.push("'payload' is missing or not an object".to_string());
        return None;
    };
    let mark = errors.len();
    let mut field = |key: &str, required: bool| match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Value::Null) if !required => None,
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.push(format!("'payload.{key}' is missing or blank"));
            None
        }
        Some(_) => {
            errors.push(format!("'payload.{key}' must be a string"));
            None
        }
    };
    let summary = field("summary", true);
    let source = field("source", true);
    let severity = field("severity", true);
    let timestamp = field("timestamp", false);
    let component = field("component", false);
    let group = field("group", false);
    let class = field("class", false);
    if let Some(s) = &summary
        && s.chars().count() > SUMMARY_MAX
    {
        errors.push(format!(
            "'payload.summary' is too long (at most {SUMMARY_MAX} characters)"
        ));
    }
    let severity = match severity.as_deref() {
        Some("critical") => Some(EventSeverity::Critical),
        Some("error") => Some(EventSeverity::Error),
        Some("warning") => Some(EventSeverity::Warning),
        Some("info") => Some(EventSeverity::Info),
        Some(other) => {
            errors.push(format!(
                "'payload.severity' is invalid ({other:?}; must be one of critical, error, warning, info)"
            ));
            None
        }
        None => None,
    };
    let timestamp = match timestamp {
        Some(t) => match DateTime::parse_from_rfc3339(&t) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                errors.push(format!(
                    "'payload.timestamp' is not an ISO 8601 time: {t:?}"
                ));
                None
            }
        },
        None => None,
    };
    if errors.len() > mark {
        return None;
    }
    Some(EventPayload {
        summary: summary?,
        source: source?,
        severity: severity?,
        timestamp,
        component,
        group,
        class,
        custom_details: o.get("custom_details").filter(|v| !v.is_null()).cloned(),
    })
}

/// A PagerDuty change event (`POST /v2/change/enqueue`): something changed (a deploy, a
/// config push) that is not an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub routing_key: String,
    pub summary: String,
    pub source: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    /// Kept as JSON: PagerDuty accepts any object here.
    pub custom_details: Option<Value>,
    /// `links[]` as `(href, text)`, in order.
    pub links: Vec<(String, String)>,
}

/// Parses and validates one change event; `Err` holds every message, as PagerDuty's `errors`.
pub fn parse_change_event(body: &[u8]) -> Result<ChangeEvent, Vec<String>> {
    let value = json(body).map_err(|e| vec![e.to_string()])?;
    let o = object(&value, "").map_err(|_| vec!["Event object is invalid".to_string()])?;
    let mut errors = Vec::new();
    let routing_key = match opt_string(o.get("routing_key"), "routing_key") {
        Ok(Some(k)) if k.len() == ROUTING_KEY_LEN => Some(k),
        Ok(Some(_)) => {
            errors.push(format!(
                "Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LEN} characters)"
            ));
            None
        }
        Ok(None) => {
            errors.push("'routing_key' is missing or blank".to_string());
            None
        }
        Err(_) => {
            errors.push("'routing_key' must be a string".to_string());
            None
        }
    };
    let mut summary = None;
    let mut source = None;
    let mut timestamp = None;
    let mut custom_details = None;
    match o.get("payload").and_then(Value::as_object) {
        None => errors.push("'payload' is missing or not an object".to_string()),
        Some(p) => {
            match p.get("summary") {
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    if s.chars().count() > SUMMARY_MAX {
                        errors.push(format!(
                            "'payload.summary' is too long (at most {SUMMARY_MAX} characters)"
                        ));
                    }
                    summary = Some(s.clone());
                }
                _ => errors.push("'payload.summary' is missing or blank".to_string()),
            }
            match p.get("source") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => source = Some(s.clone()),
                Some(_) => errors.push("'payload.source' must be a string".to_string()),
            }
            match p.get("timestamp") {
                None | Some(Value::Null) => {}
                Some(Value::String(t)) => match DateTime::parse_from_rfc3339(t) {
                    Ok(t) => timestamp = Some(t.with_timezone(&Utc)),
                    Err(_) => errors.push(format!(
                        "'payload.timestamp' is not an ISO 8601 time: {t:?}"
                    )),
                },
                Some(_) => errors.push("'payload.timestamp' must be a string".to_string()),
            }
            custom_details = p.get("custom_details").filter(|v| !v.is_null()).cloned();
        }
    }
    let mut links = Vec::new();
    if let Some(v) = o.get("links").filter(|v| !v.is_null()) {
        match v.as_array() {
            Some(items) => {
                for (i, l) in items.iter().enumerate() {
                    match l.get("href").and_then(Value::as_str) {
                        Some(href) => {
                            let label = l.get("text").and_then(Value::as_str).unwrap_or(href);
                            links.push((href.to_string(), label.to_string()));
                        }
                        None => errors.push(format!("'links[{i}].href' is missing")),
                    }
                }
            }
            None => errors.push("'links' must be an array".to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ChangeEvent {
        routing_key: routing_key.unwrap_or_default(),
        summary: summary.unwrap_or_default(),
        source,
        timestamp,
        custom_details,
        links,
    })
}
