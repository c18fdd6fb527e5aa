//! DORA's five software delivery metrics over a [`DeliveryHistory`], for a time range, a
//! service or team, and an environment, with a weekly trend.
//!
//! What is counted (`range` is half-open; a deploy belongs where it *finished*; "deploys" are
//! the successful deploys of the filtered services to the filtered environment, production
//! by default):
//! - **Deployment frequency**: deploys ÷ days in the range, and deployment days per week:
//!   distinct UTC calendar days with a deploy × 7 ÷ days in the range.
//! - **Change lead time**: per change, from its first commit's authoring to the finish of the
//!   first deploy that shipped it. A change is a pull request (its first commit is the earliest
//!   authored of its commits), or a commit no pull request holds. What a deploy shipped is in
//!   [`DeliveryHistory::shipped`]. Where the pull request is known and merged, the time splits
//!   into coding (first commit → opened), review (opened → merged) and deploy (merged →
//!   deployed). A span that comes out negative (a commit authored by a skewed clock, a request
//!   opened before its first commit) counts as zero. Deploys whose changes are unknown (the
//!   first deploy of a service, a sha never learnt, a walk past its limit) are counted in
//!   `unlinked_deployments`, not guessed.
//! - **Change failure rate**: deploys with at least one incident attributed ÷ deploys.
//! - **Failed deployment recovery time**: for each deploy with incidents attributed, from its
//!   finish to the last of those incidents' resolutions; for each *failed* deploy (status
//!   failure) to the same environment, from its finish to the finish of the next successful
//!   deploy of its service there. Failures not yet recovered are counted (`unrecovered`), and
//!   the median is over those that are.
//! - **Deployment rework rate**: unplanned deploys ÷ deploys. A deploy is unplanned when it is
//!   labelled `hotfix` or `rollback`, or finished while an incident affecting its service was
//!   open (after the incident started, up to and including its resolution: the deploy that
//!   fixes it usually finishes just as it is resolved).
//!
//! Attribution ([`DeliveryHistory::attribution`]) is explicit first: a named deploy, else a
//! named version, else "not caused by a change", else the latest successful production deploy
//! of an affected service finished within the window (24 h by default) before the incident.
//! Every incident the report touches is listed with how it was attributed.
//!
//! No data is not zero: a rate or time over no deploys, changes or failures is `None` (JSON
//! `null`), and so is its tier.
//!
//! **Medians and percentiles** are R-7 quantiles (linear interpolation between the closest
//! ranks; R's default type and numpy's default): for n sorted values and level q, h = (n−1)q
//! and the value is x⌊h⌋ + (h−⌊h⌋)(x⌊h⌋+1 − x⌊h⌋). The median is the middle value, or the mean
//! of the two middle ones; p90 of 1..=10 is 9.1.
//!
//! **Weeks** run Monday 00:00 to Monday 00:00 UTC; the first and last are cut to the range, and
//! their per-day figures are over the days they hold.
//!
//! # Tiers
//!
//! From the software delivery performance clusters of the **DORA 2024 Accelerate State of
//! DevOps Report** (Google Cloud's DORA team, 2024), which describes each cluster by typical
//! values:
//!
//! | cluster | deployment frequency | change lead time | change failure rate | failed deployment recovery time |
//! | --- | --- | --- | --- | --- |
//! | elite | on demand (multiple deploys per day) | less than one day | 5% | less than one hour |
//! | high | between once per day and once per week | between one day and one week | 20% | less than one day |
//! | medium | between once per week and once per month | between one week and one month | 10% | less than one day |
//! | low | between once per month and once every six months | between one month and six months | 40% | between one week and one month |
//!
//! The frequency and lead time columns and the elite and high failure rates were checked
//! against a published reproduction of the report's table; the medium and low failure rates
//! and the recovery times are the values as widely republished from it.
//!
//! A metric's tier is the best cluster whose value it meets, each value read as a bound:
//! at least once a day is elite, at least once a week high, at least once a month (30 days)
//! medium; a median lead time under a day elite, up to a week high, up to 30 days medium; a
//! failure rate up to 5% elite, up to 20% high; recovery under an hour elite, under a day
//! high; anything else low. In 2024 the medium cluster failed less often than the high one and
//! recovered as fast, so no single failure rate or recovery time is best described as medium:
//! those two metrics are elite, high or low. Rework rate has no clusters in 2024 and no tier.

