//! A 90-day synthetic history whose DORA values and tiers are worked out by hand below.
//!
//! Range: Mon 2026-01-05 00:00 to Sun 2026-04-05 00:00 UTC (90 days; 12 full weeks and a last
//! week of 6 days, Mon 03-30 to Sun 04-05).
//!
//! **cart** (team shop, repository octo-org/shop). Every weekday k = 1..=65 (Mon 01-05 to Fri
//! 04-03) one pull request #k is deployed to production at 12:00 (`cart-k`, version `cart-k`),
//! after staging at 11:00 (`cart-stg-k`). Its two commits are rebased onto main and merged by a
//! merge commit `Mk` one hour before the production deploy. Its first commit was authored `L`
//! before the deploy; coding (first commit → opened) and review (opened → merged) by k mod 4:
//!
//! | k mod 4 | count | L | coding | review | deploy |
//! | --- | --- | --- | --- | --- | --- |
//! | 1 | 17 | 2 h | 30 min | 30 min | 1 h |
//! | 2 | 16 | 6 h | 2 h | 3 h | 1 h |
//! | 3 | 16 | 20 h | 4 h | 15 h | 1 h |
//! | 0 | 16 | 50 h | 24 h | 25 h | 1 h |
//!
//! Fri 02-13 (k = 30) also has a hotfix: commit H authored 13:30 straight on main, deployed to
//! production at 14:00 (`cart-30h`, labelled hotfix; not to staging). Baselines before the
//! range: `cart-0`/`cart-stg-0` on Fri 01-02. A failed production deploy `cart-f1` on Wed
//! 03-18 09:00; the next successful one is `cart-53` at 12:00.
//!
//! Incidents, all affecting cart:
//! - I1 Fri 01-16 14:00–17:00: window → cart-10 (12:00 that day); recovery 5 h.
//! - I2 Fri 01-30 13:00–18:30, names cart-19 (Thu 01-29 12:00) though cart-20 (12:00 that day)
//!   is in its window: explicit → cart-19; recovery 30.5 h.
//! - I3 Fri 02-13 13:00–15:00, not caused by a change: attributed to nothing.
//! - I4 Fri 02-27 13:00 – Mon 03-02 13:00: window → cart-40 (Fri 12:00); recovery 73 h.
//!   cart-41 (Mon 12:00) finishes while it is open: rework.
//! - I5 Sun 03-15 12:00–14:00, version cart-50 (cart-50 finished Fri 03-13 12:00, 48 h before:
//!   outside the window): explicit → cart-50; recovery 50 h.
//!
//! **billing** (team money, repository octo-org/billing). Every Wednesday 15:00 (01-07 to
//! 04-01: 13 deploys) it ships three commits pushed straight to main, authored 96 h, 48 h and
//! 24 h before. Baseline on Wed 12-31. No incidents.

use headroom_core::{Span, Timestamp};
use headroom_delivery::dora::{DoraMetrics, Tier};
use headroom_delivery::{
    Attribution, Commit, DeliveryHistory, Deploy, DeployId, DeployStatus, DoraConfig, DoraFilter,
    DoraReport, Environment, IncidentFacts, PullRequest, Repository, Service, TimeRange, report,
};

use crate::common::{at, incident, sha};

const HOUR: f64 = 3600.0;

fn minutes(m: i64) -> Span {
    Span::minutes(m)
}

fn prod_deploy(id: &str, service: &str, env: &str, sha_tag: &str, finished: Timestamp) -> Deploy {
    Deploy {
        id: DeployId::new(id),
        service: service.to_string(),
        environment: Environment::named(env),
        version: None,
        sha: sha(sha_tag),
        started: finished - minutes(10),
        finished,
        status: DeployStatus::Success,
        labels: Vec::new(),
        changes: None,
    }
}

