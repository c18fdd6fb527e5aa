//! What a service says about its delivery, and the credentials of the CI/CD webhooks.
//!
//! ```yaml
//! services:
//!   - name: checkout
//!     team: shop                       # optional
//!     repositories:
//!       - octo-org/shop                # GitHub owner/name, or a GitLab group/sub/project
//!       - {name: octo-org/monorepo, path: services/checkout}   # only commits touching the path
//!     environments: [staging, production]   # default [production]
//!     production: production           # which one is production; default the one so named
//!     deploy_workflows: [deploy.yml]   # GitHub workflows whose completed runs are deploys
//! hooks:
//!   github: {secret_file: secrets/github,          # or secret: <text>
//!            incident_labels: [incident]}           # issues so labelled are incidents (default)
//!   gitlab: {token_file: secrets/gitlab,           # or token: <text>
//!            signing_key_file: secrets/gitlab-sign} # optional; or signing_key: whsec_…
//! dora:
//!   attribution_window: 24h   # an incident is blamed on a deploy finished this long before it
//! ```
//!
//! Secrets are never shown by `Debug`; `redact` hides the inline forms by key.

use std::fmt;

use headroom_core::Span;
use headroom_ingest::gitlab::SigningKey;

use crate::read::{At, Cx, Fields, fields, string};
use crate::signals::read_secret;
use crate::yaml::{Node, Value};

/// The environment every service has unless it lists its own.
pub const PRODUCTION: &str = "production";

/// A repository a service is built from: a GitHub `owner/name` or a GitLab project path
/// (`group/sub/project`), optionally only a subdirectory of it (a monorepo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// As the forge names it; compared without regard to case, as both forges do.
    pub name: String,
    /// A subdirectory without leading or trailing `/`: only commits touching it belong to the
    /// service.
    pub path: Option<String>,
}

impl Repository {
    /// Whether a hook's repository (its full name or project path) is this one.
    pub fn is(&self, full_name: &str) -> bool {
        self.name.eq_ignore_ascii_case(full_name)
    }

    /// Whether a file a commit changed lies under the service's subdirectory (always, without
    /// one).
    pub fn covers(&self, file: &str) -> bool {
        match &self.path {
            None => true,
            Some(p) => file
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

/// The top-level `hooks`: the credential each CI/CD webhook endpoint checks. An endpoint whose
/// forge is absent here refuses every delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hooks {
    pub github: Option<GithubHook>,
    pub gitlab: Option<GitlabHook>,
}

/// GitHub's webhook secret, which signs `X-Hub-Signature-256`, and the labels that make an
/// issue an incident of the services naming its repository.
#[derive(Clone, PartialEq, Eq)]
pub struct GithubHook {
    pub secret: String,
    /// Compared without regard to case, as GitHub does; `[incident]` by default, `[]` for none.
    pub incident_labels: Vec<String>,
}

/// The labels an issue is an incident by, unless `incident_labels` says otherwise.
pub const DEFAULT_INCIDENT_LABELS: &[&str] = &["incident"];

impl fmt::Debug for GithubHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GithubHook {{ secret: <secret>, incident_labels: {:?} }}",
            self.incident_labels
        )
    }
}

/// The top-level `dora`: how DORA metrics are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dora {
    /// An incident naming no deploy is counted against the latest successful production deploy
    /// of an affected service that finished at most this long before it started.
    pub attribution_window: Span,
}

impl Default for Dora {
    fn default() -> Self {
        Dora {
            attribution_window: Span::hours(24),
        }
    }
}

/// The longest attribution window: a deploy older than a month is no plausible cause by time
/// alone.
pub const MAX_ATTRIBUTION_WINDOW: Span = Span(30 * 24 * 3_600_000);

/// Reads the top-level `dora`.
pub(crate) fn read_dora(cx: &mut Cx, node: &Node) -> Dora {
    let mut dora = Dora::default();
    let Some(f) = fields(cx, node, "dora", &["attribution_window"]) else {
        return dora;
    };
    if let Some(w) = f.span(cx, "attribution_window") {
        // Spans are positive by their parser.
        if w.v > MAX_ATTRIBUTION_WINDOW {
            cx.err(
                w.pos,
                format!(
                    "attribution_window {} is longer than the most, {MAX_ATTRIBUTION_WINDOW}",
                    w.v
                ),
            );
        } else {
            dora.attribution_window = w.v;
        }
    }
    dora
}

