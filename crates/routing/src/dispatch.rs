//! The dispatcher: aggregation groups, their timers and the notification pipeline, following
//! Alertmanager 0.25's `dispatch/dispatch.go` and `notify/notify.go` on a clock the caller
//! drives.
//!
//! - [`Dispatcher::receive`] stores the alert in the [`AlertBook`] (merging as upstream does)
//!   and puts the stored version into one aggregation group per matching route, the group
//!   chosen by the route and the alert's group labels. A new group first flushes `group_wait`
//!   after it was created; an alert joining a group that has not flushed yet and whose
//!   `starts_at + group_wait` is already past makes the group flush now. After a flush the next
//!   one is `group_interval` later.
//! - [`Dispatcher::flush_due`] flushes the groups whose time has come. A flush takes the
//!   group's alerts (an alert not resolved at the flush shows no end), sorted as upstream's
//!   `AlertSlice` (by `job`, then `instance`, then label set), then drops, in upstream's stage
//!   order, alerts inhibited by an alert firing anywhere, everything when the route is outside
//!   its `active_time_intervals` or inside its `mute_time_intervals`, and silenced alerts. The
//!   dedup stage then compares with the [`NotificationLog`] entry of (receiver, group key):
//!   with no entry it notifies when something fires; otherwise when something fires that the
//!   last notification did not carry as firing, when everything resolved after something had
//!   fired, when the receiver sends resolved alerts and one resolved that was not carried as
//!   resolved, or when the last notification is older than `repeat_interval`. A receiver
//!   without `send_resolved` gets only the firing alerts and nothing when none fire, but the
//!   log records the resolved ones all the same. Finally the resolved alerts the flush saw are
//!   removed from the group unless a newer version arrived meanwhile.
//! - Groups left empty are removed at upstream's 30-second maintenance ticks (counted from
//!   when the dispatcher started); until then an alert joining one waits for its next
//!   `group_interval` tick, as upstream.
//! - [`Dispatcher::reload`] mirrors upstream's reload: a new routing tree and fresh groups,
//!   rebuilt from the alerts in the book; the notification log is kept, so nothing already
//!   notified is sent again.
//!
//! - Across a restart, upstream keeps only its notification log: a caller persists
//!   [`NotificationLog::entries`], and after [`Dispatcher::new`] puts them back with
//!   [`Dispatcher::restore_notification_log`] and receives the alerts again (from its own
//!   store, or as the alert sources resend them); groups then flush at once for alerts older
//!   than `group_wait`, and the log keeps what was already sent from being sent again.
//!
//! Delivery is the caller's: a flush counts as delivered, as upstream after a successful send.
//! The dedup stage identifies alerts by [`Fingerprint`] where upstream hashes the label set
//! another way; both identify the label set.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use thiserror::Error;

use crate::alert::{Alert, AlertBook, AlertError, AlertStatus, PostableAlert};
use crate::group::{Fingerprint, go_quote, group_key, group_labels};
use crate::inhibit::{InhibitRule, is_inhibited};
use crate::interval::NamedTimeInterval;
use crate::route::{MatchedRoute, Route};
use crate::silence::Silence;
use crate::{LabelSet, later};

/// Alertmanager's default `global.resolve_timeout`.
pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Alertmanager's default `--data.retention`: how long a notification log entry is kept.
pub const DEFAULT_LOG_RETENTION: Duration = Duration::from_secs(120 * 60 * 60);
/// How often upstream's dispatcher removes empty aggregation groups.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);

/// A receiver as the dispatcher needs it: its name and whether it is sent resolved alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// The name routes refer to.
    pub name: String,
    /// `send_resolved` of its integration.
    pub send_resolved: bool,
}

impl Receiver {
    /// A receiver.
    pub fn new(name: impl Into<String>, send_resolved: bool) -> Receiver {
        Receiver {
            name: name.into(),
            send_resolved,
        }
    }
}

