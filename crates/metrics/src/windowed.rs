//! An SLI's queries as PromQL over one window, for engines that evaluate PromQL themselves: the
//! rules Prometheus runs (`headroom generate prometheus`) and the step queries a backend answers.
//!
//! Sloth's windowed form is the query with `{{.window}}` replaced. In OpenSLO's forms a series
//! read without a range counts over the window as the native plan counts it: a counter wrapped
//! in `increase(sel[window])`, a per-interval count in `sum_over_time(sel[window])`. A query
//! that is not PromQL (another dialect's) is sent as written: there is no selector to find in it.
//! A threshold metric's good and total are counts of its values over the window, in subqueries:
//! PromQL has no other way to count the values that meet a bound.

use std::time::Duration;

use headroom_core::{Bound, PromQuery, QueryForm};
use promql_parser::parser::{self, Expr, MatrixSelector};

use crate::query::substitute_window;

/// One query of `form` over `window` (a Prometheus duration such as `5m` or `4w`).
pub fn query_over_window(query: &PromQuery, form: QueryForm, window: &str) -> String {
    let text = substitute_window(&query.0, window);
    let function = match form {
        QueryForm::Windowed => return text,
        QueryForm::Counter => "increase",
        QueryForm::PerInterval => "sum_over_time",
    };
    let (Ok(range), Ok(mut expr)) = (
        promql_parser::util::parse_duration(window),
        parser::parse(&text),
    ) else {
        return text;
    };
    if wrap_bare_selectors(&mut expr, function, range) == 0 {
        // Nothing to wrap: the query stays as its author wrote it.
        return text;
    }
    expr.to_string()
}

/// Wraps every series read without a range in `function(sel[range])`; returns how many. A
/// subquery is left alone: its inner query is evaluated at its own steps.
fn wrap_bare_selectors(e: &mut Expr, function: &str, range: Duration) -> usize {
    match e {
        Expr::VectorSelector(vs) => {
            let Ok(Expr::Call(mut call)) = parser::parse(&format!("{function}(x[1m])")) else {
                return 0;
            };
            call.args.args = vec![Box::new(Expr::MatrixSelector(MatrixSelector {
                vs: vs.clone(),
                range,
            }))];
            *e = Expr::Call(call);
            1
        }
        Expr::Aggregate(a) => wrap_bare_selectors(&mut a.expr, function, range),
        Expr::Unary(u) => wrap_bare_selectors(&mut u.expr, function, range),
        Expr::Paren(p) => wrap_bare_selectors(&mut p.expr, function, range),
        Expr::Binary(b) => {
            wrap_bare_selectors(&mut b.lhs, function, range)
                + wrap_bare_selectors(&mut b.rhs, function, range)
        }
        Expr::Call(c) => c
            .args
            .args
            .iter_mut()
            .map(|a| wrap_bare_selectors(a, function, range))
            .sum(),
        Expr::Subquery(_)
        | Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => 0,
    }
}

/// A threshold metric's good and total counts, with Sloth's `{{.window}}` placeholder: every
/// value of the query in the window is an event, good when it meets the bound.
pub fn threshold_queries(query: &PromQuery, good_when: Bound) -> (PromQuery, PromQuery) {
    let q = query.0.trim();
    let (op, v) = (good_when.op().symbol(), good_when.value());
    (
        PromQuery(format!(
            "sum(sum_over_time((({q}) {op} bool {v})[{{{{.window}}}}:]))"
        )),
        PromQuery(format!("sum(count_over_time(({q})[{{{{.window}}}}:]))")),
    )
}

/// How a counting query's value relates to the events of its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// `rate()`: events per second, so the window's events are the value times its seconds.
    PerSecond,
    /// `increase()`, `sum_over_time()`, `count_over_time()`: the window's events themselves.
    PerWindow,
}

