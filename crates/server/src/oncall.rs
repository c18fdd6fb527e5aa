//! On-call over HTTP: the config's directory (users, teams, schedules) with the overrides added
//! through the API, who is on call when, the final schedule, and iCalendar feeds.
//!
//! Invariants:
//! - Overrides added through the API live in the store and sit on top of the config's own: the
//!   most recently added one wins where they overlap (`Schedule`'s later-override-wins rule).
//! - Every answer about a time (who, shifts, feeds, pages) reads the directory with the stored
//!   overrides that overlap it, so the API, the feeds and the pager agree.
//! - Calendar apps cannot send headers, so a feed's subscription URL holds a key of its own
//!   (`/calendars/{key}/feed.ics`): it reads that one feed, and rotating it ends the old URL.
//!   No API token is ever taken from a query string.

use std::collections::BTreeMap;
use std::sync::RwLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use headroom_core::Timestamp;
use headroom_notify::{Email, Integration, Slack, Webhook};
use headroom_oncall::{
    ContactMethod, Directory, Override, OverrideId, PolicyId, Schedule, ScheduleId, Shift, Source,
    UserId,
};
use headroom_spec::Config;
use headroom_store::{FeedKeyStore, OverrideStore, ScheduleOverride, SecretStore, StoreError};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::auth::{Auth, ClientAddr, scope};
use crate::error::ApiError;
use crate::state::AppState;

/// How far either side of an instant `oncall` looks for the shift holding it.
const SHIFT_SEARCH: TimeDelta = TimeDelta::days(92);
/// The longest range `shifts` answers.
const MAX_RANGE: TimeDelta = TimeDelta::days(366);
/// What a calendar feed covers: from a week ago to three months ahead.
const FEED_PAST: TimeDelta = TimeDelta::days(7);
const FEED_AHEAD: TimeDelta = TimeDelta::days(90);
/// The store's name for the key that signs action links.
const LINK_KEY: &str = "action_links";

/// The on-call side of the server state.
pub struct OnCall {
    /// The config's directory (without stored overrides).
    pub directory: RwLock<Directory>,
    /// Receiver name → the escalation policy it pages.
    pub receiver_escalations: RwLock<BTreeMap<String, PolicyId>>,
    /// The SMTP settings email contact methods are sent with: those of the config's first email
    /// integration (the config does not expose its `global` SMTP settings on their own).
    pub smtp: RwLock<Option<Email>>,
    /// Signs action links; generated at the first start and kept in the store.
    pub link_key: Vec<u8>,
    /// Wakes the escalation worker: an escalation started.
    pub wake: Notify,
    /// Serialises changes to escalations (dispatcher, worker, API). Taken after the desk lock.
    pub escalations: tokio::sync::Mutex<()>,
}

impl OnCall {
    /// The on-call state for `config`, with the link key from the store (created if missing).
    pub async fn restore(
        config: &Config,
        store: &headroom_store::Store,
        now: Timestamp,
    ) -> Result<OnCall, StoreError> {
        let candidate: [u8; 32] = rand::rng().random();
        let key = store
            .server_secret(LINK_KEY, &hex::encode(candidate), now)
            .await?;
        let link_key = hex::decode(&key).map_err(|e| StoreError::Corrupt {
            op: "reading the action link key",
            detail: e.to_string(),
        })?;
        Ok(OnCall {
            directory: RwLock::new(config.oncall.clone()),
            receiver_escalations: RwLock::new(config.receiver_escalations.clone()),
            smtp: RwLock::new(smtp_of(config)),
            link_key,
            wake: Notify::new(),
            escalations: tokio::sync::Mutex::new(()),
        })
    }

    /// Takes a reloaded config's directory and policies. Running escalations keep their copy
    /// of the policy they started with.
    pub fn reload(&self, config: &Config) {
        *self.directory.write().expect("directory lock") = config.oncall.clone();
        *self
            .receiver_escalations
            .write()
            .expect("receiver escalations lock") = config.receiver_escalations.clone();
        *self.smtp.write().expect("smtp lock") = smtp_of(config);
    }

    /// The config's directory, without stored overrides.
    pub fn config_directory(&self) -> Directory {
        self.directory.read().expect("directory lock").clone()
    }
}

/// The SMTP server email contact methods use: the config's `global.smtp_*`, else that of its
/// first email receiver.
fn smtp_of(config: &Config) -> Option<Email> {
    config.smtp.clone().or_else(|| {
        config
            .receivers
            .iter()
            .flat_map(|r| &r.integrations)
            .find_map(|i| match i {
                Integration::Email(e) => Some(e.clone()),
                _ => None,
            })
    })
}

