//! Alertmanager's API v2, as Prometheus and `amtool` speak it: `POST/GET /api/v2/alerts`,
//! `GET /api/v2/alerts/groups`, `GET /api/v2/status`, `GET /api/v2/receivers`, `GET/POST /api/v2/silences`,
//! `GET/DELETE /api/v2/silence/{id}`; and `POST /api/v1/integrations/alertmanager`, where
//! another Alertmanager forwards its webhook notifications (payload version 4).
//!
//! Writes need an `ingest` token (Prometheus and Alertmanager send it as a bearer token through
//! their `authorization` settings, `amtool` through `--http.config.file`); reads need `read`.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use headroom_core::Timestamp;
use headroom_ingest::alertmanager::{parse_posted_alerts, parse_posted_silence, parse_webhook};
use headroom_routing::alert::{Alert, PostableAlert};
use headroom_routing::matcher::{Matcher, all_match, parse_matchers};
use headroom_routing::silence::{Silence, SilenceState};
use headroom_store::{ExpireOutcome, Scope, SilenceStore};
use rand::Rng;
use serde_json::{Value, json};

use crate::alerting::{
    accept, api_time, matcher_from_api, matchers_json, refresh_silences, silence_record,
};
use crate::auth::{Auth, scope};
use crate::error::ApiError;
use crate::limits;
use crate::state::AppState;

/// `POST /api/v2/alerts`: the whole batch is validated before any of it is stored.
pub async fn post_alerts(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let posted = parse_posted_alerts(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = state.now().to_chrono();
    let timeout = state
        .alerting
        .desk
        .lock()
        .await
        .dispatcher
        .config()
        .resolve_timeout;
    let alerts = posted
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            PostableAlert {
                labels: p.labels,
                annotations: p.annotations,
                starts_at: p.starts_at,
                ends_at: p.ends_at,
                generator_url: p.generator_url,
            }
            .into_alert(now, timeout)
            .map_err(|e| ApiError::bad_request(format!("[{i}]: {e}")))
        })
        .collect::<Result<Vec<Alert>, ApiError>>()?;
    accept(&state, alerts, "api").await?;
    Ok(StatusCode::OK)
}

/// `POST /api/v1/integrations/alertmanager`: a forwarded notification. Firing alerts stay
/// firing until a resolved notification for them arrives (the sender's `send_resolved`), as
/// the sender re-notifies only every `repeat_interval`.
pub async fn forwarded(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
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
    accept(&state, alerts, "webhook").await?;
    Ok(Json(json!({"status": "success", "alerts": n})))
}

/// An inhibit rule's firing sources, by the values of its `equal` labels.
type SourcesByValues<'a> = HashMap<Vec<String>, Vec<&'a BTreeMap<String, String>>>;

/// The firing alerts at `now` and what mutes each: the silences, and each inhibit rule's firing
/// sources indexed by their `equal` label values, so a target looks up its own values instead
/// of scanning every firing alert (n² for thousands of alerts).
struct Mutes<'a> {
    firing: Vec<&'a Alert>,
    silences: &'a [Silence],
    rules: &'a [headroom_routing::inhibit::InhibitRule],
    sources: Vec<SourcesByValues<'a>>,
    now: DateTime<Utc>,
}

/// Why an alert is muted: silence ids and inhibiting alerts' fingerprints.
struct Status<'a> {
    silenced_by: Vec<&'a str>,
    inhibited_by: Vec<String>,
}

fn equal_values(
    rule: &headroom_routing::inhibit::InhibitRule,
    labels: &BTreeMap<String, String>,
) -> Vec<String> {
    rule.equal
        .iter()
        .map(|n| labels.get(n).cloned().unwrap_or_default())
        .collect()
}

impl<'a> Mutes<'a> {
    fn new(desk: &'a crate::alerting::Desk, now: DateTime<Utc>) -> Self {
        let firing: Vec<&Alert> = desk
            .dispatcher
            .alerts()
            .iter()
            .filter(|a| !a.resolved_at(now))
            .collect();
        let rules = &desk.dispatcher.config().inhibit_rules;
        let sources = rules
            .iter()
            .map(|rule| {
                let mut by_values = SourcesByValues::new();
                for a in firing
                    .iter()
                    .filter(|a| all_match(&rule.source_matchers, &a.labels))
                {
                    by_values
                        .entry(equal_values(rule, &a.labels))
                        .or_default()
                        .push(&a.labels);
                }
                by_values
            })
            .collect();
        Mutes {
            firing,
            silences: &desk.silences,
            rules,
            sources,
            now,
        }
    }

    fn status(&self, alert: &Alert) -> Status<'a> {
        let silenced_by = self
            .silences
            .iter()
            .filter(|s| s.mutes(&alert.labels, self.now))
            .map(|s| s.id.as_str())
            .collect();
        let inhibited_by = self
            .rules
            .iter()
            .zip(&self.sources)
            .filter_map(|(rule, by_values)| {
                let candidates = by_values.get(&equal_values(rule, &alert.labels))?;
                rule.inhibiting_source(&alert.labels, candidates.iter().copied())
            })
            .map(|source| headroom_routing::group::fingerprint(source).to_string())
            .collect();
        Status {
            silenced_by,
            inhibited_by,
        }
    }
}

