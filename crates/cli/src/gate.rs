//! `headroom gate`: may a service be released now? Asks the server's release gate and exits 0
//! on allow, 1 on deny (printing the reasons), 2 when it could not ask (server unreachable, a
//! refused request), so a pipeline step is just `headroom gate … || exit 1`.
//! `headroom gate override` opens a gate until a time, with a reason.

use clap::{Args, Subcommand};
use headroom_api::gate::{GateDecision, GateOverride, GateVerdict, NewGateOverride};
use headroom_core::{Span, Timestamp};

use crate::oncall::encode;
use crate::{ClientArgs, Failure, Output, call, json_body, print_json, word};

/// Exit code of a denied release.
const DENIED: u8 = 1;
/// Exit code when the gate could not be asked.
const ERROR: u8 = 2;

#[derive(Args)]
pub struct GateArgs {
    #[arg(long, required = true)]
    service: Option<String>,
    /// The service's production environment when omitted.
    #[arg(long)]
    environment: Option<String>,
    /// A label of the release such as hotfix or rollback; repeat for more.
    #[arg(long = "label")]
    labels: Vec<String>,
}

#[derive(Subcommand)]
pub enum GateCommand {
    /// Open a service's gate against its policy until a time, with a reason (scope respond).
    Override {
        #[arg(long)]
        service: String,
        #[arg(long)]
        environment: String,
        /// Why the gate is opened.
        #[arg(long)]
        reason: String,
        /// RFC 3339, or a duration from now such as 2h (at most 7 days).
        #[arg(long)]
        until: String,
        /// Who approved it; the token's name when omitted.
        #[arg(long)]
        approver: Option<String>,
    },
}

/// Any failure to ask is exit 2, whatever kind it is.
fn error(f: Failure) -> Failure {
    Failure(ERROR, f.1)
}

pub async fn run(
    ask: GateArgs,
    command: Option<GateCommand>,
    client: ClientArgs,
) -> Result<(), Failure> {
    match command {
        Some(c) => add_override(c, client).await.map_err(error),
        None => decide(ask, client).await,
    }
}

async fn decide(ask: GateArgs, client: ClientArgs) -> Result<(), Failure> {
    let service = ask.service.unwrap_or_default();
    let mut query = Vec::new();
    if let Some(e) = &ask.environment {
        query.push(format!("environment={}", encode(e)));
    }
    for l in &ask.labels {
        query.push(format!("label={}", encode(l)));
    }
    let path = format!("/api/v1/gates/{}?{}", encode(&service), query.join("&"));
    let d: GateDecision = call(&client, reqwest::Method::GET, &path, None, None)
        .await
        .map_err(error)?;
    match client.output {
        Output::Json => print_json(&d),
        Output::Table => {
            println!(
                "{} release of {} to {} (decision {})",
                word(&d.decision),
                d.service,
                d.environment,
                d.decision_id
            );
            for r in &d.reasons {
                let mark = if r.denies { "deny" } else { "note" };
                println!("  {mark:<4} {:<22} {}", word(&r.rule), r.message);
            }
        }
    }
    match d.decision {
        GateVerdict::Allow => Ok(()),
        // The reasons are printed; nothing more to say on stderr.
        GateVerdict::Deny => Err(Failure(DENIED, anyhow::anyhow!(""))),
    }
}

/// `until` as RFC 3339 text: given so, or `now` plus a duration.
fn until(text: &str, now: Timestamp) -> Result<String, Failure> {
    if let Ok(span) = text.parse::<Span>() {
        return Ok((now + span).to_rfc3339());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_rfc3339())
        .map_err(|_| {
            Failure(
                ERROR,
                anyhow::anyhow!("--until {text:?}: expected RFC 3339 or a duration such as 2h"),
            )
        })
}

async fn add_override(command: GateCommand, client: ClientArgs) -> Result<(), Failure> {
    let GateCommand::Override {
        service,
        environment,
        reason,
        until: until_text,
        approver,
    } = command;
    let now = Timestamp::from_chrono(&chrono::Utc::now());
    let body = NewGateOverride {
        environment,
        reason,
        until: until(&until_text, now)?,
        approver,
    };
    let o: GateOverride = call(
        &client,
        reqwest::Method::POST,
        &format!("/api/v1/gates/{}/overrides", encode(&service)),
        json_body(&body),
        None,
    )
    .await?;
    match client.output {
        Output::Json => print_json(&o),
        Output::Table => println!(
            "override {} of {} in {} until {}, approved by {}: {}",
            o.id, o.service, o.environment, o.until, o.approver, o.reason
        ),
    }
    Ok(())
}
