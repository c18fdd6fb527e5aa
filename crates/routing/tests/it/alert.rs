//! Alerts: API v2's handling of posted alerts and its validation messages, `Merge`, and
//! `provider/mem`'s `Put` and garbage collection.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use headroom_routing::alert::{Alert, AlertBook, AlertError, AlertStatus, PostableAlert};
use headroom_routing::group::fingerprint;
use headroom_routing::label_set;

const RESOLVE: Duration = Duration::from_secs(300);

fn at(m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap() + TimeDelta::minutes(m)
}

fn posted(starts: Option<i64>, ends: Option<i64>) -> PostableAlert {
    PostableAlert {
        labels: label_set([("alertname", "DiskFull"), ("instance", "db1")]),
        annotations: label_set([("summary", "disk full")]),
        starts_at: starts.map(at),
        ends_at: ends.map(at),
        generator_url: "http://prometheus/graph".into(),
    }
}

fn alert(updated: i64, starts: i64, ends: Option<i64>, timeout: bool, summary: &str) -> Alert {
    Alert {
        labels: label_set([("alertname", "DiskFull")]),
        annotations: label_set([("summary", summary)]),
        starts_at: at(starts),
        ends_at: ends.map(at),
        generator_url: String::new(),
        updated_at: at(updated),
        timeout,
    }
}

#[test]
fn missing_times_are_filled_as_the_api_fills_them() {
    let a = posted(None, None).into_alert(at(5), RESOLVE).unwrap();
    assert_eq!(a.starts_at, at(5));
    assert_eq!(a.ends_at, Some(at(10)));
    assert!(a.timeout);
    assert_eq!(a.updated_at, at(5));
    assert_eq!(a.generator_url, "http://prometheus/graph");
    assert_eq!(a.annotations["summary"], "disk full");

    // Only an end: the start is the end (an alert reported already resolved).
    let a = posted(None, Some(3)).into_alert(at(5), RESOLVE).unwrap();
    assert_eq!(
        (a.starts_at, a.ends_at, a.timeout),
        (at(3), Some(at(3)), false)
    );

    let a = posted(Some(1), Some(20))
        .into_alert(at(5), RESOLVE)
        .unwrap();
    assert_eq!(
        (a.starts_at, a.ends_at, a.timeout),
        (at(1), Some(at(20)), false)
    );
}

#[test]
fn validation_errors_use_upstream_messages() {
    let err = posted(Some(10), Some(9))
        .into_alert(at(5), RESOLVE)
        .unwrap_err();
    assert_eq!(err, AlertError::EndBeforeStart);
    assert_eq!(err.to_string(), "start time must be before end time");

    let mut p = posted(None, None);
    p.labels.insert("1st".into(), "x".into());
    let err = p.into_alert(at(5), RESOLVE).unwrap_err();
    assert_eq!(err.to_string(), r#"invalid label set: invalid name "1st""#);

    let mut p = posted(None, None);
    p.labels.insert("team-name".into(), "x".into());
    assert_eq!(
        p.into_alert(at(5), RESOLVE).unwrap_err(),
        AlertError::InvalidLabelName("team-name".into())
    );

    let mut p = posted(None, None);
    p.annotations.insert("run.book".into(), "x".into());
    let err = p.into_alert(at(5), RESOLVE).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid annotations: invalid name "run.book""#
    );

    // Empty values are dropped before validation, so this has no labels at all.
    let p = PostableAlert {
        labels: label_set([("alertname", "")]),
        ..PostableAlert::default()
    };
    let err = p.into_alert(at(5), RESOLVE).unwrap_err();
    assert_eq!(err.to_string(), "at least one label pair required");

    let mut p = posted(None, None);
    p.labels.insert("empty".into(), String::new());
    let a = p.into_alert(at(5), RESOLVE).unwrap();
    assert!(!a.labels.contains_key("empty"));
    assert_eq!(a.fingerprint(), fingerprint(&posted(None, None).labels));
}

