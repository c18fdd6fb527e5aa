//! SLI events: the push API's JSON and NDJSON bodies, and the CSV/JSONL recordings `backtest` replays.

use std::collections::BTreeMap;

use headroom_core::{Event, Timestamp};
use serde::Deserialize;
use serde_json::Value;

/// An event of a recording, which names its SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub slo: String,
    pub event: Event,
}

/// What is wrong with an input and where: the event's index in a JSON batch, or its line in a file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct EventError {
    pub location: String,
    pub message: String,
}

fn err(location: impl Into<String>, message: impl Into<String>) -> EventError {
    EventError {
        location: location.into(),
        message: message.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    timestamp: Value,
    good: f64,
    total: f64,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch {
    events: Vec<Value>,
}

/// A timestamp as RFC 3339 text or unix seconds (integer or fractional, as a number or a string).
pub fn parse_timestamp(v: &Value) -> Result<Timestamp, String> {
    let from_secs = |s: f64| {
        if s.is_finite() && s.abs() < 1e11 {
            Ok(Timestamp((s * 1000.0).round() as i64))
        } else {
            Err(format!(
                "timestamp {s} is out of range (unix seconds expected)"
            ))
        }
    };
    match v {
        Value::Number(n) => from_secs(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => parse_timestamp_str(s),
        other => Err(format!(
            "timestamp must be RFC 3339 text or unix seconds, not {other}"
        )),
    }
}

pub fn parse_timestamp_str(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return parse_timestamp(&Value::from(secs));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Timestamp::from_chrono(&t))
        .map_err(|e| format!("timestamp {s:?} is neither RFC 3339 nor unix seconds: {e}"))
}

fn check_counts(good: f64, total: f64) -> Result<(), String> {
    if !good.is_finite() || !total.is_finite() {
        return Err("good and total must be finite numbers".into());
    }
    if good < 0.0 || total < 0.0 {
        return Err(format!(
            "good ({good}) and total ({total}) must not be negative"
        ));
    }
    if good > total {
        return Err(format!("good ({good}) is greater than total ({total})"));
    }
    Ok(())
}

fn event_from_value(v: Value) -> Result<Event, String> {
    let raw: RawEvent = serde_json::from_value(v).map_err(|e| e.to_string())?;
    let at = parse_timestamp(&raw.timestamp)?;
    check_counts(raw.good, raw.total)?;
    Ok(Event {
        at,
        good: raw.good,
        total: raw.total,
        labels: raw.labels,
    })
}

/// Parses a push request body: `{"events":[…]}` JSON, or NDJSON (one event object a line).
/// All or nothing: the first bad event fails the whole batch.
pub fn parse_batch(body: &[u8], ndjson: bool) -> Result<Vec<Event>, EventError> {
    let text = std::str::from_utf8(body).map_err(|_| err("body", "is not UTF-8"))?;
    if ndjson {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let loc = format!("line {}", i + 1);
            let v: Value = serde_json::from_str(line).map_err(|e| err(&loc, e.to_string()))?;
            out.push(event_from_value(v).map_err(|m| err(&loc, m))?);
        }
        return Ok(out);
    }
    let batch: RawBatch = serde_json::from_str(text).map_err(|e| err("body", e.to_string()))?;
    batch
        .events
        .into_iter()
        .enumerate()
        .map(|(i, v)| event_from_value(v).map_err(|m| err(format!("events[{i}]"), m)))
        .collect()
}

/// Parses a recording for `backtest`: CSV with a `timestamp,slo,good,total` header (any further
/// columns are grouping labels), or JSONL with the same keys (and optional `labels`).
pub fn parse_recording(file_name: &str, text: &str) -> Result<Vec<RecordedEvent>, EventError> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.trim_start().starts_with('{') {
        parse_jsonl(file_name, text)
    } else {
        parse_csv(file_name, text)
    }
}

fn parse_jsonl(file_name: &str, text: &str) -> Result<Vec<RecordedEvent>, EventError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Row {
        timestamp: Value,
        slo: String,
        good: f64,
        total: f64,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let loc = format!("{file_name}:{}", i + 1);
        let row: Row = serde_json::from_str(line).map_err(|e| err(&loc, e.to_string()))?;
        let at = parse_timestamp(&row.timestamp).map_err(|m| err(&loc, m))?;
        check_counts(row.good, row.total).map_err(|m| err(&loc, m))?;
        out.push(RecordedEvent {
            slo: row.slo,
            event: Event {
                at,
                good: row.good,
                total: row.total,
                labels: row.labels,
            },
        });
    }
    Ok(out)
}