impl Status<'_> {
    fn suppressed(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty()
    }

    /// Alertmanager's `active`, `silenced` and `inhibited` filters.
    fn shown(&self, q: &AlertQuery) -> bool {
        if self.suppressed() {
            (q.silenced || self.silenced_by.is_empty())
                && (q.inhibited || self.inhibited_by.is_empty())
        } else {
            q.active
        }
    }
}

/// A `gettableAlert`.
fn gettable(alert: &Alert, receivers: &[String], status: &Status) -> Value {
    json!({
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": api_time(alert.starts_at),
        // An alert with no known end (headroom's own, a forwarded one) shows Go's zero time,
        // as Alertmanager's webhook does: the API's schema requires a time here.
        "endsAt": alert.ends_at.map_or_else(|| "0001-01-01T00:00:00.000Z".to_string(), api_time),
        "updatedAt": api_time(alert.updated_at),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint().to_string(),
        "receivers": receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "status": {
            "state": if status.suppressed() { "suppressed" } else { "active" },
            "silencedBy": status.silenced_by,
            "inhibitedBy": status.inhibited_by,
        },
    })
}

/// `GET /api/v2/alerts` with Alertmanager's filters: `filter` (matchers), `active`,
/// `silenced`, `inhibited`, `unprocessed` and `receiver` (a regex).
pub async fn get_alerts(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
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
        if status.shown(&q) {
            out.push(gettable(alert, &receivers, &status));
        }
    }
    Ok(Json(Value::Array(out)))
}

