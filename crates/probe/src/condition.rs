//! Probe conditions in Gatus's syntax: `[STATUS] == 200`, `len([BODY].items) > 0`,
//! `[CERTIFICATE_EXPIRATION] > 48h`, `[BODY].status == pat(*UP*)`.
//!
//! A condition is `LEFT OPERATOR RIGHT`, the operator surrounded by spaces. As in Gatus the
//! operator is found by searching the whole text in the order `==`, `!=`, `<=`, `>=`, `>`, `<`
//! and splitting at its first occurrence, so literals may contain spaces and other operators
//! (`[BODY] == pat(*<h1>Example Domain</h1>*)`).
//!
//! Unlike Gatus, mistakes are caught when the condition is parsed (unknown placeholders and
//! functions, unbalanced parentheses, malformed `[BODY]` paths) instead of silently comparing
//! the misspelt text as a literal and failing at every probe.

use std::cell::OnceCell;
use std::fmt;
use std::time::Duration;

use serde_json::Value as Json;

/// A parse failure, located by a 1-based column (in characters) within the condition text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ConditionError {
    pub column: usize,
    pub message: String,
}

/// What a probe measured. `None` means "not observed by this kind of probe" (a TCP probe has no
/// `[STATUS]`), which is different from an observed zero or empty value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    pub status: Option<u16>,
    pub response_time_ms: Option<u64>,
    pub body: Option<Vec<u8>>,
    pub ip: Option<String>,
    pub connected: Option<bool>,
    pub certificate_expiration: Option<Duration>,
    pub dns_rcode: Option<String>,
}

/// The verdict on one condition, with the condition in resolved form
/// (`[STATUS] (503) == 200`) so a failure explains itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub success: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Operator {
    /// Gatus's search order: `<=` must be tried before `<`, and `==` wins over everything
    /// so that `[BODY] == pat(*<b>*)` splits at the `==`.
    const SEARCH_ORDER: [Operator; 6] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Le,
        Operator::Ge,
        Operator::Gt,
        Operator::Lt,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Eq => "==",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
        }
    }

    fn is_equality(self) -> bool {
        matches!(self, Operator::Eq | Operator::Ne)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A step into the JSON body: `.key` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// `[BODY]` followed by zero or more path segments; empty means the whole body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyPath(pub Vec<PathSegment>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    Status,
    ResponseTime,
    Body(BodyPath),
    Ip,
    Connected,
    CertificateExpiration,
    DnsRcode,
}

const PLACEHOLDER_NAMES: [&str; 7] = [
    "STATUS",
    "RESPONSE_TIME",
    "BODY",
    "IP",
    "CONNECTED",
    "CERTIFICATE_EXPIRATION",
    "DNS_RCODE",
];

/// Gatus placeholders this crate deliberately does not resolve, so they get a clearer
/// message than "unknown".
const UNSUPPORTED_PLACEHOLDERS: [&str; 2] = ["DOMAIN_EXPIRATION", "CONTEXT"];