/// Everything in an Alertmanager configuration that decides notifications.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// The routing tree.
    pub route: Route,
    /// Every receiver; names are unique.
    pub receivers: Vec<Receiver>,
    /// `inhibit_rules`.
    pub inhibit_rules: Vec<InhibitRule>,
    /// `time_intervals` (and the older `mute_time_intervals`).
    pub time_intervals: Vec<NamedTimeInterval>,
    /// `global.resolve_timeout`: the end given to a posted alert that has none.
    pub resolve_timeout: Duration,
    /// How long a notification log entry is kept.
    pub log_retention: Duration,
}

impl DispatchConfig {
    /// A configuration with no inhibit rules or time intervals and upstream's defaults.
    pub fn new(route: Route, receivers: Vec<Receiver>) -> DispatchConfig {
        DispatchConfig {
            route,
            receivers,
            inhibit_rules: Vec::new(),
            time_intervals: Vec::new(),
            resolve_timeout: DEFAULT_RESOLVE_TIMEOUT,
            log_retention: DEFAULT_LOG_RETENTION,
        }
    }
}

/// Why a configuration was refused; the messages are upstream's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The root route names no receiver.
    #[error("root route must specify a default receiver")]
    NoRootReceiver,
    /// The root route has matchers.
    #[error("root route must not have any matchers")]
    RootMatchers,
    /// The root route has mute time intervals.
    #[error("root route must not have any mute time intervals")]
    RootMuteTimeIntervals,
    /// The root route has active time intervals.
    #[error("root route must not have any active time intervals")]
    RootActiveTimeIntervals,
    /// Two receivers share a name.
    #[error("notification config name {} is not unique", go_quote(.0))]
    DuplicateReceiver(String),
    /// A route names a receiver that is not configured.
    #[error("undefined receiver {} used in route", go_quote(.0))]
    UndefinedReceiver(String),
    /// A route names a time interval that is not configured.
    #[error("undefined time interval {} used in route", go_quote(.0))]
    UndefinedTimeInterval(String),
    /// A route sets `group_interval: 0`.
    #[error("group_interval cannot be zero")]
    ZeroGroupInterval,
    /// A route sets `repeat_interval: 0`.
    #[error("repeat_interval cannot be zero")]
    ZeroRepeatInterval,
}

/// What a receiver is to be sent: one aggregation group's alerts at one flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The receiver's name.
    pub receiver: String,
    /// The group key (the webhook's `groupKey`).
    pub group_key: String,
    /// The key of the route the group belongs to.
    pub route_key: String,
    /// The group labels (the webhook's `groupLabels`).
    pub group_labels: LabelSet,
    /// The alerts in upstream's order; firing ones have no `ends_at`.
    pub alerts: Vec<Alert>,
    /// The flush instant.
    pub at: DateTime<Utc>,
    /// When this receiver last notified this group (from the log), if ever: with the alert
    /// sets, it identifies the notification, so one re-sent after a restart that lost the
    /// log's newest entry can be recognised as the same.
    pub previous: Option<DateTime<Utc>>,
}

impl Notification {
    /// `firing` when any alert fires, else `resolved` (the webhook's `status`).
    pub fn status(&self) -> AlertStatus {
        if self.alerts.iter().any(|a| !a.resolved_at(self.at)) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        }
    }
}

/// One notification log entry: what was last notified to a receiver for a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The receiver's name.
    pub receiver: String,
    /// The group key.
    pub group_key: String,
    /// The alerts that were firing, in the order they were sent.
    pub firing: Vec<Fingerprint>,
    /// The alerts that were resolved (recorded even when the receiver is not sent them).
    pub resolved: Vec<Fingerprint>,
    /// When it was notified.
    pub at: DateTime<Utc>,
    /// When the entry may be forgotten.
    pub expires_at: DateTime<Utc>,
}

/// The notification log (upstream's `nflog`): one entry per (receiver, group key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationLog {
    entries: BTreeMap<(String, String), LogEntry>,
}

impl NotificationLog {
    /// The entry for a receiver and group key.
    pub fn get(&self, receiver: &str, group_key: &str) -> Option<&LogEntry> {
        self.entries
            .get(&(receiver.to_owned(), group_key.to_owned()))
    }

