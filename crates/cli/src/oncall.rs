//! `headroom oncall who|ack|resolve`: who is on call, and answering escalations, on a running
//! server.

use clap::Subcommand;
use headroom_api::escalation::{Escalation, Responder};
use headroom_api::oncall::{OnCallAt, ScheduleList, ShiftSource};

use crate::{ClientArgs, Failure, Output, call, json_body, print_json, word};

#[derive(Subcommand)]
pub enum OncallCommand {
    /// Who is on call (every schedule unless --schedule is given).
    Who {
        #[arg(long)]
        schedule: Option<String>,
        /// The instant to ask about (RFC 3339); now when omitted.
        #[arg(long)]
        at: Option<String>,
    },
    /// Acknowledge an escalation: no more pages for it.
    Ack {
        id: String,
        #[arg(long, env = "USER")]
        by: Option<String>,
    },
    /// Resolve an escalation.
    Resolve {
        id: String,
        #[arg(long, env = "USER")]
        by: Option<String>,
    },
}

/// A path segment or query value, percent-encoded.
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn run(command: OncallCommand, client: ClientArgs) -> Result<(), Failure> {
    match command {
        OncallCommand::Who { schedule, at } => who(&client, schedule, at).await,
        OncallCommand::Ack { id, by } => act(&client, &id, "ack", by).await,
        OncallCommand::Resolve { id, by } => act(&client, &id, "resolve", by).await,
    }
}

async fn who(
    client: &ClientArgs,
    schedule: Option<String>,
    at: Option<String>,
) -> Result<(), Failure> {
    let schedules = match schedule {
        Some(s) => vec![s],
        None => {
            let list: ScheduleList = call(
                client,
                reqwest::Method::GET,
                "/api/v1/schedules",
                None,
                None,
            )
            .await?;
            list.schedules.into_iter().map(|s| s.id).collect()
        }
    };
    let query = at.map_or_else(String::new, |t| format!("?at={}", encode(&t)));
    let mut answers: Vec<OnCallAt> = Vec::new();
    for s in &schedules {
        let path = format!("/api/v1/schedules/{}/oncall{query}", encode(s));
        answers.push(call(client, reqwest::Method::GET, &path, None, None).await?);
    }
    if client.output == Output::Json {
        print_json(&answers);
        return Ok(());
    }
    println!("{:<24} {:<24} {:<22} UNTIL", "SCHEDULE", "ON CALL", "FROM");
    for a in &answers {
        let user = a.user.as_ref().map_or("nobody", |u| u.name.as_str());
        let from = match &a.source {
            Some(ShiftSource::Override { id, .. }) => format!("override {id}"),
            Some(ShiftSource::Layer { name, .. }) => {
                format!("layer {}", name.as_deref().unwrap_or(""))
            }
            None => "-".to_string(),
        };
        println!(
            "{:<24} {:<24} {:<22} {}",
            a.schedule,
            user,
            from,
            a.until.as_ref().map_or("-", |t| t.as_str())
        );
    }
    Ok(())
}

async fn act(
    client: &ClientArgs,
    id: &str,
    action: &str,
    by: Option<String>,
) -> Result<(), Failure> {
    let path = format!("/api/v1/escalations/{}/{action}", encode(id));
    let e: Escalation = call(
        client,
        reqwest::Method::POST,
        &path,
        json_body(&Responder { by }),
        None,
    )
    .await?;
    if client.output == Output::Json {
        print_json(&e);
    } else {
        println!("escalation {} is {}", e.id, word(&e.state));
    }
    Ok(())
}
