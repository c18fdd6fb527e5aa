//! Prometheus recording and alerting rules for SLOs, in the shape Sloth (v0.16) generates them.
//!
//! For every SLO three groups: `sloth-slo-sli-recordings-<id>` (the error ratio over every alert
//! window and over the period), `sloth-slo-meta-recordings-<id>` (objective, budget, burn rates,
//! info) and, when the SLO has alert tiers, `sloth-slo-alerts-<id>` (one multi-window
//! multi-burn-rate alert per tier).
//!
//! Each window's SLI is the SLI's queries over that window ([`headroom_metrics::windowed`]):
//! Sloth's `{{.window}}` replaced, OpenSLO counters and per-interval counts wrapped in
//! `increase(sel[window])` and `sum_over_time(sel[window])`, a threshold metric's values counted
//! in subqueries.

use std::collections::BTreeMap;

use headroom_core::{AlertPolicy, AlertWindows, PromQuery, RatioQueries, Sli, Slo, Span};
use headroom_metrics::windowed::{query_over_window, threshold_queries};

mod yaml;

pub use yaml::{Format, to_yaml};

/// A Prometheus rule group.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    pub name: String,
    pub interval: Option<String>,
    pub rules: Vec<Rule>,
}

/// One recording or alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Record {
        record: String,
        expr: String,
        labels: BTreeMap<String, String>,
    },
    Alert {
        alert: String,
        expr: String,
        for_: Option<String>,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    },
}

/// What `sloth_slo_info` says about the generator: Sloth writes `sloth_mode` (`cli-gen-prom`,
/// `cli-gen-k8s`, `cli-gen-openslo`), `sloth_spec` (the spec's version) and `sloth_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoLabels {
    pub mode: String,
    pub spec: String,
    pub version: String,
}

impl Default for InfoLabels {
    fn default() -> Self {
        InfoLabels {
            mode: "cli-gen-prom".to_string(),
            spec: "prometheus/v1".to_string(),
            version: "dev".to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// Labels added to every recording rule (Sloth's `--extra-labels`).
    pub extra_labels: BTreeMap<String, String>,
    /// Overrides every SLO's period (Sloth's `--default-slo-period`); the alert factors are
    /// rescaled to it.
    pub period: Option<Span>,
    /// Overrides the page and ticket windows (Sloth's `--slo-period-windows-path`).
    pub windows: Option<AlertWindows>,
    pub info: InfoLabels,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "SLO {slo:?} ({source_ref}): its SLI is {kind}, fed by headroom's push API; there is no \
         Prometheus query to generate rules from"
    )]
    NoQuery {
        slo: String,
        kind: &'static str,
        source_ref: String,
    },
    #[error("SLO {slo:?}: the alert window {window} is not a whole number of milliseconds > 0")]
    BadWindow { slo: String, window: String },
}

/// The rule groups for `slos`, in order: SLI recordings, meta recordings, alerts, per SLO.
pub fn generate(slos: &[Slo], opts: &Options) -> Result<Vec<RuleGroup>, GenerateError> {
    let mut out = Vec::new();
    for slo in slos {
        out.extend(generate_one(slo, opts)?);
    }
    Ok(out)
}

const SLI_PREFIX: &str = "slo:sli_error:ratio_rate";

