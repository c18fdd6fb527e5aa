//! Checks shared by every format: names, label names, queries, time zones.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use headroom_core::{CalendarUnit, Objective};

use crate::read::{At, Cx, did_you_mean, open, string};
use crate::yaml::Node;

/// Sloth's rule for service and SLO names, which end up in label values, rule names and URLs:
/// letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
/// (Sloth also demands two characters; a single letter or digit is accepted here.)
pub(crate) fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Reports an empty or malformed name; `what` says whose name it is ("service", "SLO name").
pub(crate) fn check_name(cx: &mut Cx, name: &At<String>, what: &str) -> bool {
    if name.v.is_empty() {
        cx.err(name.pos, format!("{what} is empty"));
        false
    } else if !is_valid_name(&name.v) {
        cx.err(
            name.pos,
            format!(
                "{what} {:?} is not a valid name: use letters, digits, '-', '_' and '.', \
                 starting and ending with a letter or digit",
                name.v
            ),
        );
        false
    } else {
        true
    }
}

/// A Prometheus label name; names starting with `__` are reserved for Prometheus itself.
pub(crate) fn is_label_name(s: &str) -> bool {
    headroom_core::is_label_name(s) && !s.starts_with("__")
}

pub(crate) fn check_label_name(cx: &mut Cx, name: &At<String>, what: &str) -> bool {
    if is_label_name(&name.v) {
        return true;
    }
    cx.err(
        name.pos,
        format!(
            "{what} {:?} is not a valid Prometheus label name: use letters, digits and '_', \
             not starting with a digit or with \"__\"",
            name.v
        ),
    );
    false
}

/// A `labels:` mapping: label names as keys, any scalar as value (`tier: 2` is the label "2").
pub(crate) fn labels(cx: &mut Cx, node: &Node, what: &str) -> BTreeMap<String, String> {
    string_map(cx, node, what, "label")
}

/// An `annotations:` mapping: keys must be label names (as Prometheus rule files require).
pub(crate) fn annotations(cx: &mut Cx, node: &Node, what: &str) -> BTreeMap<String, String> {
    string_map(cx, node, what, "annotation")
}

fn string_map(cx: &mut Cx, node: &Node, what: &str, entry: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if node.is_null() {
        return out;
    }
    let Some(f) = open(cx, node, what) else {
        return out;
    };
    let key_what = format!("{entry} name");
    for (k, v) in f.entries() {
        let Some(key) = string(cx, k, &key_what) else {
            continue;
        };
        // Annotations may use the reserved `__` prefix; labels may not.
        let name_ok = if entry == "annotation" && key.v.starts_with("__") {
            is_label_name(key.v.trim_start_matches('_')) || check_label_name(cx, &key, &key_what)
        } else {
            check_label_name(cx, &key, &key_what)
        };
        let value = match v.scalar_text() {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            Some(_) => None,
            None if v.is_null() => None,
            None => {
                cx.err(
                    v.pos,
                    format!(
                        "{entry} {:?} must have a string value, found {}",
                        key.v,
                        v.type_name()
                    ),
                );
                continue;
            }
        };
        match value {
            Some(value) if name_ok => {
                out.insert(key.v, value);
            }
            Some(_) => {}
            None => cx.err(v.pos, format!("{entry} {:?} has an empty value", key.v)),
        }
    }
    out
}

/// Sloth's `{{.window}}` placeholder, with the spacing Go templates allow (`{{ .window }}`).
pub(crate) fn has_window_placeholder(q: &str) -> bool {
    let mut rest = q;
    while let Some(i) = rest.find("{{") {
        let after = rest[i + 2..].trim_start();
        if let Some(tail) = after.strip_prefix(".window")
            && tail.trim_start().starts_with("}}")
        {
            return true;
        }
        rest = &rest[i + 2..];
    }
    false
}

/// A query that headroom will hand to Prometheus over each window: non-empty, with `{{.window}}`.
pub(crate) fn check_windowed_query(cx: &mut Cx, q: &At<String>, what: &str) -> bool {
    if q.v.trim().is_empty() {
        cx.err(q.pos, format!("{what} is empty"));
        false
    } else if !has_window_placeholder(&q.v) {
        cx.err(
            q.pos,
            format!(
                "{what} has no {{{{.window}}}} placeholder: the query must take its range from \
                 the window being evaluated, e.g. rate(x[{{{{.window}}}}])"
            ),
        );
        false
    } else {
        true
    }
}

