//! Release gates: may a service be released to an environment now, judged by its error-budget
//! policy from facts about its SLOs.
//!
//! A [`ReleasePolicy`] guards some environments of a service. [`decide`] takes the policy, one
//! [`SloFacts`] per SLO group of the service (budget remaining, 1 h burn rate, a firing page
//! alert), the release's labels, the service's overrides and `now`, and returns a
//! [`GateDecision`]: allow or deny, with every [`GateReason`] naming the SLO, the figures and
//! the [`Rule`] that fired.
//!
//! Missing data is never read as good data, and never passes silently: an SLO group with no
//! events over its window (or not yet evaluated) gives a `no_data` reason, which denies when the
//! policy sets `deny_on_no_data` and is a warning on an allowed decision otherwise. A 1 h burn
//! rate with no events in the hour is no burn, not missing data.
//!
//! Exemptions come after the rules: when something denies, a release carrying one of the
//! policy's `exempt_labels` (hotfix, rollback…) is allowed, and otherwise an override in force
//! for the environment allows it; either way the denying reasons stay in the decision (marked
//! `denies: false`) with the exemption's reason after them, so the record says what was waived.

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

/// A service's release policy, as the config gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasePolicy {
    /// The environments it guards; releases elsewhere are allowed with `environment_not_gated`.
    pub environments: Vec<String>,
    /// Deny while any SLO group has less than this fraction of its budget left, in `[0, 1)`.
    pub min_budget_remaining: Option<f64>,
    /// Deny while any of the service's SLOs has a page-severity alert firing.
    pub deny_on_page_alert: bool,
    /// Deny while any SLO group burns its budget faster than this over the last hour.
    pub max_burn_rate_1h: Option<f64>,
    /// Deny while an SLO group has no data (otherwise a warning reason only).
    pub deny_on_no_data: bool,
    /// Releases carrying one of these labels pass whatever the rules say.
    pub exempt_labels: Vec<String>,
}

// The figures come from a config that refuses NaN, so equality is total.
impl Eq for ReleasePolicy {}

impl Default for ReleasePolicy {
    fn default() -> Self {
        ReleasePolicy {
            environments: vec!["production".to_string()],
            min_budget_remaining: None,
            deny_on_page_alert: true,
            max_burn_rate_1h: None,
            deny_on_no_data: false,
            exempt_labels: Vec::new(),
        }
    }
}

/// What is known about one SLO group at the moment of the decision.
#[derive(Debug, Clone, PartialEq)]
pub struct SloFacts<'a> {
    pub slo: &'a str,
    /// The group's labels as text; empty for an ungrouped SLO.
    pub group: &'a str,
    /// Fraction of the budget left (negative when overspent); `None` with no data.
    pub budget_remaining: Option<f64>,
    /// Budget burn rate over the last hour; `None` with no events in the hour.
    pub burn_rate_1h: Option<f64>,
    /// The name of a page-severity alert firing for it, if one is.
    pub page_alert: Option<&'a str>,
}

/// A time-boxed manual override: releases to its environment pass until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateOverride {
    pub id: i64,
    pub environment: String,
    pub reason: String,
    pub approver: String,
    pub created: Timestamp,
    pub until: Timestamp,
    pub revoked: Option<Timestamp>,
}

impl GateOverride {
    /// In force over `[created, until)`, and before its revocation.
    pub fn in_force(&self, environment: &str, now: Timestamp) -> bool {
        self.environment == environment
            && self.created <= now
            && now < self.until
            && self.revoked.is_none_or(|r| now < r)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "allow" => Some(Verdict::Allow),
            "deny" => Some(Verdict::Deny),
            _ => None,
        }
    }
}

/// Which part of the policy a reason comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    MinBudgetRemaining,
    PageAlert,
    #[serde(rename = "max_burn_rate_1h")]
    MaxBurnRate1h,
    NoData,
    ExemptLabel,
    Override,
    NoPolicy,
    EnvironmentNotGated,
}

