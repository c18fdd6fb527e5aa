//! The native format's `actions`: operational tasks headroom runs when something happens, or
//! by hand (`headroom action run NAME`).
//!
//! ```yaml
//! actions:
//!   - name: rollback-checkout
//!     kind: http                       # http | github_dispatch | gitlab_trigger
//!     method: POST                     # default POST
//!     url: https://deploy.internal/rollback
//!     headers: {Authorization: {value_file: secrets/deploy}, X-Team: shop}   # values hidden
//!     body: '{"service": {{ service }}, "reason": {{ trigger }}}'   # minijinja; values as JSON
//!     on:
//!       - gate_denied: {service: checkout, environment: production}   # both optional
//!       - canary_failed: {}
//!       - alert: {matchers: ['severity="page"']}                       # Alertmanager syntax
//!       - incident_declared: {severity: [SEV1, SEV2], service: checkout}
//!       - budget_below: {slo: checkout-availability, remaining: 0.2}   # or service:
//!     approval: required               # or none (the default)
//!     dry_run: false
//!     timeout: 10s
//!     max_attempts: 5
//!   - name: redeploy
//!     kind: github_dispatch
//!     repository: octo-org/shop
//!     workflow: deploy.yml             # workflow_dispatch, with `ref` and `inputs`
//!     ref: main
//!     inputs: {reason: "{{ trigger }}"}
//!     # or: event_type: rollback, client_payload: {service: "{{ service }}"}  (repository_dispatch)
//!     token_file: secrets/github       # or token:
//!     api_url: https://api.github.com  # the default
//!   - name: pipeline
//!     kind: gitlab_trigger
//!     project: group/shop              # or its numeric id
//!     ref: main
//!     token_file: secrets/gitlab       # a pipeline trigger token; or token:
//!     variables: {REASON: "{{ trigger }}"}
//!     api_url: https://gitlab.com      # the default
//! ```
//!
//! Templates see the trigger's fields (see `service::actions`); a `body` prints values as JSON,
//! `inputs`, `client_payload` and `variables` print them as text. Secrets (header values,
//! tokens) are read at load, never shown by `Debug`, and put into a request only when it is
//! sent.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use headroom_incident::Severity;
use headroom_notify::Templates;
use headroom_routing::matcher::Matcher;

use crate::read::{At, Cx, Fields, fields, number, string};
use crate::respond::matcher_list;
use crate::rules::check_name;
use crate::signals::{http_url, read_secret};
use crate::yaml::{Node, Value};

/// A request's time limit unless the action sets `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts unless the action sets `max_attempts`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// The most `max_attempts` may be (the outbox's own limit).
pub const MAX_ATTEMPTS: u32 = 20;
/// The longest `timeout` may be.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The most inputs a `workflow_dispatch` takes (GitHub's limit).
pub const MAX_GITHUB_INPUTS: usize = 10;
pub const GITHUB_API: &str = "https://api.github.com";
pub const GITLAB_API: &str = "https://gitlab.com";

/// One configured action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub name: String,
    pub kind: ActionKind,
    /// What fires it besides a run by hand, in the order written.
    pub on: Vec<ActionTrigger>,
    /// Each run waits for someone with the respond scope to approve it.
    pub approval_required: bool,
    /// Runs are rendered and stored, never sent.
    pub dry_run: bool,
    pub timeout: Duration,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    Http(HttpCall),
    GithubDispatch(GithubDispatch),
    GitlabTrigger(GitlabTrigger),
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Http(_) => "http",
            ActionKind::GithubDispatch(_) => "github_dispatch",
            ActionKind::GitlabTrigger(_) => "gitlab_trigger",
        }
    }
}

/// A plain HTTP call. Every header value counts as a secret.
#[derive(Clone, PartialEq)]
pub struct HttpCall {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// A minijinja template printing values as JSON.
    pub body: Option<String>,
}

impl fmt::Debug for HttpCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpCall")
            .field("method", &self.method)
            .field("url", &crate::redacted_url(&self.url))
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// A GitHub Actions `workflow_dispatch` or a `repository_dispatch` event.
#[derive(Clone, PartialEq)]
pub struct GithubDispatch {
    pub api_url: String,
    /// `owner/name`.
    pub repository: String,
    pub event: GithubEvent,
    pub token: String,
}

