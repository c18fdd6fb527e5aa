//! `headroom`: the server, and a thin command-line client of its API plus local commands.
//!
//! Exit codes: 0 success; 1 the input was refused (invalid config, rejected events, a 4xx answer);
//! 2 usage error; 3 the server could not be reached or failed (5xx); 4 local storage failed;
//! `canary judge` only: 5 the verdict is Marginal, 6 it is Fail.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use headroom_api::incident::{
    ActionItemPatch, ActionItemStatus, Cause, Declaration, Incident, IncidentList, NewActionItem,
    Note, RoleAssignment, SeverityChange, StatusChange,
};
use headroom_api::slo::{AlertState, Event, EventBatch, EventTime, EventsAccepted, Slo, SloList};
use headroom_api::{ErrorBody, figure};
use headroom_core::Timestamp;
use headroom_server::listener::ConnectionLimits;
use headroom_store::{Scope, Store, TokenStore};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

mod action;
mod canary;
mod deploy;
mod dora;
mod gate;
mod oncall;
mod silence;

const DEFAULT_LISTEN: &str = "127.0.0.1:7979";
const DEFAULT_URL: &str = "http://127.0.0.1:7979";

#[derive(Parser)]
#[command(
    name = "headroom",
    version,
    about = "SLOs, error budgets and burn-rate alerts in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded quickstart config unless --config is given).
    Serve(ServeArgs),
    /// Check that files are a valid spec; prints FILE:LINE:COL: message per problem, exit 1 if
    /// any. What `serve` could not run without a backend is a warning unless --strict.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also refuse what `serve` could not run here (queries no backend answers that
        /// cannot run natively): for pipelines that deploy to headroom itself.
        #[arg(long)]
        strict: bool,
        /// `serve`: the same as --strict; `spec` (the default): is this a valid spec.
        #[arg(long = "for", value_enum, default_value_t = ValidateFor::Spec)]
        target: ValidateFor,
    },
    /// Replay recorded SLI events through the SLO engine in simulated time.
    Backtest {
        #[arg(long, required = true)]
        config: Vec<PathBuf>,
        /// CSV (timestamp,slo,good,total) or JSONL with the same keys.
        #[arg(long)]
        events: PathBuf,
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Manage API tokens (works on the local data directory or database).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Read SLOs from a running server.
    Slo {
        #[command(subcommand)]
        command: SloCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Push SLI events to a running server.
    Ingest(IngestArgs),
    /// Who is on call, and acknowledging or resolving escalations, on a running server.
    Oncall {
        #[command(subcommand)]
        command: oncall::OncallCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Declare and run incidents on a running server.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Mute alerts on a running server (Alertmanager silences).
    Silence {
        #[command(subcommand)]
        command: silence::SilenceCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Run configured actions by hand, list their runs, approve or reject them.
    Action {
        #[command(subcommand)]
        command: action::ActionCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Report deploys from a CI job to a running server.
    Deploy {
        #[command(subcommand)]
        command: deploy::DeployCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// DORA metrics from a running server.
    Dora {
        #[command(subcommand)]
        command: dora::DoraCommand,
    },
    /// Ask a service's release gate: exit 0 allow, 1 deny (with the reasons), 2 error.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Gate {
        #[command(flatten)]
        ask: gate::GateArgs,
        #[command(subcommand)]
        command: Option<gate::GateCommand>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Judge a canary against its baseline, for delivery pipelines.
    Canary {
        #[command(subcommand)]
        command: canary::CanaryCommand,
    },
    /// Print rules for other systems from SLO specs.
    Generate {
        #[command(subcommand)]
        target: GenerateTarget,
    },
}

#[derive(Subcommand)]
enum GenerateTarget {
    /// Prometheus recording and alerting rules, as Sloth generates them.
    Prometheus {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Every SLO's period, with alert factors rescaled (Sloth's --default-slo-period).
        #[arg(long)]
        period: Option<headroom_core::Span>,
        /// A Sloth AlertWindows file.
        #[arg(long)]
        windows: Option<PathBuf>,
        /// Labels added to every rule, as k=v (repeat or separate with commas).
        #[arg(long = "extra-labels", value_delimiter = ',', value_parser = parse_label)]
        extra_labels: Vec<(String, String)>,
        #[arg(long, value_enum, default_value_t = RulesFormat::Prometheus)]
        format: RulesFormat,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RulesFormat {
    Prometheus,
    PrometheusOperator,
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not k=v")),
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Config files or directories (native, Sloth or OpenSLO YAML).
    #[arg(long, env = "HEADROOM_CONFIG", value_delimiter = ',')]
    config: Option<Vec<PathBuf>>,
    #[command(flatten)]
    storage: StorageArgs,
    #[arg(long, env = "HEADROOM_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The address notifications link back to (default: http://<listen>).
    #[arg(long, env = "HEADROOM_EXTERNAL_URL")]
    external_url: Option<String>,
    /// PEM certificate chain: serve HTTPS (with --tls-key-file).
    #[arg(long, env = "HEADROOM_TLS_CERT_FILE", requires = "tls_key_file")]
    tls_cert_file: Option<PathBuf>,
    /// PEM private key for --tls-cert-file.
    #[arg(long, env = "HEADROOM_TLS_KEY_FILE", requires = "tls_cert_file")]
    tls_key_file: Option<PathBuf>,
    /// Time a client has for the TLS handshake, and for a request's line and headers.
    #[arg(long, env = "HEADROOM_HEADER_TIMEOUT", default_value_t = span(LIMITS.header_timeout))]
    header_timeout: headroom_core::Span,
    /// Time for a request's body to arrive and its response to be produced (then 408).
    #[arg(long, env = "HEADROOM_REQUEST_TIMEOUT", default_value_t = span(LIMITS.request_timeout))]
    request_timeout: headroom_core::Span,
    /// Time a keep-alive connection may wait for its next request.
    #[arg(long, env = "HEADROOM_IDLE_TIMEOUT", default_value_t = span(LIMITS.idle_timeout))]
    idle_timeout: headroom_core::Span,
    /// Connections served at once; more wait in the accept backlog until one closes.
    #[arg(long, env = "HEADROOM_MAX_CONNECTIONS", default_value_t = LIMITS.max_connections)]
    max_connections: NonZeroUsize,
    /// On SIGINT/SIGTERM, time requests in flight get to finish.
    #[arg(long, env = "HEADROOM_SHUTDOWN_GRACE", default_value_t = span(LIMITS.shutdown_grace))]
    shutdown_grace: headroom_core::Span,
}

/// `serve`'s connection limits when no flag or variable sets them.
const LIMITS: ConnectionLimits = ConnectionLimits::DEFAULT;

fn span(d: std::time::Duration) -> headroom_core::Span {
    headroom_core::Span(d.as_millis() as i64)
}

/// Global, so `headroom token create --scope ingest --data-dir DIR` works as well as
/// `headroom token --data-dir DIR create …`.
#[derive(Args, Clone)]
struct StorageArgs {
    #[arg(
        long,
        env = "HEADROOM_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    data_dir: PathBuf,
    /// postgres://… to keep state in PostgreSQL instead of SQLite in the data directory.
    #[arg(long, env = "HEADROOM_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

#[derive(Args, Clone)]
struct ClientArgs {
    #[arg(long, env = "HEADROOM_URL", default_value = DEFAULT_URL, global = true)]
    server: String,
    #[arg(long, env = "HEADROOM_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,
}

/// What `validate` checks the files for.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ValidateFor {
    /// A valid spec, as Sloth or OpenSLO would accept it.
    Spec,
    /// Runnable by `serve` as it is.
    Serve,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; prints it once (only its hash is stored).
    Create {
        #[arg(long, value_parser = parse_scope)]
        scope: Scope,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    List,
    Revoke {
        id: String,
    },
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse()
        .map_err(|e: headroom_store::UnknownScope| e.to_string())
}

#[derive(Subcommand)]
enum SloCommand {
    List,
    Get { id: String },
}

#[derive(Args)]
struct IngestArgs {
    slo: String,
    #[arg(long, required_unless_present = "file")]
    good: Option<f64>,
    #[arg(long, required_unless_present = "file")]
    total: Option<f64>,
    /// RFC 3339 or unix seconds (default: now).
    #[arg(long)]
    timestamp: Option<String>,
    /// A JSON batch ({"events":[…]}) or NDJSON file to send as is.
    #[arg(long, conflicts_with_all = ["good", "total"])]
    file: Option<PathBuf>,
    #[arg(long)]
    idempotency_key: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// A failure with the exit code it maps to.
struct Failure(u8, anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(4, e.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate {
            files,
            strict,
            target,
        } => validate(&files, strict || target == ValidateFor::Serve),
        Command::Backtest {
            config,
            events,
            output,
        } => backtest(&config, &events, output),
        Command::Generate { target } => generate(target),
        command => runtime().and_then(|rt| rt.block_on(run_async(command))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, e)) => {
            if !format!("{e:#}").is_empty() {
                eprintln!("headroom: {e:#}");
            }
            ExitCode::from(code)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn run_async(command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve(a) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .init();
            let opts = headroom_server::ServeOptions {
                config: a.config,
                data_dir: a.storage.data_dir,
                listen: a.listen,
                database_url: a.storage.database_url,
                external_url: a.external_url,
                tls: a.tls_cert_file.zip(a.tls_key_file),
                limits: ConnectionLimits {
                    header_timeout: a.header_timeout.to_std(),
                    request_timeout: a.request_timeout.to_std(),
                    idle_timeout: a.idle_timeout.to_std(),
                    max_connections: a.max_connections,
                    shutdown_grace: a.shutdown_grace.to_std(),
                },
            };
            headroom_server::serve(opts).await.map_err(|e| match e {
                headroom_server::ServeError::Config(_) => Failure(1, e.into()),
                e => Failure(4, e.into()),
            })
        }
        Command::Token { command, storage } => token(command, storage).await,
        Command::Slo { command, client } => slo(command, client).await,
        Command::Silence { command, client } => silence::run(command, client).await,
        Command::Ingest(a) => ingest(a).await,
        Command::Oncall { command, client } => oncall::run(command, client).await,
        Command::Incident { command, client } => incident(command, client).await,
        Command::Canary { command } => canary::run(command).await,
        Command::Deploy { command, client } => deploy::run(command, client).await,
        Command::Action { command, client } => action::run(command, client).await,
        Command::Dora { command } => dora::run(command).await,
        Command::Gate {
            ask,
            command,
            client,
        } => gate::run(ask, command, client).await,
        Command::Validate { .. } | Command::Backtest { .. } | Command::Generate { .. } => {
            unreachable!("handled without a runtime")
        }
    }
}

fn validate(files: &[PathBuf], strict: bool) -> Result<(), Failure> {
    let purpose = if strict {
        headroom_spec::Purpose::Run
    } else {
        headroom_spec::Purpose::Check
    };
    match headroom_spec::load_paths_for(files, purpose) {
        Ok(config) => {
            for w in &config.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "ok: {} SLOs, {} probes, {} scrape jobs, {} backends in {} path(s)",
                config.slos.len(),
                config.probes.len(),
                config.scrape.len(),
                config.backends.len(),
                files.len()
            );
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            Err(Failure(
                1,
                anyhow::anyhow!("{} problem(s) found", problems.len()),
            ))
        }
    }
}

fn backtest(config: &[PathBuf], events: &PathBuf, output: Output) -> Result<(), Failure> {
    // The recorded events are the SLIs: whether a query could run here does not matter.
    let config =
        headroom_spec::load_paths_for(config, headroom_spec::Purpose::Rules).map_err(|ps| {
            let lines: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
            Failure(
                1,
                anyhow::anyhow!("config is invalid:\n{}", lines.join("\n")),
            )
        })?;
    let text = std::fs::read_to_string(events)
        .with_context(|| format!("cannot read {}", events.display()))?;
    let recorded = headroom_ingest::parse_recording(&events.display().to_string(), &text)
        .map_err(|e| Failure(1, e.into()))?;
    let report =
        headroom_engine::backtest::run(config.slos, recorded).map_err(|e| Failure(1, e.into()))?;
    match output {
        Output::Json => {
            for t in &report.transitions {
                let burn_rates: BTreeMap<&str, Option<f64>> = t
                    .burn_rates
                    .iter()
                    .map(|(w, r)| (w.as_str(), r.and_then(figure)))
                    .collect();
                let mut v = json!({"at": t.at.to_rfc3339(), "slo": t.slo, "severity": t.severity, "state": t.to.as_str(), "burn_rates": burn_rates});
                if !t.group.is_empty() {
                    v["group"] = Value::from(t.group.to_string());
                }
                println!("{v}");
            }
            let summary: Vec<Value> = report
                .summary
                .iter()
                .map(|s| {
                    let mut v = json!({
                        "slo": s.slo,
                        "sli": s.sli.and_then(figure),
                        "budget_consumed": figure(s.budget_consumed),
                        "budget_remaining": figure(s.budget_remaining),
                    });
                    if !s.group.is_empty() {
                        v["group"] = Value::from(s.group.to_string());
                    }
                    v
                })
                .collect();
            println!("{}", json!({ "summary": summary }));
        }
        Output::Table => {
            println!("{:<25} {:<40} {:<10} STATE", "AT", "SLO", "SEVERITY");
            for t in &report.transitions {
                let slo = if t.group.is_empty() {
                    t.slo.to_string()
                } else {
                    format!("{}{{{}}}", t.slo, t.group)
                };
                println!(
                    "{:<25} {:<40} {:<10} {}",
                    t.at.to_rfc3339(),
                    slo,
                    t.severity,
                    t.to.as_str()
                );
            }
            println!();
            println!(
                "{:<40} {:>10} {:>16} {:>17}",
                "SLO", "SLI", "BUDGET CONSUMED", "BUDGET REMAINING"
            );
            for s in &report.summary {
                let slo = if s.group.is_empty() {
                    s.slo.to_string()
                } else {
                    format!("{}{{{}}}", s.slo, s.group)
                };
                let sli = s.sli.map_or("-".to_string(), |v| format!("{:.5}", v));
                println!(
                    "{:<40} {:>10} {:>15.1}% {:>16.1}%",
                    slo,
                    sli,
                    s.budget_consumed * 100.0,
                    s.budget_remaining * 100.0
                );
            }
        }
    }
    Ok(())
}

fn generate(target: GenerateTarget) -> Result<(), Failure> {
    let GenerateTarget::Prometheus {
        files,
        period,
        windows,
        extra_labels,
        format,
    } = target;
    let invalid = |ps: Vec<headroom_spec::Problem>| {
        let lines: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
        Failure(1, anyhow::anyhow!("invalid:\n{}", lines.join("\n")))
    };
    let config = headroom_spec::load_paths_for_rules(&files).map_err(invalid)?;
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    let windows = windows
        .map(|w| headroom_spec::load_alert_windows(&w))
        .transpose()
        .map_err(invalid)?;
    let opts = headroom_rules::Options {
        extra_labels: extra_labels.into_iter().collect(),
        period,
        windows,
        ..Default::default()
    };
    let groups = headroom_rules::generate(&config.slos, &opts).map_err(|e| Failure(1, e.into()))?;
    let format = match format {
        RulesFormat::Prometheus => headroom_rules::Format::Prometheus,
        RulesFormat::PrometheusOperator => {
            let service = config.slos.first().map_or("slos", |s| s.service.as_str());
            headroom_rules::Format::operator_for_service(service, None)
        }
    };
    print!("{}", headroom_rules::to_yaml(&groups, &format));
    Ok(())
}

fn now() -> Timestamp {
    headroom_service::system_clock()()
}

async fn token(command: TokenCommand, storage: StorageArgs) -> Result<(), Failure> {
    let url = match storage.database_url {
        Some(u) => u,
        None => {
            std::fs::create_dir_all(&storage.data_dir)?;
            format!(
                "sqlite://{}",
                storage.data_dir.join("headroom.db").display()
            )
        }
    };
    let store = Store::open(&url).await?;
    match command {
        TokenCommand::Create { scope, name } => {
            let (info, plaintext) = store.create_token(&name, scope, now()).await?;
            eprintln!(
                "created token {} ({}, scope {}); it is shown only this once:",
                info.id, info.name, info.scope
            );
            println!("{plaintext}");
        }
        TokenCommand::List => {
            println!(
                "{:<24} {:<10} {:<8} {:<12} NAME",
                "ID", "PREFIX", "SCOPE", "REVOKED"
            );
            for t in store.list_tokens().await? {
                println!(
                    "{:<24} {:<10} {:<8} {:<12} {}",
                    t.id,
                    t.prefix,
                    t.scope,
                    if t.is_revoked() { "yes" } else { "no" },
                    t.name
                );
            }
        }
        TokenCommand::Revoke { id } => {
            if !store.revoke_token(&id, now()).await? {
                return Err(Failure(1, anyhow::anyhow!("no token {id:?}")));
            }
            println!("revoked {id}");
        }
    }
    store.close().await;
    Ok(())
}

/// A request body: JSON built from an API type.
type Body = Option<(String, &'static str)>;

fn json_body<T: Serialize>(value: &T) -> Body {
    Some((
        serde_json::to_string(value).expect("API types serialize"),
        "application/json",
    ))
}

/// Sends a request and returns the answer's body; 4xx maps to exit 1, unreachable or 5xx to
/// exit 3, with the server's `detail`.
async fn send(
    client: &ClientArgs,
    method: reqwest::Method,
    path: &str,
    body: Body,
    key: Option<&str>,
) -> Result<Vec<u8>, Failure> {
    let url = format!("{}{}", client.server.trim_end_matches('/'), path);
    let mut req = reqwest::Client::new().request(method, &url);
    if let Some(t) = &client.token {
        req = req.bearer_auth(t);
    }
    if let Some((b, ct)) = body {
        req = req.header("content-type", ct).body(b);
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| Failure(3, anyhow::anyhow!("cannot reach {url}: {e}")))?;
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap_or_default().to_vec();
    if status.is_success() {
        return Ok(bytes);
    }
    Err(refused(status, &bytes))
}

/// An error answer as a failure: exit 1 for 4xx, 3 otherwise, with the server's `detail`.
fn refused(status: reqwest::StatusCode, body: &[u8]) -> Failure {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .map(|e| e.detail)
        .unwrap_or_default();
    let code = if status.is_client_error() { 1 } else { 3 };
    Failure(code, anyhow::anyhow!("{status}: {detail}"))
}

/// Calls the API and reads the answer as its type (see [`send`] for the exit codes); an answer
/// that is not what the API says is a server failure (exit 3).
async fn call<T: DeserializeOwned>(
    client: &ClientArgs,
    method: reqwest::Method,
    path: &str,
    body: Body,
    key: Option<&str>,
) -> Result<T, Failure> {
    let bytes = send(client, method, path, body, key).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure(
            3,
            anyhow::anyhow!("unexpected answer from {}{path}: {e}", client.server),
        )
    })
}

/// Prints an answer as the server sent it: the typed value written back is the server's JSON
/// (`cli/tests/api_types.rs`), pretty-printed with its keys in order.
fn print_json<T: Serialize>(value: &T) {
    let v = serde_json::to_value(value).unwrap_or_default();
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

/// An enum of the API as the server spells it (`firing`, `SEV1`).
fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// An event count: whole numbers without a fraction.
fn count(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => format!("{x:.3}"),
        None => "-".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{:.1}%", x * 100.0))
}

async fn slo(command: SloCommand, client: ClientArgs) -> Result<(), Failure> {
    match command {
        SloCommand::List => {
            let list: SloList =
                call(&client, reqwest::Method::GET, "/api/v1/slos", None, None).await?;
            if client.output == Output::Json {
                print_json(&list.slos);
                return Ok(());
            }
            println!(
                "{:<40} {:>9} {:>10} {:>10} {:>10} ALERTS",
                "SLO", "OBJECTIVE", "SLI", "REMAINING", "BURN 1h"
            );
            for s in &list.slos {
                let f = s.standing.figures();
                let firing: Vec<&str> = f
                    .alerts
                    .iter()
                    .filter(|a| a.state == AlertState::Firing)
                    .map(|a| a.name.as_str())
                    .collect();
                println!(
                    "{:<40} {:>9} {:>10} {:>10} {:>10} {}",
                    s.id,
                    pct(Some(s.objective)),
                    f.sli.map_or("-".into(), |x| format!("{x:.5}")),
                    pct(f.budget_remaining),
                    f.burn_rates
                        .get("1h")
                        .copied()
                        .flatten()
                        .map_or("-".into(), |x| format!("{x:.2}")),
                    if firing.is_empty() {
                        "-".to_string()
                    } else {
                        firing.join(",")
                    }
                );
            }
        }
        SloCommand::Get { id } => {
            let s: Slo = call(
                &client,
                reqwest::Method::GET,
                &format!("/api/v1/slos/{id}"),
                None,
                None,
            )
            .await?;
            if client.output == Output::Json {
                print_json(&s);
                return Ok(());
            }
            let f = s.standing.figures();
            println!("SLO:               {}", s.id);
            println!("service:           {}", s.service);
            println!(
                "objective:         {} over {}",
                pct(Some(s.objective)),
                s.window
            );
            println!(
                "events:            {} good of {}",
                count(f.good_events),
                count(f.total_events)
            );
            println!(
                "SLI:               {}",
                f.sli.map_or("no data".into(), |x| format!("{x:.6}"))
            );
            println!("budget remaining:  {}", pct(f.budget_remaining));
            // Shortest window first, as the server lists them.
            let r: Vec<String> = s
                .alert_windows
                .iter()
                .map(|w| {
                    let rate = f.burn_rates.get(w).copied().flatten();
                    format!("{w}={}", rate.map_or("-".into(), |x| format!("{x:.2}")))
                })
                .collect();
            println!("burn rates:        {}", r.join(" "));
            for a in &f.alerts {
                println!("alert {:<12} {}", a.name, word(&a.state));
            }
        }
    }
    Ok(())
}

async fn ingest(a: IngestArgs) -> Result<(), Failure> {
    let body = match &a.file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            let ct = if text.trim_start().starts_with("{\"events\"") {
                "application/json"
            } else {
                "application/x-ndjson"
            };
            Some((text, ct))
        }
        None => {
            let (Some(good), Some(total)) = (a.good, a.total) else {
                return Err(Failure(
                    2,
                    anyhow::anyhow!("--good and --total are needed without --file"),
                ));
            };
            let at = a.timestamp.clone().unwrap_or_else(|| now().to_rfc3339());
            json_body(&EventBatch {
                events: vec![Event {
                    timestamp: EventTime::Text(at),
                    good,
                    total,
                    labels: Default::default(),
                }],
            })
        }
    };
    let accepted: EventsAccepted = call(
        &a.client,
        reqwest::Method::POST,
        &format!("/api/v1/slos/{}/events", a.slo),
        body,
        a.idempotency_key.as_deref(),
    )
    .await?;
    if a.client.output == Output::Json {
        println!("{}", serde_json::to_value(&accepted).unwrap_or_default());
    } else if accepted.duplicate {
        println!("already counted (same Idempotency-Key)");
    } else {
        println!("accepted {} event record(s)", accepted.accepted);
    }
    Ok(())
}

#[derive(Subcommand)]
enum IncidentCommand {
    /// Open incidents, newest first (every incident with --all).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Declare an incident; prints its id.
    Declare {
        #[arg(long)]
        title: String,
        /// SEV1 (worst) to SEV4.
        #[arg(long)]
        severity: String,
        /// An affected service (repeatable).
        #[arg(long = "service")]
        services: Vec<String>,
        /// An affected SLO id (repeatable).
        #[arg(long = "slo")]
        slos: Vec<String>,
        #[arg(long)]
        commander: Option<String>,
        /// The deploy (id) that caused it.
        #[arg(long, conflicts_with_all = ["version", "not_caused_by_change"])]
        deploy: Option<i64>,
        /// The version that caused it.
        #[arg(long, conflicts_with = "not_caused_by_change")]
        version: Option<String>,
        /// No change caused it: DORA counts it against no deploy.
        #[arg(long)]
        not_caused_by_change: bool,
    },
    /// Say what caused an incident, for DORA: one of --deploy, --version,
    /// --not-caused-by-change, or --automatic (the deploy found by time).
    Attribute {
        id: u64,
        #[arg(long)]
        deploy: Option<i64>,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        not_caused_by_change: bool,
        #[arg(long)]
        automatic: bool,
    },
    /// Acknowledge an incident.
    Ack { id: u64 },
    /// Resolve an incident.
    Resolve { id: u64 },
    /// Add a note to an incident's timeline.
    Note { id: u64, text: String },
    /// Move an incident's status: acknowledged, investigating, identified, monitoring, resolved.
    Status { id: u64, status: String },
    /// Change an incident's severity (SEV1 to SEV4).
    Severity { id: u64, severity: String },
    /// Give a role (commander, communications, scribe) to a user.
    Role { id: u64, role: String, user: String },
    /// Track an action item: `action add ID TEXT`, `action done ID N`.
    Action {
        #[command(subcommand)]
        command: ActionCommand,
    },
    /// Print an incident's postmortem draft (Markdown).
    Postmortem { id: u64 },
}

#[derive(Subcommand)]
enum ActionCommand {
    /// Add an action item.
    Add {
        id: u64,
        text: String,
        #[arg(long)]
        owner: Option<String>,
        /// Due date, RFC 3339.
        #[arg(long)]
        due: Option<String>,
    },
    /// Mark action item N done.
    Done { id: u64, n: u32 },
    /// Mark action item N open again.
    Reopen { id: u64, n: u32 },
}

async fn incident(command: IncidentCommand, client: ClientArgs) -> Result<(), Failure> {
    use reqwest::Method;
    let changed = match command {
        IncidentCommand::List { all } => {
            let path = format!(
                "/api/v1/incidents?status={}",
                if all { "all" } else { "open" }
            );
            let list: IncidentList = call(&client, Method::GET, &path, None, None).await?;
            if client.output == Output::Json {
                print_json(&list.incidents);
                return Ok(());
            }
            println!(
                "{:>6} {:<8} {:<13} {:<20} TITLE",
                "ID", "SEVERITY", "STATUS", "OPENED"
            );
            for i in &list.incidents {
                println!(
                    "{:>6} {:<8} {:<13} {:<20} {}",
                    i.id.to_string(),
                    word(&i.severity),
                    word(&i.status),
                    i.opened_at,
                    i.title
                );
            }
            return Ok(());
        }
        IncidentCommand::Declare {
            title,
            severity,
            services,
            slos,
            commander,
            deploy,
            version,
            not_caused_by_change,
        } => {
            let body = Declaration {
                title,
                severity,
                services,
                slos,
                started_at: None,
                commander,
                deploy,
                version,
                not_caused_by_change,
            };
            let i: Incident = call(
                &client,
                Method::POST,
                "/api/v1/incidents",
                json_body(&body),
                None,
            )
            .await?;
            if client.output == Output::Table {
                println!(
                    "declared incident {} ({}): {}",
                    i.id,
                    word(&i.severity),
                    i.title
                );
                return Ok(());
            }
            i
        }
        IncidentCommand::Attribute {
            id,
            deploy,
            version,
            not_caused_by_change,
            automatic,
        } => {
            let given = [
                deploy.is_some(),
                version.is_some(),
                not_caused_by_change,
                automatic,
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(Failure(
                    2,
                    anyhow::anyhow!(
                        "give one of --deploy, --version, --not-caused-by-change, --automatic"
                    ),
                ));
            }
            let done = match (&deploy, &version) {
                (Some(d), _) => format!("attributed to deploy {d}"),
                (_, Some(v)) => format!("attributed to version {v}"),
                _ if not_caused_by_change => "marked not caused by a change".to_string(),
                _ => "attributed automatically".to_string(),
            };
            let body = json_body(&Cause {
                deploy,
                version,
                not_caused_by_change,
            });
            incident_op(&client, id, Method::PUT, "attribution", body, &done).await?
        }
        IncidentCommand::Ack { id } => {
            incident_op(
                &client,
                id,
                Method::POST,
                "acknowledge",
                None,
                "acknowledged",
            )
            .await?
        }
        IncidentCommand::Resolve { id } => {
            incident_op(&client, id, Method::POST, "resolve", None, "resolved").await?
        }
        IncidentCommand::Note { id, text } => {
            let body = json_body(&Note { text });
            incident_op(&client, id, Method::POST, "notes", body, "noted").await?
        }
        IncidentCommand::Status { id, status } => {
            let done = format!("moved to {status}");
            let body = json_body(&StatusChange { status });
            incident_op(&client, id, Method::POST, "status", body, &done).await?
        }
        IncidentCommand::Severity { id, severity } => {
            let done = format!("is now {severity}");
            let body = json_body(&SeverityChange { severity });
            incident_op(&client, id, Method::POST, "severity", body, &done).await?
        }
        IncidentCommand::Role { id, role, user } => {
            let done = format!("has {user} as {role}");
            let body = json_body(&RoleAssignment { role, user });
            incident_op(&client, id, Method::POST, "roles", body, &done).await?
        }
        IncidentCommand::Action { command } => {
            let (id, op, method, body, done) = match command {
                ActionCommand::Add {
                    id,
                    text,
                    owner,
                    due,
                } => (
                    id,
                    "action-items".to_string(),
                    Method::POST,
                    json_body(&NewActionItem { text, owner, due }),
                    "has a new action item".to_string(),
                ),
                ActionCommand::Done { id, n } => (
                    id,
                    format!("action-items/{n}"),
                    Method::PATCH,
                    json_body(&ActionItemPatch {
                        status: Some(ActionItemStatus::Done),
                        ..Default::default()
                    }),
                    format!("action item {n} done"),
                ),
                ActionCommand::Reopen { id, n } => (
                    id,
                    format!("action-items/{n}"),
                    Method::PATCH,
                    json_body(&ActionItemPatch {
                        status: Some(ActionItemStatus::Open),
                        ..Default::default()
                    }),
                    format!("action item {n} open"),
                ),
            };
            incident_op(&client, id, method, &op, body, &done).await?
        }
        IncidentCommand::Postmortem { id } => {
            print!(
                "{}",
                call_text(&client, &format!("/api/v1/incidents/{id}/postmortem")).await?
            );
            return Ok(());
        }
    };
    if client.output == Output::Json {
        print_json(&changed);
    }
    Ok(())
}

/// One change to an incident; in table output, says what became of it.
async fn incident_op(
    client: &ClientArgs,
    id: u64,
    method: reqwest::Method,
    op: &str,
    body: Body,
    done: &str,
) -> Result<Incident, Failure> {
    let path = format!("/api/v1/incidents/{id}/{op}");
    let i: Incident = call(client, method, &path, body, None).await?;
    if client.output == Output::Table {
        println!("incident {id} {done} (status {})", word(&i.status));
    }
    Ok(i)
}

/// A GET answered with text rather than JSON (a postmortem's Markdown); errors as [`send`].
async fn call_text(client: &ClientArgs, path: &str) -> Result<String, Failure> {
    let url = format!("{}{}", client.server.trim_end_matches('/'), path);
    let mut req = reqwest::Client::new().get(&url);
    if let Some(t) = &client.token {
        req = req.bearer_auth(t);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| Failure(3, anyhow::anyhow!("cannot reach {url}: {e}")))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| Failure(3, anyhow::anyhow!("reading {url}: {e}")))?;
    if status.is_success() {
        return Ok(text);
    }
    let detail = serde_json::from_str::<ErrorBody>(&text)
        .map(|e| e.detail)
        .unwrap_or(text);
    let code = if status.is_client_error() { 1 } else { 3 };
    Err(Failure(code, anyhow::anyhow!("{status}: {detail}")))
}