fn parse_csv(file_name: &str, text: &str) -> Result<Vec<RecordedEvent>, EventError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (hi, header) = lines.next().ok_or_else(|| {
        err(
            file_name,
            "is empty: expected a header timestamp,slo,good,total",
        )
    })?;
    let cols: Vec<&str> = header.split(',').map(|c| c.trim()).collect();
    let find = |name: &str| {
        cols.iter().position(|c| *c == name).ok_or_else(|| {
            err(
                format!("{file_name}:{}", hi + 1),
                format!("header lacks column {name:?} (expected timestamp,slo,good,total)"),
            )
        })
    };
    let (ti, si, gi, toti) = (
        find("timestamp")?,
        find("slo")?,
        find("good")?,
        find("total")?,
    );
    let label_cols: Vec<(usize, &str)> = cols
        .iter()
        .enumerate()
        .filter(|(i, _)| ![ti, si, gi, toti].contains(i))
        .map(|(i, c)| (i, *c))
        .collect();
    let mut out = Vec::new();
    for (i, line) in lines {
        let loc = format!("{file_name}:{}", i + 1);
        let fields: Vec<&str> = line
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        if fields.len() != cols.len() {
            return Err(err(
                &loc,
                format!("has {} fields, the header has {}", fields.len(), cols.len()),
            ));
        }
        let num = |idx: usize, name: &str| {
            fields[idx]
                .parse::<f64>()
                .map_err(|_| err(&loc, format!("{name} {:?} is not a number", fields[idx])))
        };
        let at = parse_timestamp_str(fields[ti]).map_err(|m| err(&loc, m))?;
        let (good, total) = (num(gi, "good")?, num(toti, "total")?);
        check_counts(good, total).map_err(|m| err(&loc, m))?;
        let labels = label_cols
            .iter()
            .map(|(i, c)| (c.to_string(), fields[*i].to_string()))
            .collect();
        out.push(RecordedEvent {
            slo: fields[si].to_string(),
            event: Event {
                at,
                good,
                total,
                labels,
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_batch_with_both_timestamp_forms() {
        let body = br#"{"events":[{"timestamp":"2026-01-01T00:00:00Z","good":9,"total":10},
            {"timestamp":1767225660,"good":5,"total":5,"labels":{"endpoint":"/a"}}]}"#;
        let ev = parse_batch(body, false).unwrap();
        assert_eq!(ev[0].at, Timestamp(1_767_225_600_000));
        assert_eq!((ev[0].good, ev[0].total), (9.0, 10.0));
        assert_eq!(ev[1].at, Timestamp(1_767_225_660_000));
        assert_eq!(ev[1].labels["endpoint"], "/a");
    }

    #[test]
    fn ndjson_batch() {
        let body = b"{\"timestamp\":1.5,\"good\":1,\"total\":2}\n\n{\"timestamp\":3,\"good\":0,\"total\":1}\n";
        let ev = parse_batch(body, true).unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].at, Timestamp(1500));
    }

    #[test]
    fn bad_events_name_their_place() {
        let e = parse_batch(br#"{"events":[{"timestamp":1,"good":1,"total":1},{"timestamp":1,"good":3,"total":2}]}"#, false)
            .unwrap_err();
        assert_eq!(e.location, "events[1]");
        assert!(e.message.contains("greater than total"), "{e}");
        let e = parse_batch(
            br#"{"events":[{"timestamp":"yesterday","good":1,"total":1}]}"#,
            false,
        )
        .unwrap_err();
        assert!(e.message.contains("neither RFC 3339"), "{e}");
        let e = parse_batch(
            br#"{"events":[{"timestamp":1,"good":1,"total":1,"bda":2}]}"#,
            false,
        )
        .unwrap_err();
        assert!(e.message.contains("unknown field `bda`"), "{e}");
        let e =
            parse_batch(b"{\"timestamp\":1,\"good\":1,\"total\":1}\nnot json", true).unwrap_err();
        assert_eq!(e.location, "line 2");
    }

    #[test]
    fn csv_recording_with_label_columns() {
        let text = "timestamp,slo,good,total,endpoint\n2026-01-01T00:00:00Z,api,99,100,/x\n60,api,1,1,/y\n";
        let rec = parse_recording("r.csv", text).unwrap();
        assert_eq!(rec.len(), 2);
        assert_eq!(rec[0].slo, "api");
        assert_eq!(rec[0].event.labels["endpoint"], "/x");
        assert_eq!(rec[1].event.at, Timestamp(60_000));
    }

    #[test]
    fn csv_errors_point_at_the_line() {
        let e =
            parse_recording("r.csv", "timestamp,slo,good,total\n1,a,1,1\n2,a,x,1\n").unwrap_err();
        assert_eq!(e.location, "r.csv:3");
        let e = parse_recording("r.csv", "time,slo,good,total\n").unwrap_err();
        assert!(e.message.contains("\"timestamp\""), "{e}");
    }

    #[test]
    fn jsonl_recording() {
        let text =
            "{\"timestamp\":\"2026-01-01T00:01:00Z\",\"slo\":\"a\",\"good\":1,\"total\":2}\n";
        let rec = parse_recording("r.jsonl", text).unwrap();
        assert_eq!(rec[0].slo, "a");
        assert_eq!(rec[0].event.total, 2.0);
    }
}
