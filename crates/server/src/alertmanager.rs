//! Alertmanager's API v2, as Prometheus and `amtool` speak it: `POST/GET /api/v2/alerts`,
//! `GET /api/v2/alerts/groups`, `GET /api/v2/status`, `GET /api/v2/receivers`, `GET/POST /api/v2/silences`,
//! `GET/DELETE /api/v2/silence/{id}`; and `POST /api/v1/integrations/alertmanager`, where
//! another Alertmanager forwards its webhook notifications (payload version 4).
//!
//! Writes need an `ingest` token (Prometheus and Alertmanager send it as a bearer token through
//! their `authorization` settings, `amtool` through `--http.config.file`); reads need `read`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use headroom_api::ErrorBody;
use headroom_api::alertmanager as wire;
use headroom_ingest::alertmanager::{parse_posted_alerts, parse_posted_silence, parse_webhook};
use headroom_routing::alert::{Alert, PostableAlert};
use headroom_routing::matcher::{MatchOp, Matcher, all_match, parse_matchers};
use headroom_routing::silence::{Silence, SilenceState};
use headroom_service::desk::{MuteStatus, Mutes};
use headroom_store::Scope;

use crate::auth::{Auth, needs, scope};
use crate::error::ApiError;
use crate::state::AppState;

/// An instant as the Alertmanager API writes it.
pub fn api_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `POST /api/v2/alerts`: the whole batch is validated before any of it is stored.
#[utoipa::path(
    post,
    path = "/api/v2/alerts",
    summary = "Post alerts (Alertmanager API v2); the batch is validated whole",
    description = needs::INGEST,
    security(("bearer" = [])),
    request_body = Vec<wire::PostableAlert>,
    responses((status = 200, description = "accepted"), (status = 400, description = "invalid alert, nothing stored", body = ErrorBody))
)]
pub async fn post_alerts(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let posted = parse_posted_alerts(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = state.now().to_chrono();
    let timeout = state.alerting.resolve_timeout().await;
    let alerts = posted
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            p.into_alert(now, timeout)
                .map_err(|e| ApiError::bad_request(format!("[{i}]: {e}")))
        })
        .collect::<Result<Vec<Alert>, ApiError>>()?;
    state.accept(alerts, "api").await?;
    Ok(StatusCode::OK)
}

