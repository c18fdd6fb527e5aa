//! Alertmanager's routing keys in a native document: the tree, inherited options, legacy
//! matchers, inhibition, time intervals, and every mistake located at FILE:LINE:COLUMN.

use std::time::Duration;

use headroom_routing::label_set;
use headroom_routing::route::GroupBy;
use headroom_spec::{Config, DEFAULT_RESOLVE_TIMEOUT, Problem, load_str};

fn ok(text: &str) -> Config {
    load_str("r.yaml", text).unwrap_or_else(|p| panic!("should load:\n{}", render(&p)))
}

fn errors(text: &str) -> Vec<String> {
    match load_str("r.yaml", text) {
        Ok(_) => panic!("should fail"),
        Err(p) => p.iter().map(|p| p.to_string()).collect(),
    }
}

fn names(c: &Config) -> Vec<&str> {
    c.receivers.iter().map(|r| r.name.as_str()).collect()
}

fn render(p: &[Problem]) -> String {
    p.iter().map(|p| format!("  {p}\n")).collect()
}

const TREE: &str = r#"
global:
  resolve_timeout: 2m
route:
  receiver: team
  group_by: [alertname, slo]
  group_wait: 0s
  routes:
    - matchers: ['severity="page"', '{tier=~"1|2"}']
      receiver: oncall
      continue: true
      group_by: ['...']
      mute_time_intervals: [weekend]
    - match: {service: checkout}
      match_re: {env: prod.*}
      receiver: shop
      repeat_interval: 1h
receivers:
  - name: team
  - name: oncall
  - name: shop
inhibit_rules:
  - source_matchers: ['severity="page"']
    target_matchers: ['severity="ticket"']
    equal: [slo]
time_intervals:
  - name: weekend
    time_intervals:
      - weekdays: ['saturday', 'sunday']
        times: [{start_time: '00:00', end_time: '24:00'}]
        location: Europe/Berlin
"#;

#[test]
fn an_alertmanager_tree_routes_as_configured() {
    let c = ok(TREE);
    let r = &c.routing;
    assert_eq!(r.resolve_timeout, Duration::from_secs(120));
    assert_eq!(names(&c), ["team", "oncall", "shop"]);

    let page = label_set([("alertname", "Burn"), ("severity", "page"), ("tier", "1")]);
    let taken = r.route.matching(&page);
    let receivers: Vec<_> = taken
        .iter()
        .map(|m| m.options.receiver.clone().unwrap())
        .collect();
    // `continue` lets the page fall through to the root's own receiver too? No: the second
    // child does not match, so only the first child takes it.
    assert_eq!(receivers, ["oncall"]);
    assert_eq!(taken[0].options.group_by, GroupBy::All);
    assert_eq!(taken[0].options.group_wait, Duration::ZERO);
    assert_eq!(taken[0].options.mute_time_intervals, ["weekend"]);
    assert_eq!(taken[0].key, r#"{}/{severity="page",tier=~"1|2"}"#);

    let shop = label_set([("service", "checkout"), ("env", "production")]);
    let taken = r.route.matching(&shop);
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].options.receiver.as_deref(), Some("shop"));
    assert_eq!(taken[0].options.repeat_interval, Duration::from_secs(3600));
    // Inherited from the root.
    assert_eq!(
        taken[0].options.group_by,
        GroupBy::Labels(vec!["alertname".into(), "slo".into()])
    );
    // Legacy match_re is anchored, as upstream prints it in route keys.
    assert_eq!(
        taken[0].key,
        r#"{}/{env=~"^(?:prod.*)$",service="checkout"}"#
    );
    assert!(
        r.route
            .matching(&label_set([("service", "checkout"), ("env", "xprod")]))
            .iter()
            .all(|m| m.options.receiver.as_deref() == Some("team"))
    );

    let rule = &r.inhibit_rules[0];
    assert_eq!(rule.equal, ["slo"]);
    assert_eq!(r.time_intervals[0].name, "weekend");
    // Saturday noon in Berlin is inside the interval; Monday is not.
    let sat = "2026-11-28T11:00:00Z".parse().unwrap();
    let mon = "2026-11-30T11:00:00Z".parse().unwrap();
    assert!(r.time_intervals[0].contains(sat));
    assert!(!r.time_intervals[0].contains(mon));
}

#[test]
fn without_routing_keys_everything_goes_to_one_default_receiver() {
    let c = ok("slos: []\n");
    assert_eq!(names(&c), ["default"]);
    assert!(c.receivers[0].integrations.is_empty());
    assert_eq!(c.routing.resolve_timeout, DEFAULT_RESOLVE_TIMEOUT);
    let m = c.routing.route.matching(&label_set([("a", "b")]));
    assert_eq!(m[0].options.receiver.as_deref(), Some("default"));
    assert_eq!(m[0].options.group_wait, Duration::from_secs(30));
}

#[test]
fn mistakes_are_located() {
    let e = errors(
        r#"
route:
  receiver: nobody
  group_by: ['...', slo]
  group_interval: 0s
  routes:
    - matchers: ['severity=~"(page"', 'tier=1']
      mute_time_intervals: [never]
      recevier: x
receivers:
  - name: team
  - name: team
inhibit_rules:
  - equal: ['not a label']
time_intervals:
  - name: x
    time_intervals:
      - weekdays: [funday]
        location: Mars/Base
"#,
    );
    let want = [
        "r.yaml:4:14: group_by: '...' groups by every label and cannot be combined with others",
        "r.yaml:5:19: group_interval: invalid duration \"0s\": must be greater than zero",
        "r.yaml:7:29: matcher \"severity=~\\\"(page\\\"\": invalid regex: unclosed group",
        "r.yaml:9:7: unknown field \"recevier\" in child route; did you mean \"receiver\"?",
        "r.yaml:12:11: receiver \"team\" is declared twice",
        "r.yaml:14:13: equal: \"not a label\" is not a valid label name",
        "r.yaml:18:20: weekdays:",
        "r.yaml:19:19: location:",
    ];
    for w in want {
        assert!(
            e.iter().any(|got| got.starts_with(w)),
            "missing {w:?} in:\n{}",
            e.join("\n")
        );
    }
}

#[test]
fn the_root_route_takes_everything() {
    let e = errors("route:\n  matchers: ['a=\"b\"']\n  continue: true\n");
    assert!(
        e.iter()
            .any(|m| m == "r.yaml:2:3: the root route must name a receiver"),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.ends_with("the root route must not have matchers: it takes every alert"))
    );
    assert!(
        e.iter()
            .any(|m| m.ends_with("the root route cannot have continue"))
    );
}

#[test]
fn routes_name_declared_receivers_and_intervals() {
    let e = errors(
        "route:\n  receiver: team\n  routes:\n    - receiver: nobody\n      active_time_intervals: [never]\nreceivers: [{name: team}]\n",
    );
    assert_eq!(
        e,
        [
            "r.yaml:2:3: route uses receiver \"nobody\", which no receivers entry declares",
            "r.yaml:2:3: route uses time interval \"never\", which is not defined",
        ]
    );
}
