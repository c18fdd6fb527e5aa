//! Bounds on what clients can make the server hold or send. Each refusal names the limit and
//! comes before anything is stored: [`ServiceError::TooLarge`] for a request too big in itself,
//! [`ServiceError::Unacceptable`] for a value too big, [`ServiceError::LimitReached`] when the
//! server is full.

use std::collections::BTreeMap;

use headroom_routing::alert::Alert;

use crate::error::ServiceError;

/// Alerts in one request (`POST /api/v2/alerts`, a forwarded webhook).
pub const MAX_ALERTS_PER_REQUEST: usize = 10_000;
/// Labels on one alert.
pub const MAX_LABELS_PER_ALERT: usize = 128;
/// Bytes of one label name.
pub const MAX_LABEL_NAME_BYTES: usize = 256;
/// Bytes of one label value.
pub const MAX_LABEL_VALUE_BYTES: usize = 4 * 1024;
/// Bytes of one alert's annotations, names and values together.
pub const MAX_ANNOTATION_BYTES: usize = 64 * 1024;
/// Alerts the dispatcher holds (firing, and resolved ones not yet forgotten).
pub const MAX_ALERTS: usize = 100_000;
/// Aggregation groups the dispatcher holds.
pub const MAX_GROUPS: usize = 10_000;
/// Notifications one flush sends one receiver; groups past it share one message
/// (`headroom_routing::dispatch::bound_per_receiver`).
pub const MAX_NOTIFICATIONS_PER_RECEIVER: usize = 25;
/// Silences not yet expired.
pub const MAX_SILENCES: usize = 10_000;
/// Bytes of a silence's comment, author and matchers together.
pub const MAX_SILENCE_BYTES: usize = 16 * 1024;
/// Schedule overrides added through the API and not yet ended, per schedule.
pub const MAX_OVERRIDES_PER_SCHEDULE: usize = 1_000;
/// Entries on one incident's timeline (notes, changes, linked alerts).
pub const MAX_TIMELINE_ENTRIES: usize = 10_000;
/// Bytes of one free-text field of an incident (title, note, summary, action item).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Bytes of a PagerDuty event's `custom_details`, as JSON (PagerDuty's own limit for a whole
/// event is 512 KiB).
pub const MAX_CUSTOM_DETAILS_BYTES: usize = 64 * 1024;

pub fn full(what: &str, limit: usize) -> ServiceError {
    ServiceError::LimitReached {
        what: what.to_string(),
        limit,
    }
}

pub fn too_long(what: &str, len: usize, limit: usize) -> ServiceError {
    ServiceError::Unacceptable(format!(
        "{what} is {len} bytes, more than the limit of {limit}; nothing was stored"
    ))
}

/// A free-text field within [`MAX_TEXT_BYTES`].
pub fn check_text(what: &str, text: &str) -> Result<(), ServiceError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(too_long(what, text.len(), MAX_TEXT_BYTES));
    }
    Ok(())
}

/// The per-request and per-alert bounds of a batch of alerts.
pub fn check_alerts(alerts: &[Alert]) -> Result<(), ServiceError> {
    if alerts.len() > MAX_ALERTS_PER_REQUEST {
        return Err(ServiceError::TooLarge(format!(
            "{} alerts in one request, more than the limit of {MAX_ALERTS_PER_REQUEST}: \
             send them in smaller batches; nothing was stored",
            alerts.len()
        )));
    }
    for (i, a) in alerts.iter().enumerate() {
        check_labels(i, &a.labels)?;
        let size: usize = a.annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_ANNOTATION_BYTES {
            return Err(too_long(
                &format!("[{i}]: annotations"),
                size,
                MAX_ANNOTATION_BYTES,
            ));
        }
    }
    Ok(())
}

fn check_labels(i: usize, labels: &BTreeMap<String, String>) -> Result<(), ServiceError> {
    if labels.len() > MAX_LABELS_PER_ALERT {
        return Err(ServiceError::Unacceptable(format!(
            "[{i}]: {} labels, more than the limit of {MAX_LABELS_PER_ALERT}; nothing was stored",
            labels.len()
        )));
    }
    for (name, value) in labels {
        if name.len() > MAX_LABEL_NAME_BYTES {
            return Err(too_long(
                &format!("[{i}]: a label name"),
                name.len(),
                MAX_LABEL_NAME_BYTES,
            ));
        }
        if value.len() > MAX_LABEL_VALUE_BYTES {
            return Err(too_long(
                &format!("[{i}]: label {name:?}"),
                value.len(),
                MAX_LABEL_VALUE_BYTES,
            ));
        }
    }
    Ok(())
}
