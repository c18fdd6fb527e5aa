//! Properties of release gate decisions over arbitrary SLO facts: a deny always has a denying
//! reason and an allow never does, less budget or a faster burn never opens a closed gate, and
//! an exempt label opens every gate the rules close while keeping what it waived.

use headroom_core::Timestamp;
use headroom_delivery::gate::{GateDecision, ReleasePolicy, Rule, SloFacts, Verdict, decide};
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Fact {
    budget: Option<f64>,
    burn: Option<f64>,
    paging: bool,
}

fn fact() -> impl Strategy<Value = Fact> {
    (
        proptest::option::weighted(0.9, -1.0f64..1.0),
        proptest::option::weighted(0.8, 0.0f64..40.0),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(budget, burn, paging)| Fact {
            budget,
            burn,
            paging,
        })
}

fn policy() -> impl Strategy<Value = ReleasePolicy> {
    (
        proptest::option::of(0.0f64..0.99),
        any::<bool>(),
        proptest::option::of(0.5f64..30.0),
        any::<bool>(),
    )
        .prop_map(|(min, page, burn, no_data)| ReleasePolicy {
            environments: vec!["production".into()],
            min_budget_remaining: min,
            deny_on_page_alert: page,
            max_burn_rate_1h: burn,
            deny_on_no_data: no_data,
            exempt_labels: vec!["hotfix".into()],
        })
}

fn run(policy: &ReleasePolicy, facts: &[Fact], labels: &[String]) -> GateDecision {
    let names: Vec<String> = (0..facts.len()).map(|i| format!("slo-{i}")).collect();
    decide(
        Some(policy),
        "production",
        facts.iter().zip(&names).map(|(f, n)| SloFacts {
            slo: n,
            group: "",
            budget_remaining: f.budget,
            burn_rate_1h: f.burn,
            page_alert: f.paging.then_some("page"),
        }),
        &[],
        labels,
        &[],
        Timestamp(0),
    )
}

proptest! {
    #[test]
    fn a_deny_names_what_denies_and_an_allow_names_nothing(p in policy(), facts in vec(fact(), 0..20)) {
        let d = run(&p, &facts, &[]);
        let denying = d.reasons.iter().filter(|r| r.denies).count();
        prop_assert_eq!(d.verdict == Verdict::Deny, denying > 0);
        for r in &d.reasons {
            prop_assert!(r.slo.is_some(), "each rule reason names its SLO");
        }
    }

    #[test]
    fn worse_figures_never_open_a_closed_gate(
        p in policy(),
        facts in vec(fact(), 1..20),
        which in any::<prop::sample::Index>(),
        drop in 0.0f64..1.0,
        rise in 0.0f64..20.0,
    ) {
        let before = run(&p, &facts, &[]);
        let mut worse = facts.clone();
        let f = &mut worse[which.index(facts.len())];
        f.budget = f.budget.map(|b| b - drop);
        f.burn = f.burn.map(|b| b + rise);
        let after = run(&p, &worse, &[]);
        if before.verdict == Verdict::Deny {
            prop_assert_eq!(after.verdict, Verdict::Deny);
        }
    }

    #[test]
    fn an_exempt_label_opens_the_gate_and_keeps_the_waived_reasons(p in policy(), facts in vec(fact(), 0..20)) {
        let plain = run(&p, &facts, &[]);
        let exempt = run(&p, &facts, &["hotfix".to_string()]);
        prop_assert_eq!(exempt.verdict, Verdict::Allow);
        prop_assert!(exempt.reasons.iter().all(|r| !r.denies));
        if plain.verdict == Verdict::Deny {
            let rules: Vec<Rule> = plain.reasons.iter().map(|r| r.rule).collect();
            let kept: Vec<Rule> = exempt.reasons.iter().map(|r| r.rule).collect();
            prop_assert_eq!(&kept[..rules.len()], &rules[..]);
            prop_assert_eq!(kept.last(), Some(&Rule::ExemptLabel));
        }
    }
}
