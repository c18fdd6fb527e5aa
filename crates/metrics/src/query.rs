//! PromQL SLI queries → native plans: linear combinations of per-series counter increases (or
//! gauge sample sums and counts) that the [`Router`](crate::route::Router) can compute from raw
//! samples, without a PromQL engine.
//!
//! Only shapes whose meaning is "add up these series' increases" are planned; anything else is
//! [`Unsupported`] with the construct named, so the SLO can be pointed at an external backend.
//!
//! A series read without a range (`sum(http_requests{…})`) means what the SLI's [`QueryForm`]
//! says: refused in Sloth's windowed form, a counter's increase for OpenSLO `counter: true`, the
//! sum of its samples for `counter: false`. An OpenSLO `thresholdMetric` reads one series
//! selector, each sample an event. A raw ratio read without a range (`ratio{…}`, or
//! `1 - ratio{…}` for a success ratio) is one event per sample, good by the sample's success.

use std::fmt;

use headroom_core::{Bound, PromQuery, QueryForm, RatioQueries, Sli};
use promql_parser::label::{MatchOp as PromMatchOp, Matcher};
use promql_parser::parser::{self, Expr, LabelModifier, VectorSelector};
use regex::Regex;

/// What Sloth's `{{.window}}` placeholder is replaced with before parsing: any valid duration
/// works, because a native plan counts over whatever window the SLO asks for.
const WINDOW_STANDIN: &str = "5m";

/// How a label matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// One `name op "value"` matcher of a selector.
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// The value compiled anchored, `^(?:value)$`, as Prometheus does; only for regex ops.
    regex: Option<Regex>,
}

impl LabelMatcher {
    /// A matcher; a regex op compiles `value` anchored. Fails on an invalid regex.
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Self, regex::Error> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(Regex::new(&format!("^(?:{value})$"))?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(LabelMatcher {
            name: name.into(),
            op,
            value,
            regex,
        })
    }

    /// Whether a label value matches; an absent label is the empty string, as in Prometheus.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            // Unreachable by construction: `new` compiles every regex op.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

impl PartialEq for LabelMatcher {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.op == o.op && self.value == o.value
    }
}
impl Eq for LabelMatcher {}

impl std::hash::Hash for LabelMatcher {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (&self.name, self.op, &self.value).hash(h)
    }
}

/// A series selector with a metric name (the router indexes by it) and further matchers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    pub metric: String,
    pub matchers: Vec<LabelMatcher>,
}

impl Selector {
    /// Whether a series (labels sorted by name, including `__name__`) is selected.
    pub fn matches(&self, labels: &[(String, String)]) -> bool {
        label_value(labels, "__name__") == Some(self.metric.as_str()) && self.matches_labels(labels)
    }

    /// The matchers alone, for callers that already matched the metric name.
    pub fn matches_labels(&self, labels: &[(String, String)]) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches(label_value(labels, &m.name)))
    }
}

/// The value of `name` in labels sorted by name.
pub fn label_value<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .binary_search_by(|(n, _)| n.as_str().cmp(name))
        .ok()
        .map(|i| labels[i].1.as_str())
}

/// What a term reads from each selected series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reading {
    /// A counter's increase (`rate()`, `increase()`, an OpenSLO counter): resets and staleness
    /// handled as Prometheus does.
    Increase,
    /// Every gauge sample adds its value (`sum_over_time()`, an OpenSLO per-interval count).
    SampleSum,
    /// Every gauge sample adds 1 (`count_over_time()`).
    SampleCount,
    /// Every gauge sample adds 1 when it meets the bound (an OpenSLO threshold metric's good
    /// values).
    SampleMeets(Bound),
}

/// `coef × reading(selector)`, summed over every selected series.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub coef: f64,
    pub selector: Selector,
    pub reading: Reading,
}

/// A count as a linear combination of terms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CountExpr {
    pub terms: Vec<Term>,
}

