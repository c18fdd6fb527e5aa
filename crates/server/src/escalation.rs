//! Escalations: a notification for a receiver that names an escalation policy starts one
//! (`headroom_oncall::Escalation`) for its receiver and group; the worker pages its levels to
//! the on-call users' contact methods until someone acknowledges or the alerts resolve.
//! Signed links in every page acknowledge or resolve without a token.
//!
//! Invariants:
//! - The escalation's whole state is in the store (`escalations.state_json`), so a restart
//!   resumes it; a page due while the server was down goes out at the next round, as
//!   `Escalation::due` defines.
//! - A record stays `open` until resolved (acknowledged ones too: their alerts still fire), and
//!   `next_at` is the next page's time, `NULL` once nothing more is due.
//! - Pages are in the outbox before the escalation's new state is stored; a page queued again
//!   after a failure has the same idempotency key, so it is sent once.
//! - A link is `id.action.expiry.signature`, the signature an HMAC-SHA256 of the rest with a
//!   key kept in the store; it is compared in constant time, works until it expires, and once
//!   (`ActionLinkStore`).
//! - Lock order: the dispatcher's desk, then `OnCall::escalations`.

use std::collections::HashSet;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use headroom_core::{Span, Timestamp};
use headroom_notify::{Actions, Message};
use headroom_oncall::{Directory, Escalation, EscalationState, Page};
use headroom_routing::dispatch::Notification;
use headroom_store::{
    ActionLinkStore, EscalationRecord, EscalationStore, NewOutboxItem, OutboxStore, StoreError,
};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::auth::{Auth, scope};
use crate::error::ApiError;
use crate::html::{escape, page};
use crate::oncall::time;
use crate::state::AppState;

/// How long an action link works.
pub const LINK_LIFETIME: Span = Span(24 * 3_600_000);
/// The longest the worker sleeps: it also notices alerts that went away.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// What the store keeps of one escalation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tracked {
    pub receiver: String,
    pub group_key: String,
    pub escalation: Escalation,
    /// The group's latest notification: what pages say.
    pub message: Message,
    #[serde(default)]
    pub pages: Vec<Page>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<String>,
}

impl Tracked {
    fn record(&self, id: &str, now: Timestamp) -> EscalationRecord {
        EscalationRecord {
            id: id.to_string(),
            subject: format!("{} {}", self.receiver, self.group_key),
            policy: self.escalation.policy().id.to_string(),
            state_json: serde_json::to_string(self).unwrap_or_default(),
            next_at: self
                .escalation
                .next_deadline()
                .map(|t| Timestamp::from_chrono(&t)),
            open: !matches!(self.escalation.state(), EscalationState::Resolved { .. }),
            updated_at: now,
        }
    }

    fn json(&self, id: &str) -> Value {
        let (state, acknowledged_at, resolved_at) = match self.escalation.state() {
            EscalationState::Triggered => ("triggered", None, None),
            EscalationState::Acknowledged { at } => ("acknowledged", Some(time(at)), None),
            EscalationState::Resolved { at } => ("resolved", None, Some(time(at))),
        };
        let pages: Vec<Value> = self
            .pages
            .iter()
            .map(|p| json!({"level": p.level, "pass": p.pass, "users": p.users, "at": time(p.at)}))
            .collect();
        json!({
            "id": id,
            "receiver": self.receiver,
            "group_key": self.group_key,
            "group_labels": self.message.group_labels,
            "policy": self.escalation.policy().id,
            "state": state,
            "started_at": time(self.escalation.started()),
            "acknowledged_at": acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": resolved_at,
            "resolved_by": self.resolved_by,
            "next_page_at": self.escalation.next_deadline().map(time),
            "pages": pages,
        })
    }
}

fn read(record: &EscalationRecord) -> Result<Tracked, StoreError> {
    serde_json::from_str(&record.state_json).map_err(|e| StoreError::Corrupt {
        op: "reading an escalation",
        detail: format!("escalation {}: {e}", record.id),
    })
}

async fn load_open(state: &AppState) -> Result<Vec<(String, Tracked)>, StoreError> {
    let mut out = Vec::new();
    for r in state.store.open_escalations().await? {
        match read(&r) {
            Ok(t) => out.push((r.id, t)),
            // One unreadable record must not stop every other escalation.
            Err(e) => tracing::error!(error = %e, "skipping an escalation"),
        }
    }
    Ok(out)
}

