//! Inhibition, against Alertmanager's `inhibit/inhibit_test.go` (`TestInhibitRuleHasEqual`,
//! `TestInhibitRuleMatches`, `TestInhibitRuleMatchers`, `TestInhibit`).

use headroom_routing::inhibit::{InhibitRule, is_inhibited};
use headroom_routing::label_set;
use headroom_routing::matcher::{Matcher, parse_matchers};

fn ms(s: &str) -> Vec<Matcher> {
    parse_matchers(s).unwrap()
}

fn rule(source: &str, target: &str, equal: &[&str]) -> InhibitRule {
    InhibitRule {
        source_matchers: ms(source),
        target_matchers: ms(target),
        equal: equal.iter().map(|s| s.to_string()).collect(),
    }
}

/// Upstream `TestInhibitRuleHasEqual`: the equal-label check over the cached sources. Upstream
/// calls `hasEqual` directly; here the rule takes every source and the target carries `t="1"`
/// (which no source has) so that only the `equal` labels decide. Resolved sources are simply
/// not passed as firing.
#[test]
fn upstream_has_equal() {
    let any = |equal: &[&str]| rule("", r#"t="1""#, equal);
    let target = label_set([("a", "b"), ("t", "1")]);
    // No sources.
    assert!(!any(&[]).is_inhibited(&target, &[]));
    // No equal labels: any source.
    assert!(any(&[]).is_inhibited(&target, &[label_set([("a", "b"), ("c", "d")])]));
    // Matching equal label.
    assert!(any(&["a"]).is_inhibited(
        &target,
        &[
            label_set([("a", "b"), ("b", "f")]),
            label_set([("b", "f"), ("c", "d")])
        ]
    ));
    // Equal label does not match.
    assert!(!any(&["a"]).is_inhibited(
        &target,
        &[
            label_set([("a", "c"), ("c", "d")]),
            label_set([("a", "c"), ("c", "f")])
        ]
    ));
}

/// Upstream `TestInhibitRuleMatches`.
#[test]
fn upstream_rule_matches() {
    let rules = [
        rule(r#"s1="1""#, r#"t1="1""#, &["e"]),
        rule(r#"s2="1""#, r#"t2="1""#, &["e"]),
    ];
    let firing = [
        // Matches the source of rule 1.
        label_set([("s1", "1"), ("t1", "2"), ("e", "1")]),
        // Matches both sides of rule 2.
        label_set([("s2", "1"), ("t2", "1"), ("e", "1")]),
    ];
    let cases: Vec<(Vec<(&str, &str)>, bool)> = vec![
        (vec![("t1", "1"), ("e", "1")], true),
        (vec![("t2", "1"), ("e", "1")], true),
        (vec![("t1", "1"), ("t3", "1"), ("e", "1")], true),
        (vec![("t1", "1"), ("t2", "1"), ("e", "1")], true),
        (vec![("t1", "0"), ("e", "1")], false),
        // Both sides of rule 1; sourceAlert1 matches only its source side.
        (vec![("s1", "1"), ("t1", "1"), ("e", "1")], true),
        // Both sides of rule 2; so does sourceAlert2: not inhibited.
        (vec![("s2", "1"), ("t2", "1"), ("e", "1")], false),
        (vec![("t1", "1"), ("e", "0")], false),
    ];
    for (target, want) in cases {
        let target = label_set(target.iter().copied());
        assert_eq!(is_inhibited(&rules, &target, &firing), want, "{target:?}");
    }
}

/// Upstream `TestInhibitRuleMatchers` (a `!=` target matcher).
#[test]
fn upstream_rule_matchers() {
    let rules = [
        rule(r#"s1="1""#, r#"t1!="1""#, &["e"]),
        rule(r#"s2="1""#, r#"t2="1""#, &["e"]),
    ];
    let firing = [
        label_set([("s1", "1"), ("t1", "2"), ("e", "1")]),
        label_set([("s2", "1"), ("t2", "1"), ("e", "1")]),
    ];
    let cases: Vec<(Vec<(&str, &str)>, bool)> = vec![
        (vec![("t1", "1"), ("e", "1")], false),
        (vec![("t2", "1"), ("e", "1")], true),
        (vec![("t1", "1"), ("t3", "1"), ("e", "1")], false),
        (vec![("t1", "1"), ("t2", "1"), ("e", "1")], true),
        (vec![("t1", "0"), ("e", "1")], true),
        (vec![("s1", "1"), ("t1", "1"), ("e", "1")], false),
        (vec![("s2", "1"), ("t2", "1"), ("e", "1")], true),
        (vec![("t1", "1"), ("e", "0")], false),
    ];
    for (target, want) in cases {
        let target = label_set(target.iter().copied());
        assert_eq!(is_inhibited(&rules, &target, &firing), want, "{target:?}");
    }
}

/// Upstream `TestInhibit`: the source inhibits only while firing, and never itself.
#[test]
fn upstream_inhibit() {
    let rules = [rule(r#"s="1""#, r#"t="1""#, &["e"])];
    let one = label_set([("t", "1"), ("e", "f")]);
    let two = label_set([("s", "1"), ("e", "f")]);
    assert!(!is_inhibited(&rules, &one, std::slice::from_ref(&one)));
    let firing = [one.clone(), two.clone()];
    assert!(is_inhibited(&rules, &one, &firing));
    assert!(!is_inhibited(&rules, &two, &firing));
    // alertTwo resolved: no longer passed as firing.
    assert!(!is_inhibited(&rules, &one, std::slice::from_ref(&one)));
}

#[test]
fn missing_equal_labels_count_as_equal() {
    let r = rule(
        r#"severity="critical""#,
        r#"severity="warning""#,
        &["cluster", "zone"],
    );
    let source = label_set([("severity", "critical"), ("cluster", "c1")]);
    let target = label_set([("severity", "warning"), ("cluster", "c1")]);
    assert!(r.is_inhibited(&target, [&source]));
    // Missing on one side and empty on the other is equal too, as upstream reads "" for both.
    let target_empty_zone = label_set([("severity", "warning"), ("cluster", "c1"), ("zone", "")]);
    assert!(r.is_inhibited(&target_empty_zone, [&source]));
    let target_zone = label_set([("severity", "warning"), ("cluster", "c1"), ("zone", "z")]);
    assert!(!r.is_inhibited(&target_zone, [&source]));
    assert_eq!(r.inhibiting_source(&target, [&source]), Some(&source));
}

#[test]
fn an_alert_matching_both_sides_does_not_inhibit_itself() {
    // Upstream's rule: when the target matches the source side too, sources that match the
    // target side are skipped, so the alert itself can never be its own inhibitor.
    let r = rule(r#"team="db""#, r#"team="db""#, &[]);
    let alert = label_set([("team", "db")]);
    assert!(!r.is_inhibited(&alert, [&alert]));
}
