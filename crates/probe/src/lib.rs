//! Synthetic probes. For now: the condition language probes use to judge a result,
//! written in Gatus's syntax so existing Gatus checks carry over unchanged.

pub mod condition;

pub use condition::{
    BodyPath, Condition, ConditionError, Observation, Operand, Operator, Outcome, PathSegment,
    Placeholder, parse,
};
