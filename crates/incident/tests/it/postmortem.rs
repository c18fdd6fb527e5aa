//! The postmortem draft for one worked incident, compared byte for byte.

use headroom_core::Timestamp;
use headroom_incident::{
    ActionItemStatus, ActionItemUpdate, BudgetConsumed, Declaration, Impact, Incident,
    IncidentStatus, LinkedAlert, Role, Severity, escape_markdown, postmortem_markdown,
};
use headroom_routing::label_set;

/// 2026-03-14T00:00:00Z.
const DAY: i64 = 1_773_446_400;

fn t(h: i64, m: i64) -> Timestamp {
    Timestamp::from_secs(DAY + h * 3600 + m * 60)
}

/// Checkout's error rate rises at 08:50 after a deploy; the page fires at 08:55, the incident
/// is declared at 09:00, acknowledged at 09:04, mitigated by a rollback and resolved at 10:02.
fn worked_incident() -> Incident {
    let mut decl = Declaration::new("INC-42", "Checkout 5xx | EU", Severity::Sev3);
    decl.services = vec!["checkout".into()];
    decl.slos = vec!["checkout-availability".into(), "checkout_latency".into()];
    let mut i = Incident::declare(decl, "headroom", t(9, 0)).unwrap();
    i.link_alert(
        "headroom",
        LinkedAlert::keeping(
            &label_set([
                ("alertname", "CheckoutErrorBudgetBurn"),
                ("service", "checkout"),
                ("severity", "page"),
                ("pod", "checkout-7f9c"),
            ]),
            &["alertname", "service", "severity"],
            t(8, 55),
        ),
    )
    .unwrap();
    i.page("headroom", t(9, 0), "bob", 1).unwrap();
    i.acknowledge("bob", t(9, 4)).unwrap();
    i.assign_role("bob", t(9, 5), Role::Commander, "bob")
        .unwrap();
    i.assign_role("bob", t(9, 6), Role::Scribe, "dan").unwrap();
    i.set_severity("bob", t(9, 8), Severity::Sev2).unwrap();
    i.set_status("bob", t(9, 10), IncidentStatus::Investigating)
        .unwrap();
    i.note("dan", t(8, 48), "# deploy 142 | rollout to eu-west started")
        .unwrap();
    i.set_impact_start("bob", t(9, 20), t(8, 50)).unwrap();
    i.set_status("bob", t(9, 25), IncidentStatus::Identified)
        .unwrap();
    i.note("carol", t(9, 31), "Rolled back to *141*").unwrap();
    i.set_status("bob", t(9, 40), IncidentStatus::Monitoring)
        .unwrap();
    i.set_status("bob", t(10, 2), IncidentStatus::Resolved)
        .unwrap();
    i.add_contributing_factor(
        "bob",
        t(11, 0),
        "The canary stage checks latency but not error rate",
    )
    .unwrap();
    i.add_contributing_factor("bob", t(11, 0), "#eu-west has no staging twin")
        .unwrap();
    i.add_action_item(
        "bob",
        t(11, 5),
        "Gate canaries on 5xx | error ratio",
        Some("carol"),
        Some(t(24 * 7, 0)),
    )
    .unwrap();
    i.add_action_item("bob", t(11, 6), "Add an eu-west staging cell", None, None)
        .unwrap();
    i.update_action_item(
        "carol",
        t(12, 0),
        1,
        ActionItemUpdate {
            status: Some(ActionItemStatus::Done),
            ..Default::default()
        },
    )
    .unwrap();
    i
}

const EXPECTED: &str = r##"# Postmortem: Checkout 5xx \| EU

_Blameless draft for incident INC-42. It describes what systems and processes did, not who was at fault; edit freely._

## Summary

- **Severity:** SEV2
- **Status:** resolved
- **Impact started:** 2026-03-14 08:50:00 UTC
- **Declared:** 2026-03-14 09:00:00 UTC
- **Acknowledged:** 2026-03-14 09:04:00 UTC
- **Resolved:** 2026-03-14 10:02:00 UTC
- **Incident commander:** bob
- **Communications lead:** unassigned
- **Scribe:** dan

About 4% of EU checkouts failed for 72 minutes.

## Impact

- **Duration:** 1h12m (from the impact start to the resolution)
- **Time to resolve:** 1h2m after declaration
- **Services affected:** checkout
- **SLOs affected:** checkout-availability, checkout_latency

| SLO | Error budget consumed |
| --- | ---: |
| checkout-availability | 18.4% |
| checkout_latency | no data |

## Detection

- **First alert:** CheckoutErrorBudgetBurn (service=checkout, severity=page), fired 2026-03-14 08:55:00 UTC
- **Detection delay:** fired 5m after the impact start
- **Declared:** 10m after the impact start
- **Time to acknowledge:** 4m after declaration

## Timeline