    /// Every entry, ordered by receiver then group key; what a caller persists.
    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.values()
    }

    /// Puts entries back (after a restart); an entry replaces one with the same receiver and
    /// group key.
    pub fn restore(&mut self, entries: impl IntoIterator<Item = LogEntry>) {
        for entry in entries {
            self.insert(entry);
        }
    }

    /// Removes the entries that expired before `now`, as upstream's maintenance does; returns
    /// how many.
    pub fn gc(&mut self, now: DateTime<Utc>) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.expires_at >= now);
        before - self.entries.len()
    }

    fn insert(&mut self, entry: LogEntry) {
        self.entries
            .insert((entry.receiver.clone(), entry.group_key.clone()), entry);
    }
}

/// A read-only view of one aggregation group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// The route the group belongs to.
    pub route: MatchedRoute,
    /// The group key.
    pub group_key: String,
    /// The group labels.
    pub labels: LabelSet,
    /// The alerts in the group, by fingerprint.
    pub alerts: Vec<Alert>,
    /// When it flushes next.
    pub next_flush: DateTime<Utc>,
}

/// A group's identity: the route (by path, since sibling routes may share a key) and the
/// group labels.
type GroupId = (Vec<usize>, LabelSet);

#[derive(Debug, Clone)]
struct AggregationGroup {
    route: MatchedRoute,
    labels: LabelSet,
    key: String,
    alerts: BTreeMap<Fingerprint, Alert>,
    next_flush: DateTime<Utc>,
    has_flushed: bool,
    /// Creation order, to flush groups due at the same instant in a stable order.
    seq: u64,
}

/// Alertmanager's dispatcher and notification pipeline, driven by the caller's clock.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    config: DispatchConfig,
    send_resolved: BTreeMap<String, bool>,
    intervals: BTreeMap<String, NamedTimeInterval>,
    book: AlertBook,
    log: NotificationLog,
    groups: BTreeMap<GroupId, AggregationGroup>,
    next_seq: u64,
    started_at: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

impl Dispatcher {
    /// A dispatcher started at `now`, with no alerts and an empty notification log.
    pub fn new(config: DispatchConfig, now: DateTime<Utc>) -> Result<Dispatcher, ConfigError> {
        let (send_resolved, intervals) = validate(&config)?;
        Ok(Dispatcher {
            config,
            send_resolved,
            intervals,
            book: AlertBook::new(),
            log: NotificationLog::default(),
            groups: BTreeMap::new(),
            next_seq: 0,
            started_at: now,
            last_seen: now,
        })
    }

    /// Applies a new configuration at `now`, as upstream's reload: the groups are rebuilt from
    /// the alerts in the book with fresh timers; the book and notification log are kept. A
    /// refused configuration changes nothing.
    pub fn reload(
        &mut self,
        config: DispatchConfig,
        now: DateTime<Utc>,
    ) -> Result<(), ConfigError> {
        let (send_resolved, intervals) = validate(&config)?;
        self.config = config;
        self.send_resolved = send_resolved;
        self.intervals = intervals;
        self.groups.clear();
        self.started_at = now;
        self.last_seen = now;
        let alerts: Vec<Alert> = self.book.iter().cloned().collect();
        for alert in &alerts {
            self.route(alert, now);
        }
        Ok(())
    }

    /// The configuration in force.
    pub fn config(&self) -> &DispatchConfig {
        &self.config
    }

    /// Turns a posted alert into an alert as `POST /api/v2/alerts` does (with this
    /// configuration's `resolve_timeout`) and receives it; returns its fingerprint.
    pub fn post(
        &mut self,
        alert: PostableAlert,
        now: DateTime<Utc>,
    ) -> Result<Fingerprint, AlertError> {
        let alert = alert.into_alert(now, self.config.resolve_timeout)?;
        let fp = alert.fingerprint();
        self.receive(alert, now);
        Ok(fp)
    }

    /// Stores an alert in the book and puts the stored version into the aggregation group of
    /// every route that takes it. Re-receiving stored alerts after a restart rebuilds the
    /// groups.
    pub fn receive(&mut self, alert: Alert, now: DateTime<Utc>) {
        self.maintain(now);
        let stored = self.book.put(alert, now).clone();
        self.route(&stored, now);
    }

