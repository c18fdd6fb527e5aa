//! `headroom action run|runs|approve|reject`: configured actions on a running server.

use clap::Subcommand;
use headroom_api::actions::{Rejection, Run, RunByHand, RunList};
use serde_json::{Map, Value};

use crate::{ClientArgs, Failure, Output, call, json_body, print_json, word};

#[derive(Subcommand)]
pub enum ActionCommand {
    /// Run an action by hand (it may wait for approval).
    Run {
        name: String,
        /// Render and store the request, send nothing.
        #[arg(long)]
        dry_run: bool,
        /// A key the templates see under `context` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// The runs of every action (or one), newest first.
    Runs {
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Approve a run awaiting approval: it is sent.
    Approve { run: String },
    /// Reject a run awaiting approval: it is never sent.
    Reject {
        run: String,
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(command: ActionCommand, client: ClientArgs) -> Result<(), Failure> {
    let post = reqwest::Method::POST;
    let shown: Run = match command {
        ActionCommand::Run { name, dry_run, set } => {
            let mut context = Map::new();
            for pair in &set {
                let (k, v) = pair.split_once('=').ok_or_else(|| {
                    Failure(2, anyhow::anyhow!("--set {pair:?}: expected KEY=VALUE"))
                })?;
                context.insert(k.to_string(), Value::String(v.to_string()));
            }
            let body = RunByHand {
                context: (!context.is_empty()).then_some(context),
                dry_run: dry_run.then_some(true),
            };
            let path = format!("/api/v1/actions/{name}/runs");
            call(&client, post, &path, json_body(&body), None).await?
        }
        ActionCommand::Runs {
            action,
            state,
            limit,
        } => {
            let mut query = format!("?limit={limit}");
            for (key, value) in [("action", action), ("state", state)] {
                if let Some(v) = value {
                    query.push_str(&format!("&{key}={v}"));
                }
            }
            let path = format!("/api/v1/actions/runs{query}");
            let list: RunList = call(&client, reqwest::Method::GET, &path, None, None).await?;
            if client.output == Output::Json {
                print_json(&list);
                return Ok(());
            }
            println!(
                "{:<22} {:<20} {:<18} {:<18} {:<26} {:<8} ERROR",
                "RUN", "ACTION", "TRIGGER", "STATE", "CREATED", "ATTEMPTS"
            );
            for r in &list.runs {
                println!(
                    "{:<22} {:<20} {:<18} {:<18} {:<26} {:<8} {}",
                    r.id,
                    r.action,
                    r.trigger,
                    word(&r.state),
                    r.created_at,
                    r.attempts,
                    r.last_error.as_deref().unwrap_or("")
                );
            }
            return Ok(());
        }
        ActionCommand::Approve { run } => {
            let path = format!("/api/v1/actions/runs/{run}/approve");
            call(&client, post, &path, None, None).await?
        }
        ActionCommand::Reject { run, reason } => {
            let path = format!("/api/v1/actions/runs/{run}/reject");
            call(&client, post, &path, json_body(&Rejection { reason }), None).await?
        }
    };
    if client.output == Output::Json {
        print_json(&shown);
    } else {
        println!("{} {} {}", shown.id, shown.action, word(&shown.state));
    }
    Ok(())
}
