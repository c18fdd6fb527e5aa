//! `headroom silence add|list|expire`: Alertmanager silences on a running server, through the
//! same API `amtool` uses.

use clap::Subcommand;
use headroom_api::Time;
use headroom_api::alertmanager::{
    GettableSilence, Matcher, PostableSilence, SilenceCreated, SilenceState,
};
use headroom_routing::matcher::{MatchOp, parse_matchers};

use crate::{ClientArgs, Failure, Output, call, json_body, print_json, send, word};

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
            let starts = match start {
                Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
                    .map_err(|e| Failure(2, anyhow::anyhow!("--start {s:?}: {e}")))?
                    .with_timezone(&chrono::Utc),
                None => chrono::Utc::now(),
            };
            let ends = starts + chrono::Duration::milliseconds(duration.millis());
            let body = PostableSilence {
                id: None,
                matchers: parsed
                    .iter()
                    .map(|m| Matcher {
                        name: m.name().to_string(),
                        value: m.value().to_string(),
                        is_regex: matches!(m.op(), MatchOp::Regex | MatchOp::NotRegex),
                        is_equal: matches!(m.op(), MatchOp::Equal | MatchOp::Regex),
                    })
                    .collect(),
                starts_at: Time(starts.to_rfc3339()),
                ends_at: Time(ends.to_rfc3339()),
                created_by: author,
                comment,
            };
            let created: SilenceCreated = call(
                &client,
                reqwest::Method::POST,
                "/api/v2/silences",
                json_body(&body),
                None,
            )
            .await?;
            println!("{}", created.silence_id);
        }
        SilenceCommand::List { expired } => {
            let all: Vec<GettableSilence> = call(
                &client,
                reqwest::Method::GET,
                "/api/v2/silences",
                None,
                None,
            )
            .await?;
            let shown: Vec<&GettableSilence> = all
                .iter()
                .filter(|s| expired || s.status.state != SilenceState::Expired)
                .collect();
            if client.output == Output::Json {
                print_json(&shown);
                return Ok(());
            }
            println!(
                "{:<36} {:<8} {:<24} {:<24} {:<12} MATCHERS / COMMENT",
                "ID", "STATE", "STARTS", "ENDS", "BY"
            );
            for s in shown {
                let matchers: Vec<String> = s
                    .matchers
                    .iter()
                    .map(|m| {
                        let op = match (m.is_regex, m.is_equal) {
                            (true, false) => "!~",
                            (true, true) => "=~",
                            (false, false) => "!=",
                            (false, true) => "=",
                        };
                        format!("{}{op}{:?}", m.name, m.value)
                    })
                    .collect();
                println!(
                    "{:<36} {:<8} {:<24} {:<24} {:<12} {} / {}",
                    s.id,
                    word(&s.status.state),
                    s.starts_at,
                    s.ends_at,
                    s.created_by,
                    matchers.join(","),
                    s.comment
                );
            }
        }
        SilenceCommand::Expire { ids } => {
            for id in ids {
                send(
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