impl fmt::Debug for GithubDispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubDispatch")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .field("event", &self.event)
            .field("token", &crate::SECRET)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum GithubEvent {
    /// `POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches`.
    Workflow {
        /// A file name (`deploy.yml`) or a numeric id.
        workflow: String,
        git_ref: String,
        /// Text templates.
        inputs: BTreeMap<String, String>,
    },
    /// `POST /repos/{owner}/{repo}/dispatches`.
    Repository {
        event_type: String,
        /// Text templates.
        client_payload: BTreeMap<String, String>,
    },
}

/// A GitLab pipeline trigger (`POST /api/v4/projects/:id/trigger/pipeline`).
#[derive(Clone, PartialEq)]
pub struct GitlabTrigger {
    pub api_url: String,
    /// A numeric id or a full path (`group/sub/project`).
    pub project: String,
    pub git_ref: String,
    pub token: String,
    /// Text templates.
    pub variables: BTreeMap<String, String>,
}

impl fmt::Debug for GitlabTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitlabTrigger")
            .field("api_url", &self.api_url)
            .field("project", &self.project)
            .field("git_ref", &self.git_ref)
            .field("token", &crate::SECRET)
            .field("variables", &self.variables)
            .finish()
    }
}

/// What fires an action.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionTrigger {
    GateDenied {
        service: Option<String>,
        environment: Option<String>,
    },
    CanaryFailed,
    /// A firing alert whose labels all the matchers match.
    Alert {
        matchers: Vec<Matcher>,
    },
    IncidentDeclared {
        /// Any severity when empty.
        severities: Vec<Severity>,
        service: Option<String>,
    },
    /// An SLO's budget remaining falling below `remaining` (a fraction): once per crossing.
    BudgetBelow {
        slo: Option<String>,
        service: Option<String>,
        remaining: f64,
    },
}

impl ActionTrigger {
    pub fn name(&self) -> &'static str {
        match self {
            ActionTrigger::GateDenied { .. } => "gate_denied",
            ActionTrigger::CanaryFailed => "canary_failed",
            ActionTrigger::Alert { .. } => "alert",
            ActionTrigger::IncidentDeclared { .. } => "incident_declared",
            ActionTrigger::BudgetBelow { .. } => "budget_below",
        }
    }
}