fn history() -> DeliveryHistory {
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    for (name, team, repo) in [
        ("cart", "shop", "octo-org/shop"),
        ("billing", "money", "octo-org/billing"),
    ] {
        h.record_service(Service {
            name: name.to_string(),
            team: Some(team.to_string()),
            repositories: vec![Repository {
                name: repo.to_string(),
                path: None,
            }],
        })
        .unwrap();
    }

    // cart
    let start = at("2026-01-05T00:00");
    let base = at("2026-01-02T12:00");
    h.learn_commit(Commit {
        sha: sha("M0"),
        parents: vec![],
        authored: base - minutes(120),
        committed: base - minutes(120),
        files: None,
    })
    .unwrap();
    h.record_deploy(prod_deploy("cart-0", "cart", "production", "M0", base))
        .unwrap();
    h.record_deploy(prod_deploy(
        "cart-stg-0",
        "cart",
        "staging",
        "M0",
        base - minutes(60),
    ))
    .unwrap();
    let mut tip = ("M0".to_string(), base - minutes(120));
    for k in 1..=65i64 {
        let (week, day) = ((k - 1) / 5, (k - 1) % 5);
        let deployed = start + Span::days(7 * week + day) + Span::hours(12);
        let (lead, coding, review) = match k % 4 {
            1 => (120, 30, 30),
            2 => (360, 120, 180),
            3 => (1200, 240, 900),
            _ => (3000, 1440, 1500),
        };
        let first = deployed - minutes(lead);
        let opened = first + minutes(coding);
        let merged = opened + minutes(review);
        assert_eq!(merged, deployed - minutes(60));
        let (b1, b2, m) = (format!("b{k}.1"), format!("b{k}.2"), format!("M{k}"));
        h.learn_commit(Commit {
            sha: sha(&b1),
            parents: vec![sha(&tip.0)],
            authored: first,
            committed: tip.1 + minutes(1),
            files: None,
        })
        .unwrap();
        h.learn_commit(Commit {
            sha: sha(&b2),
            parents: vec![sha(&b1)],
            authored: first + minutes(coding / 2),
            committed: tip.1 + minutes(2),
            files: None,
        })
        .unwrap();
        h.learn_commit(Commit {
            sha: sha(&m),
            parents: vec![sha(&tip.0), sha(&b2)],
            authored: merged,
            committed: merged,
            files: None,
        })
        .unwrap();
        h.record_pull_request(PullRequest {
            repository: "octo-org/shop".to_string(),
            number: k as u64,
            opened,
            merged: Some(merged),
            merge_sha: Some(sha(&m)),
            commits: vec![sha(&b1), sha(&b2)],
        })
        .unwrap();
        let mut prod = prod_deploy(&format!("cart-{k}"), "cart", "production", &m, deployed);
        prod.version = Some(format!("cart-{k}"));
        h.record_deploy(prod).unwrap();
        let mut staging = prod_deploy(
            &format!("cart-stg-{k}"),
            "cart",
            "staging",
            &m,
            deployed - minutes(60),
        );
        staging.version = Some(format!("cart-{k}"));
        h.record_deploy(staging).unwrap();
        tip = (m, merged);
        if k == 30 {
            let authored = at("2026-02-13T13:30");
            h.learn_commit(Commit {
                sha: sha("H"),
                parents: vec![sha(&tip.0)],
                authored,
                committed: authored,
                files: None,
            })
            .unwrap();
            let mut hotfix = prod_deploy(
                "cart-30h",
                "cart",
                "production",
                "H",
                at("2026-02-13T14:00"),
            );
            hotfix.labels = vec!["hotfix".to_string()];
            h.record_deploy(hotfix).unwrap();
            tip = ("H".to_string(), authored);
        }
    }
    let mut failed = prod_deploy(
        "cart-f1",
        "cart",
        "production",
        "M52",
        at("2026-03-18T09:00"),
    );
    failed.status = DeployStatus::Failure;
    h.record_deploy(failed).unwrap();

    let resolved = |i: IncidentFacts, end: &str| IncidentFacts {
        resolved: Some(at(end)),
        ..i
    };
    for i in [
        resolved(
            incident("I1", &["cart"], at("2026-01-16T14:00")),
            "2026-01-16T17:00",
        ),
        IncidentFacts {
            deploy: Some(DeployId::new("cart-19")),
            ..resolved(
                incident("I2", &["cart"], at("2026-01-30T13:00")),
                "2026-01-30T18:30",
            )
        },
        IncidentFacts {
            not_caused_by_change: true,
            ..resolved(
                incident("I3", &["cart"], at("2026-02-13T13:00")),
                "2026-02-13T15:00",
            )
        },
        resolved(
            incident("I4", &["cart"], at("2026-02-27T13:00")),
            "2026-03-02T13:00",
        ),
        IncidentFacts {
            version: Some("cart-50".to_string()),
            ..resolved(
                incident("I5", &["cart"], at("2026-03-15T12:00")),
                "2026-03-15T14:00",
            )
        },
    ] {
        h.record_incident(i).unwrap();
    }

    // billing
    let base = at("2025-12-31T15:00");
    let root = base - minutes(60);
    h.learn_commit(Commit {
        sha: sha("c0"),
        parents: vec![],
        authored: root,
        committed: root,
        files: None,
    })
    .unwrap();
    h.record_deploy(prod_deploy(
        "billing-0",
        "billing",
        "production",
        "c0",
        base,
    ))
    .unwrap();
    let mut parent = "c0".to_string();
    for j in 1..=13i64 {
        let deployed = at("2026-01-07T15:00") + Span::days(7 * (j - 1));
        for (n, hours) in [(1, 96), (2, 48), (3, 24)] {
            let tag = format!("c{j}.{n}");
            let t = deployed - Span::hours(hours);
            h.learn_commit(Commit {
                sha: sha(&tag),
                parents: vec![sha(&parent)],
                authored: t,
                committed: t,
                files: None,
            })
            .unwrap();
            parent = tag;
        }
        h.record_deploy(prod_deploy(
            &format!("billing-{j}"),
            "billing",
            "production",
            &parent,
            deployed,
        ))
        .unwrap();
    }
    h
}

