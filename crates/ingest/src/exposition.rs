//! The Prometheus text exposition format (0.0.4) and OpenMetrics text (1.0), as scraped from
//! `/metrics` endpoints: parsed once here into samples with sorted labels.

use std::fmt;

/// Which text format a body is in: it decides timestamp units and what `# EOF` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// `text/plain; version=0.0.4`: timestamps in milliseconds.
    Prometheus,
    /// `application/openmetrics-text`: timestamps in seconds, `# EOF` required at the end.
    OpenMetrics,
}

impl TextFormat {
    /// The format a `Content-Type` header names (Prometheus text when it names neither).
    pub fn from_content_type(ct: &str) -> Self {
        if ct.contains("application/openmetrics-text") {
            TextFormat::OpenMetrics
        } else {
            TextFormat::Prometheus
        }
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapedSample {
    pub name: String,
    /// Sorted by name.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds since the epoch, when the line carries one.
    pub timestamp_ms: Option<i64>,
}

/// What is wrong with a body and where (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ExpositionError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses a whole body; the first malformed line fails it (a scrape is all or nothing).
pub fn parse(text: &str, format: TextFormat) -> Result<Vec<ScrapedSample>, ExpositionError> {
    let mut out = Vec::new();
    let mut eof = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if eof {
            if line.is_empty() && format == TextFormat::OpenMetrics {
                continue;
            }
            return Err(ExpositionError {
                line: line_no,
                column: 1,
                message: "content after # EOF".into(),
            });
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if comment.trim_end() == " EOF" || comment.trim() == "EOF" {
                eof = true;
            }
            continue;
        }
        let mut p = Cursor {
            s: line,
            pos: 0,
            line: line_no,
        };
        out.push(p.sample(format)?);
    }
    if format == TextFormat::OpenMetrics && !eof {
        return Err(ExpositionError {
            line: text.lines().count().max(1),
            column: 1,
            message: "OpenMetrics body does not end with # EOF".into(),
        });
    }
    Ok(out)
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    line: usize,
}

impl Cursor<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, ExpositionError> {
        let column = self.s[..self.pos.min(self.s.len())].chars().count() + 1;
        Err(ExpositionError {
            line: self.line,
            column,
            message: message.into(),
        })
    }
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }
    /// Consumes `c` if it comes next; otherwise stays put (so errors point at what came instead).
    fn eat(&mut self, c: char) -> bool {
        let next = self.peek() == Some(c);
        if next {
            self.pos += c.len_utf8();
        }
        next
    }
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }
    fn name(&mut self, what: &str) -> Result<String, ExpositionError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphabetic()
                || c == '_'
                || c == ':'
                || (self.pos > start && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return self.err(format!("expected a {what}"));
        }
        Ok(self.s[start..self.pos].to_string())
    }
    fn label_value(&mut self) -> Result<String, ExpositionError> {
        let start = self.pos;
        if !self.eat('"') {
            return self.err("expected a quoted label value");
        }
        let mut v = String::new();
        loop {
            let here = self.pos;
            match self.bump() {
                None => {
                    self.pos = start;
                    return self.err("unterminated label value");
                }
                Some('"') => return Ok(v),
                Some('\\') => match self.bump() {
                    Some('\\') => v.push('\\'),
                    Some('"') => v.push('"'),
                    Some('n') => v.push('\n'),
                    _ => {
                        self.pos = here;
                        return self
                            .err("invalid escape in label value (allowed: \\\\, \\\", \\n)");
                    }
                },
                Some(c) => v.push(c),
            }
        }
    }
    fn labels(&mut self) -> Result<Vec<(String, String)>, ExpositionError> {
        let mut labels: Vec<(String, String)> = Vec::new();
        if self.peek() != Some('{') {
            return Ok(labels);
        }
        self.pos += 1;
        loop {
            self.skip_blanks();
            if self.peek() == Some('}') {
                self.pos += 1;
                break;
            }
            let at = self.pos;
            let name = self.name("label name")?;
            self.skip_blanks();
            if !self.eat('=') {
                return self.err(format!("expected = after label name {name:?}"));
            }
            self.skip_blanks();
            let value = self.label_value()?;
            if labels.iter().any(|(n, _)| *n == name) {
                self.pos = at;
                return self.err(format!("label {name:?} appears twice"));
            }
            labels.push((name, value));
            self.skip_blanks();
            if self.eat('}') {
                break;
            }
            if !self.eat(',') {
                return self.err("expected , or } in the label set");
            }
        }
        labels.sort();
        Ok(labels)
    }
    fn token(&mut self) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.s[start..self.pos]
    }
    fn sample(&mut self, format: TextFormat) -> Result<ScrapedSample, ExpositionError> {
        let name = self.name("metric name")?;
        let labels = self.labels()?;
        if !matches!(self.peek(), Some(' ' | '\t')) {
            return self.err("expected a space before the value");
        }
        self.skip_blanks();
        let at = self.pos;
        let value = match parse_value(self.token()) {
            Some(v) => v,
            None => {
                self.pos = at;
                return self.err("the value is not a number (use a float, NaN, +Inf or -Inf)");
            }
        };
        self.skip_blanks();
        let mut timestamp_ms = None;
        if self.peek().is_some_and(|c| c != '#') {
            let at = self.pos;
            let t = self.token();
            timestamp_ms = match format {
                TextFormat::Prometheus => t.parse::<i64>().ok(),
                TextFormat::OpenMetrics => t
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite())
                    .map(|s| (s * 1000.0).round() as i64),
            };
            if timestamp_ms.is_none() {
                self.pos = at;
                return self.err("the timestamp is not a number");
            }
            self.skip_blanks();
        }
        let rest = &self.s[self.pos..];
        // OpenMetrics exemplars (`# {trace_id="…"} 1.0`) may follow; they are not kept.
        let exemplar = format == TextFormat::OpenMetrics && rest.starts_with('#');
        if !rest.is_empty() && !exemplar {
            return self.err("unexpected text after the sample");
        }
        Ok(ScrapedSample {
            name,
            labels,
            value,
            timestamp_ms,
        })
    }
}