#[test]
fn resolved_from_the_end_inclusive() {
    let a = alert(0, 0, Some(10), false, "");
    assert!(!a.resolved_at(at(10) - TimeDelta::nanoseconds(1)));
    assert!(a.resolved_at(at(10)));
    assert_eq!(a.status(at(9)), AlertStatus::Firing);
    assert_eq!(a.status(at(11)).to_string(), "resolved");
    let open = alert(0, 0, None, false, "");
    assert_eq!(open.status(at(1_000_000)), AlertStatus::Firing);
}

#[test]
fn merge_keeps_the_younger_version_and_the_earliest_start() {
    let old = alert(0, 0, Some(5), true, "old");
    let new = alert(2, 1, Some(7), true, "new");
    for merged in [old.merge(&new, at(3)), new.merge(&old, at(3))] {
        assert_eq!(merged.annotations["summary"], "new");
        assert_eq!(merged.starts_at, at(0));
        assert_eq!(merged.ends_at, Some(at(7)));
        assert_eq!(merged.updated_at, at(2));
    }
}

#[test]
fn merge_prefers_a_later_explicit_end_while_firing() {
    // The older version was sent with an explicit end far ahead; the younger one only has a
    // timeout end: the explicit one wins.
    let old = alert(0, 0, Some(60), false, "old");
    let new = alert(2, 0, Some(7), true, "new");
    assert_eq!(old.merge(&new, at(3)).ends_at, Some(at(60)));
    // A timeout end does not win over the younger's end.
    let old = alert(0, 0, Some(60), true, "old");
    assert_eq!(old.merge(&new, at(3)).ends_at, Some(at(7)));
    // Younger resolved, older firing: the younger's end stands.
    let old = alert(0, 0, Some(60), false, "old");
    let new = alert(2, 0, Some(2), false, "new");
    assert_eq!(old.merge(&new, at(3)).ends_at, Some(at(2)));
    // Both resolved: the latest end wins.
    let old = alert(0, 0, Some(3), false, "old");
    let new = alert(2, 0, Some(1), false, "new");
    assert_eq!(old.merge(&new, at(4)).ends_at, Some(at(3)));
}

#[test]
fn put_merges_only_overlapping_versions() {
    let mut book = AlertBook::new();
    book.put(alert(0, 0, Some(5), true, "first"), at(0));
    // Starts inside the stored range: merged, the earlier start kept.
    let stored = book
        .put(alert(1, 1, Some(6), true, "second"), at(1))
        .clone();
    assert_eq!((stored.starts_at, stored.ends_at), (at(0), Some(at(6))));
    assert_eq!(stored.annotations["summary"], "second");
    // Same start, later end: neither end nor start strictly inside, so upstream replaces.
    let stored = book.put(alert(2, 0, Some(9), true, "third"), at(2)).clone();
    assert_eq!((stored.starts_at, stored.ends_at), (at(0), Some(at(9))));
    // A resolve whose end falls inside: merged, now resolved, start kept.
    let resolve = alert(3, 3, Some(3), false, "resolve");
    let stored = book.put(resolve, at(3)).clone();
    assert_eq!((stored.starts_at, stored.ends_at), (at(0), Some(at(3))));
    assert!(stored.resolved_at(at(3)));
    // A new episode after the end: replaced, the old start forgotten.
    let stored = book
        .put(alert(20, 20, Some(25), true, "again"), at(20))
        .clone();
    assert_eq!(stored.starts_at, at(20));
    assert_eq!(book.len(), 1);
    assert_eq!(
        book.get(stored.fingerprint())
            .map(|a| a.annotations["summary"].clone()),
        Some("again".to_owned())
    );
}

#[test]
fn gc_forgets_alerts_resolved_by_the_instant() {
    let mut book = AlertBook::new();
    let mut early = alert(0, 0, Some(5), false, "");
    early.labels.insert("instance".into(), "a".into());
    let mut late = alert(0, 0, Some(15), false, "");
    late.labels.insert("instance".into(), "b".into());
    book.put(early.clone(), at(0));
    book.put(late.clone(), at(0));
    assert!(book.gc(at(4)).is_empty());
    let gone = book.gc(at(5));
    assert_eq!(gone, vec![early]);
    assert_eq!(book.iter().cloned().collect::<Vec<_>>(), vec![late]);
    assert!(!book.is_empty());
}