    /// What receiving `alerts` would add: alerts not in the book yet, and aggregation groups
    /// that do not exist yet. Changes nothing; callers bound the book and the groups (and so
    /// the notifications one flush can make) by refusing a batch before receiving any of it.
    pub fn growth(&self, alerts: &[Alert]) -> Growth {
        let mut fingerprints = BTreeSet::new();
        let mut groups = BTreeSet::new();
        for alert in alerts {
            let fp = alert.fingerprint();
            if self.book.get(fp).is_none() {
                fingerprints.insert(fp.0);
            }
            for matched in self.config.route.matching(&alert.labels) {
                let labels = group_labels(&alert.labels, &matched.options.group_by);
                let id = (matched.path.clone(), labels);
                if !self.groups.contains_key(&id) {
                    groups.insert(id);
                }
            }
        }
        Growth {
            alerts: fingerprints.len(),
            groups: groups.len(),
        }
    }

    /// How many alerts the book holds and how many aggregation groups exist.
    pub fn size(&self) -> Growth {
        Growth {
            alerts: self.book.len(),
            groups: self.groups.len(),
        }
    }

    /// When the next group with alerts is due to flush.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.groups
            .values()
            .filter(|g| !g.alerts.is_empty())
            .map(|g| g.next_flush)
            .min()
    }

    /// Flushes every group due at `now` (earliest due first), with the silences in force, and
    /// returns what to send. Each notification is recorded in the log as sent.
    pub fn flush_due(&mut self, now: DateTime<Utc>, silences: &[Silence]) -> Vec<Notification> {
        self.maintain(now);
        let mut due: Vec<(DateTime<Utc>, u64, GroupId)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush <= now)
            .map(|(id, g)| (g.next_flush, g.seq, id.clone()))
            .collect();
        due.sort_by_key(|a| (a.0, a.1));
        if due.is_empty() {
            return Vec::new();
        }
        let firing: Vec<LabelSet> = if self.config.inhibit_rules.is_empty() {
            Vec::new()
        } else {
            self.book
                .iter()
                .filter(|a| !a.resolved_at(now))
                .map(|a| a.labels.clone())
                .collect()
        };
        let mut out = Vec::new();
        for (_, _, id) in due {
            let Some(group) = self.groups.get_mut(&id) else {
                continue;
            };
            group.has_flushed = true;
            let interval = group.route.options.group_interval;
            if group.alerts.is_empty() {
                // Upstream's timer keeps ticking for an empty group until it is removed.
                group.next_flush = next_tick(group.next_flush, interval, now, true);
                continue;
            }
            group.next_flush = later(now, interval);
            let mut flushed: Vec<Alert> = group
                .alerts
                .values()
                .cloned()
                .map(|mut a| {
                    // A firing alert must not resolve while the notification travels.
                    if !a.resolved_at(now) {
                        a.ends_at = None;
                    }
                    a
                })
                .collect();
            sort_alerts(&mut flushed);
            let stage = Stage {
                config: &self.config,
                send_resolved: &self.send_resolved,
                intervals: &self.intervals,
                firing: &firing,
                silences,
                now,
            };
            if let Some(n) = stage.run(group, &flushed, &mut self.log) {
                out.push(n);
            }
            for alert in flushed.iter().filter(|a| a.resolved_at(now)) {
                let fp = alert.fingerprint();
                // Keep an alert that was updated since this flush took it.
                if group
                    .alerts
                    .get(&fp)
                    .is_some_and(|current| current.updated_at == alert.updated_at)
                {
                    group.alerts.remove(&fp);
                }
            }
        }
        out
    }

    /// The alerts known now.
    pub fn alerts(&self) -> &AlertBook {
        &self.book
    }

    /// The notification log, to persist its entries.
    pub fn notification_log(&self) -> &NotificationLog {
        &self.log
    }

    /// Puts persisted notification log entries back, after a restart.
    pub fn restore_notification_log(&mut self, entries: impl IntoIterator<Item = LogEntry>) {
        self.log.restore(entries);
    }

    /// Upstream's periodic garbage collection: forgets alerts resolved at `now` and log entries
    /// expired before it. Groups keep their own copies until they flush them.
    pub fn gc(&mut self, now: DateTime<Utc>) -> Vec<Alert> {
        self.log.gc(now);
        self.book.gc(now)
    }

    /// The aggregation groups, by route path then group labels.
    pub fn groups(&self) -> Vec<GroupView> {
        self.groups
            .values()
            .map(|g| GroupView {
                route: g.route.clone(),
                group_key: g.key.clone(),
                labels: g.labels.clone(),
                alerts: g.alerts.values().cloned().collect(),
                next_flush: g.next_flush,
            })
            .collect()
    }

    fn route(&mut self, alert: &Alert, now: DateTime<Utc>) {
        let fp = alert.fingerprint();
        for matched in self.config.route.matching(&alert.labels) {
            let labels = group_labels(&alert.labels, &matched.options.group_by);
            let wait = matched.options.group_wait;
            let interval = matched.options.group_interval;
            let id = (matched.path.clone(), labels.clone());
            if !self.groups.contains_key(&id) {
                let group = AggregationGroup {
                    key: group_key(&matched.key, &labels),
                    route: matched,
                    labels,
                    alerts: BTreeMap::new(),
                    next_flush: later(now, wait),
                    has_flushed: false,
                    seq: self.next_seq,
                };
                self.next_seq += 1;
                self.groups.insert(id.clone(), group);
            }
            let Some(group) = self.groups.get_mut(&id) else {
                continue;
            };
            if group.alerts.is_empty() && group.has_flushed {
                // Its timer kept ticking while the group was empty.
                group.next_flush = next_tick(group.next_flush, interval, now, false);
            }
            group.alerts.insert(fp, alert.clone());
            if !group.has_flushed && later(alert.starts_at, wait) < now {
                group.next_flush = group.next_flush.min(now);
            }
        }
    }

    /// Removes empty groups if a maintenance tick passed since the last call.
    fn maintain(&mut self, now: DateTime<Utc>) {
        let tick = span(MAINTENANCE_INTERVAL);
        let ticks =
            |t: DateTime<Utc>| (t - self.started_at).num_milliseconds() / tick.num_milliseconds();
        if ticks(now) > ticks(self.last_seen) {
            self.groups.retain(|_, g| !g.alerts.is_empty());
        }
        self.last_seen = self.last_seen.max(now);
    }
}