fn range() -> TimeRange {
    TimeRange::new(at("2026-01-05T00:00"), at("2026-04-05T00:00")).unwrap()
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    assert!(
        (actual - expected).abs() < 1e-6,
        "expected {expected}, got {actual}"
    );
}

fn filter(service: Option<&str>, team: Option<&str>, env: &str) -> DoraFilter {
    DoraFilter {
        environment: Environment::named(env),
        service: service.map(str::to_string),
        team: team.map(str::to_string),
    }
}

#[test]
fn cart_in_production() {
    let h = history();
    let r = report(&h, range(), &filter(Some("cart"), None, "production"));
    let m = &r.metrics;

    // 65 weekday deploys and the hotfix: 66 on 65 distinct days.
    // 66 / 90 = 0.7333 a day: at least once a week, not once a day → high.
    let df = &m.deployment_frequency;
    assert_eq!(df.deployments, 66);
    close(df.per_day, 66.0 / 90.0);
    close(df.deployment_days_per_week, 65.0 * 7.0 / 90.0);
    assert_eq!(df.tier, Some(Tier::High));

    // 66 changes: the 65 pull requests and H (30 min). Sorted: 0.5 h ×1, 2 h ×17, 6 h ×16,
    // 20 h ×16, 50 h ×16 (indices 0 | 1–17 | 18–33 | 34–49 | 50–65).
    // Median: h = 65 × 0.5 = 32.5 → indices 32 and 33, both 6 h → 21,600 s: under a day → elite.
    // p90: h = 65 × 0.9 = 58.5 → indices 58 and 59, both 50 h → 180,000 s.
    let lt = &m.lead_time;
    assert_eq!(lt.changes, 66);
    close(lt.median_seconds, 6.0 * HOUR);
    close(lt.p90_seconds, 50.0 * HOUR);
    assert_eq!(lt.tier, Some(Tier::Elite));
    assert_eq!(lt.unlinked_deployments, 0);
    // Stages over the 65 pull requests (index 32 of each sorted list): coding 30 min ×17,
    // 2 h ×16, … → 2 h; review 30 min ×17, 3 h ×16, … → 3 h; deploy always 1 h.
    assert_eq!(lt.coding.changes, 65);
    close(lt.coding.median_seconds, 2.0 * HOUR);
    close(lt.review.median_seconds, 3.0 * HOUR);
    close(lt.deploy.median_seconds, HOUR);

    // cart-10, cart-19, cart-40, cart-50 of 66: 6.06% → above 5%, up to 20% → high.
    let cfr = &m.change_failure_rate;
    assert_eq!((cfr.deployments, cfr.failed), (66, 4));
    close(cfr.rate, 4.0 / 66.0);
    assert_eq!(cfr.tier, Some(Tier::High));

    // 5 h, 30.5 h, 73 h, 50 h, and cart-f1's 3 h: sorted 3, 5, 30.5, 50, 73 → median 30.5 h
    // = 109,800 s: a day or more → low.
    let rt = &m.recovery_time;
    assert_eq!((rt.failures, rt.unrecovered), (5, 0));
    close(rt.median_seconds, 30.5 * HOUR);
    assert_eq!(rt.tier, Some(Tier::Low));

    // The hotfix and cart-41 (while I4 was open): 2 of 66; no tier.
    let rw = &m.rework_rate;
    assert_eq!((rw.deployments, rw.rework), (66, 2));
    close(rw.rate, 2.0 / 66.0);
    assert_eq!(rw.tier, None);

    // Every incident touches cart, by start, each saying how it was attributed.
    let incidents: Vec<(&str, &Attribution)> = r
        .incidents
        .iter()
        .map(|i| (i.incident.as_str(), &i.attribution))
        .collect();
    let window = |d: &str| Attribution::Window {
        deploy: DeployId::new(d),
        window: Span::hours(24),
    };
    assert_eq!(
        incidents,
        [
            ("I1", &window("cart-10")),
            (
                "I2",
                &Attribution::Explicit {
                    deploy: DeployId::new("cart-19"),
                    version: None
                }
            ),
            ("I3", &Attribution::NotCausedByChange),
            ("I4", &window("cart-40")),
            (
                "I5",
                &Attribution::Explicit {
                    deploy: DeployId::new("cart-50"),
                    version: Some("cart-50".to_string())
                }
            ),
        ]
    );
    assert_eq!(r.tier_source, "DORA 2024 Accelerate State of DevOps Report");
    assert_eq!(r.tier_year, 2024);

    // The team's report is the same: cart is shop's only service.
    let team = report(&h, range(), &filter(None, Some("shop"), "production"));
    assert_eq!(team.metrics, r.metrics);
}

