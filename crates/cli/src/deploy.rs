//! `headroom deploy record`: a CI job reports a deploy. With `--git-range PREV..SHA` it reads
//! the range's commits from the repository checked out in the current directory (`git log`),
//! so lead times work without headroom ever reaching the git host.

use std::process::Command;

use clap::Subcommand;
use headroom_api::delivery::{Deploy, DeployReport, ReportedCommit};

use crate::{ClientArgs, Failure, Output, call, json_body, print_json, word};

#[derive(Subcommand)]
pub enum DeployCommand {
    /// Record a deploy of a service.
    Record {
        #[arg(long)]
        service: String,
        /// The service's production environment when omitted.
        #[arg(long)]
        environment: Option<String>,
        /// The deployed commit (full sha, or anything `git rev-parse` reads with --git-range).
        #[arg(long)]
        commit: String,
        /// success, failure or cancelled.
        #[arg(long, default_value = "success")]
        status: String,
        #[arg(long)]
        version: Option<String>,
        /// A label such as hotfix or rollback; repeat for more.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// When the deploy started (RFC 3339).
        #[arg(long)]
        started: Option<String>,
        /// The commits this deploy ships: PREV..SHA, read from the local repository.
        #[arg(long)]
        git_range: Option<String>,
        /// The same key again updates the same deploy (a CI run id, say).
        #[arg(long)]
        idempotency_key: Option<String>,
        /// The release gate decision this deploy passed (`headroom gate` prints its id); the
        /// latest allow before the deploy when omitted.
        #[arg(long)]
        gate_decision: Option<i64>,
    },
}

pub async fn run(command: DeployCommand, client: ClientArgs) -> Result<(), Failure> {
    let DeployCommand::Record {
        service,
        environment,
        commit,
        status,
        version,
        labels,
        started,
        git_range,
        idempotency_key,
        gate_decision,
    } = command;
    let (sha, commits) = match &git_range {
        Some(range) => {
            let sha = rev_parse(&commit)?;
            (sha, range_commits(range)?)
        }
        None => (commit, Vec::new()),
    };
    let report = DeployReport {
        service,
        environment,
        version,
        sha,
        started,
        finished: None,
        status: Some(status),
        labels,
        changes: git_range
            .as_ref()
            .map(|_| commits.iter().map(|c| c.sha.clone()).collect()),
        commits,
        source: Some("cli".into()),
        idempotency_key,
        gate_decision_id: gate_decision,
    };
    let d: Deploy = call(
        &client,
        reqwest::Method::POST,
        "/api/v1/deployments",
        json_body(&report),
        None,
    )
    .await?;
    match client.output {
        Output::Json => print_json(&d),
        Output::Table => println!(
            "deploy {} of {} to {}: {} ({} commits{})",
            d.id,
            d.service,
            d.environment,
            word(&d.status),
            d.changes.as_ref().map_or(0, Vec::len),
            d.gate_decision
                .as_ref()
                .map(|g| format!(", passed gate decision {}", g.decision_id))
                .unwrap_or_default()
        ),
    }
    Ok(())
}

fn git(args: &[&str]) -> Result<String, Failure> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| Failure(2, anyhow::anyhow!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(Failure(
            2,
            anyhow::anyhow!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| {
        Failure(
            2,
            anyhow::anyhow!("git {}: output is not UTF-8", args.join(" ")),
        )
    })
}

fn rev_parse(rev: &str) -> Result<String, Failure> {
    Ok(
        git(&["rev-parse", "--verify", &format!("{rev}^{{commit}}")])?
            .trim()
            .to_string(),
    )
}

/// Record and field separators git never writes in a sha, a date or (here) a path.
const RECORD: char = '\u{1e}';
const FIELD: char = '\u{1f}';

/// The commits of `PREV..SHA`, oldest first, with their parents, dates and changed files.
fn range_commits(range: &str) -> Result<Vec<ReportedCommit>, Failure> {
    if !range.contains("..") {
        return Err(Failure(
            2,
            anyhow::anyhow!("--git-range {range:?}: expected PREV..SHA"),
        ));
    }
    let text = git(&[
        "log",
        "--reverse",
        "--no-renames",
        "--name-only",
        "--format=%x1e%H%x1f%P%x1f%aI%x1f%cI",
        range,
        "--",
    ])?;
    let mut commits = Vec::new();
    for record in text.split(RECORD).filter(|r| !r.trim().is_empty()) {
        let mut lines = record.lines();
        let head = lines.next().unwrap_or_default();
        let fields: Vec<&str> = head.split(FIELD).collect();
        let [sha, parents, authored, committed] = fields[..] else {
            return Err(Failure(
                2,
                anyhow::anyhow!("git log: unexpected line {head:?}"),
            ));
        };
        commits.push(ReportedCommit {
            sha: sha.to_string(),
            parents: parents.split_whitespace().map(str::to_string).collect(),
            authored: authored.to_string(),
            committed: committed.to_string(),
            files: Some(
                lines
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
        });
    }
    Ok(commits)
}