/// The per-receiver notification stages for one flush.
struct Stage<'a> {
    config: &'a DispatchConfig,
    send_resolved: &'a BTreeMap<String, bool>,
    intervals: &'a BTreeMap<String, NamedTimeInterval>,
    firing: &'a [LabelSet],
    silences: &'a [Silence],
    now: DateTime<Utc>,
}

impl Stage<'_> {
    fn run(
        &self,
        group: &AggregationGroup,
        flushed: &[Alert],
        log: &mut NotificationLog,
    ) -> Option<Notification> {
        let now = self.now;
        let options = &group.route.options;
        let receiver = options.receiver.clone().unwrap_or_default();
        let mut alerts: Vec<&Alert> = flushed
            .iter()
            .filter(|a| !is_inhibited(&self.config.inhibit_rules, &a.labels, self.firing))
            .collect();
        if alerts.is_empty() {
            return None;
        }
        if !options.active_time_intervals.is_empty() && !self.holds(&options.active_time_intervals)
        {
            return None;
        }
        if self.holds(&options.mute_time_intervals) {
            return None;
        }
        alerts.retain(|a| !self.silences.iter().any(|s| s.mutes(&a.labels, now)));
        if alerts.is_empty() {
            return None;
        }

        let (resolved, firing): (Vec<&Alert>, Vec<&Alert>) =
            alerts.iter().partition(|a| a.resolved_at(now));
        let firing_fps: Vec<Fingerprint> = firing.iter().map(|a| a.fingerprint()).collect();
        let resolved_fps: Vec<Fingerprint> = resolved.iter().map(|a| a.fingerprint()).collect();
        let send_resolved = self.send_resolved.get(&receiver).copied().unwrap_or(true);
        let entry = log.get(&receiver, &group.key);
        let previous = entry.map(|e| e.at);
        if !needs_update(
            entry,
            &firing_fps,
            &resolved_fps,
            send_resolved,
            options.repeat_interval,
            now,
        ) {
            return None;
        }

        let sent: Vec<Alert> = if send_resolved {
            alerts.iter().map(|a| (*a).clone()).collect()
        } else {
            firing.iter().map(|a| (*a).clone()).collect()
        };
        log.insert(LogEntry {
            receiver: receiver.clone(),
            group_key: group.key.clone(),
            firing: firing_fps,
            resolved: resolved_fps,
            at: now,
            expires_at: later(now, self.config.log_retention),
        });
        // Without send_resolved an all-resolved group is logged but not sent.
        if sent.is_empty() {
            return None;
        }
        Some(Notification {
            receiver,
            group_key: group.key.clone(),
            route_key: group.route.key.clone(),
            group_labels: group.labels.clone(),
            alerts: sent,
            at: now,
            previous,
        })
    }

    /// Whether any of the named intervals holds now.
    fn holds(&self, names: &[String]) -> bool {
        names.iter().any(|name| {
            self.intervals
                .get(name)
                .is_some_and(|i| i.contains(self.now))
        })
    }
}

