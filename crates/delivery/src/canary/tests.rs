//! The judge's rules, case by case; several cases are Kayenta's own classifier and scorer
//! cases with their data.

use std::collections::BTreeMap;

use super::judge::classify;
use super::*;

/// Around 10.
const TEN_A: [f64; 30] = [
    9.776734312010946,
    10.587071850477695,
    7.837550638890177,
    9.324332688611388,
    8.377450540978442,
    8.935926439960628,
    8.270766332472851,
    9.748430812671693,
    11.623746715547156,
    9.275344267963394,
    8.153804774917152,
    10.562020975754294,
    13.498135575451835,
    11.054419256110332,
    6.953890359005509,
    12.52100834219548,
    9.021635860354644,
    4.923485669953166,
    11.251360203607172,
    11.598449508040337,
    8.435232204668182,
    11.110228516867279,
    10.70063380164755,
    8.921277365211525,
    10.086167067942661,
    11.42107515483087,
    9.379234781364495,
    7.798032014855259,
    10.62339807275746,
    11.909642062063739,
];
/// Around 10 too.
const TEN_B: [f64; 30] = [
    11.1453586774086,
    9.961805988559702,
    7.068574306369829,
    7.301266181048366,
    9.794463026565673,
    9.60379186036873,
    6.186779335033939,
    12.345599159550174,
    10.371891733859533,
    8.609430078501672,
    9.913162673361084,
    10.361375299003466,
    14.206800387518818,
    10.9461537547533,
    10.215876627044048,
    11.739760899484603,
    10.907627468626439,
    12.823353694464775,
    8.101860977173214,
    8.498161640880493,
    12.113441374697231,
    13.272210809932028,
    10.114579381663297,
    6.946395876797807,
    6.210527854172778,
    10.160401684903775,
    8.345771206645546,
    8.383822063895833,
    7.002020507008377,
    10.755757401808442,
];
/// Around 20.
const TWENTY: [f64; 30] = [
    20.878412601720026,
    21.78550581191622,
    19.70828084717019,
    15.859946903461562,
    19.51005877217684,
    19.392005525270303,
    22.9265283149121,
    17.156530276709894,
    18.65511791622617,
    23.422607911610392,
    24.055817684156644,
    22.62689958516501,
    21.979472967817678,
    21.659318607218694,
    20.067707574072426,
    22.119570836305414,
    16.44037132663307,
    21.55962282634127,
    21.00018144348922,
    17.779369411412663,
    17.806006358943584,
    18.53720061838611,
    20.555550300210797,
    19.552928184468378,
    21.771118944087092,
    21.809622806176627,
    20.96176290990527,
    20.97757157750302,
    19.106303205498794,
    16.97691896698708,
];

fn metric(name: &str, baseline: &[f64], canary: &[f64]) -> CanaryMetric {
    CanaryMetric::new(name, "g", baseline.to_vec(), canary.to_vec())
}

/// Kayenta's classifier cases run at confidence 0.95 and tolerance 0.10.
fn kayenta_case(m: &CanaryMetric) -> Classification {
    classify(m, 0.95, 0.10).classification
}

#[test]
fn kayenta_classifier_cases() {
    assert_eq!(
        kayenta_case(&metric("pass", &TEN_B, &TEN_A)),
        Classification::Pass
    );
    assert_eq!(
        kayenta_case(&metric("high", &TEN_B, &TWENTY)),
        Classification::High
    );
    assert_eq!(
        kayenta_case(&metric("low", &TWENTY, &TEN_A)),
        Classification::Low
    );
    let mut only_up = metric("up", &TWENTY, &TEN_A);
    only_up.direction = Direction::Increase;
    assert_eq!(kayenta_case(&only_up), Classification::Pass);
    let mut only_down = metric("down", &TEN_B, &TWENTY);
    only_down.direction = Direction::Decrease;
    assert_eq!(kayenta_case(&only_down), Classification::Pass);
    only_down.direction = Direction::Increase;
    assert_eq!(kayenta_case(&only_down), Classification::High);
}

#[test]
fn a_high_metric_reports_its_test_and_effect() {
    let r = classify(&metric("latency", &TEN_B, &TWENTY), CONFIDENCE, TOLERANCE);
    assert_eq!(r.classification, Classification::High);
    assert_eq!(r.reason.as_deref(), Some("latency was classified as High"));
    assert!(!r.critical);
    let t = r.test.expect("the test ran");
    assert_eq!(t.method, PValueMethod::Asymptotic);
    // Every canary value (15.9 and up) is above every baseline value (14.2 and down).
    assert_eq!(t.u, 900.0);
    assert!(t.p_value < 1e-9);
    assert!(t.lower > 0.25 * t.estimate && t.lower < t.estimate && t.estimate < t.upper);
    let ratio = r.deviation.unwrap();
    assert!((ratio - 20.05 / 9.93).abs() < 0.05, "{ratio}");
    assert_eq!(r.effect_size, r.deviation);
    assert_eq!(r.canary.count, 30);
    assert_eq!(r.baseline.missing, 0);
}

