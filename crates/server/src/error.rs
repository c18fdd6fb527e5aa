//! API errors: JSON `{"error": …, "detail": …}` with the status code that fits.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headroom_api::ErrorBody;
use headroom_core::Timestamp;
use headroom_service::ServiceError;
use serde::de::DeserializeOwned;

/// A JSON request body read into its type; refused as `body: <why>`.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body: {e}")))
}

/// A time a request names (RFC 3339 or unix seconds); refused naming its field.
pub fn time_field(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    headroom_ingest::events::parse_timestamp_str(text)
        .map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
}

/// RFC 3339, unix seconds, or a date (`2027-01-31`, midnight UTC).
pub fn date_or_time_field(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        return Ok(Timestamp::from_chrono(&midnight));
    }
    time_field(name, text)
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub detail: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", detail)
    }
    /// A failure that is not the client's: the cause goes to the log under a random id, the
    /// client gets only the id, never the database's or a library's own text (which can name
    /// tables, paths or hosts).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = hex::encode(rand::random::<[u8; 8]>());
        tracing::error!(error_id = %id, cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("internal error {id}; the server log has the cause under this id"),
        )
    }
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail)
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }
    /// A 503 whose cause (storage, a file) stays in the log, as for [`ApiError::internal`]:
    /// `summary` says what did not happen, the client may retry.
    pub fn unavailable_logged(summary: &str, cause: impl std::fmt::Display) -> Self {
        let id = hex::encode(rand::random::<[u8; 8]>());
        tracing::error!(error_id = %id, cause = %cause, "{summary}");
        Self::unavailable(format!("{summary}; retry (error {id} in the server log)"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: self.error.to_string(),
                detail: self.detail,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl From<headroom_store::StoreError> for ApiError {
    fn from(e: headroom_store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

/// Each refusal of the service as the status that names it.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use ServiceError as E;
        let detail = e.to_string();
        match e {
            E::NotFound(_) => ApiError::not_found(detail),
            E::Invalid(_) => ApiError::bad_request(detail),
            E::Unacceptable(_) => ApiError::unprocessable(detail),
            E::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", detail),
            E::Contended(_) => ApiError::new(StatusCode::CONFLICT, "version_conflict", detail),
            E::LimitReached { .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "limit_reached", detail)
            }
            E::TooLarge(_) => ApiError::too_large(detail),
            E::Unavailable { summary, cause } => ApiError::unavailable_logged(summary, cause),
            E::LinkForged => ApiError::forbidden(detail),
            E::LinkExpired(_) => ApiError::new(StatusCode::GONE, "expired", detail),
            E::LinkUsed => ApiError::new(StatusCode::CONFLICT, "used", detail),
            E::Store(e) => ApiError::internal(e),
            E::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// Middleware: errors raised outside the handlers (axum's extractors: body too large, bad query
/// string, wrong method) come back as the same JSON `{"error", "detail"}` as the handlers' own.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return ApiError::internal(String::from_utf8_lossy(&text)).into_response();
    }
    let detail = match String::from_utf8_lossy(&text).trim() {
        "" => status.canonical_reason().unwrap_or("error").to_string(),
        t => t.to_string(),
    };
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        s if s.is_client_error() => "bad_request",
        _ => "unavailable",
    };
    let mut out = ApiError::new(status, error, detail).into_response();
    for (name, value) in parts
        .headers
        .iter()
        .filter(|(n, _)| *n == axum::http::header::ALLOW)
    {
        out.headers_mut().insert(name, value.clone());
    }
    out
}
