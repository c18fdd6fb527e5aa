//! `headroom`: the server, and a thin command-line client of its API plus local commands.
//!
//! Exit codes: 0 success; 1 the input was refused (invalid config, rejected events, a 4xx answer);
//! 2 usage error; 3 the server could not be reached or failed (5xx); 4 local storage failed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use headroom_core::Timestamp;
use headroom_store::{Scope, Store, TokenStore};
use serde_json::{Value, json};

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
    /// Check config files; prints FILE:LINE:COL: message per problem, exit 1 if any.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
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
        Command::Validate { files } => validate(&files),
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
        Command::Validate { .. } | Command::Backtest { .. } | Command::Generate { .. } => {
            unreachable!("handled without a runtime")
        }
    }
}

fn validate(files: &[PathBuf]) -> Result<(), Failure> {
    match headroom_spec::load_paths(files) {
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
    let config = headroom_spec::load_paths(config).map_err(|ps| {
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
                let mut v = json!({"at": t.at.to_rfc3339(), "slo": t.slo, "severity": t.severity, "state": t.to.as_str(), "burn_rates": t.burn_rates});
                if !t.group.is_empty() {
                    v["group"] = Value::from(t.group.clone());
                }
                println!("{v}");
            }
            println!("{}", json!({"summary": report.summary}));
        }
        Output::Table => {
            println!("{:<25} {:<40} {:<10} STATE", "AT", "SLO", "SEVERITY");
            for t in &report.transitions {
                let slo = if t.group.is_empty() {
                    t.slo.clone()
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
                    s.slo.clone()
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

/// Calls the API; 4xx maps to exit 1, unreachable or 5xx to exit 3.
async fn call(
    client: &ClientArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<(String, &str)>,
    key: Option<&str>,
) -> Result<Value, Failure> {
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
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(v);
    }
    let detail = v
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let code = if status.is_client_error() { 1 } else { 3 };
    Err(Failure(code, anyhow::anyhow!("{status}: {detail}")))
}

/// An event count: whole numbers without a fraction.
fn count(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => format!("{x:.3}"),
        None => "-".into(),
    }
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or("-".into(), |x| format!("{:.1}%", x * 100.0))
}

async fn slo(command: SloCommand, client: ClientArgs) -> Result<(), Failure> {
    match command {
        SloCommand::List => {
            let v = call(&client, reqwest::Method::GET, "/api/v1/slos", None, None).await?;
            if client.output == Output::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v["slos"]).unwrap_or_default()
                );
                return Ok(());
            }
            println!(
                "{:<40} {:>9} {:>10} {:>10} {:>10} ALERTS",
                "SLO", "OBJECTIVE", "SLI", "REMAINING", "BURN 1h"
            );
            for s in v["slos"].as_array().into_iter().flatten() {
                let firing: Vec<&str> = s["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["state"] == "firing")
                    .filter_map(|a| a["name"].as_str())
                    .collect();
                println!(
                    "{:<40} {:>9} {:>10} {:>10} {:>10} {}",
                    s["id"].as_str().unwrap_or(""),
                    pct(&s["objective"]),
                    s["sli"].as_f64().map_or("-".into(), |x| format!("{x:.5}")),
                    pct(&s["budget_remaining"]),
                    s["burn_rates"]["1h"]
                        .as_f64()
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
            let v = call(
                &client,
                reqwest::Method::GET,
                &format!("/api/v1/slos/{id}"),
                None,
                None,
            )
            .await?;
            if client.output == Output::Json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(());
            }
            println!("SLO:               {}", v["id"].as_str().unwrap_or(""));
            println!("service:           {}", v["service"].as_str().unwrap_or(""));
            println!(
                "objective:         {} over {}",
                pct(&v["objective"]),
                v["window"].as_str().unwrap_or("")
            );
            println!(
                "events:            {} good of {}",
                count(&v["good_events"]),
                count(&v["total_events"])
            );
            println!(
                "SLI:               {}",
                v["sli"]
                    .as_f64()
                    .map_or("no data".into(), |x| format!("{x:.6}"))
            );
            println!("budget remaining:  {}", pct(&v["budget_remaining"]));
            // Shortest window first, as the server lists them.
            let r: Vec<String> = v["alert_windows"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|w| {
                    let rate = v["burn_rates"][w].as_f64();
                    format!("{w}={}", rate.map_or("-".into(), |x| format!("{x:.2}")))
                })
                .collect();
            println!("burn rates:        {}", r.join(" "));
            for a in v["alerts"].as_array().into_iter().flatten() {
                println!(
                    "alert {:<12} {}",
                    a["name"].as_str().unwrap_or(""),
                    a["state"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

async fn ingest(a: IngestArgs) -> Result<(), Failure> {
    let (body, ct) = match &a.file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            let ct = if text.trim_start().starts_with("{\"events\"") {
                "application/json"
            } else {
                "application/x-ndjson"
            };
            (text, ct)
        }
        None => {
            let ts = match &a.timestamp {
                Some(t) => Value::from(t.clone()),
                None => Value::from(now().to_rfc3339()),
            };
            (
                json!({"events": [{"timestamp": ts, "good": a.good, "total": a.total}]})
                    .to_string(),
                "application/json",
            )
        }
    };
    let v = call(
        &a.client,
        reqwest::Method::POST,
        &format!("/api/v1/slos/{}/events", a.slo),
        Some((body, ct)),
        a.idempotency_key.as_deref(),
    )
    .await?;
    if a.client.output == Output::Json {
        println!("{v}");
    } else if v["duplicate"] == true {
        println!("already counted (same Idempotency-Key)");
    } else {
        println!("accepted {} event record(s)", v["accepted"]);
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
    let json_body = |v: Value| Some((v.to_string(), "application/json"));
    let v = match command {
        IncidentCommand::List { all } => {
            let path = format!(
                "/api/v1/incidents?status={}",
                if all { "all" } else { "open" }
            );
            let v = call(&client, Method::GET, &path, None, None).await?;
            if client.output == Output::Table {
                println!(
                    "{:>6} {:<8} {:<13} {:<20} TITLE",
                    "ID", "SEVERITY", "STATUS", "OPENED"
                );
                for i in v["incidents"].as_array().into_iter().flatten() {
                    println!(
                        "{:>6} {:<8} {:<13} {:<20} {}",
                        i["id"].to_string(),
                        i["severity"].as_str().unwrap_or(""),
                        i["status"].as_str().unwrap_or(""),
                        i["opened_at"].as_str().unwrap_or(""),
                        i["title"].as_str().unwrap_or("")
                    );
                }
                return Ok(());
            }
            v["incidents"].clone()
        }
        IncidentCommand::Declare {
            title,
            severity,
            services,
            slos,
            commander,
        } => {
            let body = json!({"title": title, "severity": severity, "services": services,
                              "slos": slos, "commander": commander});
            let v = call(
                &client,
                Method::POST,
                "/api/v1/incidents",
                json_body(body),
                None,
            )
            .await?;
            if client.output == Output::Table {
                println!(
                    "declared incident {} ({}): {}",
                    v["id"],
                    v["severity"].as_str().unwrap_or(""),
                    v["title"].as_str().unwrap_or("")
                );
                return Ok(());
            }
            v
        }
        IncidentCommand::Ack { id } => {
            incident_op(
                &client,
                id,
                Method::POST,
                "acknowledge",
                json!({}),
                "acknowledged",
            )
            .await?
        }
        IncidentCommand::Resolve { id } => {
            incident_op(&client, id, Method::POST, "resolve", json!({}), "resolved").await?
        }
        IncidentCommand::Note { id, text } => {
            incident_op(
                &client,
                id,
                Method::POST,
                "notes",
                json!({"text": text}),
                "noted",
            )
            .await?
        }
        IncidentCommand::Status { id, status } => {
            let done = format!("moved to {status}");
            incident_op(
                &client,
                id,
                Method::POST,
                "status",
                json!({"status": status}),
                &done,
            )
            .await?
        }
        IncidentCommand::Severity { id, severity } => {
            let done = format!("is now {severity}");
            incident_op(
                &client,
                id,
                Method::POST,
                "severity",
                json!({"severity": severity}),
                &done,
            )
            .await?
        }
        IncidentCommand::Role { id, role, user } => {
            let done = format!("has {user} as {role}");
            let body = json!({"role": role, "user": user});
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
                    json!({"text": text, "owner": owner, "due": due}),
                    "has a new action item".to_string(),
                ),
                ActionCommand::Done { id, n } => (
                    id,
                    format!("action-items/{n}"),
                    Method::PATCH,
                    json!({"status": "done"}),
                    format!("action item {n} done"),
                ),
                ActionCommand::Reopen { id, n } => (
                    id,
                    format!("action-items/{n}"),
                    Method::PATCH,
                    json!({"status": "open"}),
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
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    Ok(())
}

/// One change to an incident; in table output, says what became of it.
async fn incident_op(
    client: &ClientArgs,
    id: u64,
    method: reqwest::Method,
    op: &str,
    body: Value,
    done: &str,
) -> Result<Value, Failure> {
    let path = format!("/api/v1/incidents/{id}/{op}");
    let v = call(
        client,
        method,
        &path,
        Some((body.to_string(), "application/json")),
        None,
    )
    .await?;
    if client.output == Output::Table {
        println!(
            "incident {id} {done} (status {})",
            v["status"].as_str().unwrap_or("")
        );
    }
    Ok(v)
}

/// A GET answered with text rather than JSON (a postmortem's Markdown); errors as [`call`].
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
    let detail = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_string))
        .unwrap_or(text);
    let code = if status.is_client_error() { 1 } else { 3 };
    Err(Failure(code, anyhow::anyhow!("{status}: {detail}")))
}
