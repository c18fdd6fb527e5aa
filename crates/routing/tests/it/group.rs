//! Group labels, group keys and fingerprints, against Alertmanager's `dispatch_test.go`
//! (`TestGroups`' group keys) and Prometheus's `model` fingerprint tests
//! (`TestLabelsToSignature`, `TestMetricToFingerprint`).

use headroom_routing::group::{
    Fingerprint, fingerprint, go_quote, group_key, group_labels, label_set_string,
};
use headroom_routing::matcher::parse_matcher;
use headroom_routing::route::{GroupBy, Route};
use headroom_routing::{LabelSet, label_set};

/// An alert's labels as written in a case.
type Pairs = Vec<(&'static str, &'static str)>;

fn by(names: &[&str]) -> GroupBy {
    GroupBy::Labels(names.iter().map(|s| s.to_string()).collect())
}

/// The tree of upstream `TestGroups`.
fn groups_tree() -> Route {
    let child = |matcher: &str, receiver: &str, group_by: GroupBy, cont: bool| Route {
        matchers: vec![parse_matcher(matcher).unwrap()],
        receiver: Some(receiver.into()),
        group_by: Some(group_by),
        continue_: cont,
        ..Route::default()
    };
    Route {
        receiver: Some("prod".into()),
        group_by: Some(by(&["alertname"])),
        routes: vec![
            child(
                r#"env="testing""#,
                "testing",
                by(&["alertname", "service"]),
                false,
            ),
            child(
                r#"env="prod""#,
                "prod",
                by(&["alertname", "service", "cluster"]),
                true,
            ),
            child(
                r#"kafka="yes""#,
                "kafka",
                by(&["alertname", "service", "cluster"]),
                false,
            ),
        ],
        ..Route::default()
    }
}

fn keys_of(tree: &Route, labels: &LabelSet) -> Vec<(String, String)> {
    tree.matching(labels)
        .into_iter()
        .map(|m| {
            let key = group_key(&m.key, &group_labels(labels, &m.options.group_by));
            (m.options.receiver.unwrap(), key)
        })
        .collect()
}

/// Upstream `TestGroups`: every alert's receiver and group key.
#[test]
fn upstream_groups_group_keys() {
    let tree = groups_tree();
    let cases: Vec<(Pairs, Vec<(&str, &str)>)> = vec![
        (
            vec![
                ("alertname", "OtherAlert"),
                ("cluster", "cc"),
                ("service", "dd"),
            ],
            vec![("prod", r#"{}:{alertname="OtherAlert"}"#)],
        ),
        (
            vec![
                ("env", "testing"),
                ("alertname", "TestingAlert"),
                ("service", "api"),
                ("instance", "inst1"),
            ],
            vec![(
                "testing",
                r#"{}/{env="testing"}:{alertname="TestingAlert", service="api"}"#,
            )],
        ),
        (
            vec![
                ("env", "prod"),
                ("alertname", "HighErrorRate"),
                ("cluster", "aa"),
                ("service", "api"),
                ("instance", "inst2"),
            ],
            vec![(
                "prod",
                r#"{}/{env="prod"}:{alertname="HighErrorRate", cluster="aa", service="api"}"#,
            )],
        ),
        (
            vec![
                ("env", "prod"),
                ("alertname", "HighLatency"),
                ("cluster", "bb"),
                ("service", "db"),
                ("kafka", "yes"),
                ("instance", "inst3"),
            ],
            vec![
                (
                    "prod",
                    r#"{}/{env="prod"}:{alertname="HighLatency", cluster="bb", service="db"}"#,
                ),
                (
                    "kafka",
                    r#"{}/{kafka="yes"}:{alertname="HighLatency", cluster="bb", service="db"}"#,
                ),
            ],
        ),
    ];
    for (input, want) in cases {
        let labels = label_set(input.iter().copied());
        let want: Vec<(String, String)> = want
            .into_iter()
            .map(|(r, k)| (r.to_owned(), k.to_owned()))
            .collect();
        assert_eq!(keys_of(&tree, &labels), want, "{input:?}");
    }
}

#[test]
fn group_labels_follow_group_by() {
    let labels = label_set([("alertname", "X"), ("job", "api"), ("env", "")]);
    assert_eq!(group_labels(&labels, &by(&[])), LabelSet::new());
    // A grouping label the alert lacks is left out.
    assert_eq!(
        group_labels(&labels, &by(&["alertname", "cluster"])),
        label_set([("alertname", "X")])
    );
    assert_eq!(group_labels(&labels, &GroupBy::All), labels);
    assert_eq!(group_key("{}", &LabelSet::new()), "{}:{}");
    assert_eq!(
        group_key("{}", &label_set([("alertname", "X")])),
        r#"{}:{alertname="X"}"#
    );
}

#[test]
fn label_sets_print_with_go_quoting() {
    assert_eq!(
        label_set_string(&label_set([("b", "2"), ("a", "1")])),
        r#"{a="1", b="2"}"#
    );
    assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
    assert_eq!(go_quote("tab\there\nnl"), r#""tab\there\nnl""#);
    assert_eq!(go_quote("\u{1}\u{7f}é…"), r#""\x01\x7fé…""#);
    assert_eq!(go_quote("\u{85}"), r#""\u0085""#);
}

/// Prometheus `TestLabelsToSignature` / `TestMetricToFingerprint` and the empty set.
#[test]
fn prometheus_fingerprints() {
    assert_eq!(
        fingerprint(&LabelSet::new()),
        Fingerprint(0xcbf2_9ce4_8422_2325)
    );
    assert_eq!(fingerprint(&LabelSet::new()).0, 14_695_981_039_346_656_037);
    assert_eq!(
        fingerprint(&label_set([
            ("name", "garland, briggs"),
            ("fear", "love is not enough"),
        ]))
        .0,
        5_799_056_148_416_392_346
    );
    assert_eq!(
        fingerprint(&LabelSet::new()).to_string(),
        "cbf29ce484222325"
    );
}

#[test]
fn fingerprints_print_as_sixteen_hex_digits() {
    assert_eq!(Fingerprint(0x1).to_string(), "0000000000000001");
    assert_eq!(
        fingerprint(&label_set([("alertname", "X")])).to_string(),
        "d2aeefc389ca7746"
    );
    // The separator keeps `a=bc` and `ab=c` apart.
    assert_ne!(
        fingerprint(&label_set([("a", "bc")])),
        fingerprint(&label_set([("ab", "c")]))
    );
}