/// The dispatcher's hook: starts or keeps the escalation of each notification to a receiver with
/// a policy (resolves it when the notification says every alert resolved), and returns the
/// action links each notification carries. Called with the desk locked, before enqueueing, so
/// a failure here leaves the notifications to be flushed again.
pub async fn notified(
    state: &AppState,
    notifications: &[Notification],
    now: Timestamp,
) -> Result<Vec<Option<Actions>>, StoreError> {
    let policies = state
        .oncall
        .receiver_escalations
        .read()
        .expect("receiver escalations lock")
        .clone();
    let mut actions = vec![None; notifications.len()];
    if !notifications
        .iter()
        .any(|n| policies.contains_key(&n.receiver))
    {
        return Ok(actions);
    }
    let _changing = state.oncall.escalations.lock().await;
    let mut open = load_open(state).await?;
    let directory = state.oncall.config_directory();
    let at = now.to_chrono();
    let mut started = false;
    for (i, n) in notifications.iter().enumerate() {
        let Some(policy_id) = policies.get(&n.receiver) else {
            continue;
        };
        let firing = n.alerts.iter().any(|a| !a.resolved_at(n.at));
        let message = crate::outbox::message(n, &state.alerting.external_url, |labels| {
            crate::alerting::slo_context(state, labels)
        });
        let existing = open
            .iter_mut()
            .find(|(_, t)| t.receiver == n.receiver && t.group_key == n.group_key);
        match (existing, firing) {
            (Some((id, t)), true) => {
                // Still firing (a repeat, or a new alert in the group): keep the escalation.
                t.message = message;
                state.store.put_escalation(&t.record(id, now)).await?;
                actions[i] = Some(links(state, id, now));
            }
            (Some((id, t)), false) => {
                t.escalation.resolve(at);
                t.resolved_by = Some("alerts resolved".to_string());
                state.store.put_escalation(&t.record(id, now)).await?;
            }
            (None, true) => {
                let Some(policy) = directory.policy(policy_id) else {
                    tracing::warn!(receiver = %n.receiver, policy = %policy_id, "escalation policy not in the config; not paging");
                    continue;
                };
                let id = format!("e-{}", hex::encode(rand::rng().random::<[u8; 8]>()));
                let t = Tracked {
                    receiver: n.receiver.clone(),
                    group_key: n.group_key.clone(),
                    escalation: Escalation::start(policy, at),
                    message,
                    pages: Vec::new(),
                    acknowledged_by: None,
                    resolved_by: None,
                };
                state.store.put_escalation(&t.record(&id, now)).await?;
                tracing::info!(escalation = %id, receiver = %n.receiver, group = %n.group_key, "escalation started");
                actions[i] = Some(links(state, &id, now));
                open.push((id, t));
                started = true;
            }
            (None, false) => {}
        }
    }
    if started {
        state.oncall.wake.notify_one();
    }
    Ok(actions)
}

