//! Config and SLO spec formats, read at the edge into validated core types.
//!
//! One loaded set may mix, per YAML document:
//! - headroom's native format: `anonymous_read`, `services`, `alert_windows` and `slos` at the
//!   top level; `examples/quickstart.yaml` documents them. An SLO's `name` is its id,
//!   `objective` is a percentage and `target` a ratio (the key decides, never the number).
//!   Beside them: signal sources (`probes`, `scrape`, `backends`); Alertmanager's own keys
//!   (`global`, `route`, `receivers`, `inhibit_rules`, `time_intervals`), so an
//!   `alertmanager.yml` loads unchanged; the on-call directory (`users`, `teams`, `schedules`,
//!   `escalation_policies`); and `incident_policies`. Each module's doc shows its keys;
//! - Sloth `prometheus/v1` specs and `sloth.slok.dev/v1` `PrometheusServiceLevel` CRDs (SLO id
//!   `<service>-<name>`, rolling window of the set's Sloth period, 30 days by default);
//! - a Sloth `sloth.slok.dev/v1` `AlertWindows` document (the set's alert windows);
//! - OpenSLO `openslo/v1` objects of every kind (alone or as a YAML list), and `openslo/v1alpha`
//!   SLOs as Sloth reads them (SLO id `metadata.name`; in generated rules each objective is
//!   `<service>-<name>-<index>`, as Sloth names it).
//!
//! Each SLO carries its `rules` (core's `RulesSpec`): the names Sloth gives it and how Sloth
//! writes its rules, set here by the loader of its format.
//!
//! Loading never stops at the first problem: every document and every SLO is read, and each
//! defect becomes a [`Problem`] pointing at the offending key or value. Ids (SLOs, users,
//! teams, schedules, escalation policies, receivers, incident policies, actions) are unique across the
//! set, and a reference resolves wherever in the set its target is declared. Secrets named by
//! `*_file` keys are read at load, relative to the file naming them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use headroom_core::{AlertWindows, Slo};
use headroom_delivery::ReleasePolicy;
use headroom_incident::IncidentPolicy;
use headroom_notify::Receiver;
use headroom_oncall::{Directory, PolicyId};

mod actions;
mod alerts;
mod delivery;
mod incidents;
mod integrations;
mod native;
mod oncall;
mod openslo;
mod read;
mod receivers;
mod redact;
mod respond;
mod rules;
mod signals;
mod sloth;
mod yaml;

pub use actions::{
    Action, ActionKind, ActionTrigger, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, GITHUB_API,
    GITLAB_API, GithubDispatch, GithubEvent, GitlabTrigger, HttpCall,
};
pub use delivery::{Dora, GithubHook, GitlabHook, Hooks, PRODUCTION, Repository};
pub use headroom_probe::spec::ProbeSpec;
pub use integrations::InboundIntegration;
pub use redact::{SECRET, redacted_config, redacted_url};
pub use respond::{DEFAULT_RESOLVE_TIMEOUT, Routing};
pub use signals::{BackendAuth, BackendConfig, ScrapeConfig};

use read::Cx;
use yaml::{Node, Pos};