const FUNCTION_NAMES: [&str; 4] = ["len", "has", "pat", "any"];

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placeholder::Status => f.write_str("[STATUS]"),
            Placeholder::ResponseTime => f.write_str("[RESPONSE_TIME]"),
            Placeholder::Ip => f.write_str("[IP]"),
            Placeholder::Connected => f.write_str("[CONNECTED]"),
            Placeholder::CertificateExpiration => f.write_str("[CERTIFICATE_EXPIRATION]"),
            Placeholder::DnsRcode => f.write_str("[DNS_RCODE]"),
            Placeholder::Body(path) => {
                f.write_str("[BODY]")?;
                for segment in &path.0 {
                    match segment {
                        PathSegment::Key(key) => write!(f, ".{key}")?,
                        PathSegment::Index(index) => write!(f, "[{index}]")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// One side of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Placeholder(Placeholder),
    /// `len(P)`: characters of a string, elements of an array, keys of an object.
    Len(Placeholder),
    /// `has(P)`: `true` when P resolves to a non-empty value.
    Has(Placeholder),
    /// `pat(...)`: a wildcard pattern, only valid against `==`/`!=`.
    Pattern(String),
    /// `any(a, b, ...)`: equal to one of the options, only valid against `==`/`!=`.
    AnyOf(Vec<String>),
    /// Anything else is compared as text (or as a number/duration when it looks like one).
    Literal(String),
}

impl Operand {
    fn is_matcher(&self) -> bool {
        matches!(self, Operand::Pattern(_) | Operand::AnyOf(_))
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Placeholder(p) => write!(f, "{p}"),
            Operand::Len(p) => write!(f, "len({p})"),
            Operand::Has(p) => write!(f, "has({p})"),
            Operand::Pattern(pattern) => write!(f, "pat({pattern})"),
            Operand::AnyOf(options) => {
                f.write_str("any(")?;
                for (i, option) in options.iter().enumerate() {
                    if i > 0 {
                        // `, ` reads best, but its space before an option such as `== b` would
                        // make an operator the printed condition splits at.
                        let operator_next = Operator::SEARCH_ORDER.iter().any(|op| {
                            option
                                .strip_prefix(op.symbol())
                                .is_some_and(|rest| rest.starts_with(' '))
                        });
                        f.write_str(if operator_next { "," } else { ", " })?;
                    }
                    f.write_str(option)?;
                }
                f.write_str(")")
            }
            Operand::Literal(text) => f.write_str(text),
        }
    }
}

/// A parsed condition. `Display` prints the canonical form, which parses back to an equal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub left: Operand,
    pub operator: Operator,
    pub right: Operand,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.operator, self.right)
    }
}

impl std::str::FromStr for Condition {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text)
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses one condition; columns in errors are 1-based character positions within `text`.
pub fn parse(text: &str) -> Result<Condition, ConditionError> {
    Parser { text }.condition()
}

struct Parser<'a> {
    text: &'a str,
}

