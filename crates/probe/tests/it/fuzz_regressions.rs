//! Inputs found by the `condition` fuzz target (fuzz/fuzz_targets/condition.rs). Each asserts
//! what the parser must do with it, and that the printed form parses back to the same condition.

use headroom_probe::{Condition, Observation, Operand, Operator, parse};

/// `parse(c.to_string()) == c` for a condition parsed from `text`.
fn round_trips(text: &str) -> Condition {
    let condition = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    let printed = condition.to_string();
    assert_eq!(
        parse(&printed).as_ref(),
        Ok(&condition),
        "{text:?} printed as {printed:?}"
    );
    let _ = condition.evaluate(&Observation::default());
    condition
}

fn literal(text: &str) -> Operand {
    Operand::Literal(text.into())
}

/// Whitespace other than spaces next to the operator used to be trimmed, leaving `10\f ==`
/// whose printed form `10\f == == 1h27` splits at the first `==`.
#[test]
fn form_feed_before_operator_stays_in_the_operand() {
    let c = round_trips("10\u{c} ==\u{c} == 1h27 1h27m");
    assert_eq!(c.left, literal("10\u{c} ==\u{c}"));
    assert_eq!(c.operator, Operator::Eq);
    assert_eq!(c.right, literal("1h27 1h27m"));
}

/// The same with newlines before a lower-priority operator: `x ==\n\n > 0` has no ` == `, so it
/// splits at ` > `; printed with the newlines trimmed it would have split at `==`.
#[test]
fn newlines_before_operator_stay_in_the_operand() {
    let c = round_trips("le'[nB(ODY].data)[BODY].data[0].id ==\n\n\n\n\n\n\n\n\n\n > 0");
    assert_eq!(c.operator, Operator::Gt);
    assert_eq!(
        c.left,
        literal("le'[nB(ODY].data)[BODY].data[0].id ==\n\n\n\n\n\n\n\n\n\n")
    );
    assert_eq!(c.right, literal("0"));
    let c = round_trips("a ==\n != b");
    assert_eq!((c.left, c.operator), (literal("a ==\n"), Operator::Ne));
}

/// An `any()` option starting with an operator: `, ` in the printed form would put a space
/// before it and make a ` == ` the condition splits at.
#[test]
fn any_option_starting_with_an_operator() {
    let c = round_trips("x != any(a,== b)");
    assert_eq!(c.right, Operand::AnyOf(vec!["a".into(), "== b".into()]));
    assert_eq!(c.to_string(), "x != any(a,== b)");
    // Ordinary options keep the readable `, `.
    assert_eq!(round_trips("x != any(a,b)").to_string(), "x != any(a, b)");
}