use std::collections::HashMap;

use headroom_core::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::change::graph::Walker;
use crate::deploy::{Environment, TimeRange};
use crate::history::{DeliveryHistory, Found, Group};
use crate::incident::Attribution;

pub const TIER_SOURCE: &str = "DORA 2024 Accelerate State of DevOps Report";
pub const TIER_YEAR: u16 = 2024;

const SECOND: i64 = 1000;
const HOUR: i64 = 3600 * SECOND;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// 1970-01-05, the first Monday of Unix time.
const FIRST_MONDAY: i64 = 4 * DAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Elite,
    High,
    Medium,
    Low,
}

/// One 2024 cluster's values, read as bounds.
struct Cluster {
    tier: Tier,
    /// Deploys a day, at least.
    deploys_per_day: f64,
    /// Median lead time in milliseconds: below it when `lead_time_strict`, else up to it.
    lead_time: i64,
    lead_time_strict: bool,
    /// At most.
    change_failure_rate: f64,
    /// Median recovery time in milliseconds, below it.
    recovery: i64,
}

const CLUSTERS_2024: [Cluster; 3] = [
    Cluster {
        tier: Tier::Elite,
        deploys_per_day: 1.0,
        lead_time: DAY,
        lead_time_strict: true,
        change_failure_rate: 0.05,
        recovery: HOUR,
    },
    Cluster {
        tier: Tier::High,
        deploys_per_day: 1.0 / 7.0,
        lead_time: WEEK,
        lead_time_strict: false,
        change_failure_rate: 0.20,
        recovery: DAY,
    },
    Cluster {
        tier: Tier::Medium,
        deploys_per_day: 1.0 / 30.0,
        lead_time: 30 * DAY,
        lead_time_strict: false,
        change_failure_rate: 0.10,
        recovery: DAY,
    },
];

fn best(meets: impl Fn(&Cluster) -> bool) -> Tier {
    CLUSTERS_2024
        .iter()
        .find(|c| meets(c))
        .map_or(Tier::Low, |c| c.tier)
}

pub fn deployment_frequency_tier(per_day: f64) -> Tier {
    best(|c| per_day >= c.deploys_per_day)
}

pub fn lead_time_tier(median_seconds: f64) -> Tier {
    let ms = median_seconds * 1000.0;
    best(|c| {
        if c.lead_time_strict {
            ms < c.lead_time as f64
        } else {
            ms <= c.lead_time as f64
        }
    })
}

pub fn change_failure_rate_tier(rate: f64) -> Tier {
    best(|c| rate <= c.change_failure_rate)
}

pub fn recovery_time_tier(median_seconds: f64) -> Tier {
    best(|c| median_seconds * 1000.0 < c.recovery as f64)
}

/// Which deploys a report counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoraFilter {
    #[serde(default)]
    pub environment: Environment,
    /// One service.
    #[serde(default)]
    pub service: Option<String>,
    /// The services of one team.
    #[serde(default)]
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentFrequency {
    pub deployments: u64,
    pub per_day: Option<f64>,
    pub deployment_days_per_week: Option<f64>,
    pub tier: Option<Tier>,
}