pub(crate) fn time_zone(cx: &mut Cx, name: &At<String>) -> Option<Tz> {
    if let Ok(tz) = name.v.parse::<Tz>() {
        return Some(tz);
    }
    let hint = did_you_mean(&name.v, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()))
        .map(|s| format!("; did you mean {s:?}?"))
        .unwrap_or_else(|| " (use an IANA name such as Europe/Berlin or UTC)".to_string());
    cx.err(name.pos, format!("unknown time zone {:?}{hint}", name.v));
    None
}

/// An objective written as a percentage (Sloth's `objective: 99.9`, native `objective`,
/// OpenSLO `targetPercent`).
pub(crate) fn objective_percent(cx: &mut Cx, p: &At<f64>, field: &str) -> Option<Objective> {
    match Objective::from_percent(p.v) {
        Ok(o) => {
            if p.v < 1.0 {
                cx.warn(
                    p.pos,
                    format!(
                        "{field} {} is a percentage, so this SLO allows {}% errors; did you mean {}?",
                        p.v,
                        100.0 - p.v,
                        p.v * 100.0
                    ),
                );
            }
            Some(o)
        }
        Err(_) => {
            cx.err(
                p.pos,
                format!(
                    "{field} {} is out of range: it must be above 0 and below 100 percent",
                    p.v
                ),
            );
            None
        }
    }
}

/// An objective written as a ratio (OpenSLO `target: 0.999`, native `target`).
pub(crate) fn objective_ratio(cx: &mut Cx, r: &At<f64>, field: &str) -> Option<Objective> {
    match Objective::new(r.v) {
        Ok(o) => Some(o),
        Err(_) => {
            let hint = if r.v > 1.0 && r.v < 100.0 {
                format!(" ({} looks like a percentage: write {})", r.v, r.v / 100.0)
            } else {
                String::new()
            };
            cx.err(
                r.pos,
                format!(
                    "{field} {} is out of range: it is a ratio and must be above 0 and below 1{hint}",
                    r.v
                ),
            );
            None
        }
    }
}

/// The target a time slice must meet to count as good: a ratio in (0, 1].
pub(crate) fn slice_target(cx: &mut Cx, t: &At<f64>, field: &str) -> Option<f64> {
    if t.v > 0.0 && t.v <= 1.0 {
        Some(t.v)
    } else {
        cx.err(
            t.pos,
            format!(
                "{field} {} is out of range: a slice target is a ratio above 0 and at most 1",
                t.v
            ),
        );
        None
    }
}

pub(crate) fn calendar_unit(cx: &mut Cx, u: &At<String>) -> Option<CalendarUnit> {
    const UNITS: [&str; 4] = ["week", "month", "quarter", "year"];
    match u.v.to_ascii_lowercase().as_str() {
        "week" => Some(CalendarUnit::Week),
        "month" => Some(CalendarUnit::Month),
        "quarter" => Some(CalendarUnit::Quarter),
        "year" => Some(CalendarUnit::Year),
        other => {
            let hint = did_you_mean(other, UNITS)
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            cx.err(
                u.pos,
                format!(
                    "unknown calendar unit {:?}: use week, month, quarter or year{hint}",
                    u.v
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "slo1", "requests-availability", "k8s.api_server-1"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "with space", "a/b", "ünï"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        assert!(is_label_name("severity"));
        assert!(is_label_name("_x1"));
        assert!(!is_label_name("1x"));
        assert!(!is_label_name("plug-l1"));
        assert!(!is_label_name("__name__"));
        assert!(!is_label_name(""));
    }

    #[test]
    fn window_placeholder_spellings() {
        assert!(has_window_placeholder("rate(x[{{.window}}])"));
        assert!(has_window_placeholder("rate(x[{{ .window }}])"));
        assert!(!has_window_placeholder("rate(x[5m])"));
        assert!(!has_window_placeholder("rate(x[{{.windows}}])"));
        assert!(!has_window_placeholder("{{ .win }} {{"));
    }
}