/// The worker: runs escalation rounds until the server stops.
pub async fn run_escalations(state: AppState) {
    loop {
        let wait = escalation_round(&state).await;
        tokio::select! {
            _ = state.oncall.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One round at the state's `now`: resolves escalations whose group has no firing alert left,
/// pages what is due, and returns how long until the next page is due (at most `MAX_IDLE`).
pub async fn escalation_round(state: &AppState) -> Duration {
    let now = state.now();
    let at = now.to_chrono();
    let desk = state.alerting.desk.lock().await;
    let live: HashSet<(String, String)> = desk
        .dispatcher
        .groups()
        .into_iter()
        .filter(|g| g.alerts.iter().any(|a| !a.resolved_at(at)))
        .map(|g| {
            (
                g.route.options.receiver.clone().unwrap_or_default(),
                g.group_key,
            )
        })
        .collect();
    // Taken before the desk is released, so no escalation starts between the look at the
    // groups and the check against them.
    let changing = state.oncall.escalations.lock().await;
    drop(desk);
    let next = match page_due(state, &live, now).await {
        Ok(next) => next,
        Err(e) => {
            tracing::error!(error = %e, "escalation round failed; retrying");
            None
        }
    };
    drop(changing);
    if let Err(e) = state
        .store
        .delete_action_links_before(now - LINK_LIFETIME)
        .await
    {
        tracing::warn!(error = %e, "could not forget expired action links");
    }
    next.map_or(MAX_IDLE, |t| {
        let ms = (t - now).millis().max(0);
        Duration::from_millis(ms as u64).min(MAX_IDLE)
    })
}

async fn page_due(
    state: &AppState,
    live: &HashSet<(String, String)>,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let at = now.to_chrono();
    let mut open = load_open(state).await?;
    let earliest_due = open
        .iter()
        .filter_map(|(_, t)| t.escalation.next_deadline())
        .filter(|d| *d <= at)
        .min();
    // Pages resolve schedules at their own time, with the overrides then.
    let directory = match earliest_due {
        Some(from) => {
            crate::oncall::directory_between(state, from, at + chrono::TimeDelta::milliseconds(1))
                .await?
        }
        None => Directory::default(),
    };
    let mut items = Vec::new();
    let mut changed = Vec::new();
    // Pages for the incidents that link the paged alerts: (fingerprints, (who, level, at)).
    let mut paged: Vec<(Vec<String>, Vec<crate::incidents::PageNote>)> = Vec::new();
    for (id, t) in &mut open {
        if !live.contains(&(t.receiver.clone(), t.group_key.clone())) {
            t.escalation.resolve(at);
            t.resolved_by = Some("alerts resolved".to_string());
            changed.push(id.clone());
            continue;
        }
        if t.escalation.next_deadline().is_none_or(|d| d > at) {
            continue;
        }
        let was_acknowledged = matches!(t.escalation.state(), EscalationState::Acknowledged { .. });
        let pages = t.escalation.due(at, &directory);
        if was_acknowledged && t.escalation.state() == EscalationState::Triggered {
            tracing::info!(escalation = %id, acknowledged_by = ?t.acknowledged_by, "acknowledgement timed out; paging again");
            t.acknowledged_by = None;
        }
        for page in &pages {
            items.extend(page_items(state, id, t, page, &directory, now));
            tracing::info!(escalation = %id, level = page.level, pass = page.pass, users = ?page.users, "paging");
        }
        paged.push((
            alert_fingerprints(t),
            pages
                .iter()
                .flat_map(|p| {
                    let at = Timestamp::from_chrono(&p.at);
                    p.users
                        .iter()
                        .map(move |u| (u.to_string(), p.level as u32 + 1, at))
                })
                .collect(),
        ));
        t.pages.extend(pages);
        changed.push(id.clone());
    }
    if !items.is_empty() {
        state.store.enqueue(&items, now).await?;
        state.alerting.queued.notify_one();
    }
    for (id, t) in open.iter().filter(|(id, _)| changed.contains(id)) {
        state.store.put_escalation(&t.record(id, now)).await?;
    }
    for (fingerprints, pages) in paged {
        if let Err(e) = crate::incidents::record_pages(state, &fingerprints, &pages).await {
            // The pages went out; only the incident's timeline misses them.
            tracing::warn!(error = %e.detail, "could not note pages on their incident");
        }
    }
    Ok(open
        .iter()
        .filter_map(|(_, t)| t.escalation.next_deadline())
        .min()
        .map(|t| Timestamp::from_chrono(&t)))
}

/// One outbox item per contact method of each paged user, carrying the group's latest message
/// and fresh action links.
fn page_items(
    state: &AppState,
    id: &str,
    t: &Tracked,
    page: &Page,
    directory: &Directory,
    now: Timestamp,
) -> Vec<NewOutboxItem> {
    let mut message = t.message.clone();
    message.actions = Some(links(state, id, now));
    let payload_json = serde_json::to_string(&message).unwrap_or_default();
    let mut items = Vec::new();
    for user in &page.users {
        let methods = directory.user(user).map_or(0, |u| u.contact_methods.len());
        if methods == 0 {
            tracing::warn!(escalation = %id, user = %user, "paged user has no contact method");
        }
        for n in 0..methods {
            items.push(NewOutboxItem {
                idempotency_key: format!(
                    "escalation/{id}/{}/{}/{user}/{n}",
                    page.at.timestamp_millis(),
                    page.level
                ),
                receiver: t.receiver.clone(),
                integration: format!("user:{user}:{n}"),
                payload_json: payload_json.clone(),
                not_before: None,
            });
        }
    }
    items
}

// ---- actions ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Resolve,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Acknowledge => "ack",
            Action::Resolve => "resolve",
        }
    }
    fn past(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledged",
            Action::Resolve => "resolved",
        }
    }
}