impl Parser<'_> {
    fn error(&self, byte_offset: usize, message: impl Into<String>) -> ConditionError {
        let column = self.text[..byte_offset].chars().count() + 1;
        ConditionError {
            column,
            message: message.into(),
        }
    }

    fn condition(&self) -> Result<Condition, ConditionError> {
        let start = self.text.len() - self.text.trim_start().len();
        let trimmed = self.text.trim();
        if trimmed.is_empty() {
            return Err(self.error(0, "empty condition"));
        }
        for operator in Operator::SEARCH_ORDER {
            let token = format!(" {} ", operator.symbol());
            let Some(at) = trimmed.find(&token) else {
                continue;
            };
            // `trimmed` starts and ends with non-space while the token is space-delimited,
            // so both sides are non-empty.
            let left = &trimmed[..at];
            let right_start = at + token.len();
            let right = &trimmed[right_start..];
            // Only spaces, the operator's own delimiter, are trimmed next to it: trimming other
            // whitespace could leave `a ==` of `a ==\n != b`, whose printed form `a == != b`
            // splits at `==` instead.
            let left_op = self.operand(left.trim_end_matches(' '), start)?;
            let right_trimmed = right.trim_start_matches(' ');
            let right_offset = start + right_start + (right.len() - right_trimmed.len());
            let right_op = self.operand(right_trimmed, right_offset)?;
            return self.check_matchers(left_op, operator, right_op, start, right_offset);
        }
        Err(self.missing_operator(trimmed, start))
    }

    /// No space-delimited operator: say whether one is present but cramped, or absent.
    fn missing_operator(&self, trimmed: &str, start: usize) -> ConditionError {
        let bare = ["==", "!=", "<=", ">=", "<", ">"]
            .iter()
            .filter_map(|symbol| trimmed.find(symbol).map(|at| (at, *symbol)))
            .min_by_key(|(at, symbol)| (*at, usize::MAX - symbol.len()));
        match bare {
            Some((0, symbol)) => {
                self.error(start, format!("missing left-hand side before {symbol}"))
            }
            Some((at, symbol)) if at + symbol.len() == trimmed.len() => self.error(
                start + at,
                format!("missing right-hand side after {symbol}"),
            ),
            Some((at, symbol)) => self.error(
                start + at,
                format!("operator {symbol} must be surrounded by spaces"),
            ),
            None => {
                let gap = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
                self.error(
                    start + gap,
                    "missing operator (expected one of ==, !=, <, <=, >, >=)",
                )
            }
        }
    }

    /// `pat()` and `any()` are matchers, not values: they only make sense against a value
    /// and only for equality (Gatus would silently coerce them to 0 for `<`).
    fn check_matchers(
        &self,
        left: Operand,
        operator: Operator,
        right: Operand,
        left_offset: usize,
        right_offset: usize,
    ) -> Result<Condition, ConditionError> {
        if left.is_matcher() && right.is_matcher() {
            return Err(self.error(
                right_offset,
                "pat() and any() need a value on the other side, not another pat() or any()",
            ));
        }
        for (operand, offset) in [(&left, left_offset), (&right, right_offset)] {
            if operand.is_matcher() && !operator.is_equality() {
                let name = if matches!(operand, Operand::Pattern(_)) {
                    "pat()"
                } else {
                    "any()"
                };
                return Err(self.error(
                    offset,
                    format!("{name} can only be used with == or !=, not {operator}"),
                ));
            }
        }
        Ok(Condition {
            left,
            operator,
            right,
        })
    }

    /// Parses one trimmed side of the condition starting at `offset` in the original text.
    fn operand(&self, s: &str, offset: usize) -> Result<Operand, ConditionError> {
        if let Some(name_len) = function_name_len(s) {
            return self.function(s, &s[..name_len], offset);
        }
        if let Some(name_len) = placeholder_name_len(s) {
            let after = 1 + name_len;
            if s[after..].starts_with(']') {
                return self.placeholder(s, offset).map(Operand::Placeholder);
            }
            if after == s.len() {
                return Err(self.error(offset, format!("unclosed placeholder {s}: missing ]")));
            }
        }
        Ok(Operand::Literal(s.to_string()))
    }

    fn function(&self, s: &str, name: &str, offset: usize) -> Result<Operand, ConditionError> {
        if !FUNCTION_NAMES.contains(&name) {
            let hint = suggest(name, &FUNCTION_NAMES)
                .map(|known| format!("; did you mean {known}()?"))
                .unwrap_or_default();
            return Err(self.error(offset, format!("unknown function {name}(){hint}")));
        }
        let open = name.len();
        // The argument must close exactly at the end of the operand: `len([BODY]))` and
        // `len([BODY]` are both unbalanced.
        let mut depth = 0usize;
        let mut close = None;
        for (i, c) in s.char_indices().skip(open) {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return Err(self.error(
                offset + open,
                format!("unbalanced parenthesis: {name}( is never closed"),
            ));
        };
        if close + 1 != s.len() {
            return Err(self.error(
                offset + close + 1,
                format!("unbalanced parenthesis: unexpected text after {name}(...)"),
            ));
        }
        let inner = &s[open + 1..close];
        let inner_offset = offset + open + 1;
        match name {
            "pat" => Ok(Operand::Pattern(inner.to_string())),
            "any" => {
                let mut options = Vec::new();
                let mut at = 0;
                for option in inner.split(',') {
                    let trimmed = option.trim();
                    if trimmed.is_empty() {
                        return Err(self.error(inner_offset + at, "empty value in any()"));
                    }
                    options.push(trimmed.to_string());
                    at += option.len() + 1;
                }
                Ok(Operand::AnyOf(options))
            }
            _ => {
                let lead = inner.len() - inner.trim_start().len();
                let target = inner.trim();
                if placeholder_name_len(target).is_none() {
                    return Err(self.error(
                        inner_offset + lead,
                        format!("{name}() takes a placeholder such as [BODY].items"),
                    ));
                }
                let placeholder = self.placeholder(target, inner_offset + lead)?;
                Ok(if name == "len" {
                    Operand::Len(placeholder)
                } else {
                    Operand::Has(placeholder)
                })
            }
        }
    }

    /// Parses `[NAME]` plus, for `[BODY]`, a path. Names are case-insensitive as in Gatus.
    fn placeholder(&self, s: &str, offset: usize) -> Result<Placeholder, ConditionError> {
        let Some(name_len) = placeholder_name_len(s) else {
            return Err(self.error(offset, "expected a placeholder such as [STATUS]"));
        };
        if !s[1 + name_len..].starts_with(']') {
            return Err(self.error(offset, format!("unclosed placeholder {s}: missing ]")));
        }
        let name = s[1..1 + name_len].to_ascii_uppercase();
        let rest = &s[name_len + 2..];
        let rest_offset = offset + name_len + 2;
        let placeholder = match name.as_str() {
            "STATUS" => Placeholder::Status,
            "RESPONSE_TIME" => Placeholder::ResponseTime,
            "IP" => Placeholder::Ip,
            "CONNECTED" => Placeholder::Connected,
            "CERTIFICATE_EXPIRATION" => Placeholder::CertificateExpiration,
            "DNS_RCODE" => Placeholder::DnsRcode,
            "BODY" => return Ok(Placeholder::Body(self.body_path(rest, rest_offset)?)),
            _ if UNSUPPORTED_PLACEHOLDERS.contains(&name.as_str()) => {
                return Err(self.error(
                    offset,
                    format!("placeholder [{name}] is not supported by headroom probes"),
                ));
            }
            _ => {
                let written = &s[..name_len + 2];
                let hint = suggest(&name, &PLACEHOLDER_NAMES)
                    .map(|known| format!("; did you mean [{known}]?"))
                    .unwrap_or_default();
                return Err(self.error(offset, format!("unknown placeholder {written}{hint}")));
            }
        };
        match rest.chars().next() {
            None => Ok(placeholder),
            Some('(' | ')') => Err(self.error(rest_offset, "unbalanced parenthesis")),
            Some(_) => Err(self.error(
                rest_offset,
                format!("unexpected text after {placeholder}; only [BODY] takes a path"),
            )),
        }
    }

    /// Parses `.key`, `[index]` steps; `.[0]` is accepted as Gatus does and printed as `[0]`.
    fn body_path(&self, rest: &str, offset: usize) -> Result<BodyPath, ConditionError> {
        const DELIMITERS: [char; 5] = ['.', '[', ']', '(', ')'];
        let mut segments = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            let c = rest[i..].chars().next().unwrap_or_default();
            match c {
                '.' => {
                    i += 1;
                    if rest[i..].starts_with('[') {
                        continue;
                    }
                    let len = rest[i..].find(DELIMITERS).unwrap_or(rest.len() - i);
                    if len == 0 {
                        return Err(self.error(offset + i, "empty key in [BODY] path"));
                    }
                    segments.push(PathSegment::Key(rest[i..i + len].to_string()));
                    i += len;
                }
                '[' => {
                    let Some(len) = rest[i + 1..].find(']') else {
                        return Err(self.error(offset + i, "unclosed [ in [BODY] path"));
                    };
                    let digits = &rest[i + 1..i + 1 + len];
                    let index = digits
                        .parse::<usize>()
                        .ok()
                        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()));
                    let Some(index) = index else {
                        return Err(self.error(
                            offset + i + 1,
                            format!("array index must be a non-negative integer, not {digits:?}"),
                        ));
                    };
                    segments.push(PathSegment::Index(index));
                    i += len + 2;
                }
                '(' | ')' => return Err(self.error(offset + i, "unbalanced parenthesis")),
                _ => {
                    return Err(self.error(
                        offset + i,
                        format!("unexpected {c:?} in [BODY] path; use [BODY].key or [BODY][index]"),
                    ));
                }
            }
        }
        Ok(BodyPath(segments))
    }
}

