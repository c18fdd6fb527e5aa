#![allow(dead_code)]

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
