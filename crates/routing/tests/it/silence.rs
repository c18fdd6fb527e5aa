//! Silences: state as API v2 reports it (upstream `types.CalcSilenceState`) and muting.

use chrono::{DateTime, Duration, TimeZone, Utc};
use headroom_routing::label_set;
use headroom_routing::matcher::parse_matchers;
use headroom_routing::silence::{Silence, SilenceState};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, h, m, 0).unwrap()
}

fn silence(matchers: &str) -> Silence {
    Silence {
        id: "4bd2b6a8-7f3a-4c1e-9a5e-1d2f3a4b5c6d".into(),
        matchers: parse_matchers(matchers).unwrap(),
        starts_at: at(10, 0),
        ends_at: at(12, 0),
        created_by: "oncall".into(),
        comment: "maintenance".into(),
    }
}

#[test]
fn state_boundaries_match_calc_silence_state() {
    let s = silence(r#"job="db""#);
    assert_eq!(s.state(at(9, 59)), SilenceState::Pending);
    // starts_at is inclusive, ends_at exclusive.
    assert_eq!(s.state(at(10, 0)), SilenceState::Active);
    assert_eq!(
        s.state(at(12, 0) - Duration::nanoseconds(1)),
        SilenceState::Active
    );
    assert_eq!(s.state(at(12, 0)), SilenceState::Expired);
    assert_eq!(s.state(at(13, 0)).to_string(), "expired");
    assert_eq!(SilenceState::Pending.as_str(), "pending");
    assert_eq!(SilenceState::Active.as_str(), "active");
    assert!(s.is_active(at(11, 0)));
    assert!(!s.is_active(at(9, 0)));
}

#[test]
fn mutes_only_while_active_and_matching() {
    let s = silence(r#"{job="db", instance=~"db-[0-9]+"}"#);
    let hit = label_set([("job", "db"), ("instance", "db-12"), ("severity", "page")]);
    let miss = label_set([("job", "db"), ("instance", "db-12x")]);
    assert!(s.mutes(&hit, at(11, 0)));
    assert!(!s.mutes(&miss, at(11, 0)));
    assert!(!s.mutes(&hit, at(9, 0)));
    assert!(!s.mutes(&hit, at(12, 0)));
    // A `=""` matcher silences alerts lacking the label.
    let absent = silence(r#"job="db",team="""#);
    assert!(absent.mutes(&label_set([("job", "db")]), at(11, 0)));
    assert!(!absent.mutes(&label_set([("job", "db"), ("team", "x")]), at(11, 0)));
}