/// `POST /api/v1/integrations/alertmanager`: a forwarded notification. Firing alerts stay
/// firing until a resolved notification for them arrives (the sender's `send_resolved`), as
/// the sender re-notifies only every `repeat_interval`.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/alertmanager",
    summary = "An Alertmanager's webhook notification (payload version 4)",
    description = needs::INGEST,
    security(("bearer" = [])),
    request_body = wire::WebhookMessage,
    responses((status = 200, description = "accepted", body = wire::WebhookAccepted), (status = 400, description = "invalid payload", body = ErrorBody))
)]
pub async fn forwarded(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    body: Bytes,
) -> Result<Json<wire::WebhookAccepted>, ApiError> {
    let payload = parse_webhook(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = state.now().to_chrono();
    let mut alerts = Vec::with_capacity(payload.alerts.len());
    for (i, a) in payload.alerts.into_iter().enumerate() {
        let ends_at = if a.resolved {
            a.ends_at.or(Some(now))
        } else {
            None
        };
        let alert = PostableAlert {
            labels: a.labels,
            annotations: a.annotations,
            starts_at: a.starts_at,
            ends_at,
            generator_url: a.generator_url,
        }
        .into_alert(now, std::time::Duration::ZERO)
        .map_err(|e| ApiError::bad_request(format!("alerts[{i}]: {e}")))?;
        alerts.push(Alert {
            ends_at,
            timeout: false,
            ..alert
        });
    }
    let n = alerts.len();
    state.accept(alerts, "webhook").await?;
    Ok(Json(wire::WebhookAccepted {
        status: wire::WebhookOutcome::Success,
        alerts: n as u64,
    }))
}

/// Alertmanager's `active`, `silenced` and `inhibited` filters.
fn shown(status: &MuteStatus, q: &AlertQuery) -> bool {
    if status.suppressed() {
        (q.silenced || status.silenced_by.is_empty())
            && (q.inhibited || status.inhibited_by.is_empty())
    } else {
        q.active
    }
}

/// A `gettableAlert`.
fn gettable(alert: &Alert, receivers: &[String], status: &MuteStatus) -> wire::GettableAlert {
    wire::GettableAlert {
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        starts_at: api_time(alert.starts_at).into(),
        // An alert with no known end (headroom's own, a forwarded one) shows Go's zero time,
        // as Alertmanager's webhook does: the API's schema requires a time here.
        ends_at: alert
            .ends_at
            .map_or_else(|| "0001-01-01T00:00:00.000Z".to_string(), api_time)
            .into(),
        updated_at: api_time(alert.updated_at).into(),
        generator_url: alert.generator_url.clone(),
        fingerprint: alert.fingerprint().to_string(),
        receivers: receivers.iter().map(|r| receiver(r)).collect(),
        status: wire::AlertStatus {
            state: if status.suppressed() {
                wire::AlertState::Suppressed
            } else {
                wire::AlertState::Active
            },
            silenced_by: status.silenced_by.iter().map(|s| s.to_string()).collect(),
            inhibited_by: status.inhibited_by.clone(),
        },
    }
}

fn receiver(name: &str) -> wire::Receiver {
    wire::Receiver {
        name: name.to_string(),
    }
}

/// `GET /api/v2/alerts` with Alertmanager's filters: `filter` (matchers), `active`,
/// `silenced`, `inhibited`, `unprocessed` and `receiver` (a regex).
#[utoipa::path(
    get,
    path = "/api/v2/alerts",
    summary = "Alerts (Alertmanager API v2)",
    description = needs::READ,
    security(("bearer" = [])),
    params(("filter" = Option<String>, Query, description = "matcher, repeatable"), ("active" = Option<bool>, Query, description = "true|false"), ("silenced" = Option<bool>, Query, description = "true|false"), ("inhibited" = Option<bool>, Query, description = "true|false"), ("unprocessed" = Option<bool>, Query, description = "true|false (accepted, ignored)"), ("receiver" = Option<String>, Query, description = "regex")),
    responses((status = 200, description = "gettableAlerts", body = Vec<wire::GettableAlert>), (status = 400, description = "bad filter", body = ErrorBody))
)]
pub async fn get_alerts(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<wire::GettableAlert>>, ApiError> {
    let q = AlertQuery::parse(query.as_deref().unwrap_or(""))?;
    let now = state.now().to_chrono();
    let desk = state.alerting.desk.lock().await;
    let dispatcher = &desk.dispatcher;
    let mutes = Mutes::new(&desk, now);
    let mut out = Vec::new();
    for alert in &mutes.firing {
        if !all_match(&q.filter, &alert.labels) {
            continue;
        }
        let receivers: Vec<String> = dispatcher
            .config()
            .route
            .matching(&alert.labels)
            .into_iter()
            .filter_map(|m| m.options.receiver)
            .collect();
        if let Some(re) = &q.receiver
            && !receivers.iter().any(|r| re.is_match(r))
        {
            continue;
        }
        let status = mutes.status(alert);
        if shown(&status, &q) {
            out.push(gettable(alert, &receivers, &status));
        }
    }
    Ok(Json(out))
}

/// `GET /api/v2/alerts/groups`: the aggregation groups as Alertmanager lists them (Grafana and
/// Karma read this), with the same filters; `receiver` selects groups by their route's
/// receiver. Groups in `LabelSet.Before` order then by receiver, alerts in upstream's order,
/// each alert naming the receivers of every listed group holding it.
#[utoipa::path(
    get,
    path = "/api/v2/alerts/groups",
    summary = "Alert groups (Alertmanager API v2)",
    description = needs::READ,
    security(("bearer" = [])),
    params(("filter" = Option<String>, Query, description = "matcher, repeatable"), ("active" = Option<bool>, Query, description = "true|false"), ("silenced" = Option<bool>, Query, description = "true|false"), ("inhibited" = Option<bool>, Query, description = "true|false"), ("unprocessed" = Option<bool>, Query, description = "true|false (accepted, ignored)"), ("receiver" = Option<String>, Query, description = "regex")),
    responses((status = 200, description = "alertGroups", body = Vec<wire::AlertGroup>), (status = 400, description = "bad filter", body = ErrorBody))
)]
pub async fn get_alert_groups(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<wire::AlertGroup>>, ApiError> {
    let q = AlertQuery::parse(query.as_deref().unwrap_or(""))?;
    let now = state.now().to_chrono();
    let desk = state.alerting.desk.lock().await;
    let mutes = Mutes::new(&desk, now);
    let mut groups = desk.dispatcher.groups();
    groups.retain_mut(|g| {
        let receiver = g.route.options.receiver.as_deref().unwrap_or_default();
        if q.receiver.as_ref().is_some_and(|re| !re.is_match(receiver)) {
            return false;
        }
        g.alerts.retain(|a| {
            !a.resolved_at(now) && all_match(&q.filter, &a.labels) && shown(&mutes.status(a), &q)
        });
        !g.alerts.is_empty()
    });
    headroom_routing::dispatch::sort_groups(&mut groups);
    let mut receivers: HashMap<String, Vec<String>> = HashMap::new();
    for g in &groups {
        for a in &g.alerts {
            receivers
                .entry(a.fingerprint().to_string())
                .or_default()
                .push(g.route.options.receiver.clone().unwrap_or_default());
        }
    }
    receivers.values_mut().for_each(|r| r.sort());
    let out = groups
        .iter_mut()
        .map(|g| {
            headroom_routing::dispatch::sort_alerts(&mut g.alerts);
            let alerts = g
                .alerts
                .iter()
                .map(|a| {
                    gettable(
                        a,
                        &receivers[&a.fingerprint().to_string()],
                        &mutes.status(a),
                    )
                })
                .collect();
            wire::AlertGroup {
                labels: g.labels.clone(),
                receiver: receiver(g.route.options.receiver.as_deref().unwrap_or_default()),
                alerts,
            }
        })
        .collect();
    Ok(Json(out))
}

/// `GET /api/v2/status`: the shape `amtool config` and Grafana read. The config comes with
/// every secret replaced by `<secret>` (as Alertmanager shows it); `admin` tokens see it as
/// written.
#[utoipa::path(
    get,
    path = "/api/v2/status",
    summary = "Cluster, config and version (Alertmanager API v2)",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "status", body = wire::AlertmanagerStatus))
)]
pub async fn status(
    State(state): State<AppState>,
    auth: Auth<scope::Read>,
) -> Result<Json<wire::AlertmanagerStatus>, ApiError> {
    let original = {
        let text = state.alerting.original.read().expect("original lock");
        if auth.scope == Some(Scope::Admin) {
            text.clone()
        } else {
            headroom_spec::redacted_config(&text)
        }
    };
    Ok(Json(wire::AlertmanagerStatus {
        cluster: wire::ClusterStatus {
            name: String::new(),
            peers: Vec::new(),
            status: wire::ClusterState::Disabled,
        },
        config: wire::AlertmanagerConfig { original },
        uptime: api_time(state.alerting.started_at.to_chrono()).into(),
        version_info: wire::VersionInfo {
            branch: String::new(),
            build_date: String::new(),
            build_user: String::new(),
            go_version: String::new(),
            revision: String::new(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
    }))
}

/// `GET /api/v2/receivers`.
#[utoipa::path(
    get,
    path = "/api/v2/receivers",
    summary = "Receiver names",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "receivers", body = Vec<wire::Receiver>))
)]
pub async fn receivers(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<Vec<wire::Receiver>>, ApiError> {
    let desk = state.alerting.desk.lock().await;
    let names = desk
        .dispatcher
        .config()
        .receivers
        .iter()
        .map(|r| receiver(&r.name))
        .collect();
    Ok(Json(names))
}

/// `GET /api/v2/silences`, optionally filtered by matchers (`filter`): a silence is listed
/// when every filter matcher matches its equality matchers, as Alertmanager filters.
#[utoipa::path(
    get,
    path = "/api/v2/silences",
    summary = "Silences",
    description = needs::READ,
    security(("bearer" = [])),
    params(("filter" = Option<String>, Query, description = "matcher, repeatable")),
    responses((status = 200, description = "gettableSilences", body = Vec<wire::GettableSilence>), (status = 400, description = "bad filter", body = ErrorBody))
)]
pub async fn list_silences(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<wire::GettableSilence>>, ApiError> {
    let q = AlertQuery::parse(query.as_deref().unwrap_or(""))?;
    let silences = state.alerting.list_silences(&q.filter).await?;
    let now = state.now().to_chrono();
    Ok(Json(
        silences.iter().map(|s| gettable_silence(s, now)).collect(),
    ))
}

/// `GET /api/v2/silence/{id}`.
#[utoipa::path(
    get,
    path = "/api/v2/silence/{id}",
    summary = "One silence",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "silence id")),
    responses((status = 200, description = "gettableSilence", body = wire::GettableSilence), (status = 404, description = "no such silence", body = ErrorBody))
)]
pub async fn get_silence(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<wire::GettableSilence>, ApiError> {
    let silence = state.alerting.silence(&id).await?;
    Ok(Json(gettable_silence(&silence, state.now().to_chrono())))
}

/// `POST /api/v2/silences`: creates a silence, or updates one (`id`) as Alertmanager does:
/// in place when only its end moved (or it has not started), otherwise by expiring it and
/// creating a new one.
#[utoipa::path(
    post,
    path = "/api/v2/silences",
    summary = "Create or update a silence",
    description = needs::RESPOND,
    security(("bearer" = [])),
    request_body = wire::PostableSilence,
    responses((status = 200, description = "the silence id", body = wire::SilenceCreated), (status = 400, description = "invalid silence", body = ErrorBody), (status = 404, description = "no silence with that id", body = ErrorBody))
)]
pub async fn post_silence(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    body: Bytes,
) -> Result<Json<wire::SilenceCreated>, ApiError> {
    let posted = parse_posted_silence(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let silence_id = state.alerting.post_silence(posted).await?;
    Ok(Json(wire::SilenceCreated { silence_id }))
}

/// `DELETE /api/v2/silence/{id}`: expires it now.
#[utoipa::path(
    delete,
    path = "/api/v2/silence/{id}",
    summary = "Expire a silence now",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "silence id")),
    responses((status = 200, description = "expired"), (status = 400, description = "already expired", body = ErrorBody), (status = 404, description = "no such silence", body = ErrorBody))
)]
pub async fn expire_silence(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.alerting.expire_silence(&id).await?;
    Ok(StatusCode::OK)
}

