//! Delivery (feature `send`): one attempt of one notification through one integration,
//! classified for the retry loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use crate::body::{email_content, email_message, pagerduty_body, slack_body, webhook_body};
use crate::config::{HttpAuth, Integration, WebhookTls};
use crate::message::Message;
use crate::smtp;
use crate::template::Templates;

/// How much of an error response's body a `Failed` reason quotes.
pub const EXCERPT_BYTES: usize = 512;

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth trying again: a timeout, a lost connection, a 5xx or 429, a transient SMTP reply.
    /// `after` is the server's `Retry-After` (on 429 and 503).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Trying again would fail the same way: a 4xx, a permanent SMTP reply, a bad template.
    Failed {
        reason: String,
    },
    /// Nothing to send: every alert is resolved and the integration does not send resolved.
    Skipped,
}

/// A client building or TLS setup failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("root certificate: {0}")]
    Certificate(String),
}

/// Connections shared by deliveries: a pooled HTTP client, one more per webhook TLS setting in
/// use, and one pooled SMTP transport per smarthost and login.
///
/// Once it has sent email, its last clone is best dropped inside the tokio runtime, where the
/// SMTP pools close their idle connections politely (elsewhere they are just dropped).
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) smtp: Arc<smtp::Transports>,
    pub(crate) timeout: Duration,
    by_tls: Arc<std::sync::Mutex<HashMap<WebhookTls, reqwest::Client>>>,
}

impl Client {
    /// Trusting the web PKI roots; `timeout` bounds each attempt (an HTTP request or a whole
    /// SMTP session).
    pub fn new(timeout: Duration) -> Result<Client, ClientError> {
        Client::with_roots(timeout, &[])
    }

    /// Also trusting the given DER certificates (a private CA).
    pub fn with_roots(
        timeout: Duration,
        extra_roots_der: &[Vec<u8>],
    ) -> Result<Client, ClientError> {
        let mut http = http_builder(timeout);
        for der in extra_roots_der {
            http = http.add_root_certificate(reqwest::Certificate::from_der(der)?);
        }
        let smtp =
            smtp::Transports::new(extra_roots_der.to_vec()).map_err(ClientError::Certificate)?;
        Ok(Client {
            http: http.build()?,
            smtp: Arc::new(smtp),
            timeout,
            by_tls: Arc::default(),
        })
    }

    /// The HTTP client for a webhook's TLS setting, built once per distinct setting.
    fn http_for(&self, tls: Option<&WebhookTls>) -> Result<reqwest::Client, String> {
        let Some(tls) = tls else {
            return Ok(self.http.clone());
        };
        let mut clients = self.by_tls.lock().expect("webhook clients lock");
        if let Some(c) = clients.get(tls) {
            return Ok(c.clone());
        }
        let mut builder = http_builder(self.timeout);
        if let Some(pem) = &tls.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| format!("tls_config ca: {e}"))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .danger_accept_invalid_certs(tls.insecure_skip_verify)
            .build()
            .map_err(|e| format!("tls_config: {}", error_chain(&e)))?;
        clients.insert(tls.clone(), client.clone());
        Ok(client)
    }
}

fn http_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("headroom/", env!("CARGO_PKG_VERSION")))
        // A redirected POST would silently become a GET: treat 3xx as a config error.
        .redirect(reqwest::redirect::Policy::none())
}

/// Sends `message` through `integration` once. `idempotency_key` identifies the notification
/// across retries: HTTP integrations get it as `Idempotency-Key`, email as its Message-Id.
/// Resolved alerts are dropped first for integrations with `send_resolved: false`.
pub async fn deliver(
    integration: &Integration,
    message: &Message,
    templates: &Templates,
    client: &Client,
    idempotency_key: &str,
) -> Outcome {
    let filtered;
    let message = if integration.send_resolved() {
        message
    } else {
        match message.without_resolved() {
            Some(m) => {
                filtered = m;
                &filtered
            }
            None => return Outcome::Skipped,
        }
    };
    let templated = |e: crate::template::TemplateError| Outcome::Failed {
        reason: e.to_string(),
    };
    match integration {
        Integration::Webhook(w) => {
            let body = webhook_body(message, w.max_alerts);
            let request = Request {
                tls: w.tls.as_ref(),
                auth: w.auth.as_ref(),
                key: idempotency_key,
            };
            post(client, &w.url, body.into_bytes(), request).await
        }
        Integration::Slack(s) => match slack_body(s, message, templates) {
            Ok(body) => {
                post(
                    client,
                    &s.url,
                    body.to_string().into_bytes(),
                    Request::plain(idempotency_key),
                )
                .await
            }
            Err(e) => templated(e),
        },
        Integration::PagerDuty(p) => match pagerduty_body(p, message, templates) {
            Ok(body) => {
                post(
                    client,
                    &p.url,
                    body.to_string().into_bytes(),
                    Request::plain(idempotency_key),
                )
                .await
            }
            Err(e) => templated(e),
        },
        Integration::Email(e) => match email_content(e, message, templates) {
            Ok(content) => {
                let domain = e
                    .from
                    .rsplit_once('@')
                    .map_or("headroom", |(_, d)| d.trim_end_matches('>'));
                let id: String = idempotency_key
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                match email_message(e, &content, Utc::now(), &format!("{id}@{domain}")) {
                    Ok(email) => smtp::send(e, &email, client).await,
                    Err(bad) => Outcome::Failed {
                        reason: bad.to_string(),
                    },
                }
            }
            Err(err) => templated(err),
        },
    }
}