#[test]
fn effect_size_thresholds_hold_a_label_back() {
    // Canary about twice the baseline: High unless the allowed increase is above 2.
    let mut m = metric("latency", &TEN_B, &TWENTY);
    m.effect_size.allowed_increase = Some(2.5);
    assert_eq!(
        classify(&m, CONFIDENCE, TOLERANCE).classification,
        Classification::Pass
    );
    m.effect_size.allowed_increase = Some(1.5);
    assert_eq!(
        classify(&m, CONFIDENCE, TOLERANCE).classification,
        Classification::High
    );
    // CLES: every pair has the canary larger, so the effect is 1.
    m.effect_size = EffectSize {
        measure: EffectMeasure::Cles,
        allowed_increase: Some(0.9),
        ..EffectSize::default()
    };
    let r = classify(&m, CONFIDENCE, TOLERANCE);
    assert_eq!(r.effect_size, Some(1.0));
    assert_eq!(r.classification, Classification::High);
}

#[test]
fn critical_metrics_fail_only_beyond_the_critical_threshold() {
    let mut m = metric("errors", &TEN_B, &TWENTY);
    m.critical = true;
    m.effect_size.critical_increase = Some(3.0);
    let r = classify(&m, CONFIDENCE, TOLERANCE);
    assert_eq!(r.classification, Classification::High);
    assert!(!r.critical, "a ratio of 2 is below the critical 3");
    m.effect_size.critical_increase = Some(1.5);
    let r = classify(&m, CONFIDENCE, TOLERANCE);
    assert!(r.critical);
    assert_eq!(
        r.reason.as_deref(),
        Some("The metric errors was classified as High (Critical)")
    );
    let j = judge(&[m, metric("ok", &TEN_B, &TEN_A)], &Scoring::default()).unwrap();
    assert_eq!(j.score, 0.0);
    assert_eq!(j.verdict, Verdict::Fail);
    assert_eq!(
        j.reason.as_deref(),
        Some("Canary Failed: The metric errors was classified as High (Critical)")
    );
    // The group scores are still reported.
    assert_eq!(j.groups[0].score, 50.0);
}

#[test]
fn missing_data_labels() {
    let nan = f64::NAN;
    let m = metric("gone", &[1.0, 2.0], &[nan, nan]);
    let r = classify(&m, CONFIDENCE, TOLERANCE);
    assert_eq!(r.classification, Classification::Nodata);
    assert_eq!(r.reason.as_deref(), Some("Missing data for gone"));
    assert_eq!(r.canary.missing, 2);
    assert_eq!(r.canary.count, 0);
    assert_eq!(r.canary.mean, None);
    assert!(!r.critical);

    let mut required = m.clone();
    required.must_have_data = true;
    assert_eq!(
        classify(&required, CONFIDENCE, TOLERANCE).classification,
        Classification::NodataFailMetric
    );
    // Critical wins over mustHaveData: Nodata, failing the canary.
    required.critical = true;
    let r = classify(&required, CONFIDENCE, TOLERANCE);
    assert_eq!(r.classification, Classification::Nodata);
    assert!(r.critical);

    // Replaced by 0, the NaN samples are data.
    let mut replaced = metric("zeros", &[0.0, 0.0, 0.0], &[nan, nan, nan]);
    replaced.nan_strategy = NanStrategy::Replace;
    let r = classify(&replaced, CONFIDENCE, TOLERANCE);
    assert_eq!(r.classification, Classification::Pass);
    assert_eq!(r.canary.count, 3);
    assert_eq!(
        r.reason.as_deref(),
        Some("The Canary and Baseline data are identical")
    );
}

#[test]
fn one_value_on_each_side_needs_no_noise() {
    // Kayenta adds noise here to keep its root finder off a zero variance; the exact order
    // statistics are the one difference itself.
    let r = classify(
        &metric("flat", &[5.0; 20], &[7.0; 20]),
        CONFIDENCE,
        TOLERANCE,
    );
    assert_eq!(r.classification, Classification::High);
    let t = r.test.unwrap();
    assert_eq!((t.lower, t.estimate, t.upper), (2.0, 2.0, 2.0));
    // One value throughout, in different amounts: Pass without a test.
    let r = classify(&metric("same", &[5.0; 3], &[5.0; 9]), CONFIDENCE, TOLERANCE);
    assert_eq!(r.classification, Classification::Pass);
    assert_eq!(r.test, None);
    assert_eq!(r.reason, None);
}

