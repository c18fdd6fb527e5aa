use chrono::{DateTime, TimeZone, Utc};
use headroom_notify::{Actions, Alert, Fingerprint, Labels, Message, SloContext, Status};

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, h, m, s).unwrap()
}

pub const GROUP_KEY: &str = r#"{}:{alertname="HighErrorRate"}"#;

pub fn alert(instance: &str, status: Status, fingerprint: u64) -> Alert {
    Alert {
        status,
        labels: labels(&[
            ("alertname", "HighErrorRate"),
            ("instance", instance),
            ("severity", "page"),
        ]),
        annotations: labels(&[("summary", "High error rate on checkout")]),
        starts_at: at(12, 0, 5) + chrono::Duration::nanoseconds(123_456_789),
        ends_at: match status {
            Status::Firing => None,
            Status::Resolved => Some(at(12, 30, 0)),
        },
        generator_url: "http://prometheus:9090/graph?g0.expr=rate%28x%5B5m%5D%29&g0.tab=1".into(),
        fingerprint: Fingerprint(fingerprint),
        slo: None,
    }
}

pub fn slo() -> SloContext {
    SloContext {
        id: "checkout-availability".into(),
        objective: 0.999,
        budget_remaining: Some(0.42),
        burn_rate: Some(14.4),
        time_to_exhaustion: Some(7500.0),
        runbook_url: Some("https://runbooks.example.com/checkout".into()),
        dashboard_url: Some("https://grafana.example.com/d/checkout".into()),
    }
}

/// Two firing alerts of one group, the first with SLO context, with action links.
pub fn message() -> Message {
    let mut first = alert("api-1", Status::Firing, 0x1ab2c3d4e5f60718);
    first.slo = Some(slo());
    let second = alert("api-2", Status::Firing, 0x00000000000000ff);
    let mut m = Message::new(
        "ops",
        GROUP_KEY,
        labels(&[("alertname", "HighErrorRate")]),
        vec![first, second],
        "http://headroom.example.com",
    );
    m.actions = Some(Actions {
        acknowledge_url: Some("http://headroom.example.com/ack/abc".into()),
        resolve_url: Some("http://headroom.example.com/resolve/abc".into()),
    });
    m
}

/// Values from outside that must reach every body as data: markup, template syntax, a line
/// break that would start a header, a Slack mention and 100 KB.
pub const SCRIPT: &str = "<script>alert(1)</script>";
pub const IMG: &str = r#""><img src=x onerror=alert(1)>"#;
pub const EXPRESSION: &str = "{{ 7*7 }}";
pub const RAW_TAG: &str = "{% raw %}";
pub const HEADER_SPLIT: &str = "a\r\nBcc: evil@x";
pub const MENTION: &str = "<!channel> & <@U024BE7LH>";

/// The HTML forms minijinja writes (`/` escaped too).
pub const SCRIPT_HTML: &str = "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;";
pub const IMG_HTML: &str = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
pub const MENTION_HTML: &str = "&lt;!channel&gt; &amp; &lt;@U024BE7LH&gt;";

pub fn long_value() -> String {
    format!("long-{}-end", "x".repeat(100_000))
}

/// Every hostile value as a label (and in annotations) of two firing alerts, so the default
/// templates print each of them: as group labels, common labels, summaries and descriptions.
pub fn hostile_message() -> Message {
    let hostile = |replica: &str| {
        let mut a = alert("api-1", Status::Firing, 0x1ab2c3d4e5f60718);
        a.labels = labels(&[
            ("alertname", SCRIPT),
            ("instance", IMG),
            ("expr", EXPRESSION),
            ("raw", RAW_TAG),
            ("crlf", HEADER_SPLIT),
            ("mention", MENTION),
            ("long", &long_value()),
            ("replica", replica),
        ]);
        a.annotations = labels(&[
            ("summary", IMG),
            (
                "description",
                &format!("{SCRIPT} {EXPRESSION} {RAW_TAG} {HEADER_SPLIT} {MENTION}"),
            ),
        ]);
        a.generator_url = "javascript:alert(2)".into();
        a
    };
    let mut first = hostile("1");
    first.slo = Some(SloContext {
        id: "checkout<b>bold</b>".into(),
        runbook_url: Some("javascript:alert(3)".into()),
        dashboard_url: Some(r#"https://grafana.example.com/d/x?a=1&b="><script>"#.into()),
        ..slo()
    });
    let mut second = hostile("2");
    second.fingerprint = Fingerprint(2);
    let mut m = Message::new(
        "ops",
        GROUP_KEY,
        labels(&[("alertname", SCRIPT), ("crlf", HEADER_SPLIT)]),
        vec![first, second],
        "http://headroom.example.com",
    );
    m.actions = Some(Actions {
        acknowledge_url: Some("http://headroom.example.com/ack/abc".into()),
        resolve_url: Some("javascript:alert(4)".into()),
    });
    m
}

/// What the default subject makes of the hostile group: group label values, then the other
/// common ones, each in name order.
pub fn hostile_subject() -> String {
    format!(
        "[FIRING:2] {SCRIPT} {HEADER_SPLIT} ({EXPRESSION} {IMG} {} {MENTION} {RAW_TAG})",
        long_value()
    )
}