fn generate_one(slo: &Slo, opts: &Options) -> Result<Vec<RuleGroup>, GenerateError> {
    let period = opts.period.unwrap_or_else(|| slo.window.nominal_length());
    let default_windows = opts.windows.unwrap_or_else(|| AlertWindows::google(period));
    let policy = effective_policy(&slo.alerting, opts, &default_windows, period);

    // Every window the alerts and Sloth's default windows look at, shortest first.
    let mut windows = policy.windows();
    windows.extend(AlertPolicy::from_windows(&default_windows, period).windows());
    windows.sort();
    windows.dedup();
    if let Some(w) = windows.iter().find(|w| w.millis() <= 0) {
        return Err(GenerateError::BadWindow {
            slo: slo.id.to_string(),
            window: w.to_string(),
        });
    }

    let sloth_labels: BTreeMap<String, String> = [
        ("sloth_id", slo.id.as_str()),
        ("sloth_service", slo.service.as_str()),
        ("sloth_slo", slo.name.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut base = opts.extra_labels.clone();
    base.extend(slo.labels.clone());
    base.extend(sloth_labels.clone());
    let selector = format!(
        "{{sloth_id=\"{}\", sloth_service=\"{}\", sloth_slo=\"{}\"}}",
        esc(&slo.id),
        esc(&slo.service),
        esc(&slo.name)
    );

    // SLI recordings.
    let mut sli_rules = Vec::new();
    for w in &windows {
        let window = prom_duration(*w);
        let expr = sli_expr(slo, &window)?;
        let mut labels = base.clone();
        labels.insert("sloth_window".into(), window.clone());
        sli_rules.push(Rule::Record {
            record: format!("{SLI_PREFIX}{window}"),
            expr,
            labels,
        });
    }
    let shortest = prom_duration(windows[0]);
    let period_s = prom_duration(period);
    {
        let mut labels = base.clone();
        labels.insert("sloth_window".into(), period_s.clone());
        sli_rules.push(Rule::Record {
            record: format!("{SLI_PREFIX}{period_s}"),
            expr: format!(
                "sum_over_time({SLI_PREFIX}{shortest}{selector}[{period_s}])\n\
                 / ignoring (sloth_window)\n\
                 count_over_time({SLI_PREFIX}{shortest}{selector}[{period_s}])\n"
            ),
            labels,
        });
    }

    // Meta recordings.
    let objective = slo.objective.ratio();
    let budget = sloth_error_budget(objective);
    let rec = |record: &str, expr: String| Rule::Record {
        record: record.to_string(),
        expr,
        labels: base.clone(),
    };
    let burn = |num: &str| {
        format!(
            "{num}{selector}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n\
             slo:error_budget:ratio{selector}\n"
        )
    };
    let mut info = base.clone();
    info.insert("sloth_mode".into(), opts.info.mode.clone());
    info.insert("sloth_objective".into(), rounded(objective * 100.0));
    info.insert("sloth_spec".into(), opts.info.spec.clone());
    info.insert("sloth_version".into(), opts.info.version.clone());
    let meta_rules = vec![
        rec("slo:objective:ratio", format!("vector({})", num(objective))),
        rec(
            "slo:error_budget:ratio",
            format!("vector(1-{})", num(objective)),
        ),
        rec(
            "slo:time_period:days",
            format!("vector({})", rounded(period.as_days_f64())),
        ),
        rec(
            "slo:current_burn_rate:ratio",
            burn(&format!("{SLI_PREFIX}{shortest}")),
        ),
        rec(
            "slo:period_burn_rate:ratio",
            burn(&format!("{SLI_PREFIX}{period_s}")),
        ),
        rec(
            "slo:period_error_budget_remaining:ratio",
            format!("1 - slo:period_burn_rate:ratio{selector}"),
        ),
        Rule::Record {
            record: "sloth_slo_info".into(),
            expr: "vector(1)".into(),
            labels: info,
        },
    ];

    let mut groups = vec![
        RuleGroup {
            name: format!("sloth-slo-sli-recordings-{}", slo.id),
            interval: None,
            rules: sli_rules,
        },
        RuleGroup {
            name: format!("sloth-slo-meta-recordings-{}", slo.id),
            interval: None,
            rules: meta_rules,
        },
    ];

    // Alerts.
    let mut alerts = Vec::new();
    for tier in &policy.tiers {
        if tier.conditions.is_empty() {
            continue;
        }
        let conds: Vec<String> = tier
            .conditions
            .iter()
            .map(|c| {
                let threshold = format!("({} * {})", rounded(c.factor), num(budget));
                let one = |w: Span| {
                    format!(
                        "    max({SLI_PREFIX}{}{selector} > {threshold}) without (sloth_window)\n",
                        prom_duration(w)
                    )
                };
                format!("(\n{}    and\n{})\n", one(c.short), one(c.long))
            })
            .collect();
        let expr = conds.join("or\n");
        let mut labels = policy.labels.clone();
        labels.extend(tier.labels.clone());
        labels.insert("sloth_severity".into(), tier.severity.to_string());
        let mut annotations: BTreeMap<String, String> = [
            (
                "title".to_string(),
                format!(
                    "({}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error \
                     budget burn rate is too fast.",
                    tier.severity
                ),
            ),
            (
                "summary".to_string(),
                "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate \
                 is over expected."
                    .to_string(),
            ),
        ]
        .into_iter()
        .collect();
        annotations.extend(policy.annotations.clone());
        annotations.extend(tier.annotations.clone());
        alerts.push(Rule::Alert {
            alert: policy
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-{}", slo.id, tier.severity)),
            expr,
            for_: (tier.for_.millis() > 0).then(|| prom_duration(tier.for_)),
            labels,
            annotations,
        });
    }
    if !alerts.is_empty() {
        groups.push(RuleGroup {
            name: format!("sloth-slo-alerts-{}", slo.id),
            interval: None,
            rules: alerts,
        });
    }
    Ok(groups)
}

/// The SLO's policy, with its page and ticket conditions rebuilt from the overriding windows or
/// period when the options give them.
fn effective_policy(
    policy: &AlertPolicy,
    opts: &Options,
    windows: &AlertWindows,
    period: Span,
) -> AlertPolicy {
    let mut policy = policy.clone();
    if opts.windows.is_none() && opts.period.is_none() {
        return policy;
    }
    let fresh = AlertPolicy::from_windows(windows, period);
    for tier in &mut policy.tiers {
        if let Some(f) = fresh.tiers.iter().find(|f| f.severity == tier.severity) {
            tier.conditions = f.conditions.clone();
        }
    }
    policy
}

/// Sloth's error budget, `(100 - objective%) / 100`, which carries its float noise
/// (`0.0009999999999999432` for 99.9).
fn sloth_error_budget(objective: f64) -> f64 {
    let pct: f64 = rounded(objective * 100.0)
        .parse()
        .unwrap_or(objective * 100.0);
    (100.0 - pct) / 100.0
}

fn sli_expr(slo: &Slo, window: &str) -> Result<String, GenerateError> {
    let q = |s: &PromQuery| s.0.replace("{{.window}}", window);
    Ok(match &slo.sli {
        Sli::Ratio { queries, form } => {
            let q = |s: &PromQuery| query_over_window(s, *form, window);
            match queries {
                RatioQueries::BadTotal { bad, total } => {
                    format!("({})\n/\n({})\n", q(bad), q(total))
                }
                RatioQueries::GoodTotal { good, total } => {
                    format!("1 - (\n({})\n/\n({})\n)\n", q(good), q(total))
                }
                RatioQueries::GoodBad { good, bad } => {
                    format!("({})\n/\n(({})\n+\n({}))\n", q(bad), q(good), q(bad))
                }
            }
        }
        Sli::Threshold { good, total, .. } => {
            format!("1 - (\n({})\n/\n({})\n)\n", q(good), q(total))
        }
        Sli::ThresholdMetric { query, good_when } => {
            let (good, total) = threshold_queries(query, *good_when);
            format!("1 - (\n({})\n/\n({})\n)\n", q(&good), q(&total))
        }
        Sli::RawErrorRatio { error_ratio } => format!("({})", q(error_ratio)),
        Sli::Events | Sli::Probe { .. } => {
            return Err(GenerateError::NoQuery {
                slo: slo.id.to_string(),
                kind: slo.sli.kind_name(),
                source_ref: slo.source.to_string(),
            });
        }
    })
}

/// A PromQL label value inside double quotes.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A float as written, shortest round-trip form (`0.9990000000000001` stays as Sloth prints it).
fn num(v: f64) -> String {
    format!("{v}")
}

/// A computed float with its arithmetic noise (14.399999999999999) rounded away at 12
/// significant digits.
fn rounded(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(11 - mag);
    format!("{}", (v * scale).round() / scale)
}

/// A duration as Prometheus (and so Sloth) writes it: `5m`, `1h`, `3d`, `30d`, `4w`, `1h30m`.
pub fn prom_duration(s: Span) -> String {
    let mut ms = s.millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    // Years and weeks only when exact, as Prometheus does: 90d rather than 12w6d.
    for (unit, size, exact) in [
        ("y", 365 * 86_400_000, true),
        ("w", 7 * 86_400_000, true),
        ("d", 86_400_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ] {
        if exact && ms % size != 0 {
            continue;
        }
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_prometheus_writes_them() {
        assert_eq!(prom_duration(Span::minutes(5)), "5m");
        assert_eq!(prom_duration(Span::days(30)), "30d");
        assert_eq!(prom_duration(Span::days(28)), "4w");
        assert_eq!(prom_duration(Span::minutes(90)), "1h30m");
    }

    #[test]
    fn numbers_lose_factor_noise_only() {
        assert_eq!(rounded(14.399999999999999), "14.4");
        assert_eq!(rounded(6.0), "6");
        assert_eq!(num(99.9 / 100.0), "0.9990000000000001");
        assert_eq!(rounded(99.9 / 100.0 * 100.0), "99.9");
        assert_eq!(sloth_error_budget(99.9 / 100.0), 0.0009999999999999432);
    }
}