const COMMON: &[&str] = &[
    "name",
    "kind",
    "on",
    "approval",
    "dry_run",
    "timeout",
    "max_attempts",
];
const HTTP: &[&str] = &["method", "url", "headers", "body"];
const GITHUB: &[&str] = &[
    "repository",
    "workflow",
    "ref",
    "inputs",
    "event_type",
    "client_payload",
    "token",
    "token_file",
    "api_url",
];
const GITLAB: &[&str] = &[
    "project",
    "ref",
    "token",
    "token_file",
    "variables",
    "api_url",
];
const KINDS: &[&str] = &["http", "github_dispatch", "gitlab_trigger"];
const TRIGGERS: &[&str] = &[
    "gate_denied",
    "canary_failed",
    "alert",
    "incident_declared",
    "budget_below",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Reads the `actions` of one native document; names are unique across the set.
pub(crate) fn read(cx: &mut Cx, f: &Fields, out: &mut Vec<At<Action>>) {
    for item in f.list(cx, "actions").unwrap_or_default() {
        let Some(a) = action(cx, item) else {
            continue;
        };
        if let Some(first) = out.iter().find(|o| o.v.name == a.name) {
            let at = cx.source(first.pos);
            cx.err(
                item.pos,
                format!("action {:?} is already defined at {at}", a.name),
            );
        } else {
            out.push(At {
                v: a,
                pos: item.pos,
            });
        }
    }
}

fn action(cx: &mut Cx, node: &Node) -> Option<Action> {
    let kind = crate::read::open(cx, node, "action")?
        .req_str(cx, "kind")
        .and_then(|k| {
            if KINDS.contains(&k.v.as_str()) {
                Some(k.v)
            } else {
                cx.err(
                    k.pos,
                    format!(
                        "unknown action kind {:?}: expected one of {}",
                        k.v,
                        KINDS.join(", ")
                    ),
                );
                None
            }
        });
    let own = match kind.as_deref() {
        Some("http") => HTTP,
        Some("github_dispatch") => GITHUB,
        Some("gitlab_trigger") => GITLAB,
        _ => &[],
    };
    let allowed: Vec<&str> = COMMON.iter().chain(own).copied().collect();
    let f = fields(cx, node, "action", &allowed)?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    if let Some(n) = &name {
        check_name(cx, n, "action name");
    }
    let kind = match kind.as_deref() {
        Some("http") => http(cx, &f),
        Some("github_dispatch") => github(cx, &f),
        Some("gitlab_trigger") => gitlab(cx, &f),
        _ => None,
    };
    let on = f
        .list(cx, "on")
        .unwrap_or_default()
        .iter()
        .filter_map(|n| trigger(cx, n))
        .collect();
    let approval_required = match f.str(cx, "approval") {
        None => false,
        Some(a) if a.v == "required" => true,
        Some(a) if a.v == "none" => false,
        Some(a) => {
            cx.err(
                a.pos,
                format!("approval {:?}: expected required or none", a.v),
            );
            false
        }
    };
    let dry_run = f.bool(cx, "dry_run").unwrap_or(false);
    let timeout = match f.span(cx, "timeout") {
        None => DEFAULT_TIMEOUT,
        Some(t) => {
            let d = Duration::from_millis(t.v.millis().max(0) as u64);
            if d.is_zero() || d > MAX_TIMEOUT {
                cx.err(t.pos, "timeout must be more than 0s and at most 5m");
            }
            d
        }
    };
    let max_attempts = match f.num(cx, "max_attempts") {
        None => DEFAULT_MAX_ATTEMPTS,
        Some(n) if n.v.fract() == 0.0 && (1.0..=f64::from(MAX_ATTEMPTS)).contains(&n.v) => {
            n.v as u32
        }
        Some(n) => {
            cx.err(
                n.pos,
                format!("max_attempts must be a whole number from 1 to {MAX_ATTEMPTS}"),
            );
            DEFAULT_MAX_ATTEMPTS
        }
    };
    cx.clean_since(mark).then_some(())?;
    Some(Action {
        name: name?.v,
        kind: kind?,
        on,
        approval_required,
        dry_run,
        timeout,
        max_attempts,
    })
}

/// A template source, checked to compile.
fn template(cx: &mut Cx, node: &Node, what: &str) -> Option<String> {
    let s = string(cx, node, what)?;
    match Templates::check("action", &s.v) {
        Ok(()) => Some(s.v),
        Err(e) => {
            cx.err(s.pos, format!("{what}: {e}"));
            None
        }
    }
}

/// A map of template sources (`inputs`, `client_payload`, `variables`).
fn templates(cx: &mut Cx, f: &Fields, key: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(m) = f.val(key).and_then(|n| crate::read::open(cx, n, key)) else {
        return out;
    };
    for (k, v) in m.entries() {
        if let (Some(k), Some(v)) = (string(cx, k, key), template(cx, v, key)) {
            out.insert(k.v, v);
        }
    }
    out
}

fn api_url(cx: &mut Cx, f: &Fields, default: &str) -> Option<String> {
    match f.str(cx, "api_url") {
        None => Some(default.to_string()),
        Some(u) => http_url(cx, u).map(|u| u.trim_end_matches('/').to_string()),
    }
}

/// `token` inline or `token_file`, exactly one.
fn token(cx: &mut Cx, f: &Fields) -> Option<String> {
    match (f.str(cx, "token"), f.str(cx, "token_file")) {
        (Some(t), None) if !t.v.trim().is_empty() => Some(t.v),
        (Some(t), None) => {
            cx.err(t.pos, "token is empty");
            None
        }
        (None, Some(path)) => read_secret(cx, &path),
        (Some(_), Some(path)) => {
            cx.err(path.pos, "give token or token_file, not both");
            None
        }
        (None, None) => {
            cx.err(f.pos, format!("{} needs token or token_file", f.what));
            None
        }
    }
}

fn http(cx: &mut Cx, f: &Fields) -> Option<ActionKind> {
    let method = match f.str(cx, "method") {
        None => "POST".to_string(),
        Some(m) if METHODS.contains(&m.v.to_ascii_uppercase().as_str()) => m.v.to_ascii_uppercase(),
        Some(m) => {
            cx.err(
                m.pos,
                format!("method {:?}: expected one of {}", m.v, METHODS.join(", ")),
            );
            return None;
        }
    };
    let url = f.req_str(cx, "url").and_then(|u| http_url(cx, u));
    let mut headers = Vec::new();
    if let Some(m) = f
        .val("headers")
        .and_then(|n| crate::read::open(cx, n, "headers"))
    {
        for (k, v) in m.entries() {
            let Some(name) = string(cx, k, "header name") else {
                continue;
            };
            if name.v.is_empty() || !name.v.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                cx.err(
                    name.pos,
                    format!("header name {:?} is not a valid name", name.v),
                );
                continue;
            }
            let value = match v.value {
                Value::Map(_) => fields(cx, v, "header", &["value_file"])
                    .and_then(|h| h.req_str(cx, "value_file"))
                    .and_then(|p| read_secret(cx, &p)),
                _ => string(cx, v, "header value").map(|s| s.v),
            };
            if let Some(value) = value {
                if value.contains(['\r', '\n']) {
                    cx.err(v.pos, format!("header {:?} holds a line break", name.v));
                } else {
                    headers.push((name.v, value));
                }
            }
        }
    }
    let body = f.val("body").and_then(|n| template(cx, n, "body"));
    Some(ActionKind::Http(HttpCall {
        method,
        url: url?,
        headers,
        body,
    }))
}