/// Everything a loaded set of config files says.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub slos: Vec<Slo>,
    /// Whether clients without a token may read SLOs, budgets and the status page.
    pub anonymous_read: bool,
    /// A bearer token that reads `/metrics` (for a scraper given nothing else), besides tokens
    /// with the read scope.
    pub metrics_token: Option<String>,
    /// Declared services (native `services`, OpenSLO `Service` objects), then one entry for each
    /// service an SLO names that was not declared.
    pub services: Vec<Service>,
    /// The set's alert windows (native `alert_windows` or a Sloth `AlertWindows` document): the
    /// default page and ticket windows of every SLO, and the period of Sloth specs.
    pub alert_windows: Option<AlertWindows>,
    /// headroom's own probes.
    pub probes: Vec<ProbeSpec>,
    /// Scrape jobs feeding the SLIs that run natively on Prometheus samples.
    pub scrape: Vec<ScrapeConfig>,
    /// External Prometheus-compatible APIs answering SLIs that name them (or all, for the default).
    pub backends: Vec<BackendConfig>,
    /// Where alerts go (Alertmanager's `route`, `inhibit_rules`, `time_intervals`).
    pub routing: Routing,
    /// Where notifications go (Alertmanager's `receivers`), in the order declared; one named
    /// `default`, with no integrations, when none is declared.
    pub receivers: Vec<Receiver>,
    /// User templates by name (top-level `templates`): a default's name replaces it, any other
    /// name is a partial the others include.
    pub templates: BTreeMap<String, String>,
    /// Receivers that also page an escalation policy (headroom's `escalation_policy` on a
    /// receiver): receiver name → policy id.
    pub receiver_escalations: BTreeMap<String, PolicyId>,
    /// Users, teams, schedules and escalation policies; every reference between them resolves.
    pub oncall: Directory,
    /// Which alerts open incidents, in the order declared (the first matching one decides).
    pub incident_policies: Vec<IncidentPolicy>,
    /// The global SMTP server (`global.smtp_*`), for on-call email contact methods.
    pub smtp: Option<headroom_notify::Email>,
    /// Senders reaching headroom through PagerDuty's Events API, by routing key hash.
    pub integrations: Vec<InboundIntegration>,
    /// The credentials the CI/CD webhook endpoints check (top-level `hooks`).
    pub hooks: Hooks,
    /// Operational tasks run on triggers or by hand (top-level `actions`), names unique.
    pub actions: Vec<Action>,
    /// How DORA metrics are read (top-level `dora`).
    pub dora: Dora,
    /// Things that load but look like mistakes (`objective: 0.999`, an OpenSLO calendar `1m`).
    pub warnings: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The team owning it (an on-call team id when the directory declares one).
    pub team: Option<String>,
    /// Where its code lives; hooks from these repositories are its changes and deploys.
    pub repositories: Vec<Repository>,
    /// The environments it deploys to, in the order declared; `[production]` by default.
    pub environments: Vec<String>,
    /// Which of `environments` is production.
    pub production: String,
    /// GitHub workflows (by name or by path, `.github/workflows/deploy.yml` or `deploy.yml`)
    /// whose completed runs are deploys.
    pub deploy_workflows: Vec<String>,
    /// The error-budget policy its release gates judge by; `None`: releases always pass.
    pub release_policy: Option<ReleasePolicy>,
}

impl Service {
    /// A service known only by name (an SLO or an OpenSLO object names it): production only,
    /// no repositories.
    pub fn named(name: impl Into<String>) -> Service {
        Service {
            name: name.into(),
            description: None,
            labels: BTreeMap::new(),
            team: None,
            repositories: Vec::new(),
            environments: vec![PRODUCTION.to_string()],
            production: PRODUCTION.to_string(),
            deploy_workflows: Vec::new(),
            release_policy: None,
        }
    }
}

/// One defect, located at the key or value that causes it (1-based line and column; 0 and 0
/// when the file itself could not be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct Problem {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub kind: ProblemKind,
}

/// Whether a problem is a mistake in the config or only something headroom cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProblemKind {
    /// The config is wrong.
    #[default]
    Invalid,
    /// The config is valid for Sloth but names a plugin headroom has no native version of
    /// (Sloth's plugins are Go code). [`Purpose::Check`] makes it a warning; loading to run or to
    /// generate rules refuses it.
    NotSupported,
}

/// Loads files and directories (a directory contributes its `*.yml` and `*.yaml` files, sorted
/// by name, not recursing).
pub fn load_paths(paths: &[PathBuf]) -> Result<Config, Vec<Problem>> {
    load_sources(&read_paths(paths)?)
}

/// Loads files to generate Prometheus rules from: the same as [`load_paths`] except that PromQL
/// SLIs need not be runnable by headroom itself (Prometheus will run them).
pub fn load_paths_for_rules(paths: &[PathBuf]) -> Result<Config, Vec<Problem>> {
    load_sources_for(&read_paths(paths)?, Purpose::Rules)
}

/// Loads files and directories for a purpose (see [`load_paths`]).
pub fn load_paths_for(paths: &[PathBuf], purpose: Purpose) -> Result<Config, Vec<Problem>> {
    load_sources_for(&read_paths(paths)?, purpose)
}

/// What a loaded set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Running it: every PromQL SLI that names no backend must run natively.
    Run,
    /// Checking that it is a valid spec: what headroom could not run without a backend, and
    /// Sloth plugins it has no version of, are warnings with the way out, not problems.
    Check,
    /// Generating Prometheus rules from it, or replaying recorded events through it: nothing
    /// runs its queries here.
    Rules,
}