fn parse_value(t: &str) -> Option<f64> {
    match t {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if t.is_empty()
            || t.contains(|c: char| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E')) =>
        {
            None
        }
        _ => t.parse().ok(),
    }
}

impl fmt::Display for ScrapedSample {
    /// Back into the Prometheus text format, with the escapes the parser undoes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            let l: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}=\"{}\"",
                        v.replace('\\', "\\\\")
                            .replace('"', "\\\"")
                            .replace('\n', "\\n")
                    )
                })
                .collect();
            write!(f, "{{{}}}", l.join(","))?;
        }
        let v = if self.value.is_nan() {
            "NaN".to_string()
        } else if self.value.is_infinite() {
            if self.value > 0.0 {
                "+Inf".into()
            } else {
                "-Inf".into()
            }
        } else {
            format!("{:?}", self.value)
        };
        write!(f, " {v}")?;
        if let Some(t) = self.timestamp_ms {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NODE: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
# A histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
"#;

    #[test]
    fn parses_the_format_documentation_example() {
        let s = parse(NODE, TextFormat::Prometheus).unwrap();
        assert_eq!(s.len(), 9);
        assert_eq!(s[0].name, "http_requests_total");
        assert_eq!(
            s[0].labels,
            vec![
                ("code".into(), "200".into()),
                ("method".into(), "post".into())
            ]
        );
        assert_eq!(
            (s[0].value, s[0].timestamp_ms),
            (1027.0, Some(1_395_066_363_000))
        );
        assert_eq!(s[1].value, 3.0);
        assert_eq!(
            s[2].labels[0],
            ("error".into(), "Cannot find file:\n\"FILE.TXT\"".into())
        );
        assert_eq!(s[2].labels[1], ("path".into(), "C:\\DIR\\FILE.TXT".into()));
        assert_eq!((s[3].value, s[3].timestamp_ms), (12.47, None));
        assert_eq!(
            (s[4].value, s[4].timestamp_ms),
            (f64::INFINITY, Some(-3_982_045))
        );
        assert_eq!(s[6].labels, vec![("le".into(), "+Inf".into())]);
    }

    #[test]
    fn openmetrics_seconds_exemplars_and_eof() {
        let body = "# TYPE foo counter\nfoo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n# EOF\n";
        let s = parse(body, TextFormat::OpenMetrics).unwrap();
        assert_eq!(
            (s[0].value, s[0].timestamp_ms),
            (17.0, Some(1_520_879_607_789))
        );
        let e = parse("foo 1\n", TextFormat::OpenMetrics).unwrap_err();
        assert!(e.message.contains("# EOF"), "{e}");
        let e = parse("foo 1\n# EOF\nbar 2\n", TextFormat::OpenMetrics).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "content after # EOF"));
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let cases = [
            ("ok 1\nbad{a=\"x} 1\n", 2, 7, "unterminated"),
            ("m{a=\"1\",a=\"2\"} 1", 1, 9, "appears twice"),
            ("m{1a=\"x\"} 1", 1, 3, "label name"),
            ("m 12abc", 1, 3, "not a number"),
            ("m{a=\"\\q\"} 1", 1, 6, "invalid escape"),
            ("m 1 2 3", 1, 7, "unexpected text"),
            ("m{a=\"x\"}1", 1, 9, "space before"),
            ("{a=\"x\"} 1", 1, 1, "metric name"),
        ];
        for (text, line, column, needle) in cases {
            let e = parse(text, TextFormat::Prometheus).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {e}");
        }
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text, TextFormat::Prometheus);
            let _ = parse(&text, TextFormat::OpenMetrics);
        }

        #[test]
        fn printed_samples_parse_back(
            n in name(),
            labels in proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", "\\PC{0,12}", 0..5),
            value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
            ts in proptest::option::of(-10_000_000_000_000i64..10_000_000_000_000),
        ) {
            let s = ScrapedSample { name: n, labels: labels.into_iter().collect(), value, timestamp_ms: ts };
            let back = parse(&s.to_string(), TextFormat::Prometheus).unwrap();
            prop_assert_eq!(back, vec![s]);
        }
    }
}
