//! Aggregation groups: the labels that group an alert under a route, the group key, and label
//! set fingerprints, as Alertmanager prints them.
//!
//! - Group labels are the alert's labels named by the route's `group_by` (all of them for
//!   `['...']`); a grouping label the alert lacks is left out, not set to `""`.
//! - The group key is `dispatch.aggrGroup.GroupKey()`: `{route key}:{group labels}`, the labels
//!   printed as Prometheus's `LabelSet.String()` (sorted, `name="value"` with Go's `%q`
//!   quoting, joined by `", "`).
//! - The fingerprint is Prometheus's `model.LabelSet.Fingerprint()`: FNV-1a 64 over the sorted
//!   names and values, each followed by the separator byte `0xff`; the empty set hashes to the
//!   FNV offset basis. It prints as 16 lowercase hex digits, as the webhook payload does.

use std::fmt;

use crate::LabelSet;
use crate::route::GroupBy;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const SEPARATOR: u8 = 0xff;

/// A label set's identity, as Prometheus and Alertmanager compute it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    /// 16 zero-padded lowercase hex digits (Go's `%016x`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The fingerprint of a label set.
pub fn fingerprint(labels: &LabelSet) -> Fingerprint {
    let mut hash = FNV_OFFSET;
    let mut add = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    // A BTreeMap iterates in name order, which is the order upstream sorts into.
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[SEPARATOR]);
        add(value.as_bytes());
        add(&[SEPARATOR]);
    }
    Fingerprint(hash)
}

/// The alert's labels that its route groups by.
pub fn group_labels(labels: &LabelSet, group_by: &GroupBy) -> LabelSet {
    labels
        .iter()
        .filter(|(name, _)| group_by.contains(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Alertmanager's group key: `{route key}:{group labels}`.
pub fn group_key(route_key: &str, group_labels: &LabelSet) -> String {
    format!("{route_key}:{}", label_set_string(group_labels))
}

/// Prometheus's `LabelSet.String()`: `{a="1", b="2"}`.
pub fn label_set_string(labels: &LabelSet) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={}", go_quote(value)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Go's `%q` for a valid UTF-8 string: printable characters as themselves, the usual C escapes,
/// other control characters as `\xNN` (ASCII) or `\uNNNN`/`\UNNNNNNNN`. Go also escapes the
/// non-control characters `unicode.IsPrint` rejects (format characters such as U+00AD,
/// unassigned code points); those are left as they are here, the one place where a group key
/// can differ from upstream's.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let code = c as u32;
                if code <= 0xffff {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