/// The integration behind an outbox item's `user:<id>:<n>` (given without `user:`): the user's
/// `n`th contact method in the directory in force.
pub fn contact_integration(state: &AppState, contact: &str) -> Result<Integration, String> {
    let (user, n) = contact
        .rsplit_once(':')
        .and_then(|(u, n)| Some((u, n.parse::<usize>().ok()?)))
        .ok_or_else(|| format!("malformed contact reference {contact:?}"))?;
    let directory = state.oncall.directory.read().expect("directory lock");
    let method = directory
        .user(&UserId::from(user))
        .ok_or_else(|| format!("user {user:?} is not in the config in force"))?
        .contact_methods
        .get(n)
        .ok_or_else(|| format!("user {user:?} has no contact method {n} in the config in force"))?;
    Ok(match method {
        ContactMethod::Email { address } => {
            let smtp = state.oncall.smtp.read().expect("smtp lock").clone();
            let smtp = smtp.ok_or_else(|| {
                "no SMTP settings: email contact methods need global smtp_from and \
                 smtp_smarthost (or an email receiver to borrow them from)"
                    .to_string()
            })?;
            Integration::Email(Email {
                to: address.clone(),
                send_resolved: true,
                ..smtp
            })
        }
        ContactMethod::Slack { webhook_url } => Integration::Slack(Slack {
            url: webhook_url.clone(),
            channel: None,
            username: None,
            title: None,
            text: None,
            send_resolved: true,
        }),
        ContactMethod::Webhook { url } => Integration::Webhook(Webhook {
            url: url.clone(),
            send_resolved: true,
            max_alerts: 0,
            tls: None,
            auth: None,
        }),
    })
}

