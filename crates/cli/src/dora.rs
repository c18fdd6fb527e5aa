//! `headroom dora report`: DORA's five metrics from a running server, as a table for people,
//! JSON as the API answers it, or CSV (one row per week and a total row) for spreadsheets.

use clap::{Args, Subcommand, ValueEnum};
use headroom_api::dora::{AttributionHow, DoraMetrics, DoraReport, Tier};

use crate::{ClientArgs, DEFAULT_URL, Failure, Output, call, print_json, word};

#[derive(Subcommand)]
pub enum DoraCommand {
    /// Deployment frequency, lead time, change failure rate, recovery time and rework rate.
    Report(ReportArgs),
}

#[derive(Args)]
pub struct ReportArgs {
    #[arg(long, conflicts_with = "team", required_unless_present = "team")]
    service: Option<String>,
    #[arg(long)]
    team: Option<String>,
    /// Each service's production environment when omitted.
    #[arg(long)]
    environment: Option<String>,
    /// RFC 3339 or a date; 30 days before --to when omitted.
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339 or a date; now when omitted.
    #[arg(long)]
    to: Option<String>,
    #[arg(long, env = "HEADROOM_URL", default_value = DEFAULT_URL)]
    server: String,
    #[arg(long, env = "HEADROOM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long, value_enum, default_value_t = ReportOutput::Table)]
    output: ReportOutput,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportOutput {
    Table,
    Json,
    Csv,
}

pub async fn run(command: DoraCommand) -> Result<(), Failure> {
    let DoraCommand::Report(a) = command;
    // Only its query is used: the pairs percent-encoded as a URL needs them.
    let mut url = reqwest::Url::parse("http://headroom/api/v1/dora").expect("a valid URL");
    for (key, value) in [
        ("service", &a.service),
        ("team", &a.team),
        ("environment", &a.environment),
        ("from", &a.from),
        ("to", &a.to),
    ] {
        if let Some(v) = value {
            url.query_pairs_mut().append_pair(key, v);
        }
    }
    let client = ClientArgs {
        server: a.server,
        token: a.token,
        output: Output::Json,
    };
    let path = format!("/api/v1/dora?{}", url.query().unwrap_or_default());
    let report: DoraReport = call(&client, reqwest::Method::GET, &path, None, None).await?;
    match a.output {
        ReportOutput::Json => print_json(&report),
        ReportOutput::Table => print!("{}", table(&report)),
        ReportOutput::Csv => print!("{}", csv(&report)),
    }
    Ok(())
}

/// A duration as people read it: its two largest units (`3h 20m`, `2d 4h`, `45s`).
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as i64;
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let parts: Vec<String> = units
        .iter()
        .scan(s, |left, &(name, size)| {
            let n = *left / size;
            *left %= size;
            Some((n, name))
        })
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("{n}{name}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn tier(t: Option<Tier>) -> String {
    t.map_or("-".into(), |t| word(&t))
}

fn number(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}"))
}

