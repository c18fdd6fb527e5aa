//! headroom's domain: SLOs, error budgets, burn rates, alert policies and their state machines.
//!
//! Pure: no IO, no async, no clock. Every function that depends on time takes `now`.

pub mod alert;
pub mod budget;
pub mod evaluator;
pub mod event;
pub mod ident;
pub mod policy;
pub mod query;
pub mod rules;
pub mod sli;
pub mod slo;
pub mod suggest;
pub mod time;
pub mod window;

pub use alert::{Alert, AlertState, AlertTransition};
pub use budget::{BurnRate, ErrorBudget, SloStatus};
pub use evaluator::GroupAlerts;
pub use event::Event;
pub use ident::{GroupKey, GroupKeyError, Severity, SloId};
pub use policy::{AlertPolicy, AlertTier, AlertWindows, BudgetWindow, BurnCondition, NoDataRule};
pub use rules::{RuleStep, RulesSpec, SlothSpec};
pub use sli::{Counts, SliData, SliceTally, window_end};
pub use slo::{
    Bound, BoundError, BudgetingMethod, Comparison, Objective, PromQuery, QueryForm, RatioQueries,
    Sli, Slo, SourceRef, is_label_name,
};
pub use time::{Span, SpanError, Timestamp};
pub use window::{CalendarUnit, Period, Window};
