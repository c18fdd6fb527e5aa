//! Prometheus recording and alerting rules for SLOs, in the shape Sloth (v0.16) generates them.
//!
//! For every SLO up to three groups: `sloth-slo-sli-recordings-<id>` (the error ratio over every
//! alert window and over the period), `sloth-slo-meta-recordings-<id>` (objective, budget, burn
//! rates, info) and, when the SLO has alert tiers, `sloth-slo-alerts-<id>` (one multi-window
//! multi-burn-rate alert per tier). The names and labels are the SLO's `rules` (Sloth's names for
//! it, which each loader sets), and its `rules.steps` build the groups in order, as Sloth's SLO
//! plugin chain does: the default steps, then any plugin that reshapes them (a denominator
//! correction, info labels, intervals, removed labels). A group left without rules is not written.
//!
//! Each window's SLI is the SLI's queries over that window ([`headroom_metrics::windowed`]):
//! Sloth's `{{.window}}` replaced, OpenSLO counters and per-interval counts wrapped in
//! `increase(sel[window])` and `sum_over_time(sel[window])`, a threshold metric's values counted
//! in subqueries; a raw query Sloth itself sees (an SLI plugin's, OpenSLO v1alpha's) is written
//! as Sloth writes it.

use std::collections::BTreeMap;

use headroom_core::{
    AlertPolicy, AlertWindows, PromQuery, QueryForm, RatioQueries, RuleStep, Sli, Slo, Span,
};
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

/// What `sloth_slo_info` says about the generator besides the SLO's own spec and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoLabels {
    /// `sloth_version`.
    pub version: String,
}

impl Default for InfoLabels {
    fn default() -> Self {
        InfoLabels {
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
    #[error(
        "SLO {slo:?}: {step} corrects error and total queries; the SLI must be events \
         (error_query and total_query)"
    )]
    NeedsEvents { slo: String, step: &'static str },
}

/// The rule groups for `slos`, in order: SLI recordings, meta recordings, alerts, per SLO.
pub fn generate(slos: &[Slo], opts: &Options) -> Result<Vec<RuleGroup>, GenerateError> {
    let mut out = Vec::new();
    for slo in slos {
        out.extend(generate_one(slo, opts)?);
    }
    Ok(out)
}

type Labels = BTreeMap<String, String>;

const SLI_PREFIX: &str = "slo:sli_error:ratio_rate";
const CORRECTION_PREFIX: &str = "slo:numerator_correction:ratio";
const INFO: &str = "sloth_slo_info";

/// One rule group as the steps build it; written only when it holds rules, as Sloth does.
#[derive(Default)]
struct Draft {
    rules: Vec<Rule>,
    interval: Option<Span>,
}

fn generate_one(slo: &Slo, opts: &Options) -> Result<Vec<RuleGroup>, GenerateError> {
    let w = Writer::new(slo, opts)?;
    let (mut sli, mut meta, mut alerts) = (Draft::default(), Draft::default(), Draft::default());
    for step in &slo.rules.steps {
        match step {
            RuleStep::SliRecordings { optimized } => sli.rules = w.sli_recordings(*optimized)?,
            RuleStep::MetaRecordings => meta.rules = w.meta_recordings(),
            RuleStep::Alerts => alerts.rules = w.alerts(),
            RuleStep::DenominatorCorrected { optimized } => {
                let (recordings, corrections) = w.denominator_corrected(*optimized)?;
                sli.rules = recordings;
                meta.rules.extend(corrections);
            }
            RuleStep::InfoLabels { metric, labels } => {
                // Only the first recording of that name, as Sloth's plugin does.
                if let Some(Rule::Record { labels: l, .. }) = meta
                    .rules
                    .iter_mut()
                    .find(|r| matches!(r, Rule::Record { record, .. } if record == metric))
                {
                    l.extend(labels.clone());
                }
            }
            RuleStep::Intervals {
                sli: s,
                meta: m,
                alerts: a,
            } => {
                (sli.interval, meta.interval, alerts.interval) = (Some(*s), Some(*m), Some(*a));
            }
            RuleStep::BudgetExhaustedAlert {
                name,
                threshold,
                for_,
                selector,
                labels,
                annotations,
            } => alerts.rules.push(w.budget_alert(
                name,
                *threshold,
                *for_,
                selector,
                labels,
                annotations,
            )),
            RuleStep::RemoveLabels { preserve, skip } => {
                remove_labels(&mut sli.rules, &mut meta.rules, preserve, skip);
            }
        }
    }
    let id = &slo.rules.id;
    Ok([
        ("sloth-slo-sli-recordings", sli),
        ("sloth-slo-meta-recordings", meta),
        ("sloth-slo-alerts", alerts),
    ]
    .into_iter()
    .filter(|(_, d)| !d.rules.is_empty())
    .map(|(prefix, d)| RuleGroup {
        name: format!("{prefix}-{id}"),
        interval: d.interval.map(prom_duration),
        rules: d.rules,
    })
    .collect())
}

/// `sloth.dev/contrib/remove_labels/v1`: recordings keep Sloth's naming labels (the SLI ones
/// their window too) and `preserve`; `sloth_slo_info` and the `skip` recordings keep all.
fn remove_labels(sli: &mut [Rule], meta: &mut [Rule], preserve: &[String], skip: &[String]) {
    let mut keep: Vec<&str> = vec!["sloth_id", "sloth_service", "sloth_slo"];
    keep.extend(preserve.iter().map(String::as_str));
    let strip = |rules: &mut [Rule], keep: &[&str]| {
        for r in rules {
            if let Rule::Record { record, labels, .. } = r
                && record != INFO
                && !skip.contains(record)
            {
                labels.retain(|k, _| keep.contains(&k.as_str()));
            }
        }
    };
    strip(meta, &keep);
    keep.push("sloth_window");
    strip(sli, &keep);
}

/// What every step of one SLO writes with: its windows, labels and selector.
struct Writer<'a> {
    slo: &'a Slo,
    opts: &'a Options,
    policy: AlertPolicy,
    period: Span,
    /// Every window the alerts and Sloth's default windows look at, shortest first.
    windows: Vec<Span>,
    /// The SLO's labels, the extra labels and Sloth's three naming labels.
    base: BTreeMap<String, String>,
    /// `{sloth_id="…", sloth_service="…", sloth_slo="…"}`.
    selector: String,
}

