//! A client for the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`), as served by
//! Prometheus, Thanos, Mimir and VictoriaMetrics, and the pure logic that turns an SLO's SLI
//! queries into per-step counts and decides which steps to fetch.

mod follow;
mod steps;

use std::collections::HashMap;
use std::time::Duration;

use headroom_core::{Span, Timestamp};
use serde::Deserialize;

pub use follow::{Fetch, Follower};
pub use steps::{StepCount, StepQueries, grouped_step_counts, step_counts, step_queries};

/// Prometheus refuses a range query of more than 11,000 points per series.
pub const MAX_POINTS_PER_QUERY: i64 = 11_000;

/// API answers larger than this are refused rather than held in memory.
const MAX_ANSWER_BYTES: usize = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer(String),
    Basic { username: String, password: String },
}

/// Where and how to reach the backend; secrets are already read (the config loader reads files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// The base URL, e.g. `http://prometheus:9090` or Mimir's `http://mimir/prometheus`.
    pub url: String,
    pub auth: Auth,
    /// Extra headers, e.g. `X-Scope-OrgID` for a multi-tenant Mimir.
    pub headers: Vec<(String, String)>,
    /// For one HTTP request (a chunked range query makes several).
    pub timeout: Duration,
}

/// One instant-vector (or scalar) element.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sorted by name; empty for a scalar.
    pub labels: Vec<(String, String)>,
    pub at: Timestamp,
    pub value: f64,
}

/// One range-vector series.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// Sorted by name.
    pub labels: Vec<(String, String)>,
    /// In time order.
    pub points: Vec<(Timestamp, f64)>,
}

/// Why a query gave no result. Each names the URL asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    #[error("{url}: no answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url}: unreachable: {message}")]
    Unreachable { url: String, message: String },
    /// A non-2xx answer; `error_type` and `message` are Prometheus's `errorType` and `error`
    /// when the body carries them, else the start of the body.
    #[error("{url}: HTTP {status}: {}{message}", error_type.as_ref().map(|t| format!("{t}: ")).unwrap_or_default())]
    Status {
        url: String,
        status: u16,
        error_type: Option<String>,
        message: String,
    },
    #[error("{url}: the answer is not the Prometheus API's JSON: {message}")]
    BadJson { url: String, message: String },
    #[error("{url}: invalid backend configuration: {message}")]
    Config { url: String, message: String },
}

/// A Prometheus-compatible query API.
#[derive(Debug, Clone)]
pub struct Backend {
    config: BackendConfig,
    client: reqwest::Client,
    headers: reqwest::header::HeaderMap,
}

impl Backend {
    pub fn new(config: BackendConfig) -> Result<Self, BackendError> {
        let bad = |message: String| BackendError::Config {
            url: config.url.clone(),
            message,
        };
        let parsed = reqwest::Url::parse(&config.url).map_err(|e| bad(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("the URL must be http or https".into()));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| bad(format!("{k:?} is not a valid header name")))?;
            let value = reqwest::header::HeaderValue::from_str(v)
                .map_err(|_| bad(format!("the value of header {k} is not valid")))?;
            headers.append(name, value);
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("headroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Backend {
            config,
            client,
            headers,
        })
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// An instant query at `at`.
    pub async fn query(&self, promql: &str, at: Timestamp) -> Result<Vec<Sample>, BackendError> {
        let (url, data) = self
            .post(
                "query",
                &[("query", promql.to_string()), ("time", secs(at))],
            )
            .await?;
        match data {
            Data::Vector(v) => Ok(v
                .into_iter()
                .map(|e| Sample {
                    labels: sorted(e.metric),
                    at: e.value.0,
                    value: e.value.1,
                })
                .collect()),
            Data::Scalar(p) => Ok(vec![Sample {
                labels: Vec::new(),
                at: p.0,
                value: p.1,
            }]),
            Data::Matrix(_) => Err(BackendError::BadJson {
                url,
                message: "an instant query returned a matrix".into(),
            }),
        }
    }

