//! The routing tree, with the trees and expectations of Alertmanager's `dispatch/route_test.go`
//! (`TestRouteMatch`, `TestRouteMatchers`, `TestRouteWalk`, `TestInheritParentGroupByAll`) and
//! the routing half of `dispatch_test.go`'s `TestGroups`.

use std::time::Duration;

use headroom_routing::label_set;
use headroom_routing::matcher::{MatchOp, Matcher, parse_matcher};
use headroom_routing::route::{
    DEFAULT_GROUP_INTERVAL, DEFAULT_GROUP_WAIT, DEFAULT_REPEAT_INTERVAL, GroupBy, Route,
    RouteOptions,
};

fn ms(list: &[&str]) -> Vec<Matcher> {
    list.iter().map(|s| parse_matcher(s).unwrap()).collect()
}

/// Upstream converts legacy `match_re` into anchored values, which its route keys show.
fn match_re(name: &str, value: &str) -> Matcher {
    Matcher::new(name, MatchOp::Regex, format!("^(?:{value})$")).unwrap()
}

fn labels_by(names: &[&str]) -> GroupBy {
    GroupBy::Labels(names.iter().map(|s| s.to_string()).collect())
}

fn receiver(name: &str) -> Option<String> {
    Some(name.to_owned())
}

/// An alert's labels as written in a case.
type Pairs = Vec<(&'static str, &'static str)>;

/// A route that took an alert: key, receiver, path.
type Taken = (&'static str, &'static str, Vec<usize>);

const MIN: Duration = Duration::from_secs(60);

