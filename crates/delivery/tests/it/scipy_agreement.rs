//! The Mann-Whitney test against scipy and numpy themselves: many samples generated from a
//! fixed seed go to `scripts/mannwhitney_reference.py`, and for each the U statistic must be
//! equal, the p-value within 1e-9, the Hodges-Lehmann estimate equal to the median of the
//! pairwise differences, and the interval's bounds the differences where scipy's own test,
//! inverted, stops rejecting.

use std::io::Write;
use std::process::{Command, Stdio};

use headroom_delivery::canary::stats::mann_whitney;
use headroom_delivery::canary::{MannWhitney, PValueMethod};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/mannwhitney_reference.py"
);

struct Case {
    canary: Vec<f64>,
    baseline: Vec<f64>,
    confidence: f64,
}

fn normal(rng: &mut StdRng) -> f64 {
    let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `n` values around `centre`: continuous (no ties) or whole numbers (many ties).
fn sample(rng: &mut StdRng, n: usize, centre: f64, spread: f64, whole: bool) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let v = centre + spread * normal(rng);
            if whole { v.round() } else { v }
        })
        .collect()
}

fn has_ties(a: &[f64], b: &[f64]) -> bool {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    all.windows(2).any(|w| w[0] == w[1])
}

/// One pair of samples: one side of `small.0..=small.1` values, the other of
/// `large.0..=large.1`, in either order; sometimes shifted apart, sometimes not.
fn random_case(
    rng: &mut StdRng,
    small: (usize, usize),
    large: (usize, usize),
    whole: bool,
) -> Case {
    let (m, n) = (
        rng.random_range(small.0..=small.1),
        rng.random_range(large.0..=large.1),
    );
    let (m, n) = if rng.random_bool(0.5) { (m, n) } else { (n, m) };
    let spread = if whole {
        4.0
    } else {
        rng.random_range(0.5..20.0)
    };
    let centre = rng.random_range(-50.0..500.0);
    let shift = match rng.random_range(0..3) {
        0 => 0.0,
        1 => spread * rng.random_range(0.1..0.8),
        _ => -spread * rng.random_range(0.5..3.0),
    };
    let baseline = sample(rng, n, centre, spread, whole);
    let canary = sample(rng, m, centre + shift, spread, whole);
    let confidence = if rng.random_bool(0.75) { 0.98 } else { 0.95 };
    Case {
        canary,
        baseline,
        confidence,
    }
}

/// Small samples without ties (exact p), small ones with ties and large ones with and without
/// ties (normal approximation), and completely separated ones (the extremes).
fn cases() -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(0x00ca_4a21);
    let mut out = Vec::new();
    let plan = [
        (150, (1, 8), (1, 30), false),
        (10, (2, 8), (100, 400), false),
        (40, (2, 8), (2, 20), true),
        (120, (9, 200), (9, 200), true),
        (60, (9, 300), (9, 300), false),
    ];
    for (count, small, large, whole) in plan {
        for _ in 0..count {
            out.push(random_case(&mut rng, small, large, whole));
        }
    }
    for (m, n) in [(3, 4), (8, 8), (5, 40), (60, 70)] {
        out.push(Case {
            canary: (0..m).map(|i| 100.0 + i as f64 * 0.37).collect(),
            baseline: (0..n).map(|i| 10.0 + i as f64 * 0.29).collect(),
            confidence: 0.98,
        });
    }
    out
}

fn reference(cases: &[Case]) -> Vec<Value> {
    let request = json!({
        "cases": cases
            .iter()
            .map(|c| json!({"canary": c.canary, "baseline": c.baseline, "confidence": c.confidence}))
            .collect::<Vec<_>>()
    });
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 {SCRIPT}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{SCRIPT} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["cases"].as_array().unwrap().clone()
}

/// A float the script sent as its bits, so that no decimal parsing stands between the two.
fn from_bits(bits: &Value) -> f64 {
    f64::from_bits(bits.as_u64().expect("bits as an integer"))
}

/// The median of all pairwise differences, by sorting them all.
fn naive_median(canary: &[f64], baseline: &[f64]) -> f64 {
    let mut d: Vec<f64> = canary
        .iter()
        .flat_map(|c| baseline.iter().map(move |b| c - b))
        .collect();
    d.sort_by(f64::total_cmp);
    let n = d.len();
    if n % 2 == 1 {
        d[n / 2]
    } else {
        (d[n / 2 - 1] + d[n / 2]) / 2.0
    }
}

#[test]
fn mann_whitney_agrees_with_scipy() {
    let cases = cases();
    let refs = reference(&cases);
    assert_eq!(refs.len(), cases.len());
    let (mut exact, mut tied, mut untied_large) = (0, 0, 0);
    for (i, (case, r)) in cases.iter().zip(&refs).enumerate() {
        let ours: MannWhitney = mann_whitney(&case.canary, &case.baseline, case.confidence)
            .expect("both sides have samples");
        let at = format!(
            "case {i} (canary {}, baseline {} values)",
            case.canary.len(),
            case.baseline.len()
        );
        let method = match ours.method {
            PValueMethod::Exact => "exact",
            PValueMethod::Asymptotic => "asymptotic",
        };
        assert_eq!(method, r["method"], "{at}: method");
        match ours.method {
            PValueMethod::Exact => exact += 1,
            PValueMethod::Asymptotic if has_ties(&case.canary, &case.baseline) => tied += 1,
            PValueMethod::Asymptotic => untied_large += 1,
        }
        assert_eq!(ours.u, r["u"].as_f64().unwrap(), "{at}: U");
        let p = r["p"].as_f64().unwrap();
        assert!(
            (ours.p_value - p).abs() <= 1e-9 && (ours.p_value - p).abs() <= 1e-9 * p,
            "{at}: p {} against scipy's {p}",
            ours.p_value
        );
        assert_eq!(
            ours.estimate,
            from_bits(&r["median_bits"]),
            "{at}: estimate"
        );
        assert_eq!(
            ours.estimate,
            naive_median(&case.canary, &case.baseline),
            "{at}: estimate against every difference sorted"
        );
        assert_eq!(ours.lower, from_bits(&r["lower_bits"]), "{at}: lower bound");
        assert_eq!(ours.upper, from_bits(&r["upper_bits"]), "{at}: upper bound");
        assert!(
            ours.lower <= ours.estimate && ours.estimate <= ours.upper,
            "{at}"
        );
    }
    // Each regime was exercised, not just generated.
    assert!(exact >= 150, "only {exact} exact cases");
    assert!(tied >= 150, "only {tied} tied cases");
    assert!(untied_large >= 50, "only {untied_large} large untied cases");
}
