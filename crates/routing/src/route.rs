//! The routing tree: which routes take an alert, with the options each inherits.
//!
//! Follows Alertmanager 0.25's `dispatch/route.go`:
//! - A route's options start as its parent's effective options (the root's start from
//!   [`DEFAULT_GROUP_WAIT`], [`DEFAULT_GROUP_INTERVAL`], [`DEFAULT_REPEAT_INTERVAL`] and no
//!   grouping) and each option the route sets replaces the inherited one. An empty label list
//!   for `group_by` counts as unset, as YAML `group_by: []` does upstream.
//! - `mute_time_intervals` and `active_time_intervals` are *not* inherited: upstream assigns
//!   them from the route's own configuration, so a child without them has none.
//! - Matching is depth first: a route whose matchers fail takes nothing; otherwise its children
//!   are tried in order, stopping after the first child that took the alert unless that child
//!   has `continue`; when no child took it the route takes it itself.
//!
//! Route keys are Alertmanager's `Route.Key()`: the parent's key, `/`, then the route's
//! matchers sorted and printed as `{a="b",c=~"d"}`; the root of a tree without matchers is `{}`.
//! Matchers print their value as written (unanchored), as `matchers:` routes do upstream;
//! upstream's legacy `match_re` routes print the anchored `^(?:…)$` form instead, which a
//! caller converting `match_re` can reproduce by anchoring the value itself. Two sibling routes
//! with identical matchers share a key, as upstream; [`MatchedRoute::path`] (child indexes from
//! the root) tells them apart.

use std::time::Duration;

use crate::LabelSet;
use crate::matcher::{Matcher, all_match, matchers_to_string};

/// Alertmanager's default `group_wait`.
pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
/// Alertmanager's default `group_interval`.
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Alertmanager's default `repeat_interval`.
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 60 * 60);

/// Which labels group alerts together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// These labels (`group_by: [a, b]`); empty means all alerts of the route form one group.
    Labels(Vec<String>),
    /// Every label (`group_by: ['...']`): in effect no aggregation.
    All,
}

impl GroupBy {
    /// Whether `name` is one of the grouping labels.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            GroupBy::All => true,
            GroupBy::Labels(labels) => labels.iter().any(|l| l == name),
        }
    }
}

/// One node of the routing tree, as configured. `None` options inherit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Route {
    /// Receiver name; `None` inherits the parent's.
    pub receiver: Option<String>,
    /// All must match for the route to take an alert; empty matches everything.
    pub matchers: Vec<Matcher>,
    /// Keep trying later siblings after this route took an alert.
    pub continue_: bool,
    /// Grouping; `None` (or an empty label list) inherits the parent's.
    pub group_by: Option<GroupBy>,
    /// `group_wait`; `None` inherits.
    pub group_wait: Option<Duration>,
    /// `group_interval`; `None` inherits.
    pub group_interval: Option<Duration>,
    /// `repeat_interval`; `None` inherits.
    pub repeat_interval: Option<Duration>,
    /// Names of time intervals during which notifications are muted (not inherited).
    pub mute_time_intervals: Vec<String>,
    /// Names of time intervals outside which notifications are muted (not inherited).
    pub active_time_intervals: Vec<String>,
    /// Child routes, tried in order.
    pub routes: Vec<Route>,
}