#[test]
fn billing_and_its_team() {
    let h = history();
    let r = report(&h, range(), &filter(None, Some("money"), "production"));
    let m = &r.metrics;
    // 13 Wednesdays: 13 / 90 = 0.1444 a day ≥ 1/7 = 0.1429 → high (just).
    assert_eq!(m.deployment_frequency.deployments, 13);
    close(m.deployment_frequency.per_day, 13.0 / 90.0);
    close(
        m.deployment_frequency.deployment_days_per_week,
        13.0 * 7.0 / 90.0,
    );
    assert_eq!(m.deployment_frequency.tier, Some(Tier::High));
    // 39 commits without pull requests: 24 h ×13, 48 h ×13, 96 h ×13. Median index 19 → 48 h
    // (a day to a week → high); p90: h = 38 × 0.9 = 34.2 → indices 34, 35, both 96 h.
    assert_eq!(m.lead_time.changes, 39);
    close(m.lead_time.median_seconds, 48.0 * HOUR);
    close(m.lead_time.p90_seconds, 96.0 * HOUR);
    assert_eq!(m.lead_time.tier, Some(Tier::High));
    assert_eq!(m.lead_time.coding.changes, 0);
    assert_eq!(m.lead_time.coding.median_seconds, None);
    // No incidents: a 0% failure rate is data (elite); no failures is no recovery time.
    assert_eq!(m.change_failure_rate.rate, Some(0.0));
    assert_eq!(m.change_failure_rate.tier, Some(Tier::Elite));
    assert_eq!(m.recovery_time.failures, 0);
    assert_eq!(m.recovery_time.median_seconds, None);
    assert_eq!(m.recovery_time.tier, None);
    assert_eq!(m.rework_rate.rate, Some(0.0));
    assert!(r.incidents.is_empty());

    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["recovery_time"]["median_seconds"],
        serde_json::Value::Null
    );
    assert_eq!(json["recovery_time"]["tier"], serde_json::Value::Null);
    assert_eq!(json["change_failure_rate"]["rate"], 0.0);
    assert_eq!(json["lead_time"]["tier"], "high");

    let service = report(&h, range(), &filter(Some("billing"), None, "production"));
    assert_eq!(service.metrics, r.metrics);
    // A service that is not the team's: nothing.
    let neither = report(
        &h,
        range(),
        &filter(Some("billing"), Some("shop"), "production"),
    );
    assert_eq!(neither.metrics.deployment_frequency.deployments, 0);
}