impl CountExpr {
    fn plus(mut self, other: CountExpr, sign: f64) -> CountExpr {
        self.terms.extend(other.terms.into_iter().map(|mut t| {
            t.coef *= sign;
            t
        }));
        self
    }
    fn scaled(mut self, k: f64) -> CountExpr {
        for t in &mut self.terms {
            t.coef *= k;
        }
        self
    }
}

/// How an SLO's good and total counts are computed from samples.
#[derive(Debug, Clone, PartialEq)]
pub struct NativePlan {
    pub good: CountExpr,
    pub total: CountExpr,
}

/// Why a query cannot be planned natively.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{query} query: {message}")]
pub struct Unsupported {
    /// Which query of the SLI: "good", "total", "bad", "error_ratio" or "threshold".
    pub query: &'static str,
    /// The construct, as written in PromQL (`subquery`, `histogram_share()`, `or`, …).
    pub construct: String,
    pub message: String,
}

/// What `Unsupported` says the way out is.
const BACKEND_HINT: &str = "this SLO can run via an external Prometheus-compatible backend \
                            (declare it under `backends:`, then name it as the SLI's `backend:` \
                            or mark it `default: true`)";

/// A rejection while walking one query; the query name is added by [`plan`].
#[derive(Debug)]
struct Reject {
    construct: String,
    why: String,
}

fn reject(construct: impl Into<String>, why: impl Into<String>) -> Reject {
    Reject {
        construct: construct.into(),
        why: why.into(),
    }
}

impl Reject {
    fn into_unsupported(self, query: &'static str) -> Unsupported {
        Unsupported {
            query,
            message: format!(
                "{} is not supported natively ({}); {BACKEND_HINT}",
                self.construct, self.why
            ),
            construct: self.construct,
        }
    }
}

/// The native plan of an SLI, or `Ok(None)` for an SLI without queries (events, probes).
/// `grouping` are the SLO's grouping labels: each must survive every term's aggregation.
pub fn plan(sli: &Sli, grouping: &[String]) -> Result<Option<NativePlan>, Unsupported> {
    let form = match sli {
        Sli::Ratio { form, .. } => *form,
        _ => QueryForm::Windowed,
    };
    let mut used = Vec::new();
    let mut count = |query: &'static str, text: &str| -> Result<CountExpr, Unsupported> {
        let (expr, functions) = walk_query(query, text, grouping, form)?;
        used.extend(functions.into_iter().map(|f| (query, f)));
        Ok(expr)
    };
    let plan = match sli {
        // Pushed events and headroom's own probes have no queries to plan.
        Sli::Events | Sli::Probe { .. } => return Ok(None),
        Sli::Ratio { queries, .. } => match queries {
            RatioQueries::GoodTotal { good, total } => NativePlan {
                good: count("good", &good.0)?,
                total: count("total", &total.0)?,
            },
            RatioQueries::BadTotal { bad, total } => {
                let bad = count("bad", &bad.0)?;
                let total = count("total", &total.0)?;
                NativePlan {
                    good: total.clone().plus(bad, -1.0),
                    total,
                }
            }
            RatioQueries::GoodBad { good, bad } => {
                let good = count("good", &good.0)?;
                let bad = count("bad", &bad.0)?;
                NativePlan {
                    total: good.clone().plus(bad, 1.0),
                    good,
                }
            }
        },
        Sli::Threshold { good, total, .. } => NativePlan {
            good: count("good", &good.0)?,
            total: count("total", &total.0)?,
        },
        Sli::ThresholdMetric { query, good_when } => threshold_metric(query, *good_when)?,
        Sli::RawErrorRatio { error_ratio } => {
            let (plan, functions) = raw_ratio(&error_ratio.0, grouping)?;
            used.extend(functions.into_iter().map(|f| ("error_ratio", f)));
            plan
        }
    };
    check_one_scale(&used)?;
    Ok(Some(plan))
}

/// Parses one counting query (`query` names it in errors) written in `form` into a linear
/// combination of terms.
pub fn count_query(
    query: &'static str,
    text: &str,
    grouping: &[String],
    form: QueryForm,
) -> Result<CountExpr, Unsupported> {
    let (expr, functions) = walk_query(query, text, grouping, form)?;
    check_one_scale(
        &functions
            .into_iter()
            .map(|f| (query, f))
            .collect::<Vec<_>>(),
    )?;
    Ok(expr)
}

