//! On-call over HTTP: the config's directory (users, teams, schedules) with the overrides added
//! through the API, who is on call when, the final schedule, and iCalendar feeds. The directory
//! and its overrides are the service's (`headroom_service::oncall`).
//!
//! Calendar apps cannot send headers, so a feed's subscription URL holds a key of its own
//! (`/calendars/{key}/feed.ics`): it reads that one feed, and rotating it ends the old URL. No
//! API token is ever taken from a query string.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use headroom_api::ErrorBody;
use headroom_api::calendar::FeedSubscription;
use headroom_api::oncall as wire;
use headroom_oncall::{ContactMethod, Directory, Schedule, Shift, Source, TurnLength, UserId};
use headroom_service::oncall::NewOverride;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{Auth, ClientAddr, needs, scope};
use crate::error::ApiError;
use crate::state::AppState;

/// How far either side of an instant `oncall` looks for the shift holding it.
const SHIFT_SEARCH: TimeDelta = TimeDelta::days(92);
/// The longest range `shifts` answers.
const MAX_RANGE: TimeDelta = TimeDelta::days(366);

pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An RFC 3339 query parameter; a bad one is a 400 naming it.
fn parse_time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    ApiError::bad_request(format!("{name}: {v:?} is not an RFC 3339 time ({e})"))
                })
        })
        .transpose()
}

fn user_ref(directory: &Directory, id: &UserId) -> wire::UserRef {
    let name = directory.user(id).map(|u| u.name.as_str());
    wire::UserRef {
        id: id.to_string(),
        name: name.unwrap_or(id.as_str()).to_string(),
    }
}

fn shift_source(schedule: &Schedule, config: &Directory, source: &Source) -> wire::ShiftSource {
    match source {
        Source::Layer(i) => wire::ShiftSource::Layer {
            layer: *i as u64,
            name: schedule.layers.get(*i).map(|l| l.name.clone()),
        },
        Source::Override(id) => {
            // Stored overrides are the ones the API can delete.
            let from_config = config
                .schedule(&schedule.id)
                .is_some_and(|s| s.overrides.iter().any(|o| &o.id == id));
            wire::ShiftSource::Override {
                id: id.to_string(),
                from_config,
            }
        }
    }
}

fn shift(schedule: &Schedule, directory: &Directory, s: &Shift) -> wire::Shift {
    wire::Shift {
        user: user_ref(directory, &s.user),
        start: time(s.start).into(),
        end: time(s.end).into(),
        source: shift_source(schedule, directory, &s.source),
    }
}

fn turn(t: &TurnLength) -> wire::TurnLength {
    match t {
        TurnLength::Daily => wire::TurnLength::Daily,
        TurnLength::Weekly => wire::TurnLength::Weekly,
        TurnLength::Days(n) => wire::TurnLength::Days(*n),
        TurnLength::Hours(n) => wire::TurnLength::Hours(*n),
    }
}