impl<'a> Writer<'a> {
    fn new(slo: &'a Slo, opts: &'a Options) -> Result<Self, GenerateError> {
        let period = opts.period.unwrap_or_else(|| slo.window.nominal_length());
        let default_windows = opts.windows.unwrap_or_else(|| AlertWindows::google(period));
        let policy = effective_policy(&slo.alerting, opts, &default_windows, period);
        let mut windows = policy.windows();
        windows.extend(AlertPolicy::from_windows(&default_windows, period).windows());
        windows.sort();
        windows.dedup();
        if let Some(w) = windows.iter().chain([&period]).find(|w| w.millis() <= 0) {
            return Err(GenerateError::BadWindow {
                slo: slo.id.to_string(),
                window: w.to_string(),
            });
        }
        let names = &slo.rules;
        // Sloth merges the extra labels over the SLO's.
        let mut base = slo.labels.clone();
        base.extend(opts.extra_labels.clone());
        for (k, v) in [
            ("sloth_id", &names.id),
            ("sloth_service", &names.service),
            ("sloth_slo", &names.slo),
        ] {
            base.insert(k.to_string(), v.clone());
        }
        let selector = format!(
            "{{sloth_id=\"{}\", sloth_service=\"{}\", sloth_slo=\"{}\"}}",
            esc(&names.id),
            esc(&names.service),
            esc(&names.slo)
        );
        Ok(Writer {
            slo,
            opts,
            policy,
            period,
            windows,
            base,
            selector,
        })
    }

    fn recording(&self, record: String, expr: String, window: Option<&str>) -> Rule {
        let mut labels = self.base.clone();
        if let Some(w) = window {
            labels.insert("sloth_window".into(), w.to_string());
        }
        Rule::Record {
            record,
            expr,
            labels,
        }
    }

    /// The period's error ratio from the shortest window's recordings: every ratio summed over
    /// the period, over how many there are (a mean of ratios, cheap to evaluate).
    fn optimized_period(&self) -> String {
        let (shortest, period, sel) = (
            prom_duration(self.windows[0]),
            prom_duration(self.period),
            &self.selector,
        );
        format!(
            "sum_over_time({SLI_PREFIX}{shortest}{sel}[{period}])\n\
             / ignoring (sloth_window)\n\
             count_over_time({SLI_PREFIX}{shortest}{sel}[{period}])\n"
        )
    }

    fn sli_recordings(&self, optimized: bool) -> Result<Vec<Rule>, GenerateError> {
        let mut rules = Vec::new();
        for w in self.windows.iter().chain([&self.period]) {
            let window = prom_duration(*w);
            let expr = if *w == self.period && optimized {
                self.optimized_period()
            } else {
                sli_expr(self.slo, &window)?
            };
            rules.push(self.recording(format!("{SLI_PREFIX}{window}"), expr, Some(&window)));
        }
        Ok(rules)
    }