/// The config's directory with the stored overrides overlapping `[from, to)` added to their
/// schedules, oldest added first (so the newest wins).
pub async fn directory_between(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Directory, StoreError> {
    let mut directory = state.oncall.config_directory();
    for schedule in &mut directory.schedules {
        add_stored_overrides(state, schedule, from, to).await?;
    }
    Ok(directory)
}

async fn add_stored_overrides(
    state: &AppState,
    schedule: &mut Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut stored = state
        .store
        .list_overrides(
            schedule.id.as_str(),
            Timestamp::from_chrono(&from),
            Timestamp::from_chrono(&to),
        )
        .await?;
    stored.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    schedule
        .overrides
        .extend(stored.into_iter().map(|o| Override {
            id: OverrideId(o.id),
            user: UserId(o.user_id),
            start: o.starts_at.to_chrono(),
            end: o.ends_at.to_chrono(),
        }));
    Ok(())
}

/// One schedule with its stored overrides over `[from, to)`, or 404.
async fn schedule_between(
    state: &AppState,
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(Schedule, Directory), ApiError> {
    let directory = state.oncall.config_directory();
    let mut schedule = directory
        .schedule(&ScheduleId::from(id))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no schedule {id:?}")))?;
    add_stored_overrides(state, &mut schedule, from, to).await?;
    Ok((schedule, directory))
}

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

fn user_json(directory: &Directory, id: &UserId) -> Value {
    let name = directory.user(id).map(|u| u.name.as_str());
    json!({"id": id, "name": name.unwrap_or(id.as_str())})
}

fn source_json(schedule: &Schedule, config: &Directory, source: &Source) -> Value {
    match source {
        Source::Layer(i) => json!({
            "type": "layer",
            "layer": i,
            "name": schedule.layers.get(*i).map(|l| l.name.as_str()),
        }),
        Source::Override(id) => {
            // Stored overrides are the ones the API can delete.
            let from_config = config
                .schedule(&schedule.id)
                .is_some_and(|s| s.overrides.iter().any(|o| &o.id == id));
            json!({"type": "override", "id": id, "from_config": from_config})
        }
    }
}

fn shift_json(schedule: &Schedule, directory: &Directory, s: &Shift) -> Value {
    json!({
        "user": user_json(directory, &s.user),
        "start": time(s.start),
        "end": time(s.end),
        "source": source_json(schedule, directory, &s.source),
    })
}

/// `GET /api/v1/users`. Contact methods show their kind (and an email address), not webhook
/// URLs, which are secrets.
pub async fn list_users(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<Value>, ApiError> {
    let d = state.oncall.config_directory();
    let users: Vec<Value> = d
        .users
        .iter()
        .map(|u| {
            let contacts: Vec<Value> = u
                .contact_methods
                .iter()
                .map(|c| match c {
                    ContactMethod::Email { address } => {
                        json!({"type": "email", "address": address})
                    }
                    ContactMethod::Slack { .. } => json!({"type": "slack"}),
                    ContactMethod::Webhook { .. } => json!({"type": "webhook"}),
                })
                .collect();
            let teams: Vec<&str> = d
                .teams
                .iter()
                .filter(|t| t.members.contains(&u.id))
                .map(|t| t.id.as_str())
                .collect();
            json!({"id": u.id, "name": u.name, "email": u.email, "time_zone": u.time_zone.name(),
                "contact_methods": contacts, "teams": teams})
        })
        .collect();
    Ok(Json(json!({ "users": users })))
}

/// `GET /api/v1/teams`.
pub async fn list_teams(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<Value>, ApiError> {
    let d = state.oncall.config_directory();
    let teams: Vec<Value> = d
        .teams
        .iter()
        .map(|t| {
            let members: Vec<Value> = t.members.iter().map(|m| user_json(&d, m)).collect();
            json!({"id": t.id, "name": t.name, "members": members,
                "escalation_policy": t.escalation_policy})
        })
        .collect();
    Ok(Json(json!({ "teams": teams })))
}

/// `GET /api/v1/schedules`: each schedule with who is on call now.
pub async fn list_schedules(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<Value>, ApiError> {
    let now = state.now().to_chrono();
    let d = directory_between(&state, now, now + TimeDelta::milliseconds(1)).await?;
    let schedules: Vec<Value> = d
        .schedules
        .iter()
        .map(|s| {
            let layers: Vec<Value> = s
                .layers
                .iter()
                .map(|l| json!({"name": l.name, "users": l.users, "turn": l.turn}))
                .collect();
            json!({"id": s.id, "name": s.name, "time_zone": s.time_zone.name(), "layers": layers,
                "oncall_now": s.oncall_at(now).map(|u| user_json(&d, &u))})
        })
        .collect();
    Ok(Json(json!({ "schedules": schedules })))
}

#[derive(Deserialize)]
pub struct AtQuery {
    at: Option<String>,
}

/// `GET /api/v1/schedules/{id}/oncall?at=`: who is on call at `at` (default now), from which
/// layer or override, since and until when.
pub async fn oncall_at(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Json<Value>, ApiError> {
    let at = parse_time("at", q.at.as_deref())?.unwrap_or_else(|| state.now().to_chrono());
    let (schedule, directory) =
        schedule_between(&state, &id, at - SHIFT_SEARCH, at + SHIFT_SEARCH).await?;
    let shifts = schedule.final_shifts(at - SHIFT_SEARCH, at + SHIFT_SEARCH);
    let holding = shifts.iter().find(|s| s.start <= at && at < s.end);
    let body = match holding {
        Some(s) => json!({
            "schedule": schedule.id, "at": time(at),
            "user": user_json(&directory, &s.user),
            "source": source_json(&schedule, &directory, &s.source),
            // A shift reaching the edge of the search has no change in sight.
            "since": (s.start > at - SHIFT_SEARCH).then(|| time(s.start)),
            "until": (s.end < at + SHIFT_SEARCH).then(|| time(s.end)),
        }),
        None => json!({
            "schedule": schedule.id, "at": time(at), "user": null, "source": null, "since": null,
            "until": shifts.iter().find(|s| s.start > at).map(|s| time(s.start)),
        }),
    };
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/v1/schedules/{id}/shifts?from=&to=`: the final schedule (default: the next 7 days).
pub async fn shifts(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Value>, ApiError> {
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
    let (schedule, directory) = schedule_between(&state, &id, from, to).await?;
    let shifts: Vec<Value> = schedule
        .final_shifts(from, to)
        .iter()
        .map(|s| shift_json(&schedule, &directory, s))
        .collect();
    Ok(Json(
        json!({"schedule": schedule.id, "from": time(from), "to": time(to), "shifts": shifts}),
    ))
}

/// `POST /api/v1/schedules/{id}/overrides` `{user, start, end}` → 201 with the new id.
pub async fn add_override(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let directory = state.oncall.config_directory();
    if directory.schedule(&ScheduleId::from(id.as_str())).is_none() {
        return Err(ApiError::not_found(format!("no schedule {id:?}")));
    }
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    let field = |name: &str| -> Result<&str, ApiError> {
        v.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("{name}: required, a string")))
    };
    let user = field("user")?;
    if directory.user(&UserId::from(user)).is_none() {
        return Err(ApiError::bad_request(format!(
            "user: unknown user {user:?}"
        )));
    }
    let start = parse_time("start", Some(field("start")?))?.expect("given");
    let end = parse_time("end", Some(field("end")?))?.expect("given");
    if end <= start {
        return Err(ApiError::bad_request("end: must be after start"));
    }
    let created_by = v.get("by").and_then(Value::as_str).unwrap_or("api");
    crate::limits::check_text("by", created_by)?;
    let now = state.now();
    let live = state
        .store
        .list_overrides(&id, now, Timestamp(i64::MAX))
        .await?
        .len();
    if live >= crate::limits::MAX_OVERRIDES_PER_SCHEDULE {
        return Err(crate::limits::full(
            &format!("overrides of schedule {id:?} not yet ended"),
            crate::limits::MAX_OVERRIDES_PER_SCHEDULE,
        ));
    }
    let override_id = format!("o-{}", hex::encode(rand::rng().random::<[u8; 8]>()));
    state
        .store
        .add_override(&ScheduleOverride {
            id: override_id.clone(),
            schedule: id.clone(),
            user_id: user.to_string(),
            starts_at: Timestamp::from_chrono(&start),
            ends_at: Timestamp::from_chrono(&end),
            created_by: created_by.to_string(),
            created_at: now,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": override_id, "schedule": id, "user": user,
            "start": time(start), "end": time(end)})),
    ))
}

/// `DELETE /api/v1/overrides/{id}`: only overrides added through the API; the config's own are
/// changed in the config.
pub async fn delete_override(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_override(&id).await? {
        return Ok(StatusCode::NO_CONTENT);
    }
    let in_config = state
        .oncall
        .config_directory()
        .schedules
        .iter()
        .any(|s| s.overrides.iter().any(|o| o.id.as_str() == id));
    if in_config {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("override {id:?} is defined in the config; remove it there"),
        ));
    }
    Err(ApiError::not_found(format!("no override {id:?}")))
}

fn calendar(feed: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        feed,
    )
        .into_response()
}

async fn schedule_feed(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let now = state.now().to_chrono();
    let (from, to) = (now - FEED_PAST, now + FEED_AHEAD);
    let (schedule, directory) = schedule_between(state, id, from, to).await?;
    Ok(calendar(headroom_oncall::ical::schedule_feed(
        &schedule, &directory, from, to, now,
    )))
}

async fn user_feed(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let user = UserId::from(id);
    if state.oncall.config_directory().user(&user).is_none() {
        return Err(ApiError::not_found(format!("no user {id:?}")));
    }
    let now = state.now().to_chrono();
    let (from, to) = (now - FEED_PAST, now + FEED_AHEAD);
    let directory = directory_between(state, from, to).await?;
    Ok(calendar(headroom_oncall::ical::user_feed(
        &user, &directory, from, to, now,
    )))
}

/// `GET /api/v1/schedules/{id}/calendar.ics`, for API clients (token in the header).
pub async fn schedule_calendar(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    schedule_feed(&state, &id).await
}

/// `GET /api/v1/users/{id}/calendar.ics`: the user's shifts in every schedule.
pub async fn user_calendar(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    user_feed(&state, &id).await
}

/// What a calendar app subscribes to: the feed's URL, holding the feed's own key.
#[derive(Debug, Serialize)]
pub struct FeedSubscription {
    pub feed: String,
    pub url: String,
}

async fn rotate(state: &AppState, feed: String) -> Result<Json<FeedSubscription>, ApiError> {
    let key = state.store.rotate_feed_key(&feed, state.now()).await?;
    let base = state.alerting.external_url.trim_end_matches('/');
    tracing::info!(%feed, "calendar feed key rotated");
    Ok(Json(FeedSubscription {
        url: format!("{base}/calendars/{key}/feed.ics"),
        feed,
    }))
}

/// `POST /api/v1/users/{id}/calendar-key`: a new subscription URL for the user's feed; the
/// previous one stops working. Calendar apps cannot send headers, so the URL carries a key that
/// reads this one feed and nothing else.
pub async fn rotate_user_feed(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<FeedSubscription>, ApiError> {
    if state
        .oncall
        .config_directory()
        .user(&UserId::from(id.as_str()))
        .is_none()
    {
        return Err(ApiError::not_found(format!("no user {id:?}")));
    }
    rotate(&state, format!("user:{id}")).await
}

/// `POST /api/v1/schedules/{id}/calendar-key`: as [`rotate_user_feed`], for a schedule.
pub async fn rotate_schedule_feed(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<FeedSubscription>, ApiError> {
    if state
        .oncall
        .config_directory()
        .schedule(&ScheduleId::from(id.as_str()))
        .is_none()
    {
        return Err(ApiError::not_found(format!("no schedule {id:?}")));
    }
    rotate(&state, format!("schedule:{id}")).await
}

/// `GET /calendars/{key}/feed.ics`: the feed this key was made for. Wrong keys count as failed
/// authentication for the client's address.
pub async fn keyed_feed(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    state.failed_auth.check(client, state.now())?;
    let feed = state.store.feed_for_key(&key).await?;
    let Some(feed) = feed else {
        state.failed_auth.record(client, state.now());
        return Err(ApiError::not_found(
            "no feed has this key (it may have been rotated)",
        ));
    };
    match feed.split_once(':') {
        Some(("user", id)) => user_feed(&state, id).await,
        Some(("schedule", id)) => schedule_feed(&state, id).await,
        _ => Err(ApiError::internal(format!(
            "feed key for an unknown feed {feed:?}"
        ))),
    }
}