/// GitLab's secret token (`X-Gitlab-Token`) and, when set, its signing token (the
/// `webhook-signature` header, checked whenever it is configured).
#[derive(Clone, PartialEq, Eq)]
pub struct GitlabHook {
    pub token: String,
    pub signing_key: Option<SigningKey>,
}

impl fmt::Debug for GitlabHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GitlabHook {{ token: <secret>, signing_key: {} }}",
            if self.signing_key.is_some() {
                "<secret>"
            } else {
                "None"
            }
        )
    }
}

/// A service's delivery keys, read from its `services` entry.
pub(crate) struct ServiceDelivery {
    pub team: Option<String>,
    pub repositories: Vec<Repository>,
    pub environments: Vec<String>,
    pub production: String,
    pub deploy_workflows: Vec<String>,
}

impl Default for ServiceDelivery {
    fn default() -> Self {
        ServiceDelivery {
            team: None,
            repositories: Vec::new(),
            environments: vec![PRODUCTION.to_string()],
            production: PRODUCTION.to_string(),
            deploy_workflows: Vec::new(),
        }
    }
}

pub(crate) fn read_service(cx: &mut Cx, f: &Fields) -> ServiceDelivery {
    let mut d = ServiceDelivery::default();
    if let Some(t) = f.str(cx, "team") {
        crate::rules::check_name(cx, &t, "team");
        d.team = Some(t.v);
    }
    for item in f.list(cx, "repositories").unwrap_or_default() {
        if let Some(r) = repository(cx, item) {
            if d.repositories.iter().any(|o| o == &r.v) {
                cx.err(r.pos, format!("repository {:?} is listed twice", r.v.name));
            } else {
                d.repositories.push(r.v);
            }
        }
    }
    if let Some(items) = f.list(cx, "environments") {
        if items.is_empty() {
            cx.err(
                f.val("environments").map_or(f.pos, |n| n.pos),
                "environments is empty: leave it out for [production]",
            );
        }
        d.environments.clear();
        for n in items {
            if let Some(e) = string(cx, n, "environment") {
                if !is_environment(&e.v) {
                    cx.err(
                        e.pos,
                        format!(
                            "environment {:?} is not a valid name: use letters, digits, '-', '_', '.' and '/', at most 255",
                            e.v
                        ),
                    );
                } else if d.environments.contains(&e.v) {
                    cx.err(e.pos, format!("environment {:?} is listed twice", e.v));
                } else {
                    d.environments.push(e.v);
                }
            }
        }
    }
    match f.str(cx, "production") {
        Some(p) => {
            if !d.environments.contains(&p.v) {
                cx.err(
                    p.pos,
                    format!(
                        "production environment {:?} is not one of environments {:?}",
                        p.v, d.environments
                    ),
                );
            }
            d.production = p.v;
        }
        None => {
            if !d.environments.is_empty() && !d.environments.iter().any(|e| e == PRODUCTION) {
                let pos = f.val("environments").map_or(f.pos, |n| n.pos);
                cx.err(
                    pos,
                    "environments has none named production: name the production one with `production: <name>`",
                );
            }
        }
    }
    for n in f.list(cx, "deploy_workflows").unwrap_or_default() {
        if let Some(w) = string(cx, n, "deploy workflow") {
            if w.v.trim().is_empty() {
                cx.err(w.pos, "deploy workflow is empty");
            } else if d.deploy_workflows.contains(&w.v) {
                cx.err(w.pos, format!("deploy workflow {:?} is listed twice", w.v));
            } else {
                d.deploy_workflows.push(w.v);
            }
        }
    }
    d
}