/// The `(file name, text)` of every file `load_paths` would load, in its order: for callers that
/// need the exact text they loaded (a config version hash, say) without reading twice.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<(String, String)>, Vec<Problem>> {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if path.is_dir() {
            match yaml_files_in(path) {
                Ok(files) => {
                    for f in files {
                        read_source(&f, &mut sources, &mut problems);
                    }
                }
                Err(e) => problems.push(io_problem(path, &e)),
            }
        } else {
            read_source(path, &mut sources, &mut problems);
        }
    }
    if problems.is_empty() {
        Ok(sources)
    } else {
        Err(problems)
    }
}

/// Loads one file's text, which may hold several YAML documents separated by `---`.
pub fn load_str(file_name: &str, text: &str) -> Result<Config, Vec<Problem>> {
    load_sources(&[(file_name.to_string(), text.to_string())])
}

/// Loads several in-memory files as one set: `(file name, text)` pairs. References between
/// files resolve and SLO ids must be unique across all of them.
pub fn load_sources(sources: &[(String, String)]) -> Result<Config, Vec<Problem>> {
    load_sources_for(sources, Purpose::Run)
}

/// As [`load_sources`], for a purpose.
pub fn load_sources_for(
    sources: &[(String, String)],
    purpose: Purpose,
) -> Result<Config, Vec<Problem>> {
    let mut cx = Cx::new();
    let mut docs: Vec<Node> = Vec::new();
    for (name, text) in sources {
        let file = cx.add_file(name, text);
        match yaml::parse(file, text) {
            Ok(d) => docs.extend(d),
            Err(e) => cx.err(
                Pos {
                    file,
                    line: e.line,
                    column: e.column,
                },
                format!("invalid YAML: {}", e.message),
            ),
        }
    }

    // Pass 1: what every SLO may depend on (settings, alert windows, OpenSLO objects).
    let kinds: Vec<Kind> = docs.iter().map(|d| classify(&mut cx, d)).collect();
    let mut settings = native::Settings::default();
    let mut objects = Vec::new();
    for (doc, kind) in docs.iter().zip(&kinds) {
        match kind {
            Kind::Native => native::read_settings(&mut cx, doc, &mut settings),
            Kind::AlertWindows => {
                if let Some(w) = sloth::alert_windows(&mut cx, doc) {
                    native::set_once(
                        &mut cx,
                        &mut settings.alert_windows,
                        read::At { v: w, pos: doc.pos },
                        "alert_windows (or an AlertWindows document)",
                    );
                }
            }
            Kind::OpenSlo(items) => {
                objects.extend(items.iter().cloned().map(|(api, i)| openslo::Object {
                    api,
                    node: &doc_items(doc)[i],
                }))
            }
            _ => {}
        }
    }
    let index = openslo::index(&mut cx, objects);
    let defaults = alerts::Defaults {
        windows: settings.alert_windows.as_ref().map(|w| w.v),
    };

    // Pass 2: SLOs, and receivers (they inherit `global` defaults from any document).
    let mut slos = Vec::new();
    let mut declared_receivers = Vec::new();
    for (doc, kind) in docs.iter().zip(&kinds) {
        match kind {
            Kind::Native => {
                native::read_slos(&mut cx, doc, &defaults, &mut slos);
                receivers::read(
                    &mut cx,
                    doc,
                    &settings.routing.receiver_defaults,
                    &mut settings.oncall,
                    &mut declared_receivers,
                );
            }
            Kind::SlothV1 => sloth::prometheus_v1(&mut cx, doc, &defaults, &mut slos),
            Kind::SlothK8s => sloth::kubernetes(&mut cx, doc, &defaults, &mut slos),
            _ => {}
        }
    }
    openslo::slos(&mut cx, &index, &defaults, &mut slos);
    duplicate_ids(&mut cx, &slos);

    let mut services = Vec::new();
    for (s, at) in settings.services {
        if services.iter().any(|d: &Service| d.name == s.name) {
            cx.err(at.pos, format!("service {:?} is declared twice", s.name));
        } else {
            services.push(s);
        }
    }
    for s in index.services.iter() {
        if !services.iter().any(|d| d.name == s.name) {
            services.push(s.clone());
        }
    }
    native::implied_services(&mut services, &slos);
    signals::resolve_references(&mut cx, &settings.signals, &mut slos);
    match purpose {
        Purpose::Run => signals::check_native_queries(&mut cx, &slos, true),
        Purpose::Check => signals::check_native_queries(&mut cx, &slos, false),
        Purpose::Rules => {}
    }
    let mut receivers: Vec<Receiver> = Vec::new();
    let mut receiver_escalations = BTreeMap::new();
    for (r, policy) in declared_receivers {
        if receivers.iter().any(|d| d.name == r.v.name) {
            cx.err(r.pos, format!("receiver {:?} is declared twice", r.v.name));
            continue;
        }
        if let Some(p) = policy {
            receiver_escalations.insert(r.v.name.clone(), PolicyId(p));
        }
        receivers.push(r.v);
    }
    if receivers.is_empty() {
        // Alertmanager requires a receiver; the implicit one keeps routing total.
        receivers.push(Receiver {
            name: "default".to_string(),
            integrations: Vec::new(),
        });
    }
    let names: Vec<String> = receivers.iter().map(|r| r.name.clone()).collect();
    let templates = receivers::finish_templates(
        &mut cx,
        std::mem::take(&mut settings.routing.templates),
        &receivers,
    );
    let smtp = settings.routing.receiver_defaults.smtp();
    let routing = respond::finish(&mut cx, settings.routing, &names);
    let oncall = oncall::finish(&mut cx, settings.oncall);
    let mut integrations: Vec<InboundIntegration> = Vec::new();
    for i in settings.integrations {
        if integrations.iter().any(|o| o.name == i.v.name) {
            cx.err(
                i.pos,
                format!("integration {:?} is defined twice", i.v.name),
            );
        } else if integrations
            .iter()
            .any(|o| o.routing_key_sha256 == i.v.routing_key_sha256)
        {
            cx.err(
                i.pos,
                format!("integration {:?} has the routing key of another", i.v.name),
            );
        } else {
            integrations.push(i.v);
        }
    }

    if purpose == Purpose::Check {
        // A Sloth plugin headroom has no version of makes the spec unrunnable here, not invalid.
        let (unsupported, invalid): (Vec<Problem>, Vec<Problem>) = std::mem::take(&mut cx.problems)
            .into_iter()
            .partition(|p| p.kind == ProblemKind::NotSupported);
        cx.problems = invalid;
        cx.warnings.extend(unsupported);
    }
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    Ok(Config {
        slos,
        anonymous_read: settings.anonymous_read.is_some_and(|a| a.v),
        metrics_token: settings.metrics_token.map(|t| t.v),
        services,
        alert_windows: defaults.windows,
        probes: settings
            .signals
            .probes
            .into_iter()
            .map(|(p, _)| p)
            .collect(),
        scrape: settings.signals.scrape,
        backends: settings
            .signals
            .backends
            .into_iter()
            .map(|(b, _)| b)
            .collect(),
        routing,
        receivers,
        receiver_escalations,
        templates,
        oncall,
        incident_policies: settings
            .incident_policies
            .into_iter()
            .map(|p| p.v)
            .collect(),
        integrations,
        smtp,
        hooks: settings.hooks.map(|h| h.v).unwrap_or_default(),
        actions: settings.actions.into_iter().map(|a| a.v).collect(),
        dora: settings.dora.map(|d| d.v).unwrap_or_default(),
        warnings: cx.warnings,
    })
}

