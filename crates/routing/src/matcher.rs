//! Alertmanager's label matchers: `name="value"`, `name!="value"`, `name=~"regex"`,
//! `name!~"regex"`, unquoted values, escapes, and the `{a="b", c=~"d"}` list form, as accepted
//! by `matchers:`, `source_matchers`/`target_matchers`, silences and amtool.
//!
//! The grammar follows Alertmanager 0.25's `pkg/labels/parse.go`: a name
//! `[a-zA-Z_:][a-zA-Z0-9_:]*`, an operator, then a value that is either quoted (`"…"`, with
//! `\"`, `\\` and `\n` escapes) or bare up to the end of the matcher (surrounding whitespace
//! dropped). A backslash before any other character stays literal, as upstream. Errors carry the
//! 1-based column (in characters) of the input where the problem is.

use std::cmp::Ordering;
use std::fmt;

use regex::Regex;
use thiserror::Error;

use crate::LabelSet;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong parsing a matcher.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MatcherErrorKind {
    /// No label name, or a name with characters outside `[a-zA-Z0-9_:]`.
    #[error("bad matcher format: expected a label name")]
    BadName,
    /// The name is not followed by `=`, `!=`, `=~` or `!~`.
    #[error("bad matcher format: expected one of =, !=, =~, !~")]
    BadOperator,
    /// Nothing after the operator (write `""` for the empty value).
    #[error("matcher value is not present")]
    MissingValue,
    /// A `"` inside the value that neither closes a quoted value nor is escaped.
    #[error("matcher value contains unescaped double quote")]
    UnescapedQuote,
    /// A quoted value without its closing quote.
    #[error("matcher value is missing its closing double quote")]
    UnterminatedQuote,
    /// The regex does not compile.
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    /// An empty matcher in a list, as in `a="b",,c="d"`.
    #[error("empty matcher")]
    Empty,
}

/// A parse error with the 1-based column (in characters) where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("column {column}: {kind}")]
pub struct MatcherError {
    /// 1-based column, in characters, of the offending text in the parsed input.
    pub column: usize,
    /// What is wrong there.
    pub kind: MatcherErrorKind,
}

