//! Conversions between the dispatcher's types and the store's records: routed alerts, the
//! notification log and silences (whose matchers are stored as the Alertmanager API writes them).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use headroom_core::Timestamp;
use headroom_routing::alert::Alert;
use headroom_routing::dispatch::LogEntry;
use headroom_routing::group::Fingerprint;
use headroom_routing::matcher::{MatchOp, Matcher};
use headroom_routing::silence::Silence;
use headroom_store::{NotificationLogEntry, RoutedAlert, SilenceRecord};
use serde_json::{Value, json};

/// The alert ended at `at` (as its source would post it resolved).
pub fn ended(alert: Alert, at: DateTime<Utc>) -> Alert {
    Alert {
        ends_at: Some(at),
        updated_at: at,
        ..alert
    }
}

/// How a stored alert with no known end is written (the column is not nullable).
const NO_END: Timestamp = Timestamp(i64::MAX);

fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".to_string())
}

pub fn alert_record(a: &Alert, source: &str) -> RoutedAlert {
    RoutedAlert {
        fingerprint: a.fingerprint().to_string(),
        labels_json: labels_json(&a.labels),
        annotations_json: labels_json(&a.annotations),
        starts_at: Timestamp::from_chrono(&a.starts_at),
        ends_at: a.ends_at.map_or(NO_END, |t| Timestamp::from_chrono(&t)),
        updated_at: Timestamp::from_chrono(&a.updated_at),
        generator_url: a.generator_url.clone(),
        timeout: a.timeout,
        source: source.to_string(),
    }
}

pub fn alert_from_record(r: &RoutedAlert) -> Option<Alert> {
    Some(Alert {
        labels: serde_json::from_str(&r.labels_json).ok()?,
        annotations: serde_json::from_str(&r.annotations_json).ok()?,
        starts_at: r.starts_at.to_chrono(),
        ends_at: (r.ends_at != NO_END).then(|| r.ends_at.to_chrono()),
        generator_url: r.generator_url.clone(),
        updated_at: r.updated_at.to_chrono(),
        timeout: r.timeout,
    })
}

pub fn log_entry_record(e: &LogEntry) -> NotificationLogEntry {
    let fps = |v: &[Fingerprint]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    NotificationLogEntry {
        receiver: e.receiver.clone(),
        group_key: e.group_key.clone(),
        payload_json: json!({"firing": fps(&e.firing), "resolved": fps(&e.resolved)}).to_string(),
        sent_at: Timestamp::from_chrono(&e.at),
        expires_at: Timestamp::from_chrono(&e.expires_at),
    }
}

pub fn log_entry_from_record(r: &NotificationLogEntry) -> Option<LogEntry> {
    let v: Value = serde_json::from_str(&r.payload_json).ok()?;
    let fps = |key: &str| -> Option<Vec<Fingerprint>> {
        v.get(key)?
            .as_array()?
            .iter()
            .map(|s| u64::from_str_radix(s.as_str()?, 16).ok().map(Fingerprint))
            .collect()
    };
    Some(LogEntry {
        receiver: r.receiver.clone(),
        group_key: r.group_key.clone(),
        firing: fps("firing")?,
        resolved: fps("resolved")?,
        at: r.sent_at.to_chrono(),
        expires_at: r.expires_at.to_chrono(),
    })
}

/// A silence's matchers as the API writes them.
pub fn matchers_json(matchers: &[Matcher]) -> Value {
    Value::Array(
        matchers
            .iter()
            .map(|m| {
                json!({
                    "name": m.name(),
                    "value": m.value(),
                    "isRegex": matches!(m.op(), MatchOp::Regex | MatchOp::NotRegex),
                    "isEqual": matches!(m.op(), MatchOp::Equal | MatchOp::Regex),
                })
            })
            .collect(),
    )
}

/// The matcher an API matcher describes.
pub fn matcher_from_api(
    name: &str,
    value: &str,
    is_regex: bool,
    is_equal: bool,
) -> Result<Matcher, String> {
    let op = match (is_regex, is_equal) {
        (false, true) => MatchOp::Equal,
        (false, false) => MatchOp::NotEqual,
        (true, true) => MatchOp::Regex,
        (true, false) => MatchOp::NotRegex,
    };
    Matcher::new(name, op, value).map_err(|e| format!("matcher {name}: {e}"))
}

pub fn silence_record(s: &Silence, updated_at: Timestamp) -> SilenceRecord {
    SilenceRecord {
        id: s.id.clone(),
        matchers_json: matchers_json(&s.matchers).to_string(),
        starts_at: Timestamp::from_chrono(&s.starts_at),
        ends_at: Timestamp::from_chrono(&s.ends_at),
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
        updated_at,
    }
}

pub fn silence_from_record(r: &SilenceRecord) -> Option<Silence> {
    let v: Value = serde_json::from_str(&r.matchers_json).ok()?;
    let matchers = v
        .as_array()?
        .iter()
        .map(|m| {
            matcher_from_api(
                m.get("name")?.as_str()?,
                m.get("value")?.as_str()?,
                m.get("isRegex")?.as_bool()?,
                m.get("isEqual")?.as_bool()?,
            )
            .ok()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Silence {
        id: r.id.clone(),
        matchers,
        starts_at: r.starts_at.to_chrono(),
        ends_at: r.ends_at.to_chrono(),
        created_by: r.created_by.clone(),
        comment: r.comment.clone(),
    })
}
