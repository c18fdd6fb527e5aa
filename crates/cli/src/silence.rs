//! `headroom silence add|list|expire`: Alertmanager silences on a running server, through the
//! same API `amtool` uses.

use clap::Subcommand;
use headroom_routing::matcher::parse_matchers;
use serde_json::{Value, json};

use crate::{ClientArgs, Failure, Output, call};

#[derive(Subcommand)]
pub enum SilenceCommand {
    /// Silence the alerts matching every matcher (`alertname=Disk`, `service=~"api.*"`).
    Add {
        #[arg(required = true)]
        matchers: Vec<String>,
        /// How long from the start, e.g. 2h.
        #[arg(long, default_value = "1h")]
        duration: headroom_core::Span,
        /// When it starts (RFC 3339); now when omitted.
        #[arg(long)]
        start: Option<String>,
        #[arg(long, short = 'c')]
        comment: String,
        #[arg(long, env = "USER", default_value = "headroom")]
        author: String,
    },
    /// Silences in force and pending (with --expired, also ended ones).
    List {
        #[arg(long)]
        expired: bool,
    },
    /// End a silence now.
    Expire {
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

pub async fn run(command: SilenceCommand, client: ClientArgs) -> Result<(), Failure> {
    match command {
        SilenceCommand::Add {
            matchers,
            duration,
            start,
            comment,
            author,
        } => {
            let mut parsed = Vec::new();
            for text in &matchers {
                parsed.extend(
                    parse_matchers(text)
                        .map_err(|e| Failure(2, anyhow::anyhow!("matcher {text:?}: {e}")))?,
                );
            }
            let api = headroom_service::records::matchers_json(&parsed);
            let starts = match start {
                Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
                    .map_err(|e| Failure(2, anyhow::anyhow!("--start {s:?}: {e}")))?
                    .with_timezone(&chrono::Utc),
                None => chrono::Utc::now(),
            };
            let ends = starts + chrono::Duration::milliseconds(duration.millis());
            let body = json!({
                "matchers": api,
                "startsAt": starts.to_rfc3339(),
                "endsAt": ends.to_rfc3339(),
                "createdBy": author,
                "comment": comment,
            });
            let v = call(
                &client,
                reqwest::Method::POST,
                "/api/v2/silences",
                Some((body.to_string(), "application/json")),
                None,
            )
            .await?;
            println!("{}", v["silenceID"].as_str().unwrap_or_default());
        }
        SilenceCommand::List { expired } => {
            let v = call(
                &client,
                reqwest::Method::GET,
                "/api/v2/silences",
                None,
                None,
            )
            .await?;
            let shown: Vec<&Value> = v
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| expired || s["status"]["state"] != "expired")
                .collect();
            if client.output == Output::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&shown).unwrap_or_default()
                );
                return Ok(());
            }
            println!(
                "{:<36} {:<8} {:<24} {:<24} {:<12} MATCHERS / COMMENT",
                "ID", "STATE", "STARTS", "ENDS", "BY"
            );
            for s in shown {
                let matchers: Vec<String> = s["matchers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        let op = match (m["isRegex"].as_bool(), m["isEqual"].as_bool()) {
                            (Some(true), Some(false)) => "!~",
                            (Some(true), _) => "=~",
                            (_, Some(false)) => "!=",
                            _ => "=",
                        };
                        format!(
                            "{}{op}{:?}",
                            m["name"].as_str().unwrap_or(""),
                            m["value"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                println!(
                    "{:<36} {:<8} {:<24} {:<24} {:<12} {} / {}",
                    s["id"].as_str().unwrap_or(""),
                    s["status"]["state"].as_str().unwrap_or(""),
                    s["startsAt"].as_str().unwrap_or(""),
                    s["endsAt"].as_str().unwrap_or(""),
                    s["createdBy"].as_str().unwrap_or(""),
                    matchers.join(","),
                    s["comment"].as_str().unwrap_or("")
                );
            }
        }
        SilenceCommand::Expire { ids } => {
            for id in ids {
                call(
                    &client,
                    reqwest::Method::DELETE,
                    &format!("/api/v2/silence/{id}"),
                    None,
                    None,
                )
                .await?;
                println!("expired {id}");
            }
        }
    }
    Ok(())
}
