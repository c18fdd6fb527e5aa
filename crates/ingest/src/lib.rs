//! Wire formats in. Each is parsed once here into core types; nothing past this crate sees raw input.

pub mod alertmanager;
pub mod events;
pub mod exposition;
pub mod github;
pub mod gitlab;
pub mod hook;
pub mod pagerduty;
pub mod remote_write;

pub use events::{EventError, RecordedEvent, parse_batch, parse_recording};
/// Events are core's; the formats above read them.
pub use headroom_core::Event;