/// Reads a Sloth `AlertWindows` file (`sloth.slok.dev/v1`, kind `AlertWindows`).
pub fn load_alert_windows(path: &Path) -> Result<AlertWindows, Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![io_problem(path, &e)])?;
    parse_alert_windows(&path.display().to_string(), &text)
}

/// Reads the text of a Sloth `AlertWindows` file.
pub fn parse_alert_windows(file_name: &str, text: &str) -> Result<AlertWindows, Vec<Problem>> {
    let mut cx = Cx::new();
    let file = cx.add_file(file_name, text);
    let docs = yaml::parse(file, text).map_err(|e| {
        vec![Problem {
            file: file_name.to_string(),
            line: e.line,
            column: e.column,
            message: format!("invalid YAML: {}", e.message),
            kind: ProblemKind::Invalid,
        }]
    })?;
    let start = Pos {
        file,
        line: 1,
        column: 1,
    };
    let windows = match docs.as_slice() {
        [doc] if matches!(classify(&mut cx, doc), Kind::AlertWindows) => {
            sloth::alert_windows(&mut cx, doc)
        }
        [doc] if cx.problems.is_empty() => {
            cx.err(
                doc.pos,
                "expected a Sloth AlertWindows document (apiVersion: sloth.slok.dev/v1, kind: AlertWindows)",
            );
            None
        }
        [] => {
            cx.err(
                start,
                "the file is empty: expected a Sloth AlertWindows document",
            );
            None
        }
        [_, second, ..] => {
            cx.err(second.pos, "expected a single AlertWindows document");
            None
        }
        _ => None,
    };
    match windows {
        Some(w) if cx.problems.is_empty() => Ok(w),
        _ => Err(cx.problems),
    }
}