/// Median time of one stage of a change, over the changes whose pull request is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub changes: u64,
    pub median_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadTime {
    pub changes: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub tier: Option<Tier>,
    pub coding: Stage,
    pub review: Stage,
    pub deploy: Stage,
    /// Deploys whose changes are unknown.
    pub unlinked_deployments: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeFailureRate {
    pub deployments: u64,
    pub failed: u64,
    pub rate: Option<f64>,
    pub tier: Option<Tier>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryTime {
    /// Deploys with incidents attributed, and failed deploys.
    pub failures: u64,
    /// Of those, not recovered yet (an incident open, no successful deploy since).
    pub unrecovered: u64,
    pub median_seconds: Option<f64>,
    pub tier: Option<Tier>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReworkRate {
    pub deployments: u64,
    pub rework: u64,
    pub rate: Option<f64>,
    /// Always `None`: the 2024 report has no rework clusters.
    pub tier: Option<Tier>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoraMetrics {
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub recovery_time: RecoveryTime,
    pub rework_rate: ReworkRate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekReport {
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(flatten)]
    pub metrics: DoraMetrics,
}

/// An incident the report touched, and how it was attributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAttribution {
    pub incident: String,
    pub started: Timestamp,
    pub resolved: Option<Timestamp>,
    pub attribution: Attribution,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoraReport {
    pub start: Timestamp,
    pub end: Timestamp,
    pub environment: Environment,
    pub service: Option<String>,
    pub team: Option<String>,
    #[serde(flatten)]
    pub metrics: DoraMetrics,
    pub weeks: Vec<WeekReport>,
    /// Incidents attributed to a counted deploy, or that started in the range and affected a
    /// filtered service; by start.
    pub incidents: Vec<IncidentAttribution>,
    pub attribution_window: Span,
    pub tier_source: String,
    pub tier_year: u16,
}

/// What one bucket (the range, or a week) accumulates.
#[derive(Debug, Clone, Default)]
struct Tally {
    deployments: u64,
    days: Vec<i64>,
    lead: Vec<i64>,
    coding: Vec<i64>,
    review: Vec<i64>,
    deploy_stage: Vec<i64>,
    unlinked: u64,
    failed: u64,
    recoveries: Vec<i64>,
    unrecovered: u64,
    rework: u64,
}

/// Monday-aligned weeks cut to a range.
struct Weeks {
    start: i64,
    end: i64,
    first_boundary: i64,
    count: usize,
}

impl Weeks {
    fn new(range: TimeRange) -> Weeks {
        let (start, end) = (range.start().millis(), range.end().millis());
        let monday = (start - FIRST_MONDAY).div_euclid(WEEK) * WEEK + FIRST_MONDAY;
        let first_boundary = monday + WEEK;
        let count = if end <= first_boundary {
            1
        } else {
            1 + ((end - first_boundary) + WEEK - 1).div_euclid(WEEK) as usize
        };
        Weeks {
            start,
            end,
            first_boundary,
            count,
        }
    }

    fn of(&self, t: i64) -> usize {
        if t < self.first_boundary {
            0
        } else {
            1 + ((t - self.first_boundary) / WEEK) as usize
        }
    }

    fn bounds(&self, i: usize) -> (i64, i64) {
        let from = if i == 0 {
            self.start
        } else {
            self.first_boundary + (i as i64 - 1) * WEEK
        };
        let to = (self.first_boundary + i as i64 * WEEK).min(self.end);
        (from, to)
    }
}

/// The R-7 quantile of millisecond values, in seconds; reorders `values`.
fn quantile_seconds(values: &mut [i64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let h = (values.len() - 1) as f64 * q;
    let k = h.floor() as usize;
    let frac = h - k as f64;
    let (_, &mut lo, above) = values.select_nth_unstable(k);
    let value = if frac > 0.0 {
        let hi = above.iter().copied().min().unwrap_or(lo);
        lo as f64 + frac * (hi - lo) as f64
    } else {
        lo as f64
    };
    Some(value / 1000.0)
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Tally {
    fn metrics(mut self, from: i64, to: i64) -> DoraMetrics {
        let days = (to - from) as f64 / DAY as f64;
        self.days.sort_unstable();
        self.days.dedup();
        let counted = self.deployments > 0;
        let per_day = counted.then(|| self.deployments as f64 / days);
        let lead_median = quantile_seconds(&mut self.lead, 0.5);
        let recovery_median = quantile_seconds(&mut self.recoveries, 0.5);
        let failure_rate = rate(self.failed, self.deployments);
        let stage = |v: &mut Vec<i64>| Stage {
            changes: v.len() as u64,
            median_seconds: quantile_seconds(v, 0.5),
        };
        DoraMetrics {
            deployment_frequency: DeploymentFrequency {
                deployments: self.deployments,
                per_day,
                deployment_days_per_week: counted.then(|| self.days.len() as f64 * 7.0 / days),
                tier: per_day.map(deployment_frequency_tier),
            },
            lead_time: LeadTime {
                changes: self.lead.len() as u64,
                median_seconds: lead_median,
                p90_seconds: quantile_seconds(&mut self.lead, 0.9),
                tier: lead_median.map(lead_time_tier),
                coding: stage(&mut self.coding),
                review: stage(&mut self.review),
                deploy: stage(&mut self.deploy_stage),
                unlinked_deployments: self.unlinked,
            },
            change_failure_rate: ChangeFailureRate {
                deployments: self.deployments,
                failed: self.failed,
                rate: failure_rate,
                tier: failure_rate.map(change_failure_rate_tier),
            },
            recovery_time: RecoveryTime {
                failures: self.recoveries.len() as u64 + self.unrecovered,
                unrecovered: self.unrecovered,
                median_seconds: recovery_median,
                tier: recovery_median.map(recovery_time_tier),
            },
            rework_rate: ReworkRate {
                deployments: self.deployments,
                rework: self.rework,
                rate: rate(self.rework, self.deployments),
                tier: None,
            },
        }
    }
}

/// Adds to the range's tally and its week's.
struct Tallies {
    total: Tally,
    weeks: Vec<Tally>,
}

impl Tallies {
    fn each(&mut self, week: usize, f: impl Fn(&mut Tally)) {
        f(&mut self.total);
        f(&mut self.weeks[week]);
    }
}

/// Whether `t` falls in one of the merged, sorted intervals `(start, end]`.
fn within(intervals: &[(i64, i64)], t: i64) -> bool {
    let at = intervals.partition_point(|&(start, _)| start < t);
    at > 0 && t <= intervals[at - 1].1
}

/// The five metrics for the deploys `filter` selects that finished in `range`.
pub fn report(history: &DeliveryHistory, range: TimeRange, filter: &DoraFilter) -> DoraReport {
    let in_scope = |service: &str| {
        filter.service.as_deref().is_none_or(|s| s == service)
            && filter.team.as_deref().is_none_or(|team| {
                history
                    .services
                    .get(service)
                    .and_then(|s| s.team.as_deref())
                    == Some(team)
            })
    };
    let weeks = Weeks::new(range);
    let mut tallies = Tallies {
        total: Tally::default(),
        weeks: vec![Tally::default(); weeks.count],
    };

    let attributions: Vec<Attribution> = history
        .incidents
        .iter()
        .map(|i| history.attribute(i))
        .collect();
    // Incidents counted against each deploy, and each in-scope service's open incidents.
    let mut incidents_of: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut open: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    for (ix, (incident, attribution)) in history.incidents.iter().zip(&attributions).enumerate() {
        if let Some(d) = attribution
            .deploy()
            .and_then(|id| history.deploy_ix.get(id))
        {
            incidents_of.entry(*d).or_default().push(ix as u32);
        }
        let until = incident.resolved.map_or(i64::MAX, Timestamp::millis);
        for service in &incident.services {
            if in_scope(service) {
                open.entry(service.as_str())
                    .or_default()
                    .push((incident.started.millis(), until));
            }
        }
    }
    for intervals in open.values_mut() {
        intervals.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(intervals.len());
        for &(start, end) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        *intervals = merged;
    }

    let mut groups: Vec<(&str, &Group)> = history
        .groups
        .iter()
        .filter(|((service, env), _)| *env == filter.environment && in_scope(service))
        .map(|((service, _), group)| (service.as_str(), group))
        .collect();
    groups.sort_unstable_by_key(|(service, _)| *service);

    let graph = &history.graph;
    let mut walker = Walker::new(graph);
    let mut commits: Vec<u32> = Vec::new();
    // The group (1-based) in which each pull request was last counted: a request counts once
    // per service, at the first deploy that shipped any of it.
    let mut pull_counted = vec![0u32; history.pulls.len()];
    let (from, to) = (range.start(), range.end());
    let finished = |d: u32| history.deploys[d as usize].finished;
    let mut counted_deploys: Vec<u32> = Vec::new();

    for (g, (service, group)) in groups.iter().enumerate() {
        let stamp = g as u32 + 1;
        let paths = history.paths_of(service);
        let intervals = open.get(service).map_or(&[][..], Vec::as_slice);
        let first = group.successful.partition_point(|&d| finished(d) < from);
        let last = group.successful.partition_point(|&d| finished(d) < to);
        for (before, &d) in group.successful.iter().enumerate().take(last).skip(first) {
            counted_deploys.push(d);
            let deploy = &history.deploys[d as usize];
            let at = deploy.finished.millis();
            let week = weeks.of(at);
            let day = at.div_euclid(DAY);
            tallies.each(week, |t| {
                t.deployments += 1;
                t.days.push(day);
            });

            commits.clear();
            match history.changes_in(group, before, d, &paths, &mut walker, &mut commits) {
                Found::Listed | Found::Range => {
                    for &c in &commits {
                        let authored = graph.authored(c).unwrap_or(at);
                        let Some(p) = history.pull_of(c) else {
                            tallies.each(week, |t| t.lead.push((at - authored).max(0)));
                            continue;
                        };
                        if pull_counted[p as usize] == stamp {
                            continue;
                        }
                        pull_counted[p as usize] = stamp;
                        let pull = &history.pulls[p as usize];
                        let first_authored = history.pull_commits[p as usize]
                            .iter()
                            .filter_map(|&x| graph.authored(x))
                            .min()
                            .unwrap_or(authored);
                        tallies.each(week, |t| t.lead.push((at - first_authored).max(0)));
                        if let Some(merged) = pull.merged {
                            let opened = pull.opened.millis();
                            let merged = merged.millis();
                            tallies.each(week, |t| {
                                t.coding.push((opened - first_authored).max(0));
                                t.review.push(merged - opened);
                                t.deploy_stage.push((at - merged).max(0));
                            });
                        }
                    }
                }
                Found::FirstDeploy | Found::UnknownCommit | Found::TooLong => {
                    tallies.each(week, |t| t.unlinked += 1);
                }
            }

            if let Some(incidents) = incidents_of.get(&d) {
                let mut recovered = Some(at);
                for &i in incidents {
                    recovered = match (recovered, history.incidents[i as usize].resolved) {
                        (Some(r), Some(resolved)) => Some(r.max(resolved.millis())),
                        _ => None,
                    };
                }
                tallies.each(week, |t| {
                    t.failed += 1;
                    match recovered {
                        Some(r) => t.recoveries.push(r - at),
                        None => t.unrecovered += 1,
                    }
                });
            }

            if deploy.is_unplanned() || within(intervals, at) {
                tallies.each(week, |t| t.rework += 1);
            }
        }

        let first = group.failed.partition_point(|&d| finished(d) < from);
        let last = group.failed.partition_point(|&d| finished(d) < to);
        for &d in &group.failed[first..last] {
            let at = finished(d);
            let next = group.successful.partition_point(|&s| finished(s) <= at);
            let recovered = group.successful.get(next).map(|&s| finished(s) - at);
            tallies.each(weeks.of(at.millis()), |t| match recovered {
                Some(span) => t.recoveries.push(span.millis()),
                None => t.unrecovered += 1,
            });
        }
    }

    counted_deploys.sort_unstable();
    let mut incidents: Vec<IncidentAttribution> = history
        .incidents
        .iter()
        .zip(attributions)
        .filter(|(incident, attribution)| {
            let counted = attribution
                .deploy()
                .and_then(|id| history.deploy_ix.get(id))
                .is_some_and(|d| counted_deploys.binary_search(d).is_ok());
            counted
                || (range.contains(incident.started)
                    && incident.services.iter().any(|s| in_scope(s)))
        })
        .map(|(incident, attribution)| IncidentAttribution {
            incident: incident.id.clone(),
            started: incident.started,
            resolved: incident.resolved,
            attribution,
        })
        .collect();
    incidents.sort_by(|a, b| (a.started, &a.incident).cmp(&(b.started, &b.incident)));

    let week_reports = tallies
        .weeks
        .into_iter()
        .enumerate()
        .map(|(i, tally)| {
            let (start, end) = weeks.bounds(i);
            WeekReport {
                start: Timestamp::from_millis(start),
                end: Timestamp::from_millis(end),
                metrics: tally.metrics(start, end),
            }
        })
        .collect();

    DoraReport {
        start: from,
        end: to,
        environment: filter.environment.clone(),
        service: filter.service.clone(),
        team: filter.team.clone(),
        metrics: tallies.total.metrics(from.millis(), to.millis()),
        weeks: week_reports,
        incidents,
        attribution_window: history.config().attribution_window,
        tier_source: TIER_SOURCE.to_string(),
        tier_year: TIER_YEAR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_r7() {
        let mut v: Vec<i64> = (1..=10).map(|x| x * 1000).collect();
        assert_eq!(quantile_seconds(&mut v, 0.5), Some(5.5));
        let p90 = quantile_seconds(&mut v, 0.9).unwrap();
        assert!((p90 - 9.1).abs() < 1e-9, "{p90}");
        let mut one = vec![7000];
        assert_eq!(quantile_seconds(&mut one, 0.9), Some(7.0));
        assert_eq!(quantile_seconds(&mut [], 0.5), None);
        let mut odd = vec![5000, 1000, 3000];
        assert_eq!(quantile_seconds(&mut odd, 0.5), Some(3.0));
    }

    #[test]
    fn tiers_read_the_2024_values_as_bounds() {
        assert_eq!(deployment_frequency_tier(3.0), Tier::Elite);
        assert_eq!(deployment_frequency_tier(1.0), Tier::Elite);
        assert_eq!(deployment_frequency_tier(0.99), Tier::High);
        assert_eq!(deployment_frequency_tier(1.0 / 7.0), Tier::High);
        assert_eq!(deployment_frequency_tier(0.1), Tier::Medium);
        assert_eq!(deployment_frequency_tier(1.0 / 30.0), Tier::Medium);
        assert_eq!(deployment_frequency_tier(0.01), Tier::Low);

        assert_eq!(lead_time_tier(3600.0), Tier::Elite);
        assert_eq!(lead_time_tier(86_400.0), Tier::High);
        assert_eq!(lead_time_tier(7.0 * 86_400.0), Tier::High);
        assert_eq!(lead_time_tier(7.0 * 86_400.0 + 1.0), Tier::Medium);
        assert_eq!(lead_time_tier(30.0 * 86_400.0), Tier::Medium);
        assert_eq!(lead_time_tier(31.0 * 86_400.0), Tier::Low);

        assert_eq!(change_failure_rate_tier(0.0), Tier::Elite);
        assert_eq!(change_failure_rate_tier(0.05), Tier::Elite);
        assert_eq!(change_failure_rate_tier(0.08), Tier::High);
        assert_eq!(change_failure_rate_tier(0.20), Tier::High);
        assert_eq!(change_failure_rate_tier(0.21), Tier::Low);

        assert_eq!(recovery_time_tier(3599.0), Tier::Elite);
        assert_eq!(recovery_time_tier(3600.0), Tier::High);
        assert_eq!(recovery_time_tier(86_399.0), Tier::High);
        assert_eq!(recovery_time_tier(86_400.0), Tier::Low);
    }

    #[test]
    fn weeks_start_on_mondays_and_are_cut_to_the_range() {
        // 2026-01-07 is a Wednesday; 2026-01-12 a Monday.
        let wednesday = Timestamp::from_secs(1_767_744_000);
        let monday = Timestamp::from_secs(1_768_176_000);
        let range = TimeRange::new(wednesday, monday + Span::days(8)).unwrap();
        let weeks = Weeks::new(range);
        assert_eq!(weeks.count, 3);
        assert_eq!(weeks.bounds(0), (wednesday.millis(), monday.millis()));
        assert_eq!(
            weeks.bounds(1),
            (monday.millis(), (monday + Span::days(7)).millis())
        );
        assert_eq!(
            weeks.bounds(2),
            (
                (monday + Span::days(7)).millis(),
                (monday + Span::days(8)).millis()
            )
        );
        assert_eq!(weeks.of(monday.millis() - 1), 0);
        assert_eq!(weeks.of(monday.millis()), 1);
    }

    #[test]
    fn open_intervals_hold_their_end_not_their_start() {
        let intervals = [(10, 20), (30, i64::MAX)];
        assert!(!within(&intervals, 10));
        assert!(within(&intervals, 11));
        assert!(within(&intervals, 20));
        assert!(!within(&intervals, 25));
        assert!(within(&intervals, 1_000));
    }
}