fn walk_query(
    query: &'static str,
    text: &str,
    grouping: &[String],
    form: QueryForm,
) -> Result<(CountExpr, Vec<&'static str>), Unsupported> {
    let expr = parse(text).map_err(|r| r.into_unsupported(query))?;
    let mut w = Walk::new(grouping, form);
    let count = linear(&expr, &mut w).map_err(|r| r.into_unsupported(query))?;
    Ok((count, w.functions))
}

fn parse(text: &str) -> Result<Expr, Reject> {
    let text = substitute_window(text, WINDOW_STANDIN);
    parser::parse(&text).map_err(|e| {
        // A function of another dialect (MetricsQL's `histogram_share`, say) is worth naming.
        let unknown = e
            .split("unknown function with name '")
            .nth(1)
            .and_then(|rest| rest.split('\'').next());
        match unknown {
            Some(name) => reject(
                format!("`{name}()`"),
                "it is not a Prometheus function (another dialect's, perhaps)",
            ),
            None => reject("PromQL that does not parse", e),
        }
    })
}

/// Replaces `{{.window}}` (with or without inner spaces) by `window`.
pub(crate) fn substitute_window(text: &str, window: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if after[..end].trim() == ".window" => {
                out.push_str(window);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `A / B` → bad = A, total = B; `1 - (G / T)` → good = G, total = T; each `1 - …` turns an
/// error ratio into a success ratio and back, so OpenSLO's `rawType: success` (written
/// `1 - (query)`) reads the same shapes. A series read without a range is a ratio gauge: each
/// sample is one event, good by its success ratio.
fn raw_ratio(
    text: &str,
    grouping: &[String],
) -> Result<(NativePlan, Vec<&'static str>), Unsupported> {
    const Q: &str = "error_ratio";
    let expr = parse(text).map_err(|r| r.into_unsupported(Q))?;
    let mut w = Walk::new(grouping, QueryForm::Windowed);
    let plan = ratio_of(&expr, false, &mut w).map_err(|r| r.into_unsupported(Q))?;
    Ok((plan, w.functions))
}

/// The plan of a ratio expression: an error ratio, or a success ratio when `success`.
fn ratio_of<'a>(e: &'a Expr, success: bool, w: &mut Walk<'a, '_>) -> Result<NativePlan, Reject> {
    // (numerator, denominator) of the ratio as written.
    let (num, den) = match strip_parens(e) {
        Expr::Binary(b) if b.op.to_string() == "/" && b.modifier.is_none() => {
            (linear(&b.lhs, w)?, linear(&b.rhs, w)?)
        }
        Expr::Binary(b)
            if b.op.to_string() == "-" && b.modifier.is_none() && constant(&b.lhs) == Some(1.0) =>
        {
            return ratio_of(&b.rhs, !success, w);
        }
        Expr::VectorSelector(vs) => {
            let selector = selector(vs)?;
            check_grouping(&w.aggs, w.grouping)?;
            let term = |reading| CountExpr {
                terms: vec![Term {
                    coef: 1.0,
                    selector: selector.clone(),
                    reading,
                }],
            };
            (term(Reading::SampleSum), term(Reading::SampleCount))
        }
        other => {
            // A construct inside says more than "not a ratio" does.
            linear(other, w)?;
            return Err(reject(
                "an error ratio that is not `A / B` or `1 - (G / T)`",
                "only a quotient of two counts, or one minus it, says which counts are bad and \
                 total",
            ));
        }
    };
    Ok(if success {
        NativePlan {
            good: num,
            total: den,
        }
    } else {
        NativePlan {
            good: den.clone().plus(num, -1.0),
            total: den,
        }
    })
}

/// An OpenSLO threshold metric: one series selector whose every sample is an event, good when
/// it meets the bound. The objective compares single values, so nothing that combines series at
/// an instant (an aggregation) or values over time (a function) is read natively.
fn threshold_metric(query: &PromQuery, good_when: Bound) -> Result<NativePlan, Unsupported> {
    const Q: &str = "threshold";
    let expr = parse(&query.0).map_err(|r| r.into_unsupported(Q))?;
    let refuse = |construct: String| {
        reject(
            construct,
            "a threshold metric is compared value by value: natively that is the samples of \
             one series selector",
        )
        .into_unsupported(Q)
    };
    let vs = match strip_parens(&expr) {
        Expr::VectorSelector(vs) => vs,
        Expr::Aggregate(a) => return Err(refuse(format!("`{}` of a threshold metric", a.op))),
        Expr::Call(c) => return Err(refuse(format!("`{}()`", c.func.name))),
        Expr::Subquery(_) => return Err(subquery().into_unsupported(Q)),
        Expr::Binary(b) => return Err(refuse(format!("operator `{}`", b.op))),
        _ => return Err(refuse("an expression that is not a series selector".into())),
    };
    let selector = selector(vs).map_err(|r| r.into_unsupported(Q))?;
    // No aggregation encloses the selector, so every grouping label comes through.
    let term = |reading| CountExpr {
        terms: vec![Term {
            coef: 1.0,
            selector: selector.clone(),
            reading,
        }],
    };
    Ok(NativePlan {
        good: term(Reading::SampleMeets(good_when)),
        total: term(Reading::SampleCount),
    })
}

fn strip_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// The value of an expression made only of numbers, if it is one.
fn constant(e: &Expr) -> Option<f64> {
    match e {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => constant(&p.expr),
        Expr::Unary(u) => constant(&u.expr).map(|v| -v),
        Expr::Binary(b) if b.modifier.is_none() => {
            let (l, r) = (constant(&b.lhs)?, constant(&b.rhs)?);
            match b.op.to_string().as_str() {
                "+" => Some(l + r),
                "-" => Some(l - r),
                "*" => Some(l * r),
                "/" => Some(l / r),
                _ => None,
            }
        }
        _ => None,
    }
}

/// One enclosing `sum`'s effect on labels: `None` keeps none (plain `sum`).
type Aggregation<'a> = Option<&'a LabelModifier>;

/// The state of a walk over one query.
struct Walk<'a, 'g> {
    /// The aggregations enclosing the current node, outermost first.
    aggs: Vec<Aggregation<'a>>,
    grouping: &'g [String],
    /// What a series read without a range means.
    form: QueryForm,
    /// The counting constructs used, as messages name them, for the one-scale check.
    functions: Vec<&'static str>,
}

impl<'g> Walk<'_, 'g> {
    fn new(grouping: &'g [String], form: QueryForm) -> Self {
        Walk {
            aggs: Vec::new(),
            grouping,
            form,
            functions: Vec::new(),
        }
    }

    fn used(&mut self, function: &'static str) {
        if !self.functions.contains(&function) {
            self.functions.push(function);
        }
    }
}