/// Length of `name` when `s` starts with `name(`, `name` being an identifier.
fn function_name_len(s: &str) -> Option<usize> {
    let len = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let starts_with_letter = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    (starts_with_letter && s[len..].starts_with('(')).then_some(len)
}

/// Length of `NAME` when `s` starts with `[NAME`, NAME being letters and underscores.
/// `[1, 2]` or `[ok now]` are not placeholders and stay literals.
fn placeholder_name_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('[')?;
    let len = rest
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
        .unwrap_or(rest.len());
    (len > 0).then_some(len)
}

/// The closest known name, for "did you mean" hints.
fn suggest<'a>(written: &str, known: &[&'a str]) -> Option<&'a str> {
    headroom_core::suggest::did_you_mean(written, known.iter().copied())
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// A side resolved against an observation.
#[derive(Debug, Clone)]
enum Resolved {
    Text(String),
    Int(i64),
    Duration(Duration),
    /// The probe did not observe this placeholder.
    NotObserved,
    /// The placeholder could not be resolved, e.g. a path into a non-JSON body.
    Invalid(String),
}

impl Resolved {
    fn text(&self) -> String {
        match self {
            Resolved::Text(text) => text.clone(),
            Resolved::Int(n) => n.to_string(),
            Resolved::Duration(d) => format_duration(*d),
            Resolved::NotObserved | Resolved::Invalid(_) => String::new(),
        }
    }

