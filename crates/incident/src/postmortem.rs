//! A blameless postmortem draft in Markdown, filled from the incident record.
//!
//! The output is deterministic (same incident and impact, same bytes): times are UTC, lists keep
//! the record's order, and every piece of user text is escaped so that it reads as text, not as
//! Markdown structure (a `|` cannot split a table cell, a leading `#` cannot make a heading).

use std::fmt::Write;

use headroom_core::{Span, Timestamp};

use crate::incident::Incident;
use crate::metrics::{BudgetConsumed, budget_consumed};

/// What the incident cost, as measured outside the record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Impact {
    /// Budget consumed per SLO, usually from [`budget_consumed`].
    pub budget: Vec<BudgetConsumed>,
    /// What users experienced, in the team's words; a prompt is printed when absent.
    pub summary: Option<String>,
}

impl Impact {
    /// The budget each affected SLO consumed over the impact window, no summary yet.
    pub fn measure(
        incident: &Incident,
        now: Timestamp,
        consumed: impl Fn(&str, Timestamp, Timestamp) -> Option<f64>,
    ) -> Impact {
        Impact {
            budget: budget_consumed(incident, now, consumed),
            summary: None,
        }
    }
}

/// Escapes user text for inline Markdown: line breaks become spaces (a table cell is one
/// line), Markdown's punctuation is backslash-escaped, and a leading `#`, `>`, `-`, `+` or `=`
/// is escaped so the text cannot start a heading, quote or list. `_` is escaped only where it
/// could open or close emphasis, so `checkout_api` stays readable.
pub fn escape_markdown(text: &str) -> String {
    let flat: Vec<char> = text
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    let mut out = String::with_capacity(flat.len());
    for (i, &c) in flat.iter().enumerate() {
        let escape = match c {
            '\\' | '|' | '`' | '*' | '[' | ']' | '<' | '>' => true,
            '_' => {
                let word = |j: Option<&char>| j.is_some_and(|c| c.is_alphanumeric());
                !(word(i.checked_sub(1).and_then(|j| flat.get(j))) && word(flat.get(i + 1)))
            }
            '#' | '-' | '+' | '=' => i == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn time(at: Timestamp) -> String {
    at.to_chrono().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn table_time(at: Timestamp) -> String {
    at.to_chrono().format("%Y-%m-%d %H:%M:%S").to_string()
}

fn date(at: Timestamp) -> String {
    at.to_chrono().format("%Y-%m-%d").to_string()
}

fn span(s: Span) -> String {
    Span(s.millis().abs()).to_string()
}

/// `5m after`, `5m before` or `at the same time as`, relative to a reference.
fn relative(at: Timestamp, reference: Timestamp, what: &str) -> String {
    let d = at - reference;
    match d.millis() {
        0 => format!("at the same time as {what}"),
        m if m > 0 => format!("{} after {what}", span(d)),
        _ => format!("{} before {what}", span(d)),
    }
}

fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

fn or_none(items: &[String], none: &str) -> String {
    if items.is_empty() {
        none.to_string()
    } else {
        items
            .iter()
            .map(|s| escape_markdown(s))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The postmortem draft: title, summary, impact, detection, timeline, contributing factors,
/// action items and lessons-learned prompts.
pub fn postmortem_markdown(incident: &Incident, impact: &Impact) -> String {
    let mut md = String::new();
    // Writing to a String cannot fail.
    let _ = write_postmortem(&mut md, incident, impact);
    md
}

fn write_postmortem(md: &mut String, incident: &Incident, impact: &Impact) -> std::fmt::Result {
    let resolved = incident.resolved_at().filter(|_| !incident.is_open());

    writeln!(md, "# Postmortem: {}", escape_markdown(incident.title()))?;
    writeln!(md)?;
    writeln!(
        md,
        "_Blameless draft for incident {}. It describes what systems and processes did, not who \
         was at fault; edit freely._",
        escape_markdown(incident.id())
    )?;
    writeln!(md)?;

    writeln!(md, "## Summary")?;
    writeln!(md)?;
    writeln!(md, "- **Severity:** {}", incident.severity())?;
    writeln!(md, "- **Status:** {}", incident.status())?;
    writeln!(md, "- **Impact started:** {}", time(incident.started_at()))?;
    writeln!(md, "- **Declared:** {}", time(incident.opened_at()))?;
    match incident.acknowledged_at() {
        Some(at) => writeln!(md, "- **Acknowledged:** {}", time(at))?,
        None => writeln!(md, "- **Acknowledged:** not yet")?,
    }
    match resolved {
        Some(at) => writeln!(md, "- **Resolved:** {}", time(at))?,
        None => writeln!(md, "- **Resolved:** not yet")?,
    }
    for role in crate::Role::ALL {
        let holder = incident
            .roles()
            .get(role)
            .map_or("unassigned".to_string(), escape_markdown);
        let label = match role {
            crate::Role::Commander => "Incident commander",
            crate::Role::Communications => "Communications lead",
            crate::Role::Scribe => "Scribe",
        };
        writeln!(md, "- **{label}:** {holder}")?;
    }
    writeln!(md)?;
    match &impact.summary {
        Some(summary) => writeln!(md, "{}", escape_markdown(summary))?,
        None => writeln!(
            md,
            "_What happened, in two or three sentences, for a reader who was not there?_"
        )?,
    }
    writeln!(md)?;

    writeln!(md, "## Impact")?;
    writeln!(md)?;
    match resolved {
        Some(at) => writeln!(
            md,
            "- **Duration:** {} (from the impact start to the resolution)",
            span(at - incident.started_at())
        )?,
        None => writeln!(md, "- **Duration:** ongoing (not resolved)")?,
    }
    if let Some(ttr) = incident.time_to_resolve() {
        writeln!(md, "- **Time to resolve:** {} after declaration", span(ttr))?;
    }
    writeln!(
        md,
        "- **Services affected:** {}",
        or_none(incident.services(), "none recorded")
    )?;
    writeln!(
        md,
        "- **SLOs affected:** {}",
        or_none(incident.slos(), "none recorded")
    )?;
    if !impact.budget.is_empty() {
        writeln!(md)?;
        writeln!(md, "| SLO | Error budget consumed |")?;
        writeln!(md, "| --- | ---: |")?;
        for b in &impact.budget {
            // A NaN from a division by an empty window is no data, not "NaN%".
            let consumed = b
                .fraction
                .filter(|f| f.is_finite())
                .map_or("no data".to_string(), percent);
            writeln!(md, "| {} | {consumed} |", escape_markdown(&b.slo))?;
        }
    }
    writeln!(md)?;

    writeln!(md, "## Detection")?;
    writeln!(md)?;
    match incident.first_alert() {
        Some(alert) => {
            let summary = alert.label_summary();
            let labels = if summary.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape_markdown(&summary))
            };
            writeln!(
                md,
                "- **First alert:** {}{labels}, fired {}",
                escape_markdown(alert.name()),
                time(alert.at)
            )?;
            writeln!(
                md,
                "- **Detection delay:** fired {}",
                relative(alert.at, incident.started_at(), "the impact start")
            )?;
        }
        None => writeln!(
            md,
            "- **First alert:** none linked. _Should an alert have caught this?_"
        )?,
    }
    writeln!(
        md,
        "- **Declared:** {}",
        relative(
            incident.opened_at(),
            incident.started_at(),
            "the impact start"
        )
    )?;
    match incident.time_to_acknowledge() {
        Some(tta) => writeln!(
            md,
            "- **Time to acknowledge:** {} after declaration",
            span(tta)
        )?,
        None => writeln!(md, "- **Time to acknowledge:** not acknowledged")?,
    }
    writeln!(md)?;

    writeln!(md, "## Timeline")?;
    writeln!(md)?;
    writeln!(md, "| Time (UTC) | Who | Event |")?;
    writeln!(md, "| --- | --- | --- |")?;
    for entry in incident.timeline() {
        writeln!(
            md,
            "| {} | {} | {} |",
            table_time(entry.at),
            escape_markdown(&entry.actor),
            escape_markdown(&entry.text)
        )?;
    }
    writeln!(md)?;

    writeln!(md, "## Contributing factors")?;
    writeln!(md)?;
    if incident.contributing_factors().is_empty() {
        writeln!(
            md,
            "_Which conditions made this incident possible, or made it worse? Name systems and \
             processes, not people._"
        )?;
    } else {
        for factor in incident.contributing_factors() {
            writeln!(md, "- {}", escape_markdown(factor))?;
        }
    }
    writeln!(md)?;

    writeln!(md, "## Action items")?;
    writeln!(md)?;
    if incident.action_items().is_empty() {
        writeln!(
            md,
            "_What will prevent a recurrence, or detect and mitigate it sooner?_"
        )?;
    } else {
        writeln!(md, "| ID | Item | Owner | Status | Due |")?;
        writeln!(md, "| --- | --- | --- | --- | --- |")?;
        for item in incident.action_items() {
            writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                item.id,
                escape_markdown(&item.text),
                item.owner
                    .as_deref()
                    .map_or("-".to_string(), escape_markdown),
                item.status.as_str(),
                item.due.map_or("-".to_string(), date)
            )?;
        }
    }
    writeln!(md)?;

    writeln!(md, "## Lessons learned")?;
    writeln!(md)?;
    writeln!(md, "### What went well")?;
    writeln!(md)?;
    writeln!(md, "- _…_")?;
    writeln!(md)?;
    writeln!(md, "### What went wrong")?;
    writeln!(md)?;
    writeln!(md, "- _…_")?;
    writeln!(md)?;
    writeln!(md, "### Where we got lucky")?;
    writeln!(md)?;
    writeln!(md, "- _…_")?;
    Ok(())
}