fn github(cx: &mut Cx, f: &Fields) -> Option<ActionKind> {
    let repository = f.req_str(cx, "repository").and_then(|r| {
        let parts: Vec<&str> = r.v.split('/').collect();
        let segment = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if parts.len() == 2 && parts.iter().all(|s| segment(s)) {
            Some(r.v)
        } else {
            cx.err(r.pos, format!("repository {:?} is not owner/name", r.v));
            None
        }
    });
    let workflow = f.str(cx, "workflow");
    let event_type = f.str(cx, "event_type");
    let event = match (workflow, event_type) {
        (Some(w), None) => {
            for key in ["client_payload"] {
                if let Some(k) = f.key(key) {
                    cx.err(k.pos, format!("{key} goes with event_type, not workflow"));
                }
            }
            let git_ref = f.req_str(cx, "ref");
            if w.v.trim().is_empty() || w.v.contains('/') {
                cx.err(
                    w.pos,
                    "workflow is a file name (deploy.yml) or a numeric id",
                );
            }
            let inputs = templates(cx, f, "inputs");
            if inputs.len() > MAX_GITHUB_INPUTS {
                let at = f.val("inputs").map_or(f.pos, |n| n.pos);
                cx.err(
                    at,
                    format!("inputs: GitHub takes at most {MAX_GITHUB_INPUTS}"),
                );
            }
            Some(GithubEvent::Workflow {
                workflow: w.v,
                git_ref: git_ref?.v,
                inputs,
            })
        }
        (None, Some(e)) => {
            for key in ["ref", "inputs"] {
                if let Some(k) = f.key(key) {
                    cx.err(k.pos, format!("{key} goes with workflow, not event_type"));
                }
            }
            if e.v.trim().is_empty() || e.v.len() > 100 {
                cx.err(e.pos, "event_type must be 1 to 100 characters");
            }
            Some(GithubEvent::Repository {
                event_type: e.v,
                client_payload: templates(cx, f, "client_payload"),
            })
        }
        (Some(_), Some(e)) => {
            cx.err(
                e.pos,
                "give workflow (workflow_dispatch) or event_type (repository_dispatch), not both",
            );
            None
        }
        (None, None) => {
            cx.err(
                f.pos,
                "github_dispatch needs workflow (workflow_dispatch) or event_type (repository_dispatch)",
            );
            None
        }
    };
    let token = token(cx, f);
    let api_url = api_url(cx, f, GITHUB_API);
    Some(ActionKind::GithubDispatch(GithubDispatch {
        api_url: api_url?,
        repository: repository?,
        event: event?,
        token: token?,
    }))
}