fn is_environment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn repository(cx: &mut Cx, node: &Node) -> Option<At<Repository>> {
    let (name, path) = match &node.value {
        Value::Map(_) => {
            let f = fields(cx, node, "repository", &["name", "path"])?;
            let name = f.req_str(cx, "name");
            let path = f.str(cx, "path");
            (name?, path)
        }
        _ => (string(cx, node, "repository")?, None),
    };
    let segments: Vec<&str> = name.v.split('/').collect();
    if segments.len() < 2 || !segments.iter().all(|s| is_segment(s)) {
        cx.err(
            name.pos,
            format!(
                "repository {:?} is not owner/name (GitHub) or group/project (GitLab, subgroups allowed)",
                name.v
            ),
        );
        return None;
    }
    let path = match path {
        None => None,
        Some(p) => {
            let trimmed = p.v.trim_end_matches('/');
            if p.v.starts_with('/') || trimmed.is_empty() || !trimmed.split('/').all(is_segment) {
                cx.err(
                    p.pos,
                    format!(
                        "path {:?} is not a subdirectory of the repository: give it relative, like services/checkout",
                        p.v
                    ),
                );
                return None;
            }
            Some(trimmed.to_string())
        }
    };
    Some(At {
        v: Repository { name: name.v, path },
        pos: node.pos,
    })
}

/// Reads the top-level `hooks`.
pub(crate) fn read_hooks(cx: &mut Cx, node: &Node) -> Hooks {
    let mut hooks = Hooks::default();
    let Some(f) = fields(cx, node, "hooks", &["github", "gitlab"]) else {
        return hooks;
    };
    if let Some(n) = f.val("github")
        && let Some(g) = fields(
            cx,
            n,
            "hooks.github",
            &["secret", "secret_file", "incident_labels"],
        )
    {
        let mut incident_labels: Vec<String> = match g.list(cx, "incident_labels") {
            None => DEFAULT_INCIDENT_LABELS
                .iter()
                .map(|l| l.to_string())
                .collect(),
            Some(items) => Vec::with_capacity(items.len()),
        };
        for item in g.list(cx, "incident_labels").unwrap_or_default() {
            if let Some(l) = string(cx, item, "incident label") {
                if l.v.trim().is_empty() {
                    cx.err(l.pos, "incident label is empty");
                } else if incident_labels.iter().any(|o| o.eq_ignore_ascii_case(&l.v)) {
                    cx.err(l.pos, format!("incident label {:?} is listed twice", l.v));
                } else {
                    incident_labels.push(l.v);
                }
            }
        }
        if let Some(secret) = secret(cx, &g, "secret", true) {
            hooks.github = Some(GithubHook {
                secret,
                incident_labels,
            });
        }
    }
    if let Some(n) = f.val("gitlab")
        && let Some(g) = fields(
            cx,
            n,
            "hooks.gitlab",
            &["token", "token_file", "signing_key", "signing_key_file"],
        )
    {
        let token = secret(cx, &g, "token", true);
        let key = g
            .val("signing_key")
            .or(g.val("signing_key_file"))
            .map(|n| n.pos);
        let signing_key = secret(cx, &g, "signing_key", false).and_then(|k| {
            match SigningKey::parse(&k) {
                Ok(k) => Some(k),
                Err(e) => {
                    // The message names the form expected, never the value.
                    cx.err(key.unwrap_or(g.pos), e.to_string());
                    None
                }
            }
        });
        if let Some(token) = token {
            hooks.gitlab = Some(GitlabHook { token, signing_key });
        }
    }
    hooks
}

/// `name` inline or `name_file`, one of them; `None` (with a problem when `required`) if neither.
fn secret(cx: &mut Cx, f: &Fields, name: &str, required: bool) -> Option<String> {
    let file_key = format!("{name}_file");
    match (f.str(cx, name), f.str(cx, &file_key)) {
        (Some(s), None) => {
            if s.v.trim().is_empty() {
                cx.err(s.pos, format!("{name} is empty"));
                None
            } else {
                Some(s.v)
            }
        }
        (None, Some(path)) => read_secret(cx, &path),
        (Some(_), Some(path)) => {
            cx.err(path.pos, format!("give {name} or {file_key}, not both"));
            None
        }
        (None, None) => {
            if required {
                cx.err(f.pos, format!("{} needs {name} or {file_key}", f.what));
            }
            None
        }
    }
}