/// The scale of a counting query (with its window in place), read from its outermost counting
/// functions: those an aggregation or arithmetic encloses, not those inside another function's
/// arguments (a latency quantile's `rate()` says nothing about the count around it). A query
/// with `rate()` is per second; one with only per-window functions per window; anything else
/// (no counting function, or not PromQL) is taken as Sloth's form, per second.
pub fn scale(query: &str) -> Scale {
    fn walk(e: &Expr, rate: &mut bool, window: &mut bool) {
        match e {
            Expr::Call(c) => match c.func.name {
                "rate" => *rate = true,
                "increase" | "sum_over_time" | "count_over_time" => *window = true,
                _ => {}
            },
            Expr::Aggregate(a) => walk(&a.expr, rate, window),
            Expr::Unary(u) => walk(&u.expr, rate, window),
            Expr::Paren(p) => walk(&p.expr, rate, window),
            Expr::Binary(b) => {
                walk(&b.lhs, rate, window);
                walk(&b.rhs, rate, window);
            }
            _ => {}
        }
    }
    let Ok(expr) = parser::parse(query) else {
        return Scale::PerSecond;
    };
    let (mut rate, mut window) = (false, false);
    walk(&expr, &mut rate, &mut window);
    if window && !rate {
        Scale::PerWindow
    } else {
        Scale::PerSecond
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use headroom_core::Comparison;

    fn q(s: &str) -> PromQuery {
        PromQuery(s.to_string())
    }

    #[test]
    fn counters_and_per_interval_counts_are_wrapped_over_the_window() {
        let good = q(r#"sum(http_requests{k8s_cluster="prod",code=~"2xx|4xx"})"#);
        // The parser prints matchers sorted: the same selector.
        assert_eq!(
            query_over_window(&good, QueryForm::Counter, "5m"),
            r#"sum(increase(http_requests{code=~"2xx|4xx",k8s_cluster="prod"}[5m]))"#
        );
        assert_eq!(
            query_over_window(&good, QueryForm::PerInterval, "1h30m"),
            r#"sum(sum_over_time(http_requests{code=~"2xx|4xx",k8s_cluster="prod"}[1h30m]))"#
        );
        // Every bare selector, inside aggregations, arithmetic and function arguments; ranges
        // already written stay.
        assert_eq!(
            query_over_window(
                &q("sum by (code) (a) - 2 * b{x=\"y\"} + sum(rate(c[{{.window}}]))"),
                QueryForm::Counter,
                "4w"
            ),
            "sum by (code) (increase(a[4w])) - 2 * increase(b{x=\"y\"}[4w]) + sum(rate(c[4w]))"
        );
        // Sloth's form, a query with nothing to wrap and another dialect's stay as written.
        let sloth = q("sum(rate(x{a=\"b\"}[{{.window}}]))");
        assert_eq!(
            query_over_window(&sloth, QueryForm::Windowed, "30d"),
            "sum(rate(x{a=\"b\"}[30d]))"
        );
        assert_eq!(
            query_over_window(&sloth, QueryForm::Counter, "30d"),
            "sum(rate(x{a=\"b\"}[30d]))"
        );
        let datadog = q("sum:trace.hits{*}.as_count()");
        assert_eq!(
            query_over_window(&datadog, QueryForm::Counter, "5m"),
            datadog.0
        );
    }

    #[test]
    fn threshold_metrics_count_their_values_in_subqueries() {
        let bound = Bound::new(Comparison::Lt, 500.0).unwrap();
        let (good, total) = threshold_queries(&q(" latency_ms{job=\"search\"} "), bound);
        assert_eq!(
            good.0,
            "sum(sum_over_time(((latency_ms{job=\"search\"}) < bool 500)[{{.window}}:]))"
        );
        assert_eq!(
            total.0,
            "sum(count_over_time((latency_ms{job=\"search\"})[{{.window}}:]))"
        );
        assert_eq!(scale(&substitute_window(&good.0, "1m")), Scale::PerWindow);
    }

    #[test]
    fn the_scale_is_read_from_the_outermost_counting_functions() {
        assert_eq!(scale("sum(rate(x[5m]))"), Scale::PerSecond);
        assert_eq!(
            scale("sum(increase(x[5m])) - sum(increase(y[5m]))"),
            Scale::PerWindow
        );
        assert_eq!(scale("sum(count_over_time(x[5m]))"), Scale::PerWindow);
        assert_eq!(
            scale("sum(sum_over_time((histogram_quantile(0.9, rate(b[5m])) < bool 1)[1m:]))"),
            Scale::PerWindow
        );
        assert_eq!(scale("x[5m]"), Scale::PerSecond);
        assert_eq!(scale("not promql {{"), Scale::PerSecond);
    }
}