/// Upstream's `DedupStage.needsUpdate`.
fn needs_update(
    entry: Option<&LogEntry>,
    firing: &[Fingerprint],
    resolved: &[Fingerprint],
    send_resolved: bool,
    repeat: Duration,
    now: DateTime<Utc>,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only news of something firing is worth sending.
        return !firing.is_empty();
    };
    if !is_subset(firing, &entry.firing) {
        return true;
    }
    if firing.is_empty() {
        // All resolved: tell the receiver only if it was told something fired.
        return !entry.firing.is_empty();
    }
    if send_resolved && !is_subset(resolved, &entry.resolved) {
        return true;
    }
    now.checked_sub_signed(span(repeat))
        .is_some_and(|since| entry.at < since)
}

fn is_subset(subset: &[Fingerprint], set: &[Fingerprint]) -> bool {
    let set: BTreeSet<&Fingerprint> = set.iter().collect();
    subset.iter().all(|fp| set.contains(fp))
}

/// Upstream's `AlertSlice` order: by `job`, then `instance` (an alert with the label before one
/// without), then by label set (`LabelSet.Before`).
/// Bounds what one flush sends each receiver: past `max` notifications for a receiver, the
/// last of its `max` carries the alerts of every group beyond (group key `<receiver>/overflow`,
/// no group labels), so a burst of distinct groups reaches a person as `max` messages, not as
/// one message per group. Order is kept; `max` of 0 is taken as 1.
pub fn bound_per_receiver(notifications: Vec<Notification>, max: usize) -> Vec<Notification> {
    let max = max.max(1);
    let mut per_receiver: BTreeMap<String, usize> = BTreeMap::new();
    for n in &notifications {
        *per_receiver.entry(n.receiver.clone()).or_default() += 1;
    }
    if per_receiver.values().all(|&count| count <= max) {
        return notifications;
    }
    let mut kept: BTreeMap<String, usize> = BTreeMap::new();
    let mut overflow: BTreeMap<String, Notification> = BTreeMap::new();
    let mut out = Vec::new();
    for n in notifications {
        if per_receiver[&n.receiver] <= max {
            out.push(n);
            continue;
        }
        let seen = kept.entry(n.receiver.clone()).or_default();
        if *seen + 1 < max {
            *seen += 1;
            out.push(n);
            continue;
        }
        match overflow.get_mut(&n.receiver) {
            Some(merged) => {
                merged.alerts.extend(n.alerts);
                merged.previous = merged.previous.max(n.previous);
            }
            None => {
                let receiver = n.receiver.clone();
                overflow.insert(
                    receiver.clone(),
                    Notification {
                        group_key: format!("{receiver}/overflow"),
                        route_key: format!("{receiver}/overflow"),
                        group_labels: LabelSet::new(),
                        ..n
                    },
                );
            }
        }
    }
    for (_, mut merged) in overflow {
        sort_alerts(&mut merged.alerts);
        merged.alerts.dedup_by_key(|a| a.fingerprint());
        out.push(merged);
    }
    out
}

/// Counts of alerts and aggregation groups (see [`Dispatcher::growth`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Growth {
    pub alerts: usize,
    pub groups: usize,
}