/// `GET /api/v1/users`. Contact methods show their kind (and an email address), not webhook
/// URLs, which are secrets.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    summary = "Users (contact methods without their secrets)",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "users", body = wire::UserList))
)]
pub async fn list_users(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<wire::UserList>, ApiError> {
    let d = state.oncall.config_directory();
    let users = d
        .users
        .iter()
        .map(|u| wire::User {
            id: u.id.to_string(),
            name: u.name.clone(),
            email: u.email.clone(),
            time_zone: u.time_zone.name().to_string(),
            contact_methods: u
                .contact_methods
                .iter()
                .map(|c| match c {
                    ContactMethod::Email { address } => wire::ContactMethod::Email {
                        address: address.clone(),
                    },
                    ContactMethod::Slack { .. } => wire::ContactMethod::Slack,
                    ContactMethod::Webhook { .. } => wire::ContactMethod::Webhook,
                })
                .collect(),
            teams: d
                .teams
                .iter()
                .filter(|t| t.members.contains(&u.id))
                .map(|t| t.id.to_string())
                .collect(),
        })
        .collect();
    Ok(Json(wire::UserList { users }))
}

/// `GET /api/v1/teams`.
#[utoipa::path(
    get,
    path = "/api/v1/teams",
    summary = "Teams",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "teams", body = wire::TeamList))
)]
pub async fn list_teams(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<wire::TeamList>, ApiError> {
    let d = state.oncall.config_directory();
    let teams = d
        .teams
        .iter()
        .map(|t| wire::Team {
            id: t.id.to_string(),
            name: t.name.clone(),
            members: t.members.iter().map(|m| user_ref(&d, m)).collect(),
            escalation_policy: t.escalation_policy.as_ref().map(|p| p.to_string()),
        })
        .collect();
    Ok(Json(wire::TeamList { teams }))
}

/// `GET /api/v1/schedules`: each schedule with who is on call now.
#[utoipa::path(
    get,
    path = "/api/v1/schedules",
    summary = "Schedules with who is on call now",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "schedules", body = wire::ScheduleList))
)]
pub async fn list_schedules(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<wire::ScheduleList>, ApiError> {
    let now = state.now().to_chrono();
    let d = state
        .oncall
        .directory_between(now, now + TimeDelta::milliseconds(1))
        .await?;
    let schedules = d
        .schedules
        .iter()
        .map(|s| wire::Schedule {
            id: s.id.to_string(),
            name: s.name.clone(),
            time_zone: s.time_zone.name().to_string(),
            layers: s
                .layers
                .iter()
                .map(|l| wire::Layer {
                    name: l.name.clone(),
                    users: l.users.iter().map(|u| u.to_string()).collect(),
                    turn: turn(&l.turn),
                })
                .collect(),
            oncall_now: s.oncall_at(now).map(|u| user_ref(&d, &u)),
        })
        .collect();
    Ok(Json(wire::ScheduleList { schedules }))
}

#[derive(Deserialize)]
pub struct AtQuery {
    at: Option<String>,
}

/// `GET /api/v1/schedules/{id}/oncall?at=`: who is on call at `at` (default now), from which
/// layer or override, since and until when.
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}/oncall",
    summary = "Who is on call at an instant",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "schedule id"), ("at" = Option<String>, Query, description = "RFC 3339 (default now)")),
    responses((status = 200, description = "who, from which layer or override, since, until", body = wire::OnCallAt), (status = 400, description = "bad at", body = ErrorBody), (status = 404, description = "no such schedule", body = ErrorBody))
)]
pub async fn oncall_at(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Json<wire::OnCallAt>, ApiError> {
    let at = parse_time("at", q.at.as_deref())?.unwrap_or_else(|| state.now().to_chrono());
    let (schedule, directory) = state
        .oncall
        .schedule_between(&id, at - SHIFT_SEARCH, at + SHIFT_SEARCH)
        .await?;
    let shifts = schedule.final_shifts(at - SHIFT_SEARCH, at + SHIFT_SEARCH);
    let holding = shifts.iter().find(|s| s.start <= at && at < s.end);
    let body = match holding {
        Some(s) => wire::OnCallAt {
            schedule: schedule.id.to_string(),
            at: time(at).into(),
            user: Some(user_ref(&directory, &s.user)),
            source: Some(shift_source(&schedule, &directory, &s.source)),
            // A shift reaching the edge of the search has no change in sight.
            since: (s.start > at - SHIFT_SEARCH).then(|| time(s.start).into()),
            until: (s.end < at + SHIFT_SEARCH).then(|| time(s.end).into()),
        },
        None => wire::OnCallAt {
            schedule: schedule.id.to_string(),
            at: time(at).into(),
            user: None,
            source: None,
            since: None,
            until: shifts
                .iter()
                .find(|s| s.start > at)
                .map(|s| time(s.start).into()),
        },
    };
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/v1/schedules/{id}/shifts?from=&to=`: the final schedule (default: the next 7 days).
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}/shifts",
    summary = "The final schedule over a range",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "schedule id"), ("from" = Option<String>, Query, description = "RFC 3339 (default now)"), ("to" = Option<String>, Query, description = "RFC 3339 (default from + 7d)")),
    responses((status = 200, description = "shifts", body = wire::ShiftList), (status = 400, description = "bad range", body = ErrorBody), (status = 404, description = "no such schedule", body = ErrorBody))
)]
pub async fn shifts(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<wire::ShiftList>, ApiError> {
    let from = parse_time("from", q.from.as_deref())?.unwrap_or_else(|| state.now().to_chrono());
    let to = parse_time("to", q.to.as_deref())?.unwrap_or(from + TimeDelta::days(7));
    if to <= from {
        return Err(ApiError::bad_request("to: must be after from"));
    }
    if to - from > MAX_RANGE {
        return Err(ApiError::bad_request(
            "to: the range may span at most 366 days",
        ));
    }
    let (schedule, directory) = state.oncall.schedule_between(&id, from, to).await?;
    let shifts = schedule
        .final_shifts(from, to)
        .iter()
        .map(|s| shift(&schedule, &directory, s))
        .collect();
    Ok(Json(wire::ShiftList {
        schedule: schedule.id.to_string(),
        from: time(from).into(),
        to: time(to).into(),
        shifts,
    }))
}

/// `POST /api/v1/schedules/{id}/overrides` `{user, start, end}` → 201 with the new id.
///
/// The body is read field by field rather than into `headroom_api::oncall::NewOverride`: each
/// missing field and each bad time gets its own message naming it, and extra fields are
/// ignored, as they always were.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/overrides",
    summary = "Add an override: someone covers a range",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "schedule id")),
    request_body = wire::NewOverride,
    responses((status = 201, description = "the override", body = wire::Override), (status = 400, description = "bad body", body = ErrorBody), (status = 404, description = "no such schedule or user", body = ErrorBody))
)]
pub async fn add_override(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<wire::Override>), ApiError> {
    state.oncall.known_schedule(&id)?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    let field = |name: &str| -> Result<&str, ApiError> {
        v.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("{name}: required, a string")))
    };
    let user = field("user")?;
    let start = parse_time("start", Some(field("start")?))?.expect("given");
    let end = parse_time("end", Some(field("end")?))?.expect("given");
    let by = v.get("by").and_then(Value::as_str).unwrap_or("api");
    let override_id = state
        .oncall
        .add_override(NewOverride {
            schedule: id.clone(),
            user: user.to_string(),
            start,
            end,
            by: by.to_string(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::Override {
            id: override_id,
            schedule: id,
            user: user.to_string(),
            start: time(start).into(),
            end: time(end).into(),
        }),
    ))
}

/// `DELETE /api/v1/overrides/{id}`: only overrides added through the API; the config's own are
/// changed in the config.
#[utoipa::path(
    delete,
    path = "/api/v1/overrides/{id}",
    summary = "Remove an override added through the API",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "override id")),
    responses((status = 204, description = "removed"), (status = 404, description = "no such override", body = ErrorBody), (status = 409, description = "defined in the config", body = ErrorBody))
)]
pub async fn delete_override(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.oncall.delete_override(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn calendar(feed: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        feed,
    )
        .into_response()
}

/// `GET /api/v1/schedules/{id}/calendar.ics`, for API clients (token in the header).
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}/calendar.ics",
    summary = "A schedule's shifts as iCalendar",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "schedule id")),
    responses((status = 200, description = "iCalendar", body = String, content_type = "text/calendar"), (status = 404, description = "no such schedule", body = ErrorBody))
)]
pub async fn schedule_calendar(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(calendar(state.oncall.schedule_feed(&id).await?))
}

/// `GET /api/v1/users/{id}/calendar.ics`: the user's shifts in every schedule.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/calendar.ics",
    summary = "A user's on-call shifts as iCalendar",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, description = "iCalendar", body = String, content_type = "text/calendar"), (status = 404, description = "no such user", body = ErrorBody))
)]
pub async fn user_calendar(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(calendar(state.oncall.user_feed(&id).await?))
}

/// The subscription URL of a feed's new key.
fn subscription(state: &AppState, (feed, key): (String, String)) -> Json<FeedSubscription> {
    let base = state.alerting.external_url.trim_end_matches('/');
    Json(FeedSubscription {
        url: format!("{base}/calendars/{key}/feed.ics"),
        feed,
    })
}

/// `POST /api/v1/users/{id}/calendar-key`: a new subscription URL for the user's feed; the
/// previous one stops working. Calendar apps cannot send headers, so the URL carries a key that
/// reads this one feed and nothing else.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/calendar-key",
    summary = "A new subscription URL for the user's calendar feed; the previous one stops working",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, description = "the new subscription", body = FeedSubscription), (status = 404, description = "no such user", body = ErrorBody))
)]
pub async fn rotate_user_feed(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<FeedSubscription>, ApiError> {
    let rotated = state.oncall.rotate_user_feed(&id).await?;
    Ok(subscription(&state, rotated))
}

/// `POST /api/v1/schedules/{id}/calendar-key`: as [`rotate_user_feed`], for a schedule.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/calendar-key",
    summary = "A new subscription URL for the schedule's calendar feed; the previous one stops working",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "schedule id")),
    responses((status = 200, description = "the new subscription", body = FeedSubscription), (status = 404, description = "no such schedule", body = ErrorBody))
)]
pub async fn rotate_schedule_feed(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<FeedSubscription>, ApiError> {
    let rotated = state.oncall.rotate_schedule_feed(&id).await?;
    Ok(subscription(&state, rotated))
}

/// `GET /calendars/{key}/feed.ics`: the feed this key was made for. Wrong keys count as failed
/// authentication for the client's address.
#[utoipa::path(
    get,
    path = "/calendars/{key}/feed.ics",
    description = "No token: the key in the path reads this one feed only.",
    summary = "A calendar feed by its subscription key (calendar apps cannot send headers)",
    params(("key" = String, Path, description = "the feed's key, from POST …/calendar-key")),
    responses((status = 200, description = "iCalendar", body = String, content_type = "text/calendar"), (status = 404, description = "unknown or rotated key", body = ErrorBody), (status = 429, description = "too many wrong keys from this address", body = ErrorBody))
)]
pub async fn keyed_feed(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    state.failed_auth.check(client, state.now())?;
    let Some(feed) = state.oncall.keyed_feed(&key).await? else {
        state.failed_auth.record(client, state.now());
        return Err(ApiError::not_found(
            "no feed has this key (it may have been rotated)",
        ));
    };
    Ok(calendar(feed))
}
