//! Wrong credentials per client address: the throttle `auth` and the calendar feeds apply
//! before looking at a credential.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::StatusCode;
use headroom_core::{Span, Timestamp};

use crate::error::ApiError;

/// Wrong credentials per client address, in fixed windows: an address that sent
/// [`FailedAuth::LIMIT`] wrong tokens within [`FailedAuth::WINDOW`] is refused until the window
/// ends. Bounded: at most [`FailedAuth::MAX_CLIENTS`] addresses are tracked; when full, the
/// expired windows are dropped, and if none has expired new addresses share one slot, so a
/// flood of addresses limits itself rather than growing memory.
#[derive(Debug, Default)]
pub struct FailedAuth {
    windows: Mutex<HashMap<Option<IpAddr>, (Timestamp, u32)>>,
}

impl FailedAuth {
    pub const LIMIT: u32 = 20;
    pub const WINDOW: Span = Span::MINUTE;
    pub const MAX_CLIENTS: usize = 10_000;

    pub fn check(&self, client: Option<IpAddr>, now: Timestamp) -> Result<(), ApiError> {
        let windows = self.windows.lock().expect("failed-auth lock");
        let key = Self::key(&windows, client);
        match windows.get(&key) {
            Some(&(start, n)) if n >= Self::LIMIT && now < start + Self::WINDOW => {
                let retry = ((start + Self::WINDOW - now).millis() + 999) / 1000;
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    format!(
                        "{} wrong credentials from this address within {}s: retry in {retry}s",
                        Self::LIMIT,
                        Self::WINDOW.millis() / 1000
                    ),
                );
                e.retry_after = Some(retry as u64);
                Err(e)
            }
            _ => Ok(()),
        }
    }

    pub fn record(&self, client: Option<IpAddr>, now: Timestamp) {
        let mut windows = self.windows.lock().expect("failed-auth lock");
        if windows.len() >= Self::MAX_CLIENTS && !windows.contains_key(&client) {
            windows.retain(|_, (start, _)| now < *start + Self::WINDOW);
        }
        let key = Self::key(&windows, client);
        let entry = windows.entry(key).or_insert((now, 0));
        if now >= entry.0 + Self::WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// The slot of `client`: its own, or the shared one when the table is full.
    fn key(
        windows: &HashMap<Option<IpAddr>, (Timestamp, u32)>,
        client: Option<IpAddr>,
    ) -> Option<IpAddr> {
        if windows.len() >= Self::MAX_CLIENTS && !windows.contains_key(&client) {
            None
        } else {
            client
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn an_address_is_refused_after_the_limit_until_its_window_ends() {
        let f = FailedAuth::default();
        let t0 = Timestamp(1_000_000);
        for _ in 0..FailedAuth::LIMIT {
            assert!(f.check(ip(1), t0).is_ok());
            f.record(ip(1), t0);
        }
        let refused = f.check(ip(1), t0 + Span::seconds(1)).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after, Some(59));
        assert!(
            f.check(ip(2), t0).is_ok(),
            "another address is not affected"
        );
        assert!(f.check(ip(1), t0 + FailedAuth::WINDOW).is_ok());
        f.record(ip(1), t0 + FailedAuth::WINDOW);
        assert!(
            f.check(ip(1), t0 + FailedAuth::WINDOW).is_ok(),
            "a new window starts counting from one"
        );
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_addresses() {
        let f = FailedAuth::default();
        let t0 = Timestamp(0);
        for i in 0..(FailedAuth::MAX_CLIENTS as u32 + 500) {
            f.record(Some(IpAddr::from(i.to_be_bytes())), t0);
        }
        assert_eq!(f.windows.lock().unwrap().len(), FailedAuth::MAX_CLIENTS + 1);
        // Once the windows expire, new addresses get their own slots again.
        f.record(ip(7), t0 + FailedAuth::WINDOW);
        assert!(f.windows.lock().unwrap().contains_key(&ip(7)));
    }
}