/// `GET /api/v2/alerts/groups`: the aggregation groups as Alertmanager lists them (Grafana and
/// Karma read this), with the same filters; `receiver` selects groups by their route's
/// receiver. Groups in `LabelSet.Before` order then by receiver, alerts in upstream's order,
/// each alert naming the receivers of every listed group holding it.
pub async fn get_alert_groups(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
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
            !a.resolved_at(now) && all_match(&q.filter, &a.labels) && mutes.status(a).shown(&q)
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
    let out: Vec<Value> = groups
        .iter_mut()
        .map(|g| {
            headroom_routing::dispatch::sort_alerts(&mut g.alerts);
            let alerts: Vec<Value> = g
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
            json!({
                "labels": g.labels,
                "receiver": {"name": g.route.options.receiver.clone().unwrap_or_default()},
                "alerts": alerts,
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// `GET /api/v2/status`: the shape `amtool config` and Grafana read. The config comes with
/// every secret replaced by `<secret>` (as Alertmanager shows it); `admin` tokens see it as
/// written.
pub async fn status(
    State(state): State<AppState>,
    auth: Auth<scope::Read>,
) -> Result<Json<Value>, ApiError> {
    let original = {
        let text = state.alerting.original.read().expect("original lock");
        if auth.scope == Some(Scope::Admin) {
            text.clone()
        } else {
            headroom_spec::redacted_config(&text)
        }
    };
    Ok(Json(json!({
        "cluster": {"name": "", "peers": [], "status": "disabled"},
        "config": {"original": original},
        "uptime": api_time(state.alerting.started_at.to_chrono()),
        "versionInfo": {
            "branch": "", "buildDate": "", "buildUser": "", "goVersion": "",
            "revision": "", "version": env!("CARGO_PKG_VERSION"),
        },
    })))
}

/// `GET /api/v2/receivers`.
pub async fn receivers(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<Value>, ApiError> {
    let desk = state.alerting.desk.lock().await;
    let names: Vec<Value> = desk
        .dispatcher
        .config()
        .receivers
        .iter()
        .map(|r| json!({"name": r.name}))
        .collect();
    Ok(Json(Value::Array(names)))
}

/// `GET /api/v2/silences`, optionally filtered by matchers (`filter`): a silence is listed
/// when every filter matcher matches its equality matchers, as Alertmanager filters.
pub async fn list_silences(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = AlertQuery::parse(query.as_deref().unwrap_or(""))?;
    let now = state.now().to_chrono();
    let mut silences: Vec<Silence> = state
        .store
        .list_silences()
        .await?
        .iter()
        .filter_map(crate::alerting::silence_from_record)
        .filter(|s| silence_matches_filter(s, &q.filter))
        .collect();
    // Alertmanager's order: active by end, then pending by start, then expired by end, latest first.
    silences.sort_by_key(|s| match s.state(now) {
        SilenceState::Active => (0, s.ends_at.timestamp_millis()),
        SilenceState::Pending => (1, s.starts_at.timestamp_millis()),
        SilenceState::Expired => (2, -s.ends_at.timestamp_millis()),
    });
    Ok(Json(Value::Array(
        silences.iter().map(|s| silence_json(s, now)).collect(),
    )))
}

fn silence_matches_filter(s: &Silence, filter: &[Matcher]) -> bool {
    let labels: BTreeMap<String, String> = s
        .matchers
        .iter()
        .filter(|m| m.op() == headroom_routing::matcher::MatchOp::Equal)
        .map(|m| (m.name().to_string(), m.value().to_string()))
        .collect();
    all_match(filter, &labels)
}

/// `GET /api/v2/silence/{id}`.
pub async fn get_silence(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state
        .store
        .get_silence(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("silence {id} not found")))?;
    let silence = crate::alerting::silence_from_record(&record)
        .ok_or_else(|| ApiError::internal(format!("silence {id} is unreadable")))?;
    Ok(Json(silence_json(&silence, state.now().to_chrono())))
}

/// `POST /api/v2/silences`: creates a silence, or updates one (`id`) as Alertmanager does:
/// in place when only its end moved (or it has not started), otherwise by expiring it and
/// creating a new one.
pub async fn post_silence(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let posted = parse_posted_silence(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = state.now().to_chrono();
    let matchers = posted
        .matchers
        .iter()
        .map(|m| matcher_from_api(&m.name, &m.value, m.is_regex, m.is_equal))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::bad_request)?;
    if matchers.iter().all(|m| m.matches_value("")) {
        return Err(ApiError::bad_request(
            "at least one matcher must not match the empty string",
        ));
    }
    if posted.ends_at < posted.starts_at {
        return Err(ApiError::bad_request(
            "end time must not be before start time",
        ));
    }
    if posted.ends_at < now {
        return Err(ApiError::bad_request("end time can't be in the past"));
    }
    let mut silence = Silence {
        id: String::new(),
        matchers,
        starts_at: posted.starts_at,
        ends_at: posted.ends_at,
        created_by: posted.created_by,
        comment: posted.comment,
    };
    let size = silence.comment.len()
        + silence.created_by.len()
        + silence
            .matchers
            .iter()
            .map(|m| m.name().len() + m.value().len())
            .sum::<usize>();
    if size > limits::MAX_SILENCE_BYTES {
        return Err(limits::too_long("silence", size, limits::MAX_SILENCE_BYTES));
    }
    if posted.id.is_none() {
        let desk = state.alerting.desk.lock().await;
        let live = desk
            .silences
            .iter()
            .filter(|s| s.state(now) != SilenceState::Expired)
            .count();
        if live >= limits::MAX_SILENCES {
            return Err(limits::full("silences", limits::MAX_SILENCES));
        }
    }
    let stamp = Timestamp::from_chrono(&now);
    if let Some(id) = &posted.id {
        let previous = state
            .store
            .get_silence(id)
            .await?
            .and_then(|r| crate::alerting::silence_from_record(&r))
            .ok_or_else(|| ApiError::not_found(format!("silence {id} not found")))?;
        if can_update(&previous, &silence, now) {
            silence.id = id.clone();
            state
                .store
                .put_silence(&silence_record(&silence, stamp))
                .await?;
            refresh_silences(&state).await?;
            return Ok(Json(json!({"silenceID": silence.id})));
        }
        if previous.state(now) != SilenceState::Expired {
            state.store.expire_silence(id, stamp).await?;
        }
    }
    silence.starts_at = silence.starts_at.max(now);
    silence.id = new_silence_id();
    state
        .store
        .put_silence(&silence_record(&silence, stamp))
        .await?;
    refresh_silences(&state).await?;
    Ok(Json(json!({"silenceID": silence.id})))
}

/// Upstream's `canUpdate`: same matchers, and only the timestamps the silence's state allows.
fn can_update(previous: &Silence, next: &Silence, now: DateTime<Utc>) -> bool {
    let same = |a: &[Matcher], b: &[Matcher]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.name() == y.name() && x.op() == y.op() && x.value() == y.value())
    };
    if !same(&previous.matchers, &next.matchers) {
        return false;
    }
    match previous.state(now) {
        SilenceState::Active => next.starts_at == previous.starts_at && next.ends_at >= now,
        SilenceState::Pending => next.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// `DELETE /api/v2/silence/{id}`: expires it now.
pub async fn expire_silence(
    State(state): State<AppState>,
    _auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state.store.expire_silence(&id, state.now()).await? {
        ExpireOutcome::Expired => {
            refresh_silences(&state).await?;
            Ok(StatusCode::OK)
        }
        ExpireOutcome::AlreadyExpired => Err(ApiError::bad_request(format!(
            "silence {id} already expired"
        ))),
        ExpireOutcome::NotFound => Err(ApiError::not_found(format!("silence {id} not found"))),
    }
}

fn silence_json(s: &Silence, now: DateTime<Utc>) -> Value {
    json!({
        "id": s.id,
        "matchers": matchers_json(&s.matchers),
        "startsAt": api_time(s.starts_at),
        "endsAt": api_time(s.ends_at),
        "updatedAt": api_time(now.min(s.ends_at.max(s.starts_at))),
        "createdBy": s.created_by,
        "comment": s.comment,
        "status": {"state": s.state(now).as_str()},
    })
}

/// A random version 4 UUID, the form Alertmanager gives silence ids.
fn new_silence_id() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
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
fn query_pairs(query: &str) -> Vec<(String, String)> {
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