/// Acknowledges or resolves escalation `id`; returns its new state as the API shows it.
pub async fn act(
    state: &AppState,
    id: &str,
    action: Action,
    by: Option<String>,
    link: Option<&str>,
) -> Result<Value, ApiError> {
    let _changing = state.oncall.escalations.lock().await;
    let record = state
        .store
        .get_escalation(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no escalation {id:?}")))?;
    let mut t = read(&record)?;
    let at = state.now().to_chrono();
    match action {
        Action::Acknowledge => {
            if matches!(t.escalation.state(), EscalationState::Triggered) {
                t.acknowledged_by = by;
            }
            t.escalation.acknowledge(at).map_err(|e| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("escalation {id}: {e}"),
                )
            })?;
        }
        Action::Resolve => {
            if !matches!(t.escalation.state(), EscalationState::Resolved { .. }) {
                t.resolved_by = by;
            }
            t.escalation.resolve(at);
        }
    }
    let record = t.record(id, state.now());
    match link {
        None => state.store.put_escalation(&record).await?,
        // The link is spent in the same transaction as the change, so an action refused above
        // leaves it usable and a used one changes nothing.
        Some(link) => {
            if !state
                .store
                .put_escalation_using_link(&record, link, state.now())
                .await?
            {
                return Err(used_link());
            }
        }
    }
    tracing::info!(escalation = %id, action = action.past(), "escalation changed");
    if action == Action::Acknowledge {
        let by = t
            .acknowledged_by
            .clone()
            .unwrap_or_else(|| "on-call".to_string());
        if let Err(e) =
            crate::incidents::acknowledge_linked(state, &alert_fingerprints(&t), &by).await
        {
            tracing::warn!(error = %e.detail, "could not acknowledge the page's incident");
        }
    }
    Ok(t.json(id))
}

/// The fingerprints of the alerts an escalation pages for, as incidents link them.
fn alert_fingerprints(t: &Tracked) -> Vec<String> {
    t.message
        .alerts
        .iter()
        .map(|a| format!("{:016x}", a.fingerprint.0))
        .collect()
}

#[derive(Deserialize)]
struct ActBody {
    by: Option<String>,
}

fn parse_by(body: &Bytes) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<ActBody>(body)
        .map(|b| b.by)
        .map_err(|e| ApiError::bad_request(format!("body: expected {{\"by\": \"…\"}} ({e})")))
}

/// `POST /api/v1/escalations/{id}/ack` (body optional: `{"by": "…"}`).
pub async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let by = parse_by(&body)?.or(auth.actor);
    Ok(Json(act(&state, &id, Action::Acknowledge, by, None).await?))
}

/// `POST /api/v1/escalations/{id}/resolve` (body optional: `{"by": "…"}`).
pub async fn resolve(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let by = parse_by(&body)?.or(auth.actor);
    Ok(Json(act(&state, &id, Action::Resolve, by, None).await?))
}

#[derive(Deserialize)]
pub struct ListQuery {
    open: Option<String>,
}

/// `GET /api/v1/escalations?open=true`: the escalations in progress (acknowledged ones too).
pub async fn list(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    match q.open.as_deref() {
        None | Some("true") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "open: only open=true is listed (got {other:?}); GET /api/v1/escalations/{{id}} reads any"
            )));
        }
    }
    let open = load_open(&state).await?;
    let list: Vec<Value> = open.iter().map(|(id, t)| t.json(id)).collect();
    Ok(Json(json!({ "escalations": list })))
}

/// `GET /api/v1/escalations/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state
        .store
        .get_escalation(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no escalation {id:?}")))?;
    Ok(Json(read(&record)?.json(&id)))
}

// ---- signed links ----