/// The effective options of a route, after inheritance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOptions {
    /// Effective receiver; `None` when no route on the path names one.
    pub receiver: Option<String>,
    /// Effective grouping; `Labels([])` (one group per route) when nothing sets it.
    pub group_by: GroupBy,
    /// Effective `group_wait`.
    pub group_wait: Duration,
    /// Effective `group_interval`.
    pub group_interval: Duration,
    /// Effective `repeat_interval`.
    pub repeat_interval: Duration,
    /// This route's own mute time intervals.
    pub mute_time_intervals: Vec<String>,
    /// This route's own active time intervals.
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOptions {
    /// The options a root route starts from (Alertmanager's `DefaultRouteOpts`).
    fn default() -> Self {
        RouteOptions {
            receiver: None,
            group_by: GroupBy::Labels(Vec::new()),
            group_wait: DEFAULT_GROUP_WAIT,
            group_interval: DEFAULT_GROUP_INTERVAL,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

/// A route that took an alert, with its effective options and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRoute {
    /// Effective options.
    pub options: RouteOptions,
    /// Alertmanager's route key, e.g. `{}/{owner="team-A"}/{env="production"}`.
    pub key: String,
    /// Child indexes from the root (`[]` is the root itself); unique within a tree.
    pub path: Vec<usize>,
}

impl Route {
    /// This route's options given its parent's effective ones.
    pub fn options(&self, parent: &RouteOptions) -> RouteOptions {
        let group_by = match &self.group_by {
            Some(GroupBy::Labels(labels)) if labels.is_empty() => parent.group_by.clone(),
            Some(group_by) => group_by.clone(),
            None => parent.group_by.clone(),
        };
        RouteOptions {
            receiver: self.receiver.clone().or_else(|| parent.receiver.clone()),
            group_by,
            group_wait: self.group_wait.unwrap_or(parent.group_wait),
            group_interval: self.group_interval.unwrap_or(parent.group_interval),
            repeat_interval: self.repeat_interval.unwrap_or(parent.repeat_interval),
            mute_time_intervals: self.mute_time_intervals.clone(),
            active_time_intervals: self.active_time_intervals.clone(),
        }
    }

    /// Every route of this tree (this route as root) that takes an alert with `labels`, in
    /// Alertmanager's order.
    pub fn matching(&self, labels: &LabelSet) -> Vec<MatchedRoute> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        self.collect(labels, &RouteOptions::default(), None, &mut path, &mut out);
        out
    }

    /// Visits every route of the tree depth first (parents before children), with its
    /// effective options and key, as upstream's `Route.Walk`.
    pub fn walk(&self, mut visit: impl FnMut(&Route, &MatchedRoute)) {
        fn go(
            route: &Route,
            parent: &RouteOptions,
            parent_key: Option<&str>,
            path: &mut Vec<usize>,
            visit: &mut dyn FnMut(&Route, &MatchedRoute),
        ) {
            let here = route.describe(parent, parent_key, path);
            visit(route, &here);
            for (i, child) in route.routes.iter().enumerate() {
                path.push(i);
                go(child, &here.options, Some(&here.key), path, visit);
                path.pop();
            }
        }
        go(
            self,
            &RouteOptions::default(),
            None,
            &mut Vec::new(),
            &mut visit,
        );
    }

    /// Alertmanager's key for this route under a parent with key `parent_key`.
    pub fn key(&self, parent_key: Option<&str>) -> String {
        let own = matchers_to_string(&self.matchers);
        match parent_key {
            Some(parent) => format!("{parent}/{own}"),
            None => own,
        }
    }

    fn describe(
        &self,
        parent: &RouteOptions,
        parent_key: Option<&str>,
        path: &[usize],
    ) -> MatchedRoute {
        MatchedRoute {
            options: self.options(parent),
            key: self.key(parent_key),
            path: path.to_vec(),
        }
    }

    /// Returns whether this route (or a descendant) took the alert.
    fn collect(
        &self,
        labels: &LabelSet,
        parent: &RouteOptions,
        parent_key: Option<&str>,
        path: &mut Vec<usize>,
        out: &mut Vec<MatchedRoute>,
    ) -> bool {
        if !all_match(&self.matchers, labels) {
            return false;
        }
        let here = self.describe(parent, parent_key, path);
        let before = out.len();
        for (i, child) in self.routes.iter().enumerate() {
            path.push(i);
            let took = child.collect(labels, &here.options, Some(&here.key), path, out);
            path.pop();
            if took && !child.continue_ {
                break;
            }
        }
        if out.len() == before {
            out.push(here);
        }
        true
    }
}
