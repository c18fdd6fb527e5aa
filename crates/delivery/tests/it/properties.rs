//! Properties of the test on arbitrary samples (ties and all): the estimate is the median of
//! every pairwise difference, the bounds are pairwise differences around it, and the p-value
//! is a probability that does not depend on which side is called the canary.

use headroom_delivery::canary::stats::mann_whitney;
use proptest::collection::vec;
use proptest::prelude::*;

fn differences(canary: &[f64], baseline: &[f64]) -> Vec<f64> {
    let mut d: Vec<f64> = canary
        .iter()
        .flat_map(|c| baseline.iter().map(move |b| c - b))
        .collect();
    d.sort_by(f64::total_cmp);
    d
}

/// Whole numbers in a small range tie often; sizes up to 70 a side take the selection past
/// its direct case.
fn side() -> impl Strategy<Value = Vec<f64>> {
    vec((-15i32..15).prop_map(f64::from), 1..70)
}

proptest! {
    #[test]
    fn estimate_and_bounds_are_pairwise_differences(canary in side(), baseline in side()) {
        let t = mann_whitney(&canary, &baseline, 0.98).unwrap();
        let d = differences(&canary, &baseline);
        let n = d.len();
        let median = if n % 2 == 1 { d[n / 2] } else { (d[n / 2 - 1] + d[n / 2]) / 2.0 };
        prop_assert_eq!(t.estimate, median);
        prop_assert!(d.contains(&t.lower) && d.contains(&t.upper));
        prop_assert!(t.lower <= t.estimate && t.estimate <= t.upper);
        // Symmetric: the lower bound is as many differences from the bottom as the upper is
        // from the top.
        let below = d.iter().filter(|&&v| v < t.lower).count();
        let above = d.iter().filter(|&&v| v > t.upper).count();
        let at_lower = d.iter().filter(|&&v| v == t.lower).count();
        let at_upper = d.iter().filter(|&&v| v == t.upper).count();
        prop_assert!(below.abs_diff(above) < at_lower.max(at_upper), "{below} {above}");
        prop_assert!((0.0..=1.0).contains(&t.p_value));
        let swapped = mann_whitney(&baseline, &canary, 0.98).unwrap();
        prop_assert_eq!(swapped.p_value, t.p_value);
        prop_assert_eq!(swapped.u, (canary.len() * baseline.len()) as f64 - t.u);
    }
}