fn gettable_silence(s: &Silence, now: DateTime<Utc>) -> wire::GettableSilence {
    wire::GettableSilence {
        id: s.id.clone(),
        matchers: s
            .matchers
            .iter()
            .map(|m| wire::Matcher {
                name: m.name().to_string(),
                value: m.value().to_string(),
                is_regex: matches!(m.op(), MatchOp::Regex | MatchOp::NotRegex),
                is_equal: matches!(m.op(), MatchOp::Equal | MatchOp::Regex),
            })
            .collect(),
        starts_at: api_time(s.starts_at).into(),
        ends_at: api_time(s.ends_at).into(),
        updated_at: api_time(now.min(s.ends_at.max(s.starts_at))).into(),
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
        status: wire::SilenceStatus {
            state: match s.state(now) {
                SilenceState::Pending => wire::SilenceState::Pending,
                SilenceState::Active => wire::SilenceState::Active,
                SilenceState::Expired => wire::SilenceState::Expired,
            },
        },
    }
}

/// The query parameters of the list endpoints.
struct AlertQuery {
    filter: Vec<Matcher>,
    active: bool,
    silenced: bool,
    inhibited: bool,
    receiver: Option<regex::Regex>,
}

impl AlertQuery {
    fn parse(query: &str) -> Result<AlertQuery, ApiError> {
        let mut q = AlertQuery {
            filter: Vec::new(),
            active: true,
            silenced: true,
            inhibited: true,
            receiver: None,
        };
        for (key, value) in query_pairs(query) {
            let flag = || match value.as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(ApiError::bad_request(format!(
                    "{key} must be true or false, not {other:?}"
                ))),
            };
            match key.as_str() {
                "filter" => q.filter.extend(
                    parse_matchers(&value)
                        .map_err(|e| ApiError::bad_request(format!("filter {value:?}: {e}")))?,
                ),
                "active" => q.active = flag()?,
                "silenced" => q.silenced = flag()?,
                "inhibited" => q.inhibited = flag()?,
                "unprocessed" => {
                    flag()?;
                }
                "receiver" => {
                    q.receiver =
                        Some(regex::Regex::new(&format!("^(?:{value})$")).map_err(|e| {
                            ApiError::bad_request(format!("receiver {value:?}: {e}"))
                        })?);
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

/// `application/x-www-form-urlencoded` pairs; repeated keys are kept (`filter` repeats).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
