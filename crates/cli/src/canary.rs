//! `headroom canary judge --input FILE`: a canary judged against its baseline, for a delivery
//! pipeline to gate on.
//!
//! The input is the body of `POST /api/v1/canary/judge`. Without `--server` it is judged here,
//! with the same code the server runs (samples given inline only); with `--server`, a server
//! judges it, which also runs PromQL sides against its configured backends.
//!
//! Exit codes: 0 Pass, 5 Marginal, 6 Fail; 1 the input was refused, 3 the server could not be
//! reached or failed, 2 usage. Marginal has its own code so a pipeline can hold for a person
//! instead of rolling back.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use headroom_api::canary::{Classification, JudgeRequest, Judgement, Verdict};

use crate::{ClientArgs, Failure, Output, call, json_body, print_json, word};

/// Exit code of a Marginal verdict.
pub const EXIT_MARGINAL: u8 = 5;
/// Exit code of a Fail verdict.
pub const EXIT_FAIL: u8 = 6;

#[derive(Subcommand)]
pub enum CanaryCommand {
    /// Judge a canary (Kayenta's NetflixACAJudge): exit 0 Pass, 5 Marginal, 6 Fail.
    Judge {
        /// The request as JSON (the body of POST /api/v1/canary/judge); `-` reads stdin.
        #[arg(long)]
        input: PathBuf,
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Judge on this headroom server (required for PromQL sides); judged here without it.
        #[arg(long, env = "HEADROOM_URL")]
        server: Option<String>,
        #[arg(long, env = "HEADROOM_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

pub async fn run(command: CanaryCommand) -> Result<(), Failure> {
    let CanaryCommand::Judge {
        input,
        output,
        server,
        token,
    } = command;
    let request = read_request(&input)?;
    let judged = match server {
        Some(server) => {
            let client = ClientArgs {
                server,
                token,
                output,
            };
            call::<Judgement>(
                &client,
                reqwest::Method::POST,
                "/api/v1/canary/judge",
                json_body(&request),
                None,
            )
            .await?
        }
        None => judge_here(request).await?,
    };
    match output {
        Output::Json => print_json(&judged),
        Output::Table => print_table(&judged),
    }
    match judged.verdict {
        Verdict::Pass => Ok(()),
        // The verdict was printed; nothing more to say on stderr.
        Verdict::Marginal => Err(Failure(EXIT_MARGINAL, anyhow::anyhow!(""))),
        Verdict::Fail => Err(Failure(EXIT_FAIL, anyhow::anyhow!(""))),
    }
}

fn read_request(input: &Path) -> Result<JudgeRequest, Failure> {
    let text = if input == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read stdin")?;
        s
    } else {
        std::fs::read_to_string(input)
            .with_context(|| format!("cannot read {}", input.display()))?
    };
    serde_json::from_str(&text).map_err(|e| Failure(1, anyhow::anyhow!("{}: {e}", input.display())))
}

async fn judge_here(request: JudgeRequest) -> Result<Judgement, Failure> {
    let refused = |detail: String| Failure(1, anyhow::anyhow!(detail));
    let request = headroom_server::canary::request(request).map_err(|e| refused(e.detail))?;
    if let Some(m) = request.metrics.iter().find(|m| m.is_queried()) {
        return Err(refused(format!(
            "metric {:?}: a side is a PromQL query; queries run on a server against its \
             backends: give --server (or HEADROOM_URL)",
            m.rules.name
        )));
    }
    let thresholds = request.scoring.thresholds;
    let judged = headroom_service::canary::judge(&[], request)
        .await
        .map_err(|e| refused(e.to_string()))?;
    Ok(headroom_server::canary::judgement(&judged, thresholds))
}

fn figure(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.4}"))
}

fn print_table(j: &Judgement) {
    println!(
        "{:<32} {:<16} {:>10} {:>12} {:>22} {:>8} {:>8}",
        "METRIC", "CLASSIFICATION", "RATIO", "P-VALUE", "SHIFT (CI)", "BASE", "CANARY"
    );
    for m in &j.metrics {
        let critical = if m.critical { " (critical)" } else { "" };
        let label = format!("{}{critical}", word(&m.classification));
        let (p, shift) = match &m.test {
            Some(t) => (
                format!("{:.3e}", t.p_value),
                format!("{:.4} ({:.4}, {:.4})", t.estimate, t.lower, t.upper),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<32} {:<16} {:>10} {:>12} {:>22} {:>8} {:>8}",
            m.name,
            label,
            figure(m.deviation),
            p,
            shift,
            m.baseline.count,
            m.canary.count
        );
        if m.classification != Classification::Pass
            && let Some(r) = &m.reason
        {
            println!("  {r}");
        }
    }
    println!();
    for g in &j.groups {
        let nodata = if g.no_data { " (no data)" } else { "" };
        println!(
            "group {:<26} {:>6.2}{nodata}  pass {} high {} low {} nodata {} nodata-fail {}",
            g.name, g.score, g.pass, g.high, g.low, g.nodata, g.nodata_fail_metric
        );
    }
    println!(
        "score {:.2} (pass {}, marginal {}): {}",
        j.score,
        j.thresholds.pass,
        j.thresholds.marginal,
        word(&j.verdict)
    );
    if let Some(r) = &j.reason {
        println!("{r}");
    }
}