/// Walks a count expression; `aggs` are the aggregations enclosing `e`, outermost first.
fn linear<'a>(e: &'a Expr, w: &mut Walk<'a, '_>) -> Result<CountExpr, Reject> {
    match e {
        Expr::Paren(p) => linear(&p.expr, w),
        Expr::Unary(u) => Ok(linear(&u.expr, w)?.scaled(-1.0)),
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if op != "sum" {
                return Err(reject(
                    format!("`{op}` aggregation"),
                    "only `sum` adds counts up",
                ));
            }
            w.aggs.push(a.modifier.as_ref());
            let inner = linear(&a.expr, w);
            w.aggs.pop();
            inner
        }
        Expr::Binary(b) => {
            let op = b.op.to_string();
            if b.op.is_comparison_operator() {
                return Err(reject(
                    format!("comparison `{op}`"),
                    "a filter on values is not a count of events",
                ));
            }
            if b.op.is_set_operator() {
                return Err(reject(
                    format!("`{op}`"),
                    "set operators choose between series instead of adding them",
                ));
            }
            if let Some(m) = &b.modifier
                && (m.matching.is_some() || m.return_bool)
            {
                return Err(reject(
                    format!("vector matching `{m}`").replace("  ", " "),
                    "counts are combined after summing, so label matching has no native meaning",
                ));
            }
            match op.as_str() {
                "+" | "-" => {
                    let sign = if op == "+" { 1.0 } else { -1.0 };
                    let (l, r) = (linear(&b.lhs, w)?, linear(&b.rhs, w)?);
                    Ok(l.plus(r, sign))
                }
                "*" => match (constant(&b.lhs), constant(&b.rhs)) {
                    (Some(k), _) => Ok(linear(&b.rhs, w)?.scaled(k)),
                    (_, Some(k)) => Ok(linear(&b.lhs, w)?.scaled(k)),
                    _ => Err(reject(
                        "product of two vectors",
                        "only a numeric coefficient times a count is a count",
                    )),
                },
                "/" => match constant(&b.rhs) {
                    Some(k) if k != 0.0 && k.is_finite() => Ok(linear(&b.lhs, w)?.scaled(1.0 / k)),
                    _ => Err(reject(
                        "division",
                        "a quotient is a ratio, not a count (only division by a non-zero number is)",
                    )),
                },
                _ => Err(reject(
                    format!("operator `{op}`"),
                    "only +, -, and numeric coefficients combine counts",
                )),
            }
        }
        Expr::Call(c) => {
            let name = c.func.name;
            let reading = match name {
                "rate" | "increase" => Reading::Increase,
                "sum_over_time" => Reading::SampleSum,
                "count_over_time" => Reading::SampleCount,
                "vector" => {
                    return Err(reject(
                        "`vector()`",
                        "a constant is not a count of observed events",
                    ));
                }
                _ => {
                    return Err(reject(
                        format!("`{name}()`"),
                        "only rate(), increase(), sum_over_time() and count_over_time() are counts",
                    ));
                }
            };
            let [arg] = c.args.args.as_slice() else {
                return Err(reject(
                    format!("`{name}()` with several arguments"),
                    "bad call",
                ));
            };
            match arg.as_ref() {
                Expr::MatrixSelector(m) => {
                    let selector = selector(&m.vs)?;
                    check_grouping(&w.aggs, w.grouping)?;
                    w.used(match reading {
                        Reading::Increase if name == "rate" => RATE,
                        Reading::Increase => "`increase()`",
                        Reading::SampleSum => "`sum_over_time()`",
                        _ => "`count_over_time()`",
                    });
                    Ok(CountExpr {
                        terms: vec![Term {
                            coef: 1.0,
                            selector,
                            reading,
                        }],
                    })
                }
                Expr::Subquery(_) => Err(subquery()),
                _ => Err(reject(
                    format!("`{name}()` of an expression"),
                    "only a range selector over raw series can be read from samples",
                )),
            }
        }
        Expr::Subquery(_) => Err(subquery()),
        Expr::VectorSelector(vs) => {
            let (reading, construct) = match w.form {
                QueryForm::Windowed => {
                    return Err(reject(
                        "instant selector without a range",
                        "a counter's current value is not the events of a window; write \
                         `rate(sel[{{.window}}])`",
                    ));
                }
                QueryForm::Counter => (Reading::Increase, "a counter read without a range"),
                QueryForm::PerInterval => (
                    Reading::SampleSum,
                    "a per-interval count read without a range",
                ),
            };
            let selector = selector(vs)?;
            check_grouping(&w.aggs, w.grouping)?;
            w.used(construct);
            Ok(CountExpr {
                terms: vec![Term {
                    coef: 1.0,
                    selector,
                    reading,
                }],
            })
        }
        Expr::MatrixSelector(_) => Err(reject(
            "range selector outside a function",
            "wrap it in rate() or increase()",
        )),
        Expr::NumberLiteral(n) => Err(reject(
            format!("number `{}`", n.val),
            "a constant is not a count of observed events",
        )),
        Expr::StringLiteral(_) => Err(reject("string literal", "not a count")),
        Expr::Extension(_) => Err(reject("extension expression", "not a count")),
    }
}