/// One reason of a decision: the rule, the SLO group it is about and its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReason {
    pub rule: Rule,
    /// Whether this reason denies the release (false for warnings and waived rules).
    pub denies: bool,
    pub slo: Option<String>,
    /// The SLO group's labels, when the SLO is grouped.
    pub group: Option<String>,
    pub budget_remaining: Option<f64>,
    pub burn_rate: Option<f64>,
    /// The firing alert's name.
    pub alert: Option<String>,
    /// The reason in words.
    pub message: String,
}

impl GateReason {
    fn about(rule: Rule, f: &SloFacts, message: String) -> GateReason {
        GateReason {
            rule,
            denies: true,
            slo: Some(f.slo.to_string()),
            group: (!f.group.is_empty()).then(|| f.group.to_string()),
            budget_remaining: f.budget_remaining,
            burn_rate: f.burn_rate_1h,
            alert: None,
            message,
        }
    }

    fn note(rule: Rule, message: String) -> GateReason {
        GateReason {
            rule,
            denies: false,
            slo: None,
            group: None,
            budget_remaining: None,
            burn_rate: None,
            alert: None,
            message,
        }
    }
}

/// A release gate's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateDecision {
    pub verdict: Verdict,
    pub reasons: Vec<GateReason>,
    /// The override that allowed it, when one did.
    pub override_id: Option<i64>,
}

/// Decides a release of a service to `environment` carrying `labels` at `now`. `policy` is
/// `None` for a service without one: always allowed, with a `no_policy` reason.
pub fn decide<'a>(
    policy: Option<&ReleasePolicy>,
    environment: &str,
    facts: impl IntoIterator<Item = SloFacts<'a>>,
    service_pages: &[String],
    labels: &[String],
    overrides: &[GateOverride],
    now: Timestamp,
) -> GateDecision {
    let allow = |reasons| GateDecision {
        verdict: Verdict::Allow,
        reasons,
        override_id: None,
    };
    let Some(policy) = policy else {
        return allow(vec![GateReason::note(
            Rule::NoPolicy,
            "the service has no release policy".to_string(),
        )]);
    };
    if !policy.environments.iter().any(|e| e == environment) {
        return allow(vec![GateReason::note(
            Rule::EnvironmentNotGated,
            format!(
                "the release policy guards {:?}, not {environment:?}",
                policy.environments
            ),
        )]);
    }
    let mut reasons = Vec::new();
    for f in facts {
        check(policy, &f, &mut reasons);
    }
    if policy.deny_on_page_alert {
        for alert in service_pages {
            let mut r = GateReason::note(
                Rule::PageAlert,
                format!("page alert {alert:?} is firing for the service"),
            );
            r.denies = true;
            r.alert = Some(alert.clone());
            reasons.push(r);
        }
    }
    if !reasons.iter().any(|r| r.denies) {
        return allow(reasons);
    }
    let waive = |reasons: &mut Vec<GateReason>| reasons.iter_mut().for_each(|r| r.denies = false);
    if let Some(label) = labels.iter().find(|l| policy.exempt_labels.contains(l)) {
        waive(&mut reasons);
        reasons.push(GateReason::note(
            Rule::ExemptLabel,
            format!("label {label:?} is exempt from the release policy"),
        ));
        return allow(reasons);
    }
    // The override lasting longest, so the reason names the one that keeps the gate open.
    if let Some(o) = overrides
        .iter()
        .filter(|o| o.in_force(environment, now))
        .max_by_key(|o| (o.until, o.id))
    {
        waive(&mut reasons);
        reasons.push(GateReason::note(
            Rule::Override,
            format!(
                "override {} approved by {} until {}: {}",
                o.id,
                o.approver,
                o.until.to_rfc3339(),
                o.reason
            ),
        ));
        return GateDecision {
            verdict: Verdict::Allow,
            reasons,
            override_id: Some(o.id),
        };
    }
    GateDecision {
        verdict: Verdict::Deny,
        reasons,
        override_id: None,
    }
}