    /// Exact numeric value used for equality: integers, and durations in milliseconds.
    fn exact_number(&self) -> Option<i128> {
        match self {
            Resolved::Int(n) => Some(i128::from(*n)),
            Resolved::Duration(d) => Some(d.as_millis() as i128),
            Resolved::Text(text) => text
                .parse::<i64>()
                .ok()
                .map(i128::from)
                .or_else(|| parse_go_duration_ms(text).map(|ms| ms as i128)),
            Resolved::NotObserved | Resolved::Invalid(_) => None,
        }
    }

    /// Numeric value used for ordering: also accepts decimals like `0.95`.
    fn number(&self) -> Option<f64> {
        match self {
            Resolved::Int(n) => Some(*n as f64),
            Resolved::Duration(d) => Some(d.as_secs_f64() * 1000.0),
            Resolved::Text(text) => text
                .parse::<i64>()
                .ok()
                .map(|n| n as f64)
                .or_else(|| text.parse::<f64>().ok().filter(|f| f.is_finite()))
                .or_else(|| parse_go_duration_ms(text)),
            Resolved::NotObserved | Resolved::Invalid(_) => None,
        }
    }
}

/// The response body, parsed as JSON at most once and only if a path needs it.
struct Body<'a> {
    raw: Option<&'a [u8]>,
    json: OnceCell<Result<Json, String>>,
}

impl Body<'_> {
    fn json(&self) -> Option<&Result<Json, String>> {
        let raw = self.raw?;
        Some(self.json.get_or_init(|| {
            serde_json::from_slice(raw).map_err(|e| format!("body is not valid JSON ({e})"))
        }))
    }

    fn text(&self) -> Option<String> {
        self.raw
            .map(|raw| String::from_utf8_lossy(raw).trim().to_string())
    }
}

impl Condition {
    /// Judges an observation. Never panics: unresolvable sides fail the condition and say why.
    pub fn evaluate(&self, observation: &Observation) -> Outcome {
        let body = Body {
            raw: observation.body.as_deref(),
            json: OnceCell::new(),
        };
        let left = resolve(&self.left, observation, &body);
        let right = resolve(&self.right, observation, &body);
        let success = match (&self.left, &left, &self.right, &right) {
            (_, Some(value), matcher, None) | (matcher, None, _, Some(value)) => {
                is_usable(value) && (matches(matcher, value) == (self.operator == Operator::Eq))
            }
            (_, Some(l), _, Some(r)) => {
                is_usable(l) && is_usable(r) && compare(self.operator, l, r)
            }
            // Both sides matchers is rejected by `parse`; a hand-built one simply fails.
            (_, None, _, None) => false,
        };
        let detail = format!(
            "{} {} {}",
            describe(&self.left, left.as_ref(), self.right.is_matcher()),
            self.operator,
            describe(&self.right, right.as_ref(), self.left.is_matcher()),
        );
        Outcome { success, detail }
    }

    /// Whether evaluating needs the response body, so a probe can skip reading it.
    pub fn needs_body(&self) -> bool {
        let uses_body = |operand: &Operand| {
            matches!(
                operand,
                Operand::Placeholder(Placeholder::Body(_))
                    | Operand::Len(Placeholder::Body(_))
                    | Operand::Has(Placeholder::Body(_))
            )
        };
        uses_body(&self.left) || uses_body(&self.right)
    }
}

fn is_usable(value: &Resolved) -> bool {
    !matches!(value, Resolved::NotObserved | Resolved::Invalid(_))
}

