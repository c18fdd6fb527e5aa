//! Matcher parsing and matching, with the cases of Alertmanager's `pkg/labels/parse_test.go`
//! (`TestMatchers`) and `matcher_test.go`.

use headroom_routing::label_set;
use headroom_routing::matcher::{
    MatchOp, Matcher, MatcherErrorKind, all_match, matchers_to_string, parse_matcher,
    parse_matchers,
};
use proptest::prelude::*;

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher::new(name, op, value).unwrap()
}

/// Upstream `TestMatchers`: every accepted input and the matchers it yields.
#[test]
fn upstream_accepted_inputs() {
    use MatchOp::*;
    let cases: Vec<(&str, Vec<Matcher>)> = vec![
        (r#"{foo="bar"}"#, vec![m("foo", Equal, "bar")]),
        (r#"{foo=~"bar.*"}"#, vec![m("foo", Regex, "bar.*")]),
        (r#"{foo!="bar"}"#, vec![m("foo", NotEqual, "bar")]),
        (r#"{foo!~"bar.*"}"#, vec![m("foo", NotRegex, "bar.*")]),
        (
            r#"{foo="bar", baz!="quux"}"#,
            vec![m("foo", Equal, "bar"), m("baz", NotEqual, "quux")],
        ),
        (
            r#"{foo="bar", baz!~"quux.*"}"#,
            vec![m("foo", Equal, "bar"), m("baz", NotRegex, "quux.*")],
        ),
        (
            r#"{foo="bar",baz!~".*quux", derp="wat"}"#,
            vec![
                m("foo", Equal, "bar"),
                m("baz", NotRegex, ".*quux"),
                m("derp", Equal, "wat"),
            ],
        ),
        (
            r#"{foo="bar", baz!="quux", derp="wat"}"#,
            vec![
                m("foo", Equal, "bar"),
                m("baz", NotEqual, "quux"),
                m("derp", Equal, "wat"),
            ],
        ),
        (
            r#"{foo="bar", baz!~".*quux.*", derp="wat"}"#,
            vec![
                m("foo", Equal, "bar"),
                m("baz", NotRegex, ".*quux.*"),
                m("derp", Equal, "wat"),
            ],
        ),
        (
            r#"{foo="bar", instance=~"some-api.*"}"#,
            vec![m("foo", Equal, "bar"), m("instance", Regex, "some-api.*")],
        ),
        (r#"{foo=""}"#, vec![m("foo", Equal, "")]),
        (
            r#"{foo="bar,quux", job="job1"}"#,
            vec![m("foo", Equal, "bar,quux"), m("job", Equal, "job1")],
        ),
        (
            r#"{foo = "bar", dings != "bums", }"#,
            vec![m("foo", Equal, "bar"), m("dings", NotEqual, "bums")],
        ),
        (
            "foo=bar,dings!=bums",
            vec![m("foo", Equal, "bar"), m("dings", NotEqual, "bums")],
        ),
        (
            r#"{quote="She said: \"Hi, ladies! That's gender-neutral…\""}"#,
            vec![m(
                "quote",
                Equal,
                r#"She said: "Hi, ladies! That's gender-neutral…""#,
            )],
        ),
        (r#"statuscode=~"5..""#, vec![m("statuscode", Regex, "5..")]),
        ("tricky=~~~", vec![m("tricky", Regex, "~~")]),
        (
            r#"trickier==\\=\=\""#,
            vec![m("trickier", Equal, r#"=\=\=""#)],
        ),
        (
            r#"contains_quote != "\"" , contains_comma !~ "foo,bar" , "#,
            vec![
                m("contains_quote", NotEqual, "\""),
                m("contains_comma", NotRegex, "foo,bar"),
            ],
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_matchers(input).unwrap(), want, "input {input}");
    }
}

/// Upstream `TestMatchers`: every refused input, with the kind of error and its column.
#[test]
fn upstream_refused_inputs() {
    use MatcherErrorKind::*;
    let cases: Vec<(&str, MatcherErrorKind, usize)> = vec![
        ("job=", MissingValue, 5),
        (r#"job="value"#, UnterminatedQuote, 5),
        (r#"job=value""#, UnescapedQuote, 10),
        (r#"trickier==\\=\=\"""#, UnescapedQuote, 18),
        (r#"contains_unescaped_quote = foo"bar"#, UnescapedQuote, 31),
        (r#"{invalid-name = "valid label"}"#, BadName, 9),
        // Double-escaped strings are refused: they start with a quote, not a name.
        (r#""{foo=\"bar"}"#, BadName, 1),
        (r#""foo=\"bar""#, BadName, 1),
        (r#""foo=\"bar\"""#, BadName, 1),
        (r#""foo=\"bar\""#, BadName, 1),
        (r#""{foo=\"bar\"}""#, BadName, 1),
        (r#""foo="bar"""#, BadName, 1),
    ];
    for (input, kind, column) in cases {
        let err = parse_matchers(input).unwrap_err();
        assert_eq!((err.kind, err.column), (kind, column), "input {input}");
    }
    let err = parse_matchers(r#"{foo=~"invalid[regexp"}"#).unwrap_err();
    assert!(matches!(err.kind, InvalidRegex(_)), "{err}");
    assert_eq!(err.column, 7);
}

#[test]
fn error_columns_count_characters_and_list_positions() {
    // The second matcher's missing operator is reported at its place in the whole list.
    let err = parse_matchers(r#"{a="é", b "c"}"#).unwrap_err();
    assert_eq!(err.kind, MatcherErrorKind::BadOperator);
    assert_eq!(err.column, 11);
    assert_eq!(
        err.to_string(),
        "column 11: bad matcher format: expected one of =, !=, =~, !~"
    );
    let err = parse_matchers(r#"a="b",,c="d""#).unwrap_err();
    assert_eq!((err.kind, err.column), (MatcherErrorKind::Empty, 7));
    assert_eq!(
        parse_matcher("").unwrap_err().kind,
        MatcherErrorKind::BadName
    );
    assert_eq!(parse_matchers("").unwrap(), vec![]);
    assert_eq!(parse_matchers("{}").unwrap(), vec![]);
}

#[test]
fn values_unescape_like_upstream() {
    // `\n` is a newline, `\\` a backslash, `\"` a quote; other escapes stay literal.
    assert_eq!(parse_matcher(r#"a="x\ny""#).unwrap().value(), "x\ny");
    assert_eq!(parse_matcher(r#"a="x\\y""#).unwrap().value(), r"x\y");
    assert_eq!(parse_matcher(r#"a="\d+""#).unwrap().value(), r"\d+");
    // A trailing backslash of a bare value is literal.
    assert_eq!(parse_matcher(r"a=x\").unwrap().value(), r"x\");
    // Bare values keep inner spaces and lose surrounding ones.
    assert_eq!(parse_matcher("a =  b c  ").unwrap().value(), "b c");
    assert_eq!(parse_matcher(":name_1:=v").unwrap().name(), ":name_1:");
}

/// Upstream `TestMatcher`: matching, regex anchoring, and missing labels as "".
#[test]
fn matching_semantics() {
    use MatchOp::*;
    let cases = [
        (m("foo", Equal, "bar"), "bar", true),
        (m("foo", Equal, "bar"), "foo-bar", false),
        (m("foo", NotEqual, "bar"), "bar", false),
        (m("foo", NotEqual, "bar"), "foo-bar", true),
        (m("foo", Regex, "bar"), "bar", true),
        (m("foo", Regex, "bar"), "foo-bar", false),
        (m("foo", Regex, ".*bar"), "foo-bar", true),
        (m("foo", NotRegex, "bar"), "bar", false),
        (m("foo", NotRegex, "bar"), "foo-bar", true),
        (m("foo", NotRegex, ".*bar"), "foo-bar", false),
        (m("foo", Regex, "a|b"), "ab", false),
        (m("foo", Regex, "a|b"), "b", true),
        (m("foo", Regex, ""), "", true),
    ];
    for (matcher, value, want) in cases {
        assert_eq!(matcher.matches_value(value), want, "{matcher} on {value:?}");
    }
    let labels = label_set([("job", "api")]);
    assert!(parse_matcher(r#"missing="""#).unwrap().matches(&labels));
    assert!(parse_matcher(r#"missing=~"|x""#).unwrap().matches(&labels));
    assert!(!parse_matcher(r#"missing!="""#).unwrap().matches(&labels));
    assert!(!parse_matcher(r#"missing=~".+""#).unwrap().matches(&labels));
    assert!(all_match(&[], &labels));
    assert!(all_match(
        &parse_matchers(r#"job="api",env!="prod""#).unwrap(),
        &labels
    ));
}

/// Upstream `TestMatcherString` and `Matchers.String()`: quoting and sorting.
#[test]
fn display_and_list_string() {
    assert_eq!(m("foo", MatchOp::Equal, "bar").to_string(), r#"foo="bar""#);
    assert_eq!(
        m("foo", MatchOp::NotEqual, "bar").to_string(),
        r#"foo!="bar""#
    );
    assert_eq!(m("foo", MatchOp::Regex, "bar").to_string(), r#"foo=~"bar""#);
    assert_eq!(
        m("foo", MatchOp::NotRegex, "bar").to_string(),
        r#"foo!~"bar""#
    );
    assert_eq!(
        m("foo", MatchOp::Equal, "a\"b\\c\nd").to_string(),
        r#"foo="a\"b\\c\nd""#
    );
    let list = parse_matchers(r#"{owner="team-A", level!="critical"}"#).unwrap();
    assert_eq!(
        matchers_to_string(&list),
        r#"{level!="critical",owner="team-A"}"#
    );
    assert_eq!(matchers_to_string(&[]), "{}");
}

fn arb_matcher() -> impl Strategy<Value = Matcher> {
    let name = "[a-zA-Z_:][a-zA-Z0-9_:]{0,8}";
    let op = prop_oneof![
        Just(MatchOp::Equal),
        Just(MatchOp::NotEqual),
        Just(MatchOp::Regex),
        Just(MatchOp::NotRegex),
    ];
    // Any text for equality; for regexes, text made of literal characters and escapes.
    let value = "[ -~\\n\"\\\\é,{}]{0,12}";
    (name, op, value).prop_filter_map("regex must compile", |(n, o, v)| Matcher::new(n, o, v).ok())
}

proptest! {
    #[test]
    fn display_round_trips(matcher in arb_matcher()) {
        let text = matcher.to_string();
        prop_assert_eq!(parse_matcher(&text).unwrap(), matcher.clone());
        // And inside a list, where commas and braces in values must not split.
        let list = format!("{{{text}, {text}}}");
        prop_assert_eq!(parse_matchers(&list).unwrap(), vec![matcher.clone(), matcher]);
    }
}