/// One label matcher. Regex operators hold the compiled, fully anchored regex.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher, compiling `^(?:value)$` for the regex operators as Alertmanager does.
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Matcher, MatcherErrorKind> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| MatcherErrorKind::InvalidRegex(e.to_string()))?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name: name.into(),
            op,
            value,
            regex,
        })
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value as written (unanchored for regexes).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            // `new` always compiles a regex for the regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether the label set satisfies this matcher; a missing label is the empty string.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matches_value(labels.get(&self.name).map_or("", String::as_str))
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl PartialOrd for Matcher {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Matcher {
    /// Alertmanager's `Matchers.Less`: by name, then value, then operator
    /// (`=` < `!=` < `=~` < `!~`). Route keys print matchers in this order.
    fn cmp(&self, other: &Self) -> Ordering {
        self.name
            .cmp(&other.name)
            .then_with(|| self.value.cmp(&other.value))
            .then_with(|| self.op.cmp(&other.op))
    }
}

impl fmt::Display for Matcher {
    /// `name<op>"value"` with `\`, newline and `"` escaped, as Alertmanager prints matchers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.op)?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '"' => f.write_str("\\\"")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

/// True when every matcher matches (so an empty list matches everything).
pub fn all_match(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// Prints a list as Alertmanager's `Matchers.String()`: sorted, comma-joined, in braces.
pub fn matchers_to_string(matchers: &[Matcher]) -> String {
    let mut sorted: Vec<&Matcher> = matchers.iter().collect();
    sorted.sort();
    let parts: Vec<String> = sorted.iter().map(ToString::to_string).collect();
    format!("{{{}}}", parts.join(","))
}

/// Parses one matcher such as `job=~"api|web"` or `severity!=info`.
pub fn parse_matcher(input: &str) -> Result<Matcher, MatcherError> {
    parse_at(input, 0, input)
}

/// Parses a matcher list: `{a="b", c=~"d"}` or the same without braces; commas inside quoted
/// values do not split, and a trailing comma is allowed.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, MatcherError> {
    // Like upstream, the braces are optional and stripped independently.
    let start = usize::from(input.starts_with('{'));
    let end = if input[start..].ends_with('}') {
        input.len() - 1
    } else {
        input.len()
    };
    let body = &input[start..end];

    let mut tokens: Vec<(usize, &str)> = Vec::new();
    let (mut in_quotes, mut escaped, mut token_start) = (false, false, 0);
    for (i, c) in body.char_indices() {
        match c {
            ',' if !in_quotes => {
                tokens.push((token_start, &body[token_start..i]));
                token_start = i + 1;
                continue;
            }
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    in_quotes = !in_quotes;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    let last = &body[token_start..];
    if !last.trim().is_empty() {
        tokens.push((token_start, last));
    }

    tokens
        .into_iter()
        .map(|(offset, token)| {
            if token.trim().is_empty() {
                return Err(MatcherError {
                    column: column(input, start + offset),
                    kind: MatcherErrorKind::Empty,
                });
            }
            parse_at(token, start + offset, input)
        })
        .collect()
}

/// 1-based character column of byte offset `at` in `input`.
fn column(input: &str, at: usize) -> usize {
    input[..at].chars().count() + 1
}

/// Go's `\s`: what upstream trims around names, operators and values.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// Parses `token`, which sits at byte `offset` of `whole` (for error columns).
fn parse_at(token: &str, offset: usize, whole: &str) -> Result<Matcher, MatcherError> {
    let err = |at: usize, kind| MatcherError {
        column: column(whole, offset + at),
        kind,
    };
    let bytes = token.as_bytes();
    let mut pos = token.len() - token.trim_start_matches(is_space).len();

    let name_start = pos;
    if !bytes
        .get(pos)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b':')
    {
        return Err(err(pos, MatcherErrorKind::BadName));
    }
    while bytes
        .get(pos)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b':')
    {
        pos += 1;
    }
    let name = &token[name_start..pos];
    let name_end = pos;
    pos += token[pos..].len() - token[pos..].trim_start_matches(is_space).len();

    let rest = &token[pos..];
    let op = if rest.starts_with("=~") {
        MatchOp::Regex
    } else if rest.starts_with("!=") {
        MatchOp::NotEqual
    } else if rest.starts_with("!~") {
        MatchOp::NotRegex
    } else if rest.starts_with('=') {
        MatchOp::Equal
    } else if pos == name_end && !rest.is_empty() {
        // A character that cannot continue a name, such as the `-` of `invalid-name`.
        return Err(err(pos, MatcherErrorKind::BadName));
    } else {
        return Err(err(pos, MatcherErrorKind::BadOperator));
    };
    pos += op.as_str().len();
    pos += token[pos..].len() - token[pos..].trim_start_matches(is_space).len();

    let raw = token[pos..].trim_end_matches(is_space);
    if raw.is_empty() {
        return Err(err(pos, MatcherErrorKind::MissingValue));
    }
    let value_start = pos;
    let (raw, quoted, raw_offset) = match raw.strip_prefix('"') {
        Some(inner) => (inner, true, value_start + 1),
        None => (raw, false, value_start),
    };

    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    let mut closed = false;
    for (i, c) in raw.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                // A spurious escape keeps its backslash, as upstream.
                c => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if i + 1 < raw.len() => escaped = true,
            '\\' => value.push('\\'),
            '"' if quoted && i + 1 == raw.len() => closed = true,
            '"' => return Err(err(raw_offset + i, MatcherErrorKind::UnescapedQuote)),
            c => value.push(c),
        }
    }
    if quoted && !closed {
        return Err(err(value_start, MatcherErrorKind::UnterminatedQuote));
    }

    Matcher::new(name, op, value).map_err(|kind| err(value_start, kind))
}