/// Resolves a value-bearing operand; `None` for matchers (`pat()`, `any()`).
fn resolve(operand: &Operand, observation: &Observation, body: &Body<'_>) -> Option<Resolved> {
    Some(match operand {
        Operand::Literal(text) => Resolved::Text(text.clone()),
        Operand::Pattern(_) | Operand::AnyOf(_) => return None,
        Operand::Placeholder(p) => resolve_placeholder(p, observation, body),
        Operand::Has(p) => {
            let present = match p {
                Placeholder::Body(path) if !path.0.is_empty() => {
                    matches!(body.json(), Some(Ok(json)) if walk(json, path).is_ok())
                }
                _ => match resolve_placeholder(p, observation, body) {
                    Resolved::NotObserved | Resolved::Invalid(_) => false,
                    value => !value.text().is_empty(),
                },
            };
            Resolved::Text(present.to_string())
        }
        Operand::Len(p) => match p {
            Placeholder::Body(path) if path.0.is_empty() => match body.text() {
                None => Resolved::NotObserved,
                // Gatus counts elements of a JSON array body and characters of anything else.
                Some(text) => match body.json() {
                    Some(Ok(Json::Array(items))) => Resolved::Int(items.len() as i64),
                    _ => Resolved::Int(text.chars().count() as i64),
                },
            },
            Placeholder::Body(path) => match body.json() {
                None => Resolved::NotObserved,
                Some(Err(e)) => Resolved::Invalid(e.clone()),
                Some(Ok(json)) => match walk(json, path) {
                    Ok(Json::Array(items)) => Resolved::Int(items.len() as i64),
                    Ok(Json::Object(fields)) => Resolved::Int(fields.len() as i64),
                    Ok(value) => Resolved::Int(json_text(value).chars().count() as i64),
                    Err(e) => Resolved::Invalid(e),
                },
            },
            _ => match resolve_placeholder(p, observation, body) {
                value @ (Resolved::NotObserved | Resolved::Invalid(_)) => value,
                value => Resolved::Int(value.text().chars().count() as i64),
            },
        },
    })
}

fn resolve_placeholder(
    placeholder: &Placeholder,
    observation: &Observation,
    body: &Body<'_>,
) -> Resolved {
    let observed = |value: Option<Resolved>| value.unwrap_or(Resolved::NotObserved);
    match placeholder {
        Placeholder::Status => observed(observation.status.map(|s| Resolved::Int(s.into()))),
        Placeholder::ResponseTime => observed(
            observation
                .response_time_ms
                .map(|ms| Resolved::Int(i64::try_from(ms).unwrap_or(i64::MAX))),
        ),
        Placeholder::Ip => observed(observation.ip.clone().map(Resolved::Text)),
        Placeholder::Connected => {
            observed(observation.connected.map(|c| Resolved::Text(c.to_string())))
        }
        Placeholder::CertificateExpiration => {
            observed(observation.certificate_expiration.map(Resolved::Duration))
        }
        Placeholder::DnsRcode => observed(observation.dns_rcode.clone().map(Resolved::Text)),
        Placeholder::Body(path) if path.0.is_empty() => observed(body.text().map(Resolved::Text)),
        Placeholder::Body(path) => match body.json() {
            None => Resolved::NotObserved,
            Some(Err(e)) => Resolved::Invalid(e.clone()),
            Some(Ok(json)) => match walk(json, path) {
                Ok(value) => Resolved::Text(json_text(value)),
                Err(e) => Resolved::Invalid(e),
            },
        },
    }
}