    /// A range query over `[start, end]` at `step`, split into requests of at most
    /// [`MAX_POINTS_PER_QUERY`] points each; series are merged across them by labels.
    pub async fn query_range(
        &self,
        promql: &str,
        start: Timestamp,
        end: Timestamp,
        step: Span,
    ) -> Result<Vec<RangeSeries>, BackendError> {
        let mut out: Vec<RangeSeries> = Vec::new();
        let mut index: HashMap<Vec<(String, String)>, usize> = HashMap::new();
        for (from, to) in range_chunks(start, end, step) {
            let (url, data) = self
                .post(
                    "query_range",
                    &[
                        ("query", promql.to_string()),
                        ("start", secs(from)),
                        ("end", secs(to)),
                        ("step", format!("{}", step.as_secs_f64())),
                    ],
                )
                .await?;
            let series = match data {
                Data::Matrix(m) => m,
                // A scalar expression over a range comes back as a matrix; anything else is odd.
                _ => {
                    return Err(BackendError::BadJson {
                        url,
                        message: "a range query did not return a matrix".into(),
                    });
                }
            };
            for s in series {
                let labels = sorted(s.metric);
                let points = s.values.into_iter().map(|p| (p.0, p.1));
                match index.get(&labels) {
                    Some(&i) => out[i].points.extend(points),
                    None => {
                        index.insert(labels.clone(), out.len());
                        out.push(RangeSeries {
                            labels,
                            points: points.collect(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The counts of `fetch`'s steps: the SLI's queries over the range (both at once),
    /// combined by [`step_counts`].
    pub async fn step_counts(
        &self,
        queries: &StepQueries,
        step: Span,
        fetch: Fetch,
    ) -> Result<Vec<StepCount>, BackendError> {
        let (first, second) = queries.queries();
        let (from, to) = (fetch.start, fetch.end);
        let (a, b) = match second {
            Some(second) => tokio::try_join!(
                self.query_range(first, from, to, step),
                self.query_range(second, from, to, step)
            )?,
            None => (self.query_range(first, from, to, step).await?, Vec::new()),
        };
        Ok(step_counts(queries, step, &a, &b))
    }

    /// POSTs a form (long queries fit, as Grafana does it) and returns the answer's `data`.
    async fn post(
        &self,
        endpoint: &str,
        form: &[(&str, String)],
    ) -> Result<(String, Data), BackendError> {
        let url = format!(
            "{}/api/v1/{endpoint}",
            self.config.url.trim_end_matches('/')
        );
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, self.request(&url, form)).await {
            Ok(r) => r.map(|d| (url, d)),
            Err(_) => Err(BackendError::Timeout { url, timeout }),
        }
    }

    async fn request(&self, url: &str, form: &[(&str, String)]) -> Result<Data, BackendError> {
        let mut req = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form);
        req = match &self.config.auth {
            Auth::None => req,
            Auth::Bearer(token) => req.bearer_auth(token),
            Auth::Basic { username, password } => req.basic_auth(username, Some(password)),
        };
        let unreachable = |e: reqwest::Error| BackendError::Unreachable {
            url: url.to_string(),
            message: crate::scrape::error_chain(&e),
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let body = crate::body::read_limited(resp, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                crate::body::BodyError::TooLarge => BackendError::BadJson {
                    url: url.to_string(),
                    message: format!("the answer exceeds {MAX_ANSWER_BYTES} bytes"),
                },
                crate::body::BodyError::Transport(e) => unreachable(e),
            })?;
        let answer: Result<Answer, _> = serde_json::from_slice(&body);
        if !status.is_success() {
            let (error_type, message) = match answer {
                Ok(Answer {
                    error_type, error, ..
                }) if error.is_some() => (error_type, error.unwrap_or_default()),
                _ => (None, snippet(&body)),
            };
            return Err(BackendError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                error_type,
                message,
            });
        }
        let answer = answer.map_err(|e| BackendError::BadJson {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        for w in &answer.warnings {
            // Partial results (a Thanos store down, a Mimir limit hit) still answer; say so.
            tracing::warn!(url, warning = %w, "backend query warning");
        }
        if answer.status != "success" {
            return Err(BackendError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                error_type: answer.error_type,
                message: answer
                    .error
                    .unwrap_or_else(|| format!("status {:?}", answer.status)),
            });
        }
        answer.data.ok_or_else(|| BackendError::BadJson {
            url: url.to_string(),
            message: "a successful answer without data".into(),
        })
    }
}

/// The `[from, to]` sub-ranges of a range query, each at most [`MAX_POINTS_PER_QUERY`] points,
/// on the same step grid as the whole and without overlap.
pub fn range_chunks(start: Timestamp, end: Timestamp, step: Span) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    if end < start || step.millis() <= 0 {
        return out;
    }
    let mut from = start;
    while from <= end {
        let to = (from + step * (MAX_POINTS_PER_QUERY - 1)).min(end);
        out.push((from, to));
        from = to + step;
        if to == end {
            break;
        }
    }
    out
}

/// Seconds with millisecond precision, exactly (no float rounding of large timestamps).
fn secs(t: Timestamp) -> String {
    let ms = t.millis();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn sorted(m: std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    m.into_iter().collect()
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorElement>),
    Matrix(Vec<MatrixElement>),
    Scalar(Point),
}

#[derive(Deserialize)]
struct VectorElement {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    value: Point,
}

#[derive(Deserialize)]
struct MatrixElement {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Point>,
}

/// `[1435781451.781, "1"]`: float seconds and the value as a string (so NaN and ±Inf fit).
struct Point(Timestamp, f64);

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (t, v): (f64, String) = Deserialize::deserialize(d)?;
        let value = match v.as_str() {
            "NaN" => f64::NAN,
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            s => s
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a sample value")))?,
        };
        Ok(Point(Timestamp((t * 1000.0).round() as i64), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_range_on_its_grid() {
        let step = Span::MINUTE;
        let start = Timestamp(0);
        let end = start + step * 25_000;
        let chunks = range_chunks(start, end, step);
        assert_eq!(chunks.len(), 3);
        let mut expect = start;
        let mut total = 0;
        for (from, to) in &chunks {
            assert_eq!(*from, expect, "contiguous, no overlap");
            let points = (*to - *from).millis() / step.millis() + 1;
            assert!(points <= MAX_POINTS_PER_QUERY);
            total += points;
            expect = *to + step;
        }
        assert_eq!(chunks.last().unwrap().1, end);
        assert_eq!(total, 25_001);
        assert_eq!(range_chunks(start, start, step), vec![(start, start)]);
        assert!(range_chunks(end, start, step).is_empty());
        // Exactly one chunk's worth.
        let one = range_chunks(start, start + step * 10_999, step);
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn timestamps_are_sent_as_exact_seconds() {
        assert_eq!(secs(Timestamp(1_700_000_000_123)), "1700000000.123");
        assert_eq!(secs(Timestamp(-1)), "-1.999");
        assert_eq!(secs(Timestamp(5)), "0.005");
    }

    #[test]
    fn parses_api_answers() {
        let a: Answer = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"b":"2","a":"1"},"value":[1435781451.781,"NaN"]},
                {"metric":{},"value":[1435781451.781,"+Inf"]}]}}"#,
        )
        .unwrap();
        let Some(Data::Vector(v)) = a.data else {
            panic!()
        };
        assert_eq!(v[0].value.0, Timestamp(1_435_781_451_781));
        assert!(v[0].value.1.is_nan());
        assert_eq!(v[1].value.1, f64::INFINITY);
        assert_eq!(
            sorted(v[0].metric.clone()),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        let a: Answer = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"scalar","result":[10,"-Inf"]}}"#,
        )
        .unwrap();
        assert!(
            matches!(a.data, Some(Data::Scalar(Point(Timestamp(10_000), v))) if v == f64::NEG_INFINITY)
        );
    }
}