/// The reasons one SLO group gives under `policy`.
fn check(policy: &ReleasePolicy, f: &SloFacts, reasons: &mut Vec<GateReason>) {
    if let Some(alert) = f.page_alert
        && policy.deny_on_page_alert
    {
        let mut r = GateReason::about(
            Rule::PageAlert,
            f,
            format!("page alert {alert:?} is firing for SLO {}", f.slo),
        );
        r.alert = Some(alert.to_string());
        reasons.push(r);
    }
    match f.budget_remaining {
        None => {
            let mut r = GateReason::about(
                Rule::NoData,
                f,
                format!("SLO {} has no data over its window", f.slo),
            );
            r.denies = policy.deny_on_no_data;
            reasons.push(r);
        }
        Some(left) => {
            if let Some(min) = policy.min_budget_remaining
                && left < min
            {
                reasons.push(GateReason::about(
                    Rule::MinBudgetRemaining,
                    f,
                    format!(
                        "SLO {} has {:.1}% of its error budget left, below {:.1}%",
                        f.slo,
                        left * 100.0,
                        min * 100.0
                    ),
                ));
            }
        }
    }
    if let (Some(max), Some(rate)) = (policy.max_burn_rate_1h, f.burn_rate_1h)
        && rate > max
    {
        reasons.push(GateReason::about(
            Rule::MaxBurnRate1h,
            f,
            format!(
                "SLO {} burns its budget at {rate:.2}x over 1h, above {max}",
                f.slo
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReleasePolicy {
        ReleasePolicy {
            environments: vec!["production".into()],
            min_budget_remaining: Some(0.1),
            deny_on_page_alert: true,
            max_burn_rate_1h: Some(14.4),
            deny_on_no_data: false,
            exempt_labels: vec!["hotfix".into(), "rollback".into()],
        }
    }

    fn facts(budget: Option<f64>, burn: Option<f64>, alert: Option<&str>) -> SloFacts<'_> {
        SloFacts {
            slo: "checkout-availability",
            group: "",
            budget_remaining: budget,
            burn_rate_1h: burn,
            page_alert: alert,
        }
    }

    fn run(f: SloFacts, labels: &[&str], overrides: &[GateOverride]) -> GateDecision {
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        decide(
            Some(&policy()),
            "production",
            [f],
            &[],
            &labels,
            overrides,
            Timestamp(1_000),
        )
    }

    fn rules(d: &GateDecision) -> Vec<(Rule, bool)> {
        d.reasons.iter().map(|r| (r.rule, r.denies)).collect()
    }

    #[test]
    fn healthy_budget_allows_with_no_reasons() {
        let d = run(facts(Some(0.5), Some(1.0), None), &[], &[]);
        assert_eq!(d.verdict, Verdict::Allow);
        assert!(d.reasons.is_empty());
    }

    #[test]
    fn each_rule_denies_and_names_its_figures() {
        let d = run(facts(Some(0.05), Some(20.0), Some("page")), &[], &[]);
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(
            rules(&d),
            [
                (Rule::PageAlert, true),
                (Rule::MinBudgetRemaining, true),
                (Rule::MaxBurnRate1h, true)
            ]
        );
        assert_eq!(d.reasons[0].alert.as_deref(), Some("page"));
        assert_eq!(d.reasons[1].budget_remaining, Some(0.05));
        assert_eq!(d.reasons[2].burn_rate, Some(20.0));
        assert_eq!(d.reasons[1].slo.as_deref(), Some("checkout-availability"));
    }

    #[test]
    fn thresholds_are_strict() {
        // Exactly at the limits passes: the budget is not below 10%, the burn not above 14.4.
        let d = run(facts(Some(0.1), Some(14.4), None), &[], &[]);
        assert_eq!(d.verdict, Verdict::Allow);
    }

    #[test]
    fn no_data_warns_unless_the_policy_denies_on_it() {
        let d = run(facts(None, None, None), &[], &[]);
        assert_eq!(d.verdict, Verdict::Allow);
        assert_eq!(rules(&d), [(Rule::NoData, false)]);
        let strict = ReleasePolicy {
            deny_on_no_data: true,
            ..policy()
        };
        let d = decide(
            Some(&strict),
            "production",
            [facts(None, None, None)],
            &[],
            &[],
            &[],
            Timestamp(0),
        );
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(rules(&d), [(Rule::NoData, true)]);
    }

    #[test]
    fn exempt_label_allows_and_keeps_the_waived_reasons() {
        let d = run(facts(Some(0.0), None, None), &["security", "hotfix"], &[]);
        assert_eq!(d.verdict, Verdict::Allow);
        assert_eq!(
            rules(&d),
            [
                (Rule::MinBudgetRemaining, false),
                (Rule::ExemptLabel, false)
            ]
        );
        assert!(d.reasons[1].message.contains("\"hotfix\""));
    }

    fn over(id: i64, env: &str, until: i64, revoked: Option<i64>) -> GateOverride {
        GateOverride {
            id,
            environment: env.into(),
            reason: "launch".into(),
            approver: "alice".into(),
            created: Timestamp(0),
            until: Timestamp(until),
            revoked: revoked.map(Timestamp),
        }
    }

    #[test]
    fn only_an_override_in_force_for_the_environment_allows() {
        let low = facts(Some(0.0), None, None);
        let expired = over(1, "production", 1_000, None);
        let revoked = over(2, "production", 5_000, Some(500));
        let elsewhere = over(3, "staging", 5_000, None);
        let d = run(low.clone(), &[], &[expired, revoked, elsewhere]);
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(d.override_id, None);
        let d = run(
            low,
            &[],
            &[
                over(4, "production", 2_000, None),
                over(5, "production", 9_000, None),
            ],
        );
        assert_eq!(d.verdict, Verdict::Allow);
        assert_eq!(d.override_id, Some(5));
        let last = d.reasons.last().unwrap();
        assert_eq!(last.rule, Rule::Override);
        assert!(last.message.contains("alice") && last.message.contains("launch"));
    }

    #[test]
    fn no_policy_and_ungated_environments_allow_saying_why() {
        let d = decide(None, "production", [], &[], &[], &[], Timestamp(0));
        assert_eq!(
            (d.verdict, rules(&d)),
            (Verdict::Allow, vec![(Rule::NoPolicy, false)])
        );
        let d = decide(
            Some(&policy()),
            "staging",
            [facts(Some(-1.0), None, Some("page"))],
            &[],
            &[],
            &[],
            Timestamp(0),
        );
        assert_eq!(
            (d.verdict, rules(&d)),
            (Verdict::Allow, vec![(Rule::EnvironmentNotGated, false)])
        );
    }

    #[test]
    fn page_alerts_only_deny_when_the_policy_says_so() {
        let lenient = ReleasePolicy {
            deny_on_page_alert: false,
            ..policy()
        };
        let d = decide(
            Some(&lenient),
            "production",
            [facts(Some(0.9), None, Some("page"))],
            &[],
            &[],
            &[],
            Timestamp(0),
        );
        assert_eq!(d.verdict, Verdict::Allow);
        assert!(d.reasons.is_empty());
        // A page alert of the service from elsewhere (an Alertmanager client, PagerDuty).
        let pages = ["DatabaseDown".to_string()];
        let healthy = [facts(Some(0.9), None, None)];
        let d = decide(
            Some(&policy()),
            "production",
            healthy,
            &pages,
            &[],
            &[],
            Timestamp(0),
        );
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(rules(&d), [(Rule::PageAlert, true)]);
        assert_eq!(d.reasons[0].alert.as_deref(), Some("DatabaseDown"));
        assert_eq!(d.reasons[0].slo, None);
        let healthy = [facts(Some(0.9), None, None)];
        let d = decide(
            Some(&lenient),
            "production",
            healthy,
            &pages,
            &[],
            &[],
            Timestamp(0),
        );
        assert_eq!((d.verdict, d.reasons.len()), (Verdict::Allow, 0));
    }
}