/// The tree of `TestRouteMatchers` (all routes use `matchers:`). With `legacy`, the routes
/// upstream's `TestRouteMatch` writes as `match`/`match_re` are built the way upstream converts
/// them.
fn tree(legacy: bool) -> Route {
    let team_a = if legacy {
        ms(&[r#"owner="team-A""#])
    } else {
        ms(&[r#"owner="team-A""#, r#"level!="critical""#])
    };
    let testing = if legacy {
        ms(&[r#"env="testing""#])
    } else {
        ms(&[r#"env="testing""#, r#"baz!~".*quux""#])
    };
    let prod_b = if legacy {
        vec![match_re("env", "produ.*"), match_re("job", ".*")]
    } else {
        ms(&[r#"env=~"produ.*""#, r#"job=~".*""#])
    };
    Route {
        receiver: receiver("notify-def"),
        routes: vec![
            Route {
                matchers: team_a,
                receiver: receiver("notify-A"),
                routes: vec![
                    Route {
                        matchers: testing,
                        receiver: receiver("notify-testing"),
                        group_by: Some(GroupBy::All),
                        ..Route::default()
                    },
                    Route {
                        matchers: ms(&[r#"env="production""#]),
                        receiver: receiver("notify-productionA"),
                        group_wait: Some(MIN),
                        continue_: true,
                        ..Route::default()
                    },
                    Route {
                        matchers: prod_b,
                        receiver: receiver("notify-productionB"),
                        group_wait: Some(Duration::from_secs(30)),
                        group_interval: Some(5 * MIN),
                        repeat_interval: Some(60 * MIN),
                        group_by: Some(labels_by(&["job"])),
                        ..Route::default()
                    },
                ],
                ..Route::default()
            },
            Route {
                matchers: if legacy {
                    vec![match_re("owner", "team-(B|C)")]
                } else {
                    ms(&[r#"owner=~"team-(B|C)""#])
                },
                group_by: Some(labels_by(&["foo", "bar"])),
                group_wait: Some(2 * MIN),
                receiver: receiver("notify-BC"),
                ..Route::default()
            },
            Route {
                matchers: ms(&[r#"group_by="role""#]),
                group_by: Some(labels_by(&["role"])),
                routes: vec![Route {
                    matchers: ms(&[r#"env="testing""#]),
                    receiver: receiver("notify-testing"),
                    routes: vec![Route {
                        matchers: ms(&[r#"wait="long""#]),
                        group_wait: Some(2 * MIN),
                        ..Route::default()
                    }],
                    ..Route::default()
                }],
                ..Route::default()
            },
        ],
        ..Route::default()
    }
}

fn opts(
    recv: &str,
    group_by: GroupBy,
    wait: Duration,
    interval: Duration,
    repeat: Duration,
) -> RouteOptions {
    RouteOptions {
        receiver: receiver(recv),
        group_by,
        group_wait: wait,
        group_interval: interval,
        repeat_interval: repeat,
        mute_time_intervals: vec![],
        active_time_intervals: vec![],
    }
}

fn none() -> GroupBy {
    GroupBy::Labels(vec![])
}

type Case = (
    Vec<(&'static str, &'static str)>,
    Vec<RouteOptions>,
    Vec<&'static str>,
);

fn cases(legacy: bool) -> Vec<Case> {
    let (w, i, r) = (
        DEFAULT_GROUP_WAIT,
        DEFAULT_GROUP_INTERVAL,
        DEFAULT_REPEAT_INTERVAL,
    );
    let a_key = if legacy {
        r#"{}/{owner="team-A"}"#
    } else {
        r#"{}/{level!="critical",owner="team-A"}"#
    };
    let bc_key = r#"{}/{owner=~"^(?:team-(B|C))$"}"#;
    let bc_key_plain = r#"{}/{owner=~"team-(B|C)"}"#;
    let testing_key: &'static str = if legacy {
        r#"{}/{owner="team-A"}/{env="testing"}"#
    } else {
        r#"{}/{level!="critical",owner="team-A"}/{baz!~".*quux",env="testing"}"#
    };
    let prod_a: &'static str = if legacy {
        r#"{}/{owner="team-A"}/{env="production"}"#
    } else {
        r#"{}/{level!="critical",owner="team-A"}/{env="production"}"#
    };
    let prod_b: &'static str = if legacy {
        r#"{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}"#
    } else {
        r#"{}/{level!="critical",owner="team-A"}/{env=~"produ.*",job=~".*"}"#
    };
    vec![
        (
            vec![("owner", "team-A")],
            vec![opts("notify-A", none(), w, i, r)],
            vec![a_key],
        ),
        (
            vec![("owner", "team-A"), ("env", "unset")],
            vec![opts("notify-A", none(), w, i, r)],
            vec![a_key],
        ),
        (
            vec![("owner", "team-C")],
            vec![opts("notify-BC", labels_by(&["foo", "bar"]), 2 * MIN, i, r)],
            vec![if legacy { bc_key } else { bc_key_plain }],
        ),
        (
            vec![("owner", "team-A"), ("env", "testing")],
            vec![opts("notify-testing", GroupBy::All, w, i, r)],
            vec![testing_key],
        ),
        (
            vec![("owner", "team-A"), ("env", "production")],
            vec![
                opts("notify-productionA", none(), MIN, i, r),
                opts(
                    "notify-productionB",
                    labels_by(&["job"]),
                    Duration::from_secs(30),
                    5 * MIN,
                    60 * MIN,
                ),
            ],
            vec![prod_a, prod_b],
        ),
        (
            vec![("group_by", "role")],
            vec![opts("notify-def", labels_by(&["role"]), w, i, r)],
            vec![r#"{}/{group_by="role"}"#],
        ),
        (
            vec![("env", "testing"), ("group_by", "role")],
            vec![opts("notify-testing", labels_by(&["role"]), w, i, r)],
            vec![r#"{}/{group_by="role"}/{env="testing"}"#],
        ),
        (
            vec![("env", "testing"), ("group_by", "role"), ("wait", "long")],
            vec![opts("notify-testing", labels_by(&["role"]), 2 * MIN, i, r)],
            vec![r#"{}/{group_by="role"}/{env="testing"}/{wait="long"}"#],
        ),
    ]
}

fn check(legacy: bool) {
    let tree = tree(legacy);
    for (input, want_opts, want_keys) in cases(legacy) {
        let labels = label_set(input.iter().copied());
        let got = tree.matching(&labels);
        let got_opts: Vec<RouteOptions> = got.iter().map(|m| m.options.clone()).collect();
        let got_keys: Vec<&str> = got.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(got_opts, want_opts, "options for {input:?}");
        assert_eq!(got_keys, want_keys, "keys for {input:?}");
    }
}

/// Upstream `TestRouteMatch` (legacy `match`/`match_re`, anchored keys).
#[test]
fn upstream_route_match() {
    check(true);
}

/// Upstream `TestRouteMatchers` (`matchers:` lists, keys with the values as written).
#[test]
fn upstream_route_matchers() {
    check(false);
}

/// Upstream `TestRouteWalk`: depth-first, parents first, with inherited receivers.
#[test]
fn upstream_route_walk() {
    let mut got = Vec::new();
    tree(false).walk(|_, here| got.push(here.options.receiver.clone().unwrap()));
    assert_eq!(
        got,
        [
            "notify-def",
            "notify-A",
            "notify-testing",
            "notify-productionA",
            "notify-productionB",
            "notify-BC",
            "notify-def",
            "notify-testing",
            "notify-testing",
        ]
    );
}

/// Upstream `TestInheritParentGroupByAll`.
#[test]
fn upstream_inherit_parent_group_by_all() {
    let tree = Route {
        routes: vec![Route {
            matchers: ms(&[r#"env="parent""#]),
            group_by: Some(GroupBy::All),
            routes: vec![
                Route {
                    matchers: ms(&[r#"env="child1""#]),
                    ..Route::default()
                },
                Route {
                    matchers: ms(&[r#"env="child2""#]),
                    group_by: Some(labels_by(&["foo"])),
                    ..Route::default()
                },
            ],
            ..Route::default()
        }],
        ..Route::default()
    };
    let mut seen = Vec::new();
    tree.walk(|_, here| seen.push(here.options.group_by.clone()));
    assert_eq!(
        seen,
        [none(), GroupBy::All, GroupBy::All, labels_by(&["foo"])]
    );
}

/// The routing of `dispatch_test.go`'s `TestGroups`: route keys and receivers per alert,
/// including an alert taken by a `continue` route and the next matching sibling.
#[test]
fn upstream_groups_routing() {
    let tree = groups_tree();
    let cases: Vec<(Pairs, Vec<Taken>)> = vec![
        (
            vec![
                ("alertname", "OtherAlert"),
                ("cluster", "cc"),
                ("service", "dd"),
            ],
            vec![("{}", "prod", vec![])],
        ),
        (
            vec![
                ("env", "testing"),
                ("alertname", "TestingAlert"),
                ("service", "api"),
            ],
            vec![(r#"{}/{env="testing"}"#, "testing", vec![0])],
        ),
        (
            vec![
                ("env", "prod"),
                ("alertname", "HighErrorRate"),
                ("cluster", "aa"),
            ],
            vec![(r#"{}/{env="prod"}"#, "prod", vec![1])],
        ),
        (
            vec![
                ("env", "prod"),
                ("alertname", "HighLatency"),
                ("kafka", "yes"),
            ],
            vec![
                (r#"{}/{env="prod"}"#, "prod", vec![1]),
                (r#"{}/{kafka="yes"}"#, "kafka", vec![2]),
            ],
        ),
    ];
    for (input, want) in cases {
        let got: Vec<(String, String, Vec<usize>)> = tree
            .matching(&label_set(input.iter().copied()))
            .into_iter()
            .map(|m| (m.key, m.options.receiver.unwrap(), m.path))
            .collect();
        let want: Vec<(String, String, Vec<usize>)> = want
            .into_iter()
            .map(|(k, r, p)| (k.to_owned(), r.to_owned(), p))
            .collect();
        assert_eq!(got, want, "{input:?}");
    }
}

fn groups_tree() -> Route {
    Route {
        receiver: receiver("prod"),
        group_by: Some(labels_by(&["alertname"])),
        group_wait: Some(Duration::from_millis(10)),
        group_interval: Some(Duration::from_millis(10)),
        routes: vec![
            Route {
                matchers: ms(&[r#"env="testing""#]),
                receiver: receiver("testing"),
                group_by: Some(labels_by(&["alertname", "service"])),
                ..Route::default()
            },
            Route {
                matchers: ms(&[r#"env="prod""#]),
                receiver: receiver("prod"),
                group_by: Some(labels_by(&["alertname", "service", "cluster"])),
                continue_: true,
                ..Route::default()
            },
            Route {
                matchers: ms(&[r#"kafka="yes""#]),
                receiver: receiver("kafka"),
                group_by: Some(labels_by(&["alertname", "service", "cluster"])),
                ..Route::default()
            },
        ],
        ..Route::default()
    }
}

#[test]
fn continue_false_stops_at_first_match_and_unmatched_root_takes_nothing() {
    let tree = Route {
        receiver: receiver("root"),
        routes: vec![
            Route {
                matchers: ms(&["a=1"]),
                receiver: receiver("first"),
                ..Route::default()
            },
            Route {
                matchers: ms(&["a=~1|2"]),
                receiver: receiver("second"),
                ..Route::default()
            },
        ],
        ..Route::default()
    };
    let receivers = |pairs: &[(&str, &str)]| -> Vec<String> {
        tree.matching(&label_set(pairs.iter().copied()))
            .into_iter()
            .map(|m| m.options.receiver.unwrap())
            .collect()
    };
    assert_eq!(receivers(&[("a", "1")]), ["first"]);
    assert_eq!(receivers(&[("a", "2")]), ["second"]);
    assert_eq!(receivers(&[("a", "3")]), ["root"]);

    let guarded = Route {
        matchers: ms(&["team=x"]),
        ..Route::default()
    };
    assert!(guarded.matching(&label_set([("team", "y")])).is_empty());
}

#[test]
fn defaults_empty_group_by_and_time_intervals() {
    let tree = Route {
        mute_time_intervals: vec!["nights".into()],
        group_by: Some(labels_by(&["alertname"])),
        routes: vec![Route {
            matchers: ms(&["a=1"]),
            // `group_by: []` inherits upstream.
            group_by: Some(none()),
            active_time_intervals: vec!["office".into()],
            ..Route::default()
        }],
        ..Route::default()
    };
    let root = tree.matching(&label_set([("a", "2")]));
    assert_eq!(root[0].options.receiver, None);
    assert_eq!(root[0].options.group_wait, Duration::from_secs(30));
    assert_eq!(root[0].options.group_interval, Duration::from_secs(300));
    assert_eq!(
        root[0].options.repeat_interval,
        Duration::from_secs(4 * 3600)
    );
    assert_eq!(root[0].options.mute_time_intervals, ["nights"]);
    assert_eq!(root[0].key, "{}");

    // Time intervals are the route's own: upstream does not inherit them.
    let child = tree.matching(&label_set([("a", "1")]));
    assert_eq!(child[0].options.group_by, labels_by(&["alertname"]));
    assert!(child[0].options.mute_time_intervals.is_empty());
    assert_eq!(child[0].options.active_time_intervals, ["office"]);
    assert_eq!(child[0].path, [0]);
}
