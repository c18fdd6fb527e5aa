//! What the HTTP edge holds: the service, and what only requests need: the table of wrong
//! credentials per client address and the remote_write decode slots.

use std::ops::Deref;
use std::sync::Arc;

use headroom_service::Headroom;
use tokio::sync::Semaphore;

use crate::failed_auth::FailedAuth;
use crate::limits::DECODE_SLOTS;

#[derive(Clone)]
pub struct AppState {
    pub service: Headroom,
    /// Wrong credentials per client address (see `auth`).
    pub failed_auth: Arc<FailedAuth>,
    /// remote_write bodies being decoded.
    pub decode_slots: Arc<Semaphore>,
}

impl AppState {
    pub fn new(service: Headroom) -> AppState {
        AppState {
            service,
            failed_auth: Default::default(),
            decode_slots: Arc::new(Semaphore::new(DECODE_SLOTS)),
        }
    }
}

impl Deref for AppState {
    type Target = Headroom;
    fn deref(&self) -> &Headroom {
        &self.service
    }
}