fn table(r: &DoraReport) -> String {
    let scope = match (&r.service, &r.team) {
        (Some(s), _) => format!("service {s}"),
        (None, Some(t)) => format!("team {t}"),
        (None, None) => "every service".into(),
    };
    let m = &r.metrics;
    let (f, l, c, rt, w) = (
        &m.deployment_frequency,
        &m.lead_time,
        &m.change_failure_rate,
        &m.recovery_time,
        &m.rework_rate,
    );
    let median = |s: Option<f64>| s.map_or("-".into(), duration);
    let rows = [
        (
            "deployment frequency",
            format!(
                "{} deploys, {}/day, {} deploy days/week",
                f.deployments,
                number(f.per_day),
                number(f.deployment_days_per_week)
            ),
            tier(f.tier),
        ),
        (
            "change lead time",
            format!(
                "median {}, p90 {} over {} changes",
                median(l.median_seconds),
                median(l.p90_seconds),
                l.changes
            ),
            tier(l.tier),
        ),
        (
            "change failure rate",
            format!("{} ({} of {})", percent(c.rate), c.failed, c.deployments),
            tier(c.tier),
        ),
        (
            "recovery time",
            format!(
                "median {} over {} failures ({} unrecovered)",
                median(rt.median_seconds),
                rt.failures,
                rt.unrecovered
            ),
            tier(rt.tier),
        ),
        (
            "rework rate",
            format!("{} ({} of {})", percent(w.rate), w.rework, w.deployments),
            "-".into(),
        ),
    ];
    let mut out = format!(
        "DORA metrics for {scope}, {}, {} to {}\n\n{:<22} {:<60} TIER\n",
        r.environment, r.from, r.to, "METRIC", "VALUE"
    );
    for (name, value, tier) in rows {
        out += &format!("{name:<22} {value:<60} {tier}\n");
    }
    out += &format!("\nTiers: {} ({}).\n", r.tiers_source, r.tiers_year);
    out += &format!(
        "\n{:<25} {:>7} {:>12} {:>13} {:>12} {:>7}\n",
        "WEEK FROM", "DEPLOYS", "LEAD MEDIAN", "FAILURE RATE", "RECOVERY", "REWORK"
    );
    for week in &r.weeks {
        let m = &week.metrics;
        out += &format!(
            "{:<25} {:>7} {:>12} {:>13} {:>12} {:>7}\n",
            week.from.as_str(),
            m.deployment_frequency.deployments,
            median(m.lead_time.median_seconds),
            percent(m.change_failure_rate.rate),
            median(m.recovery_time.median_seconds),
            percent(m.rework_rate.rate),
        );
    }
    if !r.incidents.is_empty() {
        out += &format!(
            "\n{:>8} {:<25} {:<22} DEPLOY\n",
            "INCIDENT", "STARTED", "ATTRIBUTED"
        );
        for i in &r.incidents {
            let how = match i.attribution.how {
                AttributionHow::Explicit => "explicitly",
                AttributionHow::Window => "by time window",
                AttributionHow::NotCausedByChange => "not caused by a change",
                AttributionHow::Unresolved => "unresolved",
                AttributionHow::None => "to no deploy",
            };
            let deploy = i.attribution.deploy.map_or("-".into(), |d| d.to_string());
            out += &format!(
                "{:>8} {:<25} {how:<22} {deploy}\n",
                i.incident,
                i.started.as_str()
            );
        }
    }
    out
}

const CSV_HEADER: &str = "period,from,to,deployments,per_day,deployment_days_per_week,\
deployment_frequency_tier,changes,lead_time_median_seconds,lead_time_p90_seconds,lead_time_tier,\
failed,change_failure_rate,change_failure_rate_tier,failures,recovery_median_seconds,\
recovery_time_tier,rework,rework_rate";

fn csv_row(period: &str, from: &str, to: &str, m: &DoraMetrics) -> String {
    let x = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let t = |v: Option<Tier>| v.map_or(String::new(), |v| word(&v));
    let (f, l, c, r, w) = (
        &m.deployment_frequency,
        &m.lead_time,
        &m.change_failure_rate,
        &m.recovery_time,
        &m.rework_rate,
    );
    [
        period.to_string(),
        from.to_string(),
        to.to_string(),
        f.deployments.to_string(),
        x(f.per_day),
        x(f.deployment_days_per_week),
        t(f.tier),
        l.changes.to_string(),
        x(l.median_seconds),
        x(l.p90_seconds),
        t(l.tier),
        c.failed.to_string(),
        x(c.rate),
        t(c.tier),
        r.failures.to_string(),
        x(r.median_seconds),
        t(r.tier),
        w.rework.to_string(),
        x(w.rate),
    ]
    .join(",")
}

/// One row per week, then the range's total; unknown figures are empty cells.
fn csv(r: &DoraReport) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for week in &r.weeks {
        out += &csv_row("week", week.from.as_str(), week.to.as_str(), &week.metrics);
        out.push('\n');
    }
    out += &csv_row("total", r.from.as_str(), r.to.as_str(), &r.metrics);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_show_their_two_largest_units() {
        assert_eq!(duration(12_000.0), "3h 20m");
        assert_eq!(duration(187_200.0), "2d 4h");
        assert_eq!(duration(86_400.0), "1d");
        assert_eq!(duration(3_601.0), "1h");
        assert_eq!(duration(45.0), "45s");
        assert_eq!(duration(0.2), "0s");
    }
}
