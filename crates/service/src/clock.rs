//! The clock every service reads: the wall clock when serving, a controlled one in tests.

use std::sync::Arc;

use headroom_core::Timestamp;

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock, in milliseconds.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    })
}