#[test]
fn outliers_are_removed_per_side() {
    let mut baseline: Vec<f64> = (0..40).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
    baseline.push(1_000.0);
    let canary: Vec<f64> = (0..40).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
    let mut m = metric("spiky", &baseline, &canary);
    let kept = classify(&m, CONFIDENCE, TOLERANCE);
    assert_eq!(kept.baseline.outliers, 0);
    assert_eq!(kept.baseline.max, Some(1_000.0));
    m.outliers.strategy = OutlierStrategy::Remove;
    let r = classify(&m, CONFIDENCE, TOLERANCE);
    assert_eq!(r.baseline.outliers, 1);
    assert_eq!(r.baseline.count, 40);
    assert_eq!(r.baseline.max, Some(10.4));
    assert_eq!(r.canary.outliers, 0);
    // The spike gone, both sides are the same values.
    assert_eq!(r.classification, Classification::Pass);
    assert_eq!(r.deviation, Some(1.0));
}

fn labelled(name: &str, group: &str, c: Classification) -> CanaryMetric {
    // Samples that classify as asked under the default rules.
    let (b, k): (Vec<f64>, Vec<f64>) = match c {
        Classification::Pass => (TEN_B.to_vec(), TEN_B.to_vec()),
        Classification::High => (TEN_B.to_vec(), TWENTY.to_vec()),
        Classification::Low => (TWENTY.to_vec(), TEN_A.to_vec()),
        Classification::Nodata | Classification::NodataFailMetric => (TEN_B.to_vec(), vec![]),
    };
    let mut m = CanaryMetric::new(name, group, b, k);
    m.must_have_data = c == Classification::NodataFailMetric;
    m
}

fn judged(metrics: &[CanaryMetric], weights: &[(&str, f64)]) -> Judgement {
    let scoring = Scoring {
        group_weights: weights.iter().map(|(g, w)| (g.to_string(), *w)).collect(),
        ..Scoring::default()
    };
    let j = judge(metrics, &scoring).unwrap();
    for (m, r) in metrics.iter().zip(&j.metrics) {
        assert_eq!(m.name, r.name);
    }
    j
}

#[test]
fn kayenta_scorer_cases() {
    use Classification::*;
    let one = |c| judged(&[labelled("m", "g", c)], &[]).score;
    assert_eq!(one(Pass), 100.0);
    assert_eq!(one(High), 0.0);
    // A lone Nodata metric is 100% Nodata: 0.
    let j = judged(&[labelled("m", "g", Nodata)], &[]);
    assert_eq!(
        (j.score, j.groups[0].score, j.groups[0].no_data),
        (0.0, 0.0, true)
    );

    // Two groups, one Pass and one Nodata: the Nodata group counts 100.
    let j = judged(
        &[
            labelled("a", "pass", Pass),
            labelled("b", "pass", Pass),
            labelled("c", "nodata", Nodata),
        ],
        &[],
    );
    assert_eq!(j.score, 100.0);
    let scores: Vec<f64> = j.groups.iter().map(|g| g.score).collect();
    assert_eq!(scores, [100.0, 0.0]);

    assert_eq!(
        judged(&[labelled("a", "g", Pass), labelled("b", "g", High)], &[]).score,
        50.0
    );
    let three = judged(
        &[
            labelled("a", "g", Pass),
            labelled("b", "g", High),
            labelled("c", "g", Low),
        ],
        &[],
    );
    assert_eq!(three.score, 33.33);
    assert_eq!(three.verdict, Verdict::Fail);

    // Weighted: group-1 (75%) all Pass, group-2 (25%) all High.
    let j = judged(
        &[
            labelled("a", "group-1", Pass),
            labelled("b", "group-1", Pass),
            labelled("c", "group-2", High),
        ],
        &[("group-1", 75.0), ("group-2", 25.0)],
    );
    assert_eq!(j.score, 75.0);
    assert_eq!(j.verdict, Verdict::Marginal);
}

#[test]
fn unweighted_groups_share_the_rest() {
    use Classification::*;
    // a: 50% weight, Pass; b and c share the other 50: b Pass, c High → 50 + 25 + 0.
    let j = judged(
        &[
            labelled("1", "a", Pass),
            labelled("2", "b", Pass),
            labelled("3", "c", High),
        ],
        &[("a", 50.0)],
    );
    assert_eq!(j.score, 75.0);
    let g = &j.groups[2];
    assert_eq!(
        (g.name.as_str(), g.metrics, g.high, g.score),
        ("c", 1, 1, 0.0)
    );
}

#[test]
fn nodata_fail_metric_counts_against_its_group() {
    use Classification::*;
    let j = judged(
        &[
            labelled("a", "g", Pass),
            labelled("b", "g", NodataFailMetric),
        ],
        &[],
    );
    assert_eq!(j.score, 50.0);
    assert_eq!(j.groups[0].nodata_fail_metric, 1);
    assert_eq!(j.reason, None);
}