    /// `sloth.dev/contrib/denominator_corrected_rules/v1`: each alert window's bad events are
    /// weighted by that window's share of the period's events (recorded beside the meta
    /// recordings), so a burst in a quiet hour burns what it costs over the period.
    fn denominator_corrected(
        &self,
        optimized: bool,
    ) -> Result<(Vec<Rule>, Vec<Rule>), GenerateError> {
        // Sloth's plugin needs its events SLI: not a raw query, not one an SLI plugin wrote.
        let (
            Sli::Ratio {
                queries: RatioQueries::BadTotal { bad, total },
                form: QueryForm::Windowed,
            },
            None,
        ) = (&self.slo.sli, &self.slo.rules.raw_error_ratio)
        else {
            return Err(GenerateError::NeedsEvents {
                slo: self.slo.id.to_string(),
                step: "sloth.dev/contrib/denominator_corrected_rules/v1",
            });
        };
        let at = |q: &PromQuery, w: &str| q.0.replace("{{.window}}", w);
        let period = prom_duration(self.period);
        let mut sli = Vec::new();
        let mut corrections = Vec::new();
        for w in &self.windows {
            let window = prom_duration(*w);
            let expr = format!(
                "(\n{CORRECTION_PREFIX}{window}{}\n* on()\n{}\n)\n/\n({})\n",
                self.selector,
                at(bad, &window),
                at(total, &window)
            );
            sli.push(self.recording(format!("{SLI_PREFIX}{window}"), expr, Some(&window)));
            corrections.push(self.recording(
                format!("{CORRECTION_PREFIX}{window}"),
                format!("({})/({})", at(total, &window), at(total, &period)),
                None,
            ));
        }
        let expr = if optimized {
            self.optimized_period()
        } else {
            format!("({})\n/\n({})\n", at(bad, &period), at(total, &period))
        };
        sli.push(self.recording(format!("{SLI_PREFIX}{period}"), expr, Some(&period)));
        Ok((sli, corrections))
    }

    /// `sloth.dev/contrib/error_budget_exhausted_alert/v1`: the period's budget left at most
    /// the threshold, on the SLO's series (its labels and the step's selector).
    fn budget_alert(
        &self,
        name: &str,
        threshold: f64,
        for_: Span,
        selector: &Labels,
        labels: &Labels,
        annotations: &Labels,
    ) -> Rule {
        let mut matched = self.base.clone();
        matched.extend(selector.clone());
        let matcher: Vec<String> = matched
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        Rule::Alert {
            alert: name.to_string(),
            expr: format!(
                "slo:period_error_budget_remaining:ratio{{{}}} <= {}",
                matcher.join(", "),
                num(threshold)
            ),
            for_: Some(prom_duration(for_)),
            labels: labels.clone(),
            annotations: annotations.clone(),
        }
    }

    fn meta_recordings(&self) -> Vec<Rule> {
        let (sel, objective) = (&self.selector, self.slo.objective.ratio());
        let burn = |num: String| {
            format!(
                "{num}{sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n\
                 slo:error_budget:ratio{sel}\n"
            )
        };
        let rec = |record: &str, expr: String| self.recording(record.to_string(), expr, None);
        let mut info = self.base.clone();
        let spec = self.slo.rules.spec;
        info.insert("sloth_mode".into(), spec.mode().to_string());
        info.insert("sloth_objective".into(), rounded(objective * 100.0));
        info.insert("sloth_spec".into(), spec.version().to_string());
        info.insert("sloth_version".into(), self.opts.info.version.clone());
        vec![
            rec("slo:objective:ratio", format!("vector({})", num(objective))),
            rec(
                "slo:error_budget:ratio",
                format!("vector(1-{})", num(objective)),
            ),
            rec(
                "slo:time_period:days",
                format!("vector({})", rounded(self.period.as_days_f64())),
            ),
            rec(
                "slo:current_burn_rate:ratio",
                burn(format!("{SLI_PREFIX}{}", prom_duration(self.windows[0]))),
            ),
            rec(
                "slo:period_burn_rate:ratio",
                burn(format!("{SLI_PREFIX}{}", prom_duration(self.period))),
            ),
            rec(
                "slo:period_error_budget_remaining:ratio",
                format!("1 - slo:period_burn_rate:ratio{sel}"),
            ),
            Rule::Record {
                record: INFO.into(),
                expr: "vector(1)".into(),
                labels: info,
            },
        ]
    }

    fn alerts(&self) -> Vec<Rule> {
        let (sel, policy) = (&self.selector, &self.policy);
        let budget = sloth_error_budget(self.slo.objective.ratio());
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
                            "    max({SLI_PREFIX}{}{sel} > {threshold}) without (sloth_window)\n",
                            prom_duration(w)
                        )
                    };
                    format!("(\n{}    and\n{})\n", one(c.short), one(c.long))
                })
                .collect();
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
                    "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn \
                     rate is over expected."
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
                    .unwrap_or_else(|| format!("{}-{}", self.slo.rules.id, tier.severity)),
                expr: conds.join("or\n"),
                for_: (tier.for_.millis() > 0).then(|| prom_duration(tier.for_)),
                labels,
                annotations,
            });
        }
        alerts
    }
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
    if let Some(raw) = &slo.rules.raw_error_ratio {
        return Ok(format!("({})", q(raw)));
    }
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
