//! `headroom oncall who|ack|resolve`: who is on call, and answering escalations, on a running
//! server.

use clap::Subcommand;
use serde_json::{Value, json};

use crate::{ClientArgs, Failure, Output, call};

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
fn encode(s: &str) -> String {
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
            let v = call(
                client,
                reqwest::Method::GET,
                "/api/v1/schedules",
                None,
                None,
            )
            .await?;
            v["schedules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["id"].as_str().map(str::to_string))
                .collect()
        }
    };
    let query = at.map_or_else(String::new, |t| format!("?at={}", encode(&t)));
    let mut answers = Vec::new();
    for s in &schedules {
        let path = format!("/api/v1/schedules/{}/oncall{query}", encode(s));
        answers.push(call(client, reqwest::Method::GET, &path, None, None).await?);
    }
    if client.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answers).unwrap_or_default()
        );
        return Ok(());
    }
    println!("{:<24} {:<24} {:<22} UNTIL", "SCHEDULE", "ON CALL", "FROM");
    for a in &answers {
        let user = match &a["user"] {
            Value::Null => "nobody".to_string(),
            u => u["name"].as_str().unwrap_or("").to_string(),
        };
        let from = match a["source"]["type"].as_str() {
            Some("override") => format!("override {}", a["source"]["id"].as_str().unwrap_or("")),
            Some("layer") => format!("layer {}", a["source"]["name"].as_str().unwrap_or("")),
            _ => "-".to_string(),
        };
        println!(
            "{:<24} {:<24} {:<22} {}",
            a["schedule"].as_str().unwrap_or(""),
            user,
            from,
            a["until"].as_str().unwrap_or("-")
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
    let body = json!({ "by": by }).to_string();
    let v = call(
        client,
        reqwest::Method::POST,
        &path,
        Some((body, "application/json")),
        None,
    )
    .await?;
    if client.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!(
            "escalation {} is {}",
            v["id"].as_str().unwrap_or(id),
            v["state"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}
