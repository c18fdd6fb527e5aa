//! How an SLO is written as Prometheus rules in Sloth's shape: the names Sloth gives it and the
//! steps (Sloth's SLO plugins) that build and reshape its rule groups.
//!
//! Each loader sets these, because Sloth names and reads SLOs differently per format: an
//! OpenSLO SLO is `<service>-<name>-<objective index>` to Sloth while headroom keeps
//! `metadata.name` as its id; an SLI plugin or OpenSLO's good/total reaches Sloth as a raw
//! error-ratio query while headroom keeps the counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::query::PromQuery;
use crate::time::Span;

/// What `generate prometheus` needs beyond the SLO itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesSpec {
    /// `sloth_id`; the rule groups' names end with it.
    pub id: String,
    /// `sloth_service`.
    pub service: String,
    /// `sloth_slo`.
    pub slo: String,
    /// The format Sloth would have read the SLO from (`sloth_spec`, `sloth_mode`).
    pub spec: SlothSpec,
    /// The error-ratio query Sloth's SLI recordings hold when Sloth sees this SLI as a raw query
    /// (an SLI plugin's output; OpenSLO's good/total as `1 - good/total`). `None`: written from
    /// the SLI's own queries.
    pub raw_error_ratio: Option<PromQuery>,
    /// In the order they run: Sloth's default plugins and the SLO's own, sorted by priority.
    pub steps: Vec<RuleStep>,
}

impl RulesSpec {
    /// These names, the SLI's own queries and Sloth's default steps, as from a `prometheus/v1`
    /// spec.
    pub fn new(id: &str, service: &str, slo: &str) -> Self {
        RulesSpec {
            id: id.to_string(),
            service: service.to_string(),
            slo: slo.to_string(),
            spec: SlothSpec::PrometheusV1,
            raw_error_ratio: None,
            steps: RuleStep::defaults().to_vec(),
        }
    }

    /// As Sloth names an SLO of a `prometheus/v1` spec: `<service>-<slo>`.
    pub fn sloth(service: &str, slo: &str) -> Self {
        RulesSpec::new(&format!("{service}-{slo}"), service, slo)
    }
}

/// The spec format an SLO came in, as Sloth's info recording names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlothSpec {
    /// `prometheus/v1`; also headroom's own format, whose rules Sloth would write the same way.
    PrometheusV1,
    /// `sloth.slok.dev/v1` (the PrometheusServiceLevel CRD).
    Kubernetes,
    /// `openslo/v1alpha`.
    OpenSloV1Alpha,
    /// `openslo/v1`, which Sloth does not read; named as its own.
    OpenSloV1,
}

impl SlothSpec {
    /// `sloth_spec`.
    pub fn version(self) -> &'static str {
        match self {
            SlothSpec::PrometheusV1 => "prometheus/v1",
            SlothSpec::Kubernetes => "sloth.slok.dev/v1",
            SlothSpec::OpenSloV1Alpha => "openslo/v1alpha",
            SlothSpec::OpenSloV1 => "openslo/v1",
        }
    }

    /// `sloth_mode`: how Sloth's command line generated them.
    pub fn mode(self) -> &'static str {
        match self {
            SlothSpec::PrometheusV1 => "cli-gen-prom",
            SlothSpec::Kubernetes => "cli-gen-k8s",
            SlothSpec::OpenSloV1Alpha | SlothSpec::OpenSloV1 => "cli-gen-openslo",
        }
    }
}

/// One step of Sloth's rule generation, each one of Sloth's SLO plugins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum RuleStep {
    /// `sloth.dev/core/sli_rules/v1`: the error ratio over every alert window and the period;
    /// `optimized` derives the period's from the shortest window's recording.
    SliRecordings { optimized: bool },
    /// `sloth.dev/core/metadata_rules/v1`: objective, budget, burn rates, info.
    MetaRecordings,
    /// `sloth.dev/core/alert_rules/v1`: one multi-window multi-burn-rate alert per tier.
    Alerts,
    /// `sloth.dev/contrib/denominator_corrected_rules/v1`: each window's bad events scaled by
    /// that window's share of the period's traffic, recorded as `slo:numerator_correction:ratio…`.
    DenominatorCorrected { optimized: bool },
    /// `sloth.dev/contrib/info_labels/v1`: labels added to the first meta recording named `metric`.
    InfoLabels {
        metric: String,
        labels: BTreeMap<String, String>,
    },
    /// `sloth.dev/contrib/rule_intervals/v1`: the groups' evaluation intervals.
    Intervals { sli: Span, meta: Span, alerts: Span },
    /// `sloth.dev/contrib/error_budget_exhausted_alert/v1`: an alert `name` when the period's
    /// budget left is at most `threshold`, for the SLO's series matching its labels and
    /// `selector`.
    BudgetExhaustedAlert {
        name: String,
        threshold: f64,
        for_: Span,
        selector: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    },
    /// `sloth.dev/contrib/remove_labels/v1`: recordings keep only Sloth's own labels and
    /// `preserve`; `skip` names recordings left alone (besides `sloth_slo_info`).
    RemoveLabels {
        preserve: Vec<String>,
        skip: Vec<String>,
    },
}

impl RuleStep {
    /// The plugins Sloth runs at priority 0 unless a chain overrides them.
    pub fn defaults() -> [RuleStep; 3] {
        [
            RuleStep::SliRecordings { optimized: true },
            RuleStep::MetaRecordings,
            RuleStep::Alerts,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sloth_names_an_slo_after_its_service() {
        let r = RulesSpec::sloth("myservice", "requests-availability");
        assert_eq!(r.id, "myservice-requests-availability");
        assert_eq!(
            (r.service.as_str(), r.slo.as_str()),
            ("myservice", "requests-availability")
        );
        assert_eq!(r.steps, RuleStep::defaults());
        assert_eq!(r.raw_error_ratio, None);
        let n = RulesSpec::new("checkout", "shop", "checkout");
        assert_eq!(
            (n.id.as_str(), n.spec),
            ("checkout", SlothSpec::PrometheusV1)
        );
    }

    #[test]
    fn each_format_has_sloths_spec_and_mode() {
        let all = [
            SlothSpec::PrometheusV1,
            SlothSpec::Kubernetes,
            SlothSpec::OpenSloV1Alpha,
            SlothSpec::OpenSloV1,
        ];
        let got: Vec<(&str, &str)> = all.iter().map(|s| (s.version(), s.mode())).collect();
        assert_eq!(
            got,
            [
                ("prometheus/v1", "cli-gen-prom"),
                ("sloth.slok.dev/v1", "cli-gen-k8s"),
                ("openslo/v1alpha", "cli-gen-openslo"),
                ("openslo/v1", "cli-gen-openslo"),
            ]
        );
    }
}