/// Follows a path; JSON `null` counts as absent, as in Gatus.
fn walk<'j>(json: &'j Json, path: &BodyPath) -> Result<&'j Json, String> {
    let mut current = json;
    let mut walked = String::from("[BODY]");
    for segment in &path.0 {
        let next = match (segment, current) {
            (PathSegment::Key(key), Json::Object(fields)) => fields.get(key),
            (PathSegment::Index(index), Json::Array(items)) => items.get(*index),
            (PathSegment::Key(key), other) => {
                return Err(format!(
                    "{walked} is {}, not an object with key {key:?}",
                    json_kind(other)
                ));
            }
            (PathSegment::Index(index), other) => {
                return Err(format!(
                    "{walked} is {}, not an array to index [{index}]",
                    json_kind(other)
                ));
            }
        };
        match segment {
            PathSegment::Key(key) => walked.push_str(&format!(".{key}")),
            PathSegment::Index(index) => walked.push_str(&format!("[{index}]")),
        }
        current = match next {
            Some(Json::Null) | None => return Err(format!("{walked} not found")),
            Some(value) => value,
        };
    }
    Ok(current)
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Strings compare by content; numbers and booleans by their JSON text; arrays and objects
/// as compact JSON.
fn json_text(json: &Json) -> String {
    match json {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn compare(operator: Operator, left: &Resolved, right: &Resolved) -> bool {
    match operator {
        Operator::Eq => equal(left, right),
        Operator::Ne => !equal(left, right),
        _ => {
            let ordering = match (left.number(), right.number()) {
                (Some(l), Some(r)) => l.partial_cmp(&r),
                _ => Some(left.text().cmp(&right.text())),
            };
            let Some(ordering) = ordering else {
                return false;
            };
            match operator {
                Operator::Lt => ordering.is_lt(),
                Operator::Le => ordering.is_le(),
                Operator::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            }
        }
    }
}

/// Integers and durations compare numerically (`200 == 0200`, `1h == 60m`); everything else,
/// including decimals such as version numbers, compares as text, as Gatus does.
fn equal(left: &Resolved, right: &Resolved) -> bool {
    match (left.exact_number(), right.exact_number()) {
        (Some(l), Some(r)) => l == r,
        _ => left.text() == right.text(),
    }
}

fn matches(matcher: &Operand, value: &Resolved) -> bool {
    match matcher {
        Operand::Pattern(pattern) => wildcard_match(pattern, &value.text()),
        Operand::AnyOf(options) => options
            .iter()
            .any(|option| equal(value, &Resolved::Text(option.clone()))),
        _ => false,
    }
}

/// Gatus patterns: `*` matches any run of characters (including `/`), `?` one character.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Greedy match with backtracking to the last `*`: linear in practice, no recursion.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Gatus's resolved form: a literal stays as written, anything resolved is followed by its
/// value in parentheses. A value checked against `pat()` is truncated as Gatus does, since
/// bodies can be huge.
fn describe(operand: &Operand, resolved: Option<&Resolved>, against_pattern: bool) -> String {
    const PATTERN_SUBJECT_MAX: usize = 25;
    match resolved {
        None => operand.to_string(),
        Some(_) if matches!(operand, Operand::Literal(_)) => operand.to_string(),
        Some(Resolved::NotObserved) => format!("{operand} (not observed)"),
        Some(Resolved::Invalid(reason)) => format!("{operand} (INVALID: {reason})"),
        Some(value) => {
            let mut text = value.text();
            if against_pattern && text.chars().count() > PATTERN_SUBJECT_MAX {
                text =
                    text.chars().take(PATTERN_SUBJECT_MAX).collect::<String>() + "...(truncated)";
            }
            format!("{operand} ({text})")
        }
    }
}

/// Go's `time.ParseDuration` syntax (`48h`, `1h30m`, `1.5s`, `250ms`), in milliseconds;
/// Gatus compares durations that way.
fn parse_go_duration_ms(text: &str) -> Option<f64> {
    let (sign, mut rest) = match text.as_bytes().first()? {
        b'-' => (-1.0, &text[1..]),
        b'+' => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total_ms = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ms = match &rest[..unit_len] {
            "ns" => 1e-6,
            "us" | "µs" | "μs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3_600e3,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_ms += value * unit_ms;
    }
    Some(sign * total_ms)
}

/// `336h`, `1h30m`, `45s`, `250ms`: Gatus's readable duration with trailing zero units dropped.
fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 || (h > 0 && s > 0) {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("2*", "200"));
        assert!(wildcard_match("*cat*", "the cat sat"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("192.168.*.*", "192.168.1.20"));
        assert!(wildcard_match("*/health", "http://x/health"));
        assert!(!wildcard_match("john*", "jane"));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration_ms("48h"), Some(172_800_000.0));
        assert_eq!(parse_go_duration_ms("1h30m"), Some(5_400_000.0));
        assert_eq!(parse_go_duration_ms("1.5s"), Some(1_500.0));
        assert_eq!(parse_go_duration_ms("250ms"), Some(250.0));
        assert_eq!(parse_go_duration_ms("10"), None);
        assert_eq!(parse_go_duration_ms("h"), None);
        assert_eq!(parse_go_duration_ms("UP"), None);
    }

    #[test]
    fn readable_durations() {
        assert_eq!(format_duration(Duration::from_secs(336 * 3600)), "336h");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(3615)), "1h0m15s");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }
}