/// What a POST carries besides its body: the receiver's TLS setting and credentials, and the
/// idempotency key.
struct Request<'a> {
    tls: Option<&'a WebhookTls>,
    auth: Option<&'a HttpAuth>,
    key: &'a str,
}

impl<'a> Request<'a> {
    fn plain(key: &'a str) -> Self {
        Request {
            tls: None,
            auth: None,
            key,
        }
    }
}

async fn post(client: &Client, url: &str, body: Vec<u8>, how: Request<'_>) -> Outcome {
    let http = match client.http_for(how.tls) {
        Ok(http) => http,
        Err(reason) => return Outcome::Failed { reason },
    };
    let mut request = http
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", how.key)
        .body(body);
    match how.auth {
        Some(HttpAuth::Credentials {
            scheme,
            credentials,
        }) => request = request.header(AUTHORIZATION, format!("{scheme} {credentials}")),
        Some(HttpAuth::Basic { username, password }) => {
            request = request.basic_auth(username, Some(password));
        }
        None => {}
    }
    outcome(request.send().await, client.timeout).await
}

/// An HTTP request an action makes (`spec::actions`), with its secrets already in place.
#[derive(Clone)]
pub struct ActionRequest {
    /// `GET`, `POST`, …
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// This attempt's time limit (the action's `timeout`).
    pub timeout: Duration,
}

/// Sends an action's request once, classified as a notification's POST is: 2xx delivered;
/// timeouts, lost connections, 5xx and 429 worth retrying; any other answer failed with the
/// status and an excerpt of the body. `idempotency_key` goes out as `Idempotency-Key`.
pub async fn send_action(
    client: &Client,
    request: ActionRequest,
    idempotency_key: &str,
) -> Outcome {
    let Ok(method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
        return Outcome::Failed {
            reason: format!("{:?} is not an HTTP method", request.method),
        };
    };
    let mut builder = client
        .http
        .request(method, &request.url)
        .timeout(request.timeout)
        .header("Idempotency-Key", idempotency_key)
        .body(request.body);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    // Without the URL: an action's URL may carry a credential, and reasons are stored and shown.
    let sent = builder.send().await.map_err(reqwest::Error::without_url);
    outcome(sent, request.timeout).await
}

/// Classifies what a request's send came back with.
async fn outcome(sent: Result<reqwest::Response, reqwest::Error>, timeout: Duration) -> Outcome {
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_builder() => {
            return Outcome::Failed {
                reason: error_chain(&e),
            };
        }
        Err(e) if e.is_timeout() => {
            return Outcome::Retry {
                reason: format!("timed out after {:?}", timeout),
                after: None,
            };
        }
        Err(e) => {
            return Outcome::Retry {
                reason: error_chain(&e),
                after: None,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered;
    }
    let after = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            retry_after(response.headers(), Utc::now())
        }
        _ => None,
    };
    let excerpt = excerpt(response).await;
    let reason = if excerpt.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {excerpt}")
    };
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Outcome::Retry { reason, after }
    } else {
        Outcome::Failed { reason }
    }
}

/// reqwest's top-level message hides the cause ("connection refused") in its sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// At most `EXCERPT_BYTES` of the body, cut on a character boundary, whitespace collapsed.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let truncated = bytes.len() > EXCERPT_BYTES;
    bytes.truncate(EXCERPT_BYTES);
    let text = String::from_utf8_lossy(&bytes);
    // A cut inside a multi-byte character leaves one replacement character at the end.
    let text = if truncated {
        text.trim_end_matches('\u{fffd}')
    } else {
        &text
    };
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if truncated {
        out.push('…');
    }
    out
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3); a past date means now.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:30:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:00:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