#[test]
fn half_the_metrics_without_data_score_zero() {
    use Classification::*;
    let j = judged(&[labelled("a", "g", Pass), labelled("b", "h", Nodata)], &[]);
    assert_eq!(j.score, 0.0);
    assert_eq!(
        j.reason.as_deref(),
        Some("Canary Failed: 50% or more metrics returned NODATA")
    );
    let j = judged(
        &[
            labelled("a", "g", Pass),
            labelled("b", "g", Pass),
            labelled("c", "h", Nodata),
        ],
        &[],
    );
    assert_eq!((j.score, j.verdict), (100.0, Verdict::Pass));
}

#[test]
fn thresholds_are_configurable() {
    use Classification::*;
    let metrics = [labelled("a", "g", Pass), labelled("b", "g", High)];
    let scoring = |pass, marginal| Scoring {
        group_weights: BTreeMap::new(),
        thresholds: ScoreThresholds { pass, marginal },
    };
    assert_eq!(
        judge(&metrics, &scoring(50.0, 40.0)).unwrap().verdict,
        Verdict::Pass
    );
    assert_eq!(
        judge(&metrics, &scoring(60.0, 50.0)).unwrap().verdict,
        Verdict::Marginal
    );
    assert_eq!(
        judge(&metrics, &scoring(60.0, 55.0)).unwrap().verdict,
        Verdict::Fail
    );
}

#[test]
fn bad_input_is_refused_whole_naming_where() {
    let ok = || metric("ok", &[1.0], &[2.0]);
    let err = |metrics: &[CanaryMetric], scoring: &Scoring| {
        judge(metrics, scoring).unwrap_err().to_string()
    };
    let plain = Scoring::default();
    assert_eq!(err(&[], &plain), "no metrics to judge");
    assert_eq!(
        err(&[ok(), ok()], &plain),
        "metric \"ok\" appears twice (metrics 0 and 1)"
    );
    let mut m = ok();
    m.groups.clear();
    assert!(err(&[m], &plain).contains("belongs to no group"));
    let mut m = ok();
    m.canary = vec![1.0, f64::INFINITY];
    assert_eq!(
        err(&[m], &plain),
        "metric \"ok\": canary sample 1 is inf; samples are finite numbers or null (missing)"
    );
    let mut m = ok();
    m.outliers.outlier_factor = 0.0;
    assert!(err(&[m], &plain).contains("outliers.outlierFactor is 0"));
    let mut m = ok();
    m.effect_size.measure = EffectMeasure::Cles;
    m.effect_size.allowed_increase = Some(1.2);
    assert!(err(&[m], &plain).contains("effectSize.allowedIncrease is 1.2; cles is a share"));

    let weights = |w: &[(&str, f64)]| Scoring {
        group_weights: w.iter().map(|(g, v)| (g.to_string(), *v)).collect(),
        ..Scoring::default()
    };
    assert_eq!(
        err(&[ok()], &weights(&[("gg", 10.0)])),
        "scoring: groupWeights names \"gg\", which no metric belongs to"
    );
    assert!(err(&[ok()], &weights(&[("g", 60.0)])).contains("must add up to 100"));
    let two = [ok(), CanaryMetric::new("b", "h", vec![1.0], vec![1.0])];
    assert!(err(&two, &weights(&[("g", 70.0), ("h", 40.0)])).contains("may not exceed 100"));
    assert!(err(&two, &weights(&[("g", -1.0)])).contains("groupWeights.g is -1"));
    let mut s = Scoring::default();
    s.thresholds.marginal = 95.0;
    assert!(err(&[ok()], &s).contains("marginal (95) is above thresholds.pass (90)"));
    s.thresholds.pass = 101.0;
    assert!(err(&[ok()], &s).contains("thresholds.pass is 101"));
}

#[test]
fn judgement_round_trips_through_json_with_nan_as_null() {
    let m = metric("m", &[1.0, f64::NAN, 3.0], &[2.0, 4.0]);
    let text = serde_json::to_string(&m).unwrap();
    assert!(text.contains("\"baseline\":[1.0,null,3.0]"), "{text}");
    let back: CanaryMetric = serde_json::from_str(&text).unwrap();
    assert!(back.baseline[1].is_nan());
    let j = judge(&[m], &Scoring::default()).unwrap();
    let value = serde_json::to_value(&j).unwrap();
    assert_eq!(value["verdict"], "Pass");
    assert_eq!(value["metrics"][0]["classification"], "Pass");
    assert_eq!(value["metrics"][0]["baseline"]["missing"], 1);
}