fn subquery() -> Reject {
    reject(
        "subquery",
        "it evaluates an inner query at steps, which needs a PromQL engine",
    )
}

/// Every grouping label must come through every enclosing `sum`. A plain `sum(…)` of a grouped
/// SLO sums within each group (as Pyrra reads `grouping`); `by` and `without` must keep the
/// labels.
fn check_grouping(aggs: &[Aggregation], grouping: &[String]) -> Result<(), Reject> {
    for label in grouping {
        for modifier in aggs.iter().flatten() {
            let (kept, how) = match modifier {
                LabelModifier::Include(by) => (
                    by.labels.iter().any(|l| l == label),
                    format!("`sum by ({})`", by.labels.join(", ")),
                ),
                LabelModifier::Exclude(w) => (
                    !w.labels.iter().any(|l| l == label),
                    format!("`sum without ({})`", w.labels.join(", ")),
                ),
            };
            if !kept {
                return Err(reject(
                    format!("grouping label `{label}` dropped by {how}"),
                    "each group needs its own counts, so the label must survive the aggregation",
                ));
            }
        }
    }
    Ok(())
}

fn selector(vs: &VectorSelector) -> Result<Selector, Reject> {
    if vs.offset.is_some() {
        return Err(reject("`offset`", "samples are counted as they arrive"));
    }
    if vs.at.is_some() {
        return Err(reject("`@` modifier", "samples are counted as they arrive"));
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err(reject(
            "`or` inside a selector",
            "one selector must name one set of series",
        ));
    }
    let mut metric = vs.name.clone();
    let mut matchers = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == "__name__" && matches!(m.op, PromMatchOp::Equal) && metric.is_none() {
            metric = Some(m.value.clone());
            continue;
        }
        if m.name == "__name__"
            && matches!(m.op, PromMatchOp::Equal)
            && metric.as_deref() == Some(&m.value)
        {
            continue;
        }
        matchers.push(matcher(m)?);
    }
    let Some(metric) = metric else {
        return Err(reject(
            "selector without a metric name",
            "series are found by metric name",
        ));
    };
    Ok(Selector { metric, matchers })
}