fn signature(key: &[u8], payload: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A signed link token for `action` on escalation `id`, valid until `expires`.
pub fn link_token(key: &[u8], id: &str, action: Action, expires: Timestamp) -> String {
    let payload = format!("{id}.{}.{}", action.as_str(), expires.millis());
    let sig = hex::encode(signature(key, &payload));
    format!("{payload}.{sig}")
}

fn links(state: &AppState, id: &str, now: Timestamp) -> Actions {
    let base = state.alerting.external_url.trim_end_matches('/');
    let expires = now + LINK_LIFETIME;
    let key = &state.oncall.link_key;
    Actions {
        acknowledge_url: Some(format!(
            "{base}/ack/{}",
            link_token(key, id, Action::Acknowledge, expires)
        )),
        resolve_url: Some(format!(
            "{base}/resolve/{}",
            link_token(key, id, Action::Resolve, expires)
        )),
    }
}

/// A link's escalation id and signed payload, once its signature, action and expiry check out.
fn check_link<'t>(
    state: &AppState,
    token: &'t str,
    action: Action,
) -> Result<(&'t str, &'t str), ApiError> {
    let malformed = || ApiError::bad_request("malformed link: it was cut or changed");
    let (payload, sig) = token.rsplit_once('.').ok_or_else(malformed)?;
    let parts: Vec<&str> = payload.split('.').collect();
    let [id, kind, expires] = parts[..] else {
        return Err(malformed());
    };
    let sig = hex::decode(sig).map_err(|_| malformed())?;
    let expected = signature(&state.oncall.link_key, payload);
    if !bool::from(expected.ct_eq(&sig)) {
        return Err(ApiError::forbidden(
            "forged link: its signature is not one this server made",
        ));
    }
    if kind != action.as_str() {
        return Err(ApiError::bad_request(format!(
            "this is a {kind} link, not a {} link",
            action.as_str()
        )));
    }
    let expires = Timestamp(expires.parse().map_err(|_| malformed())?);
    if state.now() >= expires {
        return Err(ApiError::new(
            StatusCode::GONE,
            "expired",
            format!("expired link: it worked until {}", expires.to_rfc3339()),
        ));
    }
    Ok((id, payload))
}

fn used_link() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "used",
        "used link: it already worked once; use the API or a newer page",
    )
}

/// `GET /ack/{token}`, `GET /resolve/{token}`: a page asking to confirm, which changes nothing,
/// so a mail scanner or chat preview that fetches the link does not act on the page.
async fn confirm_link(state: &AppState, token: &str, action: Action) -> Result<Response, ApiError> {
    let (id, payload) = check_link(state, token, action)?;
    if state.store.action_link_used(payload).await? {
        return Err(used_link());
    }
    let verb = match action {
        Action::Acknowledge => "Acknowledge",
        Action::Resolve => "Resolve",
    };
    Ok(page(&format!(
        "<form method=post><p>{verb} escalation {}?</p>\
         <button type=submit>{verb}</button></form>",
        escape(id)
    )))
}

/// `POST` to a link: checks it, uses it once, then acts.
async fn use_link(state: &AppState, token: &str, action: Action) -> Result<Response, ApiError> {
    let (id, payload) = check_link(state, token, action)?;
    let v = act(state, id, action, Some("link".to_string()), Some(payload)).await?;
    Ok(page(&format!(
        "<p>Escalation {} is {}.</p>",
        escape(id),
        escape(v["state"].as_str().unwrap_or("changed"))
    )))
}

/// `GET /ack/{token}`: the confirm page of a signed acknowledge link.
pub async fn ack_link_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    confirm_link(&state, &token, Action::Acknowledge).await
}

/// `GET /resolve/{token}`: the confirm page of a signed resolve link.
pub async fn resolve_link_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    confirm_link(&state, &token, Action::Resolve).await
}

/// `POST /ack/{token}`: acknowledges through a signed link (no token header).
pub async fn ack_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    use_link(&state, &token, Action::Acknowledge).await
}

/// `POST /resolve/{token}`: resolves through a signed link (no token header).
pub async fn resolve_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    use_link(&state, &token, Action::Resolve).await
}

/// Acknowledges the open escalations of every group holding one of these alerts (a PagerDuty
/// `acknowledge` event names its alert by dedup key, not an escalation); returns how many.
pub async fn acknowledge_alerts(
    state: &AppState,
    fingerprints: &[headroom_routing::group::Fingerprint],
    by: &str,
) -> Result<usize, ApiError> {
    let subjects: HashSet<String> = {
        let desk = state.alerting.desk.lock().await;
        desk.dispatcher
            .groups()
            .into_iter()
            .filter(|g| {
                g.alerts
                    .iter()
                    .any(|a| fingerprints.contains(&a.fingerprint()))
            })
            .filter_map(|g| Some(format!("{} {}", g.route.options.receiver?, g.group_key)))
            .collect()
    };
    let mut acknowledged = 0;
    for (id, t) in load_open(state).await? {
        if subjects.contains(&format!("{} {}", t.receiver, t.group_key))
            && matches!(t.escalation.state(), EscalationState::Triggered)
        {
            act(state, &id, Action::Acknowledge, Some(by.to_string()), None).await?;
            acknowledged += 1;
        }
    }
    Ok(acknowledged)
}
