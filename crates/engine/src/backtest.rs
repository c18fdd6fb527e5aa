//! Replays recorded SLI events through the engine in simulated time: the same code that serves
//! production, with the clock taken from the recording.

use headroom_core::{AlertState, AlertTransition, GroupKey, Slo, SloId, Span, Timestamp};
use headroom_ingest::RecordedEvent;
use headroom_tsdb::Tsdb;

use crate::{Engine, IngestError};

#[derive(Debug, thiserror::Error)]
#[error("event {index} (SLO {slo:?}, at {at}): {source}")]
pub struct BacktestError {
    pub index: usize,
    pub slo: String,
    pub at: Timestamp,
    #[source]
    pub source: IngestError,
}

/// One SLO group's standing at the time of the last event.
#[derive(Debug, Clone)]
pub struct Summary {
    pub slo: SloId,
    pub group: GroupKey,
    pub sli: Option<f64>,
    pub budget_consumed: f64,
    pub budget_remaining: f64,
}

#[derive(Debug, Default)]
pub struct Report {
    /// Firing and resolved transitions, in time order.
    pub transitions: Vec<AlertTransition>,
    pub summary: Vec<Summary>,
}

/// Replays `events` (any order) against `slos`. Alerts are evaluated at every event's time for the
/// SLOs it touches and at every minute boundary for all SLOs, as the server does.
pub fn run(slos: Vec<Slo>, mut events: Vec<RecordedEvent>) -> Result<Report, BacktestError> {
    events.sort_by_key(|e| e.event.at);
    let engine = Engine::new(Tsdb::in_memory(), slos).map_err(|e| BacktestError {
        index: 0,
        slo: String::new(),
        at: Timestamp(0),
        source: e.into(),
    })?;
    let tick = Span::MINUTE;
    let mut report = Report::default();
    let keep = |tr: Vec<AlertTransition>, report: &mut Report| {
        report.transitions.extend(
            tr.into_iter()
                .filter(|t| matches!(t.to, AlertState::Firing | AlertState::Resolved)),
        );
    };
    let mut next_tick: Option<Timestamp> = None;
    let mut i = 0;
    while i < events.len() {
        let at = events[i].event.at;
        // Buckets that closed since the last event: evaluate everything at each boundary.
        let mut t = next_tick.unwrap_or(at.floor(tick) + tick);
        while t < at {
            keep(engine.evaluate(None, t), &mut report);
            t = t + tick;
        }
        next_tick = Some(if at.floor(tick) == at {
            at + tick
        } else {
            at.floor(tick) + tick
        });
        // Every event at this instant, one batch per SLO.
        let end = events[i..]
            .iter()
            .position(|e| e.event.at != at)
            .map_or(events.len(), |n| i + n);
        // The SLOs this instant touched, needed only between minute boundaries (at a boundary
        // every SLO is evaluated anyway).
        let boundary = at.floor(tick) == at;
        let mut touched: Vec<&str> = Vec::new();
        let mut start = i;
        while start < end {
            let slo = events[start].slo.as_str();
            let stop = events[start..end]
                .iter()
                .position(|e| e.slo != slo)
                .map_or(end, |n| start + n);
            let batch: Vec<_> = events[start..stop]
                .iter()
                .map(|e| e.event.clone())
                .collect();
            engine
                .ingest(slo, &batch, None, at)
                .map_err(|source| BacktestError {
                    index: start,
                    slo: slo.to_string(),
                    at,
                    source,
                })?;
            if !boundary && !touched.contains(&slo) {
                touched.push(slo);
            }
            start = stop;
        }
        if boundary {
            keep(engine.evaluate(None, at), &mut report);
        } else {
            for slo in touched {
                keep(engine.evaluate(Some(slo), at), &mut report);
            }
        }
        i = end;
    }
    if let Some(last) = events.last() {
        keep(engine.evaluate(None, last.event.at), &mut report);
    }
    report.summary = engine
        .views()
        .into_iter()
        .flat_map(|v| {
            v.groups.into_iter().map(move |g| Summary {
                slo: v.slo.id.clone(),
                group: g.group,
                sli: g.status.sli,
                budget_consumed: g.status.budget.consumed,
                budget_remaining: g.status.budget.remaining,
            })
        })
        .collect();
    Ok(report)
}