pub fn sort_alerts(alerts: &mut [Alert]) {
    alerts.sort_by(|a, b| {
        for name in ["job", "instance"] {
            match (a.labels.get(name), b.labels.get(name)) {
                (None, None) => continue,
                (None, Some(_)) => return std::cmp::Ordering::Greater,
                (Some(_), None) => return std::cmp::Ordering::Less,
                (Some(x), Some(y)) if x != y => return x.cmp(y),
                (Some(_), Some(_)) => {}
            }
        }
        label_set_order(&a.labels, &b.labels)
    });
}

/// Upstream's `AlertGroups` order, as its API lists groups: by group labels
/// (`LabelSet.Before`), then by receiver.
pub fn sort_groups(groups: &mut [GroupView]) {
    groups.sort_by(|a, b| {
        label_set_order(&a.labels, &b.labels)
            .then_with(|| a.route.options.receiver.cmp(&b.route.options.receiver))
    });
}

/// Prometheus's `LabelSet.Before` as an ordering: fewer labels first, then the first name (in
/// sorted order over both sets) that one lacks or where the values differ decides.
fn label_set_order(a: &LabelSet, b: &LabelSet) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        match (a.get(name), b.get(name)) {
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    Ordering::Equal
}

fn span(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// The first tick of a timer ticking every `interval` from `from` that is after `now` (or at
/// `now` unless `past_now`).
fn next_tick(
    from: DateTime<Utc>,
    interval: Duration,
    now: DateTime<Utc>,
    past_now: bool,
) -> DateTime<Utc> {
    let due = |t: DateTime<Utc>| if past_now { t <= now } else { t < now };
    if !due(from) {
        return from;
    }
    let step = span(interval).num_nanoseconds().unwrap_or(i64::MAX).max(1);
    let behind = (now - from).num_nanoseconds().unwrap_or(i64::MAX);
    // Whole steps to reach `now`, then one more if still due.
    let mut t = from
        .checked_add_signed(TimeDelta::nanoseconds(behind / step * step))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if due(t) {
        t = later(t, interval);
    }
    t
}

type Checked = (BTreeMap<String, bool>, BTreeMap<String, NamedTimeInterval>);

/// Upstream's configuration checks that concern dispatching.
fn validate(config: &DispatchConfig) -> Result<Checked, ConfigError> {
    let root = &config.route;
    if root.receiver.is_none() {
        return Err(ConfigError::NoRootReceiver);
    }
    if !root.matchers.is_empty() {
        return Err(ConfigError::RootMatchers);
    }
    if !root.mute_time_intervals.is_empty() {
        return Err(ConfigError::RootMuteTimeIntervals);
    }
    if !root.active_time_intervals.is_empty() {
        return Err(ConfigError::RootActiveTimeIntervals);
    }
    let mut send_resolved = BTreeMap::new();
    for r in &config.receivers {
        if send_resolved
            .insert(r.name.clone(), r.send_resolved)
            .is_some()
        {
            return Err(ConfigError::DuplicateReceiver(r.name.clone()));
        }
    }
    let intervals: BTreeMap<String, NamedTimeInterval> = config
        .time_intervals
        .iter()
        .map(|i| (i.name.clone(), i.clone()))
        .collect();
    let mut problem = None;
    root.walk(|route, _| {
        if problem.is_some() {
            return;
        }
        // A zero interval would make a group flush without end.
        if route.group_interval == Some(Duration::ZERO) {
            problem = Some(ConfigError::ZeroGroupInterval);
            return;
        }
        if route.repeat_interval == Some(Duration::ZERO) {
            problem = Some(ConfigError::ZeroRepeatInterval);
            return;
        }
        if let Some(name) = &route.receiver
            && !send_resolved.contains_key(name)
        {
            problem = Some(ConfigError::UndefinedReceiver(name.clone()));
            return;
        }
        let named = route
            .mute_time_intervals
            .iter()
            .chain(&route.active_time_intervals);
        if let Some(name) = named.into_iter().find(|n| !intervals.contains_key(*n)) {
            problem = Some(ConfigError::UndefinedTimeInterval(name.clone()));
        }
    });
    match problem {
        Some(e) => Err(e),
        None => Ok((send_resolved, intervals)),
    }
}