#[test]
fn everything_in_production() {
    let h = history();
    let r = report(&h, range(), &DoraFilter::default());
    let m = &r.metrics;
    // 66 + 13 = 79 deploys; billing's Wednesdays are cart's days too: 65 days.
    assert_eq!(m.deployment_frequency.deployments, 79);
    close(m.deployment_frequency.per_day, 79.0 / 90.0);
    close(
        m.deployment_frequency.deployment_days_per_week,
        65.0 * 7.0 / 90.0,
    );
    assert_eq!(m.deployment_frequency.tier, Some(Tier::High));
    // 105 changes: 0.5 h ×1, 2 h ×17, 6 h ×16, 20 h ×16, 24 h ×13, 48 h ×13, 50 h ×16, 96 h ×13
    // (indices 0 | 1–17 | 18–33 | 34–49 | 50–62 | 63–75 | 76–91 | 92–104). Median: index 52
    // → 24 h, exactly a day: not under one → high. p90: h = 93.6 → indices 93, 94 → 96 h.
    assert_eq!(m.lead_time.changes, 105);
    close(m.lead_time.median_seconds, 24.0 * HOUR);
    close(m.lead_time.p90_seconds, 96.0 * HOUR);
    assert_eq!(m.lead_time.tier, Some(Tier::High));
    // 4 of 79 = 5.06%: just above 5% → high.
    assert_eq!(m.change_failure_rate.failed, 4);
    close(m.change_failure_rate.rate, 4.0 / 79.0);
    assert_eq!(m.change_failure_rate.tier, Some(Tier::High));
    close(m.recovery_time.median_seconds, 30.5 * HOUR);
    assert_eq!(m.rework_rate.rework, 2);

    // Weekly trend: 13 weeks, the last cut to 6 days.
    assert_eq!(r.weeks.len(), 13);
    let total: u64 = r
        .weeks
        .iter()
        .map(|w| w.metrics.deployment_frequency.deployments)
        .sum();
    assert_eq!(total, 79);
    let week = |i: usize| -> &DoraMetrics { &r.weeks[i].metrics };

    // Week 0: cart-1..5 (2, 6, 20, 50, 2 h) and billing-1 (24, 48, 96 h): 6 deploys on 5 days.
    // Lead times sorted 2, 2, 6, 20, 24, 48, 50, 96 h: median (20 + 24) / 2 = 22 h; p90:
    // h = 6.3 → 50 + 0.3 × (96 − 50) = 63.8 h.
    assert_eq!(r.weeks[0].start, at("2026-01-05T00:00"));
    assert_eq!(r.weeks[0].end, at("2026-01-12T00:00"));
    assert_eq!(week(0).deployment_frequency.deployments, 6);
    close(week(0).deployment_frequency.per_day, 6.0 / 7.0);
    close(week(0).deployment_frequency.deployment_days_per_week, 5.0);
    close(week(0).lead_time.median_seconds, 22.0 * HOUR);
    close(week(0).lead_time.p90_seconds, 63.8 * HOUR);
    assert_eq!(week(0).change_failure_rate.rate, Some(0.0));
    assert_eq!(week(0).recovery_time.median_seconds, None);

    // Week 1: cart-10 failed (I1): 1 of 6; recovered in 5 h → high.
    assert_eq!(week(1).change_failure_rate.failed, 1);
    close(week(1).change_failure_rate.rate, 1.0 / 6.0);
    close(week(1).recovery_time.median_seconds, 5.0 * HOUR);
    assert_eq!(week(1).recovery_time.tier, Some(Tier::High));

    // Week 5: cart-26..30, the hotfix and billing-6: 7 in 7 days → once a day → elite.
    assert_eq!(week(5).deployment_frequency.deployments, 7);
    close(week(5).deployment_frequency.per_day, 1.0);
    assert_eq!(week(5).deployment_frequency.tier, Some(Tier::Elite));
    assert_eq!(week(5).rework_rate.rework, 1);

    // Week 7: cart-40 failed and recovered 73 h later (in week 8; counted where it failed).
    close(week(7).recovery_time.median_seconds, 73.0 * HOUR);
    assert_eq!(week(7).recovery_time.tier, Some(Tier::Low));
    // Week 8: cart-41 is rework.
    assert_eq!(week(8).rework_rate.rework, 1);
    assert_eq!(week(8).change_failure_rate.failed, 0);
    // Week 10: cart-f1 (failed, not a deploy) recovered by cart-53 in 3 h.
    assert_eq!(week(10).deployment_frequency.deployments, 6);
    assert_eq!(week(10).recovery_time.failures, 1);
    close(week(10).recovery_time.median_seconds, 3.0 * HOUR);

    // Week 12: Mon 03-30 to Sun 04-05 00:00, 6 days: cart-61..65 and billing-13, 6 deploys on
    // 5 days → 1 a day (elite), 5 × 7 / 6 deployment days a week.
    assert_eq!(r.weeks[12].start, at("2026-03-30T00:00"));
    assert_eq!(r.weeks[12].end, at("2026-04-05T00:00"));
    close(week(12).deployment_frequency.per_day, 1.0);
    close(
        week(12).deployment_frequency.deployment_days_per_week,
        35.0 / 6.0,
    );
    assert_eq!(week(12).deployment_frequency.tier, Some(Tier::Elite));

    let json = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "recovery_time",
        "rework_rate",
        "weeks",
        "incidents",
        "tier_source",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert_eq!(json["weeks"][0]["deployment_frequency"]["deployments"], 6);
    assert_eq!(json["incidents"][1]["attribution"]["how"], "explicit");
    let back: DoraReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn cart_in_staging() {
    let h = history();
    let r = report(&h, range(), &filter(Some("cart"), None, "staging"));
    let m = &r.metrics;
    // 65 deploys at 11:00, each an hour before production.
    assert_eq!(m.deployment_frequency.deployments, 65);
    // 66 changes: the pull requests an hour sooner (1 h ×17, 5 h ×16, 19 h ×16, 49 h ×16) and H,
    // which staging ships with cart-stg-31 on Mon 02-16 11:00: 69.5 h after it was authored.
    // Median: h = 32.5 → index 32 (5 h) and 33 (19 h) → 12 h. p90: h = 58.5 → 49 h.
    assert_eq!(m.lead_time.changes, 66);
    close(m.lead_time.median_seconds, 12.0 * HOUR);
    close(m.lead_time.p90_seconds, 49.0 * HOUR);
    assert_eq!(m.lead_time.tier, Some(Tier::Elite));
    // Deployed to staging as merged: 0 s.
    close(m.lead_time.deploy.median_seconds, 0.0);
    // Incidents are production's: nothing failed here.
    assert_eq!(m.change_failure_rate.failed, 0);
    // cart-stg-41 (Mon 03-02 11:00) finished while I4 was open.
    assert_eq!(m.rework_rate.rework, 1);
    // The incidents affected cart and started in the range; none is counted against staging.
    assert_eq!(r.incidents.len(), 5);
}
