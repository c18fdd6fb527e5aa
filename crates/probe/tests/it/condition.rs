use std::time::Duration;

use headroom_probe::{Observation, parse};
use proptest::prelude::*;

fn http(status: u16, body: &str) -> Observation {
    Observation {
        status: Some(status),
        response_time_ms: Some(120),
        body: Some(body.as_bytes().to_vec()),
        ip: Some("127.0.0.1".into()),
        connected: Some(true),
        certificate_expiration: Some(Duration::from_secs(30 * 24 * 3600)),
        ..Observation::default()
    }
}

fn dns(rcode: &str, ip: &str) -> Observation {
    Observation {
        dns_rcode: Some(rcode.into()),
        ip: Some(ip.into()),
        ..Observation::default()
    }
}

const USER: &str = r#"{"name":"john","id":1,"age":1,"status":"UP","data":[{"id":1,"name":"a"},{"id":2}],
  "nested":{"list":[[1,2],[3]]},"flag":true,"ratio":0.95,"nothing":null,"errors":[],"empty":"",
  "text":"the cat sat","version":"1.10","obj":{"a":1,"b":2}}"#;

#[test]
fn evaluation_table() {
    let ok = http(200, USER);
    let down = http(503, "Service Unavailable");
    let array = http(200, r#"[{"id":1},{"id":2},{"id":3}]"#);
    let html = http(
        200,
        "<html><h1>Example Domain</h1><p>This domain is for use in examples</p></html>",
    );
    let numeric_body = http(200, "200");
    let tcp_up = Observation {
        connected: Some(true),
        response_time_ms: Some(40),
        ..Observation::default()
    };
    let tcp_down = Observation {
        connected: Some(false),
        ..Observation::default()
    };
    let tls = Observation {
        certificate_expiration: Some(Duration::from_secs(24 * 3600)),
        ..Observation::default()
    };
    let noerror = dns("NOERROR", "93.184.216.34");
    let nxdomain = dns("NXDOMAIN", "");

    #[rustfmt::skip]
    let cases: Vec<(&str, &Observation, bool)> = vec![
        // [STATUS] and operators
        ("[STATUS] == 200", &ok, true),
        ("[STATUS] == 200", &down, false),
        ("[STATUS] != 200", &down, true),
        ("[STATUS] != 200", &ok, false),
        ("[STATUS] < 300", &ok, true),
        ("[STATUS] < 200", &ok, false),
        ("[STATUS] <= 200", &ok, true),
        ("[STATUS] > 499", &down, true),
        ("[STATUS] >= 500", &down, true),
        ("[STATUS] >= 500", &ok, false),
        ("200 == [STATUS]", &ok, true),
        ("[status] == 200", &ok, true),
        ("[STATUS]   ==   200", &ok, true),
        ("[STATUS] == 0200", &ok, true),
        // pat() and any()
        ("[STATUS] == pat(2*)", &ok, true),
        ("[STATUS] == pat(2*)", &down, false),
        ("pat(5??) == [STATUS]", &down, true),
        ("[STATUS] != pat(5*)", &ok, true),
        ("[STATUS] == any(200, 201)", &ok, true),
        ("[STATUS] == any(200, 429)", &down, false),
        ("[STATUS] != any(500, 503)", &down, false),
        ("any(500,503) == [STATUS]", &down, true),
        // [RESPONSE_TIME], also against durations as Gatus allows
        ("[RESPONSE_TIME] < 500", &ok, true),
        ("[RESPONSE_TIME] < 100", &ok, false),
        ("[RESPONSE_TIME] <= 120", &ok, true),
        ("[RESPONSE_TIME] < 1s", &ok, true),
        ("[RESPONSE_TIME] > 100ms", &ok, true),
        // [BODY] whole and paths
        ("[BODY] == Service Unavailable", &down, true),
        ("[BODY] == pat(*Unavailable*)", &down, true),
        ("[BODY] == pat(*<h1>Example Domain</h1>*)", &html, true),
        ("[BODY] == pat(*healthy*)", &down, false),
        ("[BODY] == 200", &numeric_body, true),
        ("[BODY] > 100", &numeric_body, true),
        ("[BODY].status == UP", &ok, true),
        ("[BODY].status == DOWN", &ok, false),
        ("[BODY].name == john", &ok, true),
        ("[BODY].name == pat(jo*)", &ok, true),
        ("[BODY].text == pat(*cat*)", &ok, true),
        ("[BODY].id == 1", &ok, true),
        ("[BODY].age == [BODY].id", &ok, true),
        ("[BODY].data[0].id == 1", &ok, true),
        ("[BODY].data[1].id == 2", &ok, true),
        ("[BODY].data[0].name == a", &ok, true),
        ("[BODY].data.[1].id == 2", &ok, true),
        ("[BODY].nested.list[0][1] == 2", &ok, true),
        ("[BODY].nested.list[1][0] == 3", &ok, true),
        ("[BODY][0].id == 1", &array, true),
        ("[BODY][2].id == 3", &array, true),
        ("[BODY].flag == true", &ok, true),
        ("[BODY].ratio > 0.9", &ok, true),
        ("[BODY].ratio < 0.9", &ok, false),
        ("[BODY].version == 1.10", &ok, true),
        ("[BODY].version == 1.1", &ok, false), // decimals compare as text: versions stay distinct
        ("[BODY].obj == {\"a\":1,\"b\":2}", &ok, true),
        ("[BODY].data[5].id == 1", &ok, false),
        ("[BODY].missing == 1", &ok, false),
        ("[BODY].missing != 1", &ok, false), // unresolvable fails whatever the operator
        ("[BODY].name.first == j", &ok, false),
        ("[BODY].status == UP", &down, false), // non-JSON body
        ("[BODY].status == UP", &tcp_up, false), // no body observed
        // len()
        ("len([BODY].data) == 2", &ok, true),
        ("len([BODY].data) < 5", &ok, true),
        ("len([BODY].name) == 4", &ok, true),
        ("len([BODY].errors) == 0", &ok, true),
        ("len([BODY].obj) == 2", &ok, true),
        ("len([BODY].id) == 1", &ok, true),
        ("len([BODY]) == 3", &array, true),
        ("len([BODY]) == 19", &down, true),
        ("len([IP]) == 9", &ok, true),
        ("len([STATUS]) == 3", &ok, true),
        ("len([BODY].missing) == 0", &ok, false),
        // has()
        ("has([BODY].errors) == true", &ok, true),
        ("has([BODY].missing) == false", &ok, true),
        ("has([BODY].nothing) == false", &ok, true), // null counts as absent, as in Gatus
        ("has([BODY].data[1].id) == true", &ok, true),
        ("has([BODY].status) == false", &down, true), // non-JSON: nothing exists
        ("has([BODY]) == true", &down, true),
        ("has([BODY]) == false", &tcp_up, true),
        ("has([IP]) == true", &ok, true),
        ("has([IP]) == false", &nxdomain, true),
        ("has([STATUS]) == false", &tcp_up, true),
        // [IP]
        ("[IP] == 127.0.0.1", &ok, true),
        ("[IP] == pat(192.168.*)", &ok, false),
        ("[IP] == any(1.1.1.1, 93.184.216.34)", &noerror, true),
        ("[IP] != 127.0.0.1", &noerror, true),
        // [CONNECTED]
        ("[CONNECTED] == true", &tcp_up, true),
        ("[CONNECTED] == true", &tcp_down, false),
        ("[CONNECTED] == false", &tcp_down, true),
        // [CERTIFICATE_EXPIRATION]
        ("[CERTIFICATE_EXPIRATION] > 48h", &ok, true),
        ("[CERTIFICATE_EXPIRATION] > 48h", &tls, false),
        ("[CERTIFICATE_EXPIRATION] >= 24h", &tls, true),
        ("[CERTIFICATE_EXPIRATION] == 1440m", &tls, true),
        ("[CERTIFICATE_EXPIRATION] > 86399999", &tls, true),
        ("[CERTIFICATE_EXPIRATION] < 720h1s", &ok, true),
        ("[CERTIFICATE_EXPIRATION] > 1h", &tcp_up, false), // not observed
        // [DNS_RCODE]
        ("[DNS_RCODE] == NOERROR", &noerror, true),
        ("[DNS_RCODE] == NOERROR", &nxdomain, false),
        ("[DNS_RCODE] == any(NOERROR, NXDOMAIN)", &nxdomain, true),
        ("[DNS_RCODE] != SERVFAIL", &nxdomain, true),
        ("[DNS_RCODE] == NOERROR", &ok, false), // not observed
        // string ordering when either side is not numeric
        ("[BODY].name > jane", &ok, true),
        ("[BODY].name < adam", &ok, false),
        ("[DNS_RCODE] >= NOERROR", &noerror, true),
    ];
    for (text, observation, expected) in cases {
        let condition = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let outcome = condition.evaluate(observation);
        assert_eq!(
            outcome.success, expected,
            "{text} -> {} (expected {expected})",
            outcome.detail
        );
    }
}

#[test]
fn details_show_resolved_values() {
    let cases = [
        ("[STATUS] == 200", http(503, ""), "[STATUS] (503) == 200"),
        (
            "[STATUS] == any(200, 201)",
            http(503, ""),
            "[STATUS] (503) == any(200, 201)",
        ),
        (
            "[CERTIFICATE_EXPIRATION] > 720h",
            Observation {
                certificate_expiration: Some(Duration::from_secs(336 * 3600)),
                ..Observation::default()
            },
            "[CERTIFICATE_EXPIRATION] (336h) > 720h",
        ),
        (
            "len([BODY].data) < 5",
            http(200, r#"{"data":[1,2,3,4,5,6]}"#),
            "len([BODY].data) (6) < 5",
        ),
        (
            "has([BODY].errors) == false",
            http(200, r#"{"errors":["boom"]}"#),
            "has([BODY].errors) (true) == false",
        ),
        (
            "[BODY] == pat(*healthy*)",
            http(200, "everything is on fire and nothing works"),
            "[BODY] (everything is on fire and...(truncated)) == pat(*healthy*)",
        ),
        (
            "[BODY].status == UP",
            http(200, "<html>oops</html>"),
            "[BODY].status (INVALID: body is not valid JSON (expected value at line 1 column 1)) == UP",
        ),
        (
            "[BODY].data.id == 1",
            http(200, r#"{"data":[]}"#),
            "[BODY].data.id (INVALID: [BODY].data is an array, not an object with key \"id\") == 1",
        ),
        (
            "[BODY].user.name == john",
            http(200, r#"{"user":{}}"#),
            "[BODY].user.name (INVALID: [BODY].user.name not found) == john",
        ),
        (
            "[STATUS] == 200",
            Observation::default(),
            "[STATUS] (not observed) == 200",
        ),
    ];
    for (text, observation, detail) in cases {
        let outcome = parse(text).unwrap().evaluate(&observation);
        assert!(!outcome.success, "{text}");
        assert_eq!(outcome.detail, detail);
    }
    let passed = parse("[status] == 200").unwrap().evaluate(&http(200, ""));
    assert_eq!(passed.detail, "[STATUS] (200) == 200");
    assert!(passed.success);
}

#[test]
fn parse_errors_name_the_problem_and_its_column() {
    let cases = [
        ("", 1, "empty condition"),
        (
            "[STAUS] == 200",
            1,
            "unknown placeholder [STAUS]; did you mean [STATUS]?",
        ),
        (
            "[BODY].x == [RESPONSE_TIM]",
            13,
            "unknown placeholder [RESPONSE_TIM]; did you mean [RESPONSE_TIME]?",
        ),
        ("  [NOPE] == 1", 3, "unknown placeholder [NOPE]"),
        (
            "[DOMAIN_EXPIRATION] > 720h",
            1,
            "placeholder [DOMAIN_EXPIRATION] is not supported by headroom probes",
        ),
        (
            "[STATUS] 200",
            9,
            "missing operator (expected one of ==, !=, <, <=, >, >=)",
        ),
        (
            "[STATUS]==200",
            9,
            "operator == must be surrounded by spaces",
        ),
        ("[STATUS] ==", 10, "missing right-hand side after =="),
        ("== 200", 1, "missing left-hand side before =="),
        (
            "len([BODY].data == 3",
            4,
            "unbalanced parenthesis: len( is never closed",
        ),
        (
            "len([BODY].data)) == 3",
            17,
            "unbalanced parenthesis: unexpected text after len(...)",
        ),
        ("[STATUS]) == 200", 9, "unbalanced parenthesis"),
        ("foo([BODY]) == 1", 1, "unknown function foo()"),
        (
            "[STATUS] == ayn(200, 201)",
            13,
            "unknown function ayn(); did you mean any()?",
        ),
        (
            "len(200) == 3",
            5,
            "len() takes a placeholder such as [BODY].items",
        ),
        (
            "[STATUS == 200",
            1,
            "unclosed placeholder [STATUS: missing ]",
        ),
        ("[BODY].data..id == 1", 13, "empty key in [BODY] path"),
        (
            "[BODY].data[x] == 1",
            13,
            "array index must be a non-negative integer, not \"x\"",
        ),
        ("[BODY].data[0 == 1", 12, "unclosed [ in [BODY] path"),
        (
            "[STATUS].code == 1",
            9,
            "unexpected text after [STATUS]; only [BODY] takes a path",
        ),
        (
            "[STATUS] < pat(2*)",
            12,
            "pat() can only be used with == or !=, not <",
        ),
        (
            "pat(1*) == any(1, 2)",
            12,
            "pat() and any() need a value on the other side, not another pat() or any()",
        ),
        ("[STATUS] == any(200,,201)", 21, "empty value in any()"),
        // Columns count characters, not bytes.
        (
            "[BODY].é == [STAUS]",
            13,
            "unknown placeholder [STAUS]; did you mean [STATUS]?",
        ),
    ];
    for (text, column, message) in cases {
        let error = parse(text).expect_err(text);
        assert_eq!(
            (error.column, error.message.as_str()),
            (column, message),
            "{text}"
        );
    }
    assert_eq!(
        parse("[STAUS] == 200").unwrap_err().to_string(),
        "column 1: unknown placeholder [STAUS]; did you mean [STATUS]?"
    );
}

#[test]
fn display_is_canonical() {
    let cases = [
        ("[status]  ==  200", "[STATUS] == 200"),
        (
            "[STATUS] == any(200,201 ,  202)",
            "[STATUS] == any(200, 201, 202)",
        ),
        ("[Body].Data.[0].Id == 1", "[BODY].Data[0].Id == 1"),
        ("len( [BODY].items ) > 0", "len([BODY].items) > 0"),
        (
            "[BODY] == pat(*<h1>A B</h1>*)",
            "[BODY] == pat(*<h1>A B</h1>*)",
        ),
    ];
    for (text, canonical) in cases {
        assert_eq!(parse(text).unwrap().to_string(), canonical);
    }
}

#[test]
fn needs_body_only_when_body_is_referenced() {
    assert!(parse("len([BODY].x) > 0").unwrap().needs_body());
    assert!(parse("1 == [BODY]").unwrap().needs_body());
    assert!(!parse("[STATUS] == 200").unwrap().needs_body());
}

fn placeholder() -> impl Strategy<Value = String> {
    let key = "[a-zA-Z_][a-zA-Z0-9_-]{0,6}";
    let segment = prop_oneof![
        key.prop_map(|k| format!(".{k}")),
        (0usize..20).prop_map(|i| format!("[{i}]")),
    ];
    prop_oneof![
        Just("[STATUS]".to_string()),
        Just("[RESPONSE_TIME]".to_string()),
        Just("[IP]".to_string()),
        Just("[CONNECTED]".to_string()),
        Just("[CERTIFICATE_EXPIRATION]".to_string()),
        Just("[DNS_RCODE]".to_string()),
        proptest::collection::vec(segment, 0..4).prop_map(|s| format!("[BODY]{}", s.concat())),
    ]
}

fn value_operand() -> impl Strategy<Value = String> {
    prop_oneof![
        placeholder(),
        placeholder().prop_map(|p| format!("len({p})")),
        placeholder().prop_map(|p| format!("has({p})")),
        "[a-zA-Z0-9_.:/*-][a-zA-Z0-9_.:/* -]{0,10}[a-zA-Z0-9_.]|[a-zA-Z0-9]",
    ]
}

fn matcher() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9*?. <>/-]{0,12}".prop_map(|p| format!("pat({p})")),
        proptest::collection::vec("[a-zA-Z0-9.]{1,6}", 1..4)
            .prop_map(|o| format!("any({})", o.join(" , "))),
    ]
}

fn valid_condition() -> impl Strategy<Value = String> {
    let ordered = (
        value_operand(),
        prop_oneof![Just("<"), Just("<="), Just(">"), Just(">=")],
        value_operand(),
    )
        .prop_map(|(l, op, r)| format!("{l} {op} {r}"));
    let equality = (
        value_operand(),
        prop_oneof![Just("=="), Just("!=")],
        prop_oneof![value_operand(), matcher()],
        any::<bool>(),
    )
        .prop_map(|(l, op, r, swap)| {
            if swap {
                format!("{r}  {op}  {l}")
            } else {
                format!(" {l} {op} {r} ")
            }
        });
    prop_oneof![ordered, equality]
}

proptest! {
    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_condition_like_text(text in r"[\[\]().=!<> A-Z_a-z0-9,*?é-]{0,40}") {
        if let Ok(condition) = parse(&text) {
            let _ = condition.evaluate(&http(200, r#"{"a":[1,{"b":null}]}"#));
            let _ = condition.evaluate(&Observation::default());
        }
    }

    #[test]
    fn display_round_trips(text in valid_condition()) {
        let condition = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let canonical = condition.to_string();
        let reparsed = parse(&canonical).map_err(|e| TestCaseError::fail(format!("{canonical}: {e}")))?;
        prop_assert_eq!(&reparsed, &condition);
        prop_assert_eq!(reparsed.to_string(), canonical);
    }
}