| Time (UTC) | Who | Event |
| --- | --- | --- |
| 2026-03-14 08:48:00 | dan | \# deploy 142 \| rollout to eu-west started |
| 2026-03-14 08:55:00 | headroom | Alert CheckoutErrorBudgetBurn fired (service=checkout, severity=page) |
| 2026-03-14 09:00:00 | headroom | Declared SEV3: Checkout 5xx \| EU |
| 2026-03-14 09:00:00 | headroom | Paged bob (level 1) |
| 2026-03-14 09:04:00 | bob | Acknowledged |
| 2026-03-14 09:05:00 | bob | bob is commander |
| 2026-03-14 09:06:00 | bob | dan is scribe |
| 2026-03-14 09:08:00 | bob | Severity SEV3 → SEV2 |
| 2026-03-14 09:10:00 | bob | Status acknowledged → investigating |
| 2026-03-14 09:20:00 | bob | Impact start 2026-03-14T09:00:00Z → 2026-03-14T08:50:00Z |
| 2026-03-14 09:25:00 | bob | Status investigating → identified |
| 2026-03-14 09:31:00 | carol | Rolled back to \*141\* |
| 2026-03-14 09:40:00 | bob | Status identified → monitoring |
| 2026-03-14 10:02:00 | bob | Status monitoring → resolved |
| 2026-03-14 11:00:00 | bob | Contributing factor: The canary stage checks latency but not error rate |
| 2026-03-14 11:00:00 | bob | Contributing factor: #eu-west has no staging twin |
| 2026-03-14 11:05:00 | bob | Action item 1 added: Gate canaries on 5xx \| error ratio |
| 2026-03-14 11:06:00 | bob | Action item 2 added: Add an eu-west staging cell |
| 2026-03-14 12:00:00 | carol | Action item 1: done |

## Contributing factors

- The canary stage checks latency but not error rate
- \#eu-west has no staging twin

## Action items

| ID | Item | Owner | Status | Due |
| --- | --- | --- | --- | --- |
| 1 | Gate canaries on 5xx \| error ratio | carol | done | 2026-03-21 |
| 2 | Add an eu-west staging cell | - | open | - |

## Lessons learned

### What went well

- _…_

### What went wrong

- _…_

### Where we got lucky

- _…_
"##;

#[test]
fn worked_postmortem_matches_exactly() {
    let incident = worked_incident();
    let mut impact = Impact::measure(&incident, t(13, 0), |slo, from, to| {
        assert_eq!((from, to), (t(8, 50), t(10, 2)));
        (slo == "checkout-availability").then_some(0.184)
    });
    impact.summary = Some("About 4% of EU checkouts failed\nfor 72 minutes.".into());
    let md = postmortem_markdown(&incident, &impact);
    assert_eq!(md, EXPECTED);
}

#[test]
fn an_open_incident_gets_prompts_and_placeholders() {
    let incident = Incident::declare(
        Declaration::new("INC-43", "Search slow", Severity::Sev4),
        "alice",
        t(9, 0),
    )
    .unwrap();
    let md = postmortem_markdown(&incident, &Impact::default());
    for line in [
        "- **Status:** triggered",
        "- **Acknowledged:** not yet",
        "- **Resolved:** not yet",
        "- **Incident commander:** unassigned",
        "_What happened, in two or three sentences, for a reader who was not there?_",
        "- **Duration:** ongoing (not resolved)",
        "- **Services affected:** none recorded",
        "- **First alert:** none linked. _Should an alert have caught this?_",
        "- **Declared:** at the same time as the impact start",
        "- **Time to acknowledge:** not acknowledged",
        "| 2026-03-14 09:00:00 | alice | Declared SEV4: Search slow |",
        "_Which conditions made this incident possible, or made it worse? Name systems and \
         processes, not people._",
        "_What will prevent a recurrence, or detect and mitigate it sooner?_",
    ] {
        assert!(
            md.lines().any(|l| l == line),
            "missing line {line:?} in\n{md}"
        );
    }
    assert!(!md.contains("Time to resolve"));
    assert!(!md.contains("| SLO |"), "no budget table without SLOs");

    let impact = Impact {
        budget: vec![BudgetConsumed {
            slo: "search-latency".into(),
            fraction: Some(f64::NAN),
        }],
        summary: None,
    };
    let md = postmortem_markdown(&incident, &impact);
    assert!(md.contains("| search-latency | no data |\n"), "{md}");
}

#[test]
fn an_alert_after_the_impact_start_and_one_before_read_differently() {
    let mut decl = Declaration::new("INC-44", "x", Severity::Sev4);
    decl.started_at = Some(t(9, 30));
    let mut incident = Incident::declare(decl, "alice", t(9, 0)).unwrap();
    incident
        .link_alert(
            "am",
            LinkedAlert::from_labels(label_set([("alertname", "Early")]), t(8, 45)),
        )
        .unwrap();
    let md = postmortem_markdown(&incident, &Impact::default());
    assert!(md.contains("- **Detection delay:** fired 45m before the impact start\n"));
    assert!(md.contains("- **Declared:** 30m before the impact start\n"));
}

#[test]
fn user_text_is_escaped_for_inline_markdown() {
    for (raw, escaped) in [
        ("a | b", "a \\| b"),
        ("# heading", "\\# heading"),
        ("issue #12", "issue #12"),
        ("- not a list", "\\- not a list"),
        ("> quote", "\\> quote"),
        ("snake_case_name", "snake_case_name"),
        ("_emphasis_", "\\_emphasis\\_"),
        (
            "**bold** `code` [link](x) <b>",
            "\\*\\*bold\\*\\* \\`code\\` \\[link\\](x) \\<b\\>",
        ),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines\r\n  here ", "two lines here"),
    ] {
        assert_eq!(escape_markdown(raw), escaped, "{raw:?}");
    }
}