fn matcher(m: &Matcher) -> Result<LabelMatcher, Reject> {
    let op = match m.op {
        PromMatchOp::Equal => MatchOp::Equal,
        PromMatchOp::NotEqual => MatchOp::NotEqual,
        PromMatchOp::Re(_) => MatchOp::Regex,
        PromMatchOp::NotRe(_) => MatchOp::NotRegex,
    };
    LabelMatcher::new(&m.name, op, &m.value)
        .map_err(|e| reject(format!("regex `{}`", m.value), e.to_string()))
}

const RATE: &str = "`rate()`";

/// `rate()` is per second while `increase()`, the `_over_time` sums and series read without a
/// range are per window: mixed in one SLO, their ratio would depend on the window length.
fn check_one_scale(used: &[(&'static str, &'static str)]) -> Result<(), Unsupported> {
    let rate = used.iter().find(|(_, f)| *f == RATE);
    let other = used.iter().find(|(_, f)| *f != RATE);
    match (rate, other) {
        (Some((_, _)), Some((query, f))) => Err(reject(
            format!("`rate()` mixed with {f}"),
            "rate() is per second and the others per window, so their ratio depends on the window",
        )
        .into_unsupported(query)),
        _ => Ok(()),
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.metric)?;
        if !self.matchers.is_empty() {
            let parts: Vec<String> = self
                .matchers
                .iter()
                .map(|m| {
                    let op = match m.op {
                        MatchOp::Equal => "=",
                        MatchOp::NotEqual => "!=",
                        MatchOp::Regex => "=~",
                        MatchOp::NotRegex => "!~",
                    };
                    format!("{}{op}{:?}", m.name, m.value)
                })
                .collect();
            write!(f, "{{{}}}", parts.join(","))?;
        }
        Ok(())
    }
}
