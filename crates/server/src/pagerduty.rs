//! PagerDuty's Events API v2 on headroom: `POST /v2/enqueue`, so anything that pages through
//! PagerDuty (its official clients included, pointed at headroom's URL) pages through headroom.
//! What an event does is the service's (`headroom_service::pagerduty`); this is its HTTP face.
//!
//! Answers are PagerDuty's: 202 `{"status":"success","message":"Event processed","dedup_key"}`,
//! 400 `{"status":"invalid event","message":"Event object is invalid","errors":[…]}`, and 429
//! `{"status":"throttle event", …}` once an integration sends faster than its budget.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headroom_api::ErrorBody;
use headroom_api::pagerduty::{EventOutcome, EventResponse, PagerDutyEvent};
use headroom_ingest::pagerduty::{parse_change_event, parse_event};
use headroom_service::pagerduty::EventRefused;

use crate::error::ApiError;
use crate::state::AppState;

fn answer(status: StatusCode, body: EventResponse) -> Response {
    (status, Json(body)).into_response()
}

fn invalid(errors: Vec<String>) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        EventResponse {
            status: EventOutcome::Invalid,
            message: "Event object is invalid".into(),
            dedup_key: None,
            errors: Some(errors),
        },
    )
}

/// `POST /v2/enqueue`.
#[utoipa::path(
    post,
    path = "/v2/enqueue",
    description = "The routing key in the body authenticates: it must be one of the config's integrations.",
    summary = "PagerDuty Events API v2 (trigger, acknowledge, resolve)",
    request_body = PagerDutyEvent,
    responses((status = 202, description = "processed", body = EventResponse), (status = 400, description = "invalid event, or an unknown routing key", body = EventResponse), (status = 429, description = "throttled", body = EventResponse), (status = 503, description = "storage failed: retry", body = ErrorBody))
)]
pub async fn enqueue(State(state): State<AppState>, body: Bytes) -> Response {
    let event = match parse_event(&body) {
        Ok(e) => e,
        Err(errors) => return invalid(errors),
    };
    match state
        .pagerduty
        .enqueue(state.responders(), &event, state.now())
        .await
    {
        Ok(dedup_key) => answer(
            StatusCode::ACCEPTED,
            EventResponse {
                status: EventOutcome::Success,
                message: "Event processed".into(),
                dedup_key: Some(dedup_key),
                errors: None,
            },
        ),
        Err(e @ EventRefused::UnknownRoutingKey) => invalid(vec![e.to_string()]),
        Err(e @ EventRefused::Throttled) => answer(
            StatusCode::TOO_MANY_REQUESTS,
            EventResponse {
                status: EventOutcome::Throttled,
                message: e.to_string(),
                dedup_key: None,
                errors: None,
            },
        ),
        Err(EventRefused::Failed(e)) => ApiError::from(e).into_response(),
    }
}

/// `POST /v2/change/enqueue`: PagerDuty change events, kept as change markers beside deploys.
#[utoipa::path(
    post,
    path = "/v2/change/enqueue",
    description = "The routing key in the body authenticates: it must be one of the config's integrations.",
    summary = "PagerDuty Change Events (a change marker of the integration's service)",
    request_body(content = Object, description = "routing_key, payload {summary, source, timestamp, custom_details}, links", content_type = "application/json"),
    responses((status = 202, description = "recorded", body = EventResponse), (status = 400, description = "invalid event, or an unknown routing key", body = EventResponse), (status = 413, description = "custom_details too large", body = ErrorBody), (status = 503, description = "storage failed: retry", body = ErrorBody))
)]
pub async fn change(State(state): State<AppState>, body: Bytes) -> Response {
    let event = match parse_change_event(&body) {
        Ok(e) => e,
        Err(errors) => return invalid(errors),
    };
    let Some(integration) = state.pagerduty.integration(&event.routing_key) else {
        return invalid(vec![EventRefused::UnknownRoutingKey.to_string()]);
    };
    match state.deploys.change_event(&integration, &event).await {
        Ok(_) => answer(
            StatusCode::ACCEPTED,
            EventResponse {
                status: EventOutcome::Success,
                message: "Change event processed".into(),
                dedup_key: None,
                errors: None,
            },
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}