/// Which format a document is in.
enum Kind {
    Native,
    SlothV1,
    SlothK8s,
    AlertWindows,
    /// OpenSLO objects: the document itself, or the items of a list document.
    OpenSlo(Vec<(openslo::Api, usize)>),
    Skip,
}

/// The OpenSLO objects of a document: itself, or the items of a list.
fn doc_items(doc: &Node) -> &[Node] {
    match &doc.value {
        yaml::Value::Seq(items) => items,
        _ => std::slice::from_ref(doc),
    }
}

fn classify(cx: &mut Cx, doc: &Node) -> Kind {
    match &doc.value {
        yaml::Value::Map(_) => classify_object(cx, doc, 0),
        yaml::Value::Seq(items) => {
            // A list document is a list of OpenSLO objects (as the OpenSLO SDK writes them).
            let mut objects = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match classify_object(cx, item, i) {
                    Kind::OpenSlo(o) => objects.extend(o),
                    Kind::Skip => {}
                    _ => cx.err(
                        item.pos,
                        "a list document may only hold OpenSLO objects (apiVersion: openslo/v1)",
                    ),
                }
            }
            Kind::OpenSlo(objects)
        }
        _ => {
            cx.err(
                doc.pos,
                format!("a document must be a mapping, found {}", doc.type_name()),
            );
            Kind::Skip
        }
    }
}

fn classify_object(cx: &mut Cx, node: &Node, index: usize) -> Kind {
    if node.as_map().is_none() {
        cx.err(
            node.pos,
            format!("expected an OpenSLO object, found {}", node.type_name()),
        );
        return Kind::Skip;
    }
    if let Some(v) = node.key("version") {
        return match v.scalar_text() {
            Some("prometheus/v1") => Kind::SlothV1,
            _ => {
                cx.err(
                    v.pos,
                    format!(
                        "unsupported version {:?}: headroom reads Sloth's prometheus/v1",
                        v.scalar_text().unwrap_or_default()
                    ),
                );
                Kind::Skip
            }
        };
    }
    let Some(api) = node.key("apiVersion") else {
        return Kind::Native;
    };
    let kind = node.key("kind").and_then(Node::scalar_text);
    match api.scalar_text().unwrap_or_default() {
        "openslo/v1" => Kind::OpenSlo(vec![(openslo::Api::V1, index)]),
        "openslo/v1alpha" => Kind::OpenSlo(vec![(openslo::Api::V1Alpha, index)]),
        "sloth.slok.dev/v1" => match kind {
            Some("PrometheusServiceLevel") => Kind::SlothK8s,
            Some("AlertWindows") => Kind::AlertWindows,
            other => {
                let at = node.key("kind").map_or(node.pos, |k| k.pos);
                cx.err(
                    at,
                    format!(
                        "unsupported sloth.slok.dev/v1 kind {:?}: expected PrometheusServiceLevel or AlertWindows",
                        other.unwrap_or_default()
                    ),
                );
                Kind::Skip
            }
        },
        other => {
            cx.err(
                api.pos,
                format!(
                    "unsupported apiVersion {other:?}: headroom reads sloth.slok.dev/v1, \
                     openslo/v1 and openslo/v1alpha (or its own format, which has no apiVersion)"
                ),
            );
            Kind::Skip
        }
    }
}

/// SLO ids are unique across the whole loaded set; a repeat names where the first one is.
fn duplicate_ids(cx: &mut Cx, slos: &[Slo]) {
    let mut seen: HashMap<&str, &Slo> = HashMap::new();
    for slo in slos {
        if let Some(first) = seen.get(slo.id.as_str()) {
            let pos = cx.pos_of(&slo.source);
            cx.err(
                pos,
                format!(
                    "duplicate SLO id {:?}: already defined at {}",
                    slo.id.as_str(),
                    first.source
                ),
            );
        } else {
            seen.insert(&slo.id, slo);
        }
    }
}

fn yaml_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

fn read_source(path: &Path, sources: &mut Vec<(String, String)>, problems: &mut Vec<Problem>) {
    match std::fs::read_to_string(path) {
        Ok(text) => sources.push((path.display().to_string(), text)),
        Err(e) => problems.push(io_problem(path, &e)),
    }
}

fn io_problem(path: &Path, e: &std::io::Error) -> Problem {
    Problem {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
        kind: ProblemKind::Invalid,
    }
}