fn gitlab(cx: &mut Cx, f: &Fields) -> Option<ActionKind> {
    let project = f.req_str(cx, "project").and_then(|p| {
        let ok = !p.v.is_empty()
            && !p.v.starts_with('/')
            && !p.v.ends_with('/')
            && p.v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        if ok {
            Some(p.v)
        } else {
            cx.err(
                p.pos,
                format!(
                    "project {:?} is not a numeric id or a group/project path",
                    p.v
                ),
            );
            None
        }
    });
    let git_ref = f.req_str(cx, "ref");
    let token = token(cx, f);
    let variables = templates(cx, f, "variables");
    let api_url = api_url(cx, f, GITLAB_API);
    Some(ActionKind::GitlabTrigger(GitlabTrigger {
        api_url: api_url?,
        project: project?,
        git_ref: git_ref?.v,
        token: token?,
        variables,
    }))
}

fn trigger(cx: &mut Cx, node: &Node) -> Option<ActionTrigger> {
    let f = fields(cx, node, "trigger", TRIGGERS)?;
    let mut entries = f.entries();
    let (key, value) = entries.next()?;
    if let Some((extra, _)) = entries.next() {
        cx.err(extra.pos, "one trigger per list item");
        return None;
    }
    let name = key.scalar_text().unwrap_or_default();
    let empty = Node {
        pos: value.pos,
        value: Value::Map(Vec::new()),
        text: String::new(),
    };
    let value = if value.is_null() { &empty } else { value };
    match name {
        "gate_denied" => {
            let t = fields(cx, value, "gate_denied", &["service", "environment"])?;
            Some(ActionTrigger::GateDenied {
                service: t.str(cx, "service").map(|s| s.v),
                environment: t.str(cx, "environment").map(|s| s.v),
            })
        }
        "canary_failed" => {
            fields(cx, value, "canary_failed", &[])?;
            Some(ActionTrigger::CanaryFailed)
        }
        "alert" => {
            let t = fields(cx, value, "alert", &["matchers"])?;
            let mark = cx.mark();
            let matchers: Vec<Matcher> = t
                .list(cx, "matchers")
                .unwrap_or_default()
                .iter()
                .flat_map(|n| matcher_list(cx, n))
                .collect();
            if matchers.is_empty() && cx.clean_since(mark) {
                cx.err(t.pos, "alert needs matchers: which alerts fire the action");
            }
            cx.clean_since(mark)
                .then_some(ActionTrigger::Alert { matchers })
        }
        "incident_declared" => {
            let t = fields(cx, value, "incident_declared", &["severity", "service"])?;
            let mut severities = Vec::new();
            for n in t.list(cx, "severity").unwrap_or_default() {
                if let Some(s) = string(cx, n, "severity") {
                    match s.v.parse::<Severity>() {
                        Ok(v) => severities.push(v),
                        Err(e) => cx.err(s.pos, e.to_string()),
                    }
                }
            }
            Some(ActionTrigger::IncidentDeclared {
                severities,
                service: t.str(cx, "service").map(|s| s.v),
            })
        }
        "budget_below" => {
            let t = fields(cx, value, "budget_below", &["slo", "service", "remaining"])?;
            let slo = t.str(cx, "slo").map(|s| s.v);
            let service = t.str(cx, "service").map(|s| s.v);
            if slo.is_some() && service.is_some() {
                cx.err(t.pos, "budget_below takes slo or service, not both");
            }
            let remaining = t
                .req(cx, "remaining")
                .and_then(|n| number(cx, n, "remaining"))?;
            if !(0.0..=1.0).contains(&remaining.v) {
                cx.err(
                    remaining.pos,
                    "remaining is a fraction of the budget, from 0 to 1 (0.2 is 20%)",
                );
                return None;
            }
            Some(ActionTrigger::BudgetBelow {
                slo,
                service,
                remaining: remaining.v,
            })
        }
        _ => None,
    }
}
