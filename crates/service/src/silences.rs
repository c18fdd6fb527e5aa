//! Silences as Alertmanager's API v2 keeps them: created, updated in place or by replacement
//! (upstream's `canUpdate`), expired, listed in upstream's order. Each change is stored before
//! the desk's copy is refreshed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use headroom_core::Timestamp;
use headroom_ingest::alertmanager::PostedSilence;
use headroom_routing::matcher::{MatchOp, Matcher, all_match};
use headroom_routing::silence::{Silence, SilenceState};
use headroom_store::{ExpireOutcome, SilenceStore};
use rand::Rng;

use crate::alerting::Alerting;
use crate::error::ServiceError;
use crate::limits;
use crate::records::{matcher_from_api, silence_from_record, silence_record};

impl Alerting {
    /// Every stored silence whose equality matchers match `filter` (as Alertmanager filters):
    /// active by end, then pending by start, then expired by end, latest first.
    pub async fn list_silences(&self, filter: &[Matcher]) -> Result<Vec<Silence>, ServiceError> {
        let now = self.now().to_chrono();
        let mut silences: Vec<Silence> = self
            .store
            .list_silences()
            .await?
            .iter()
            .filter_map(silence_from_record)
            .filter(|s| silence_matches_filter(s, filter))
            .collect();
        silences.sort_by_key(|s| match s.state(now) {
            SilenceState::Active => (0, s.ends_at.timestamp_millis()),
            SilenceState::Pending => (1, s.starts_at.timestamp_millis()),
            SilenceState::Expired => (2, -s.ends_at.timestamp_millis()),
        });
        Ok(silences)
    }

    /// Silence `id`.
    pub async fn silence(&self, id: &str) -> Result<Silence, ServiceError> {
        let record = self
            .store
            .get_silence(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("silence {id} not found")))?;
        silence_from_record(&record)
            .ok_or_else(|| ServiceError::Internal(format!("silence {id} is unreadable")))
    }

    /// Creates a silence, or updates one (`id`) as Alertmanager does: in place when only its end
    /// moved (or it has not started), otherwise by expiring it and creating a new one. Returns
    /// the id of the silence in force.
    pub async fn post_silence(&self, posted: PostedSilence) -> Result<String, ServiceError> {
        let now = self.now().to_chrono();
        let matchers = posted
            .matchers
            .iter()
            .map(|m| matcher_from_api(&m.name, &m.value, m.is_regex, m.is_equal))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ServiceError::Invalid)?;
        if matchers.iter().all(|m| m.matches_value("")) {
            return Err(ServiceError::Invalid(
                "at least one matcher must not match the empty string".into(),
            ));
        }
        if posted.ends_at < posted.starts_at {
            return Err(ServiceError::Invalid(
                "end time must not be before start time".into(),
            ));
        }
        if posted.ends_at < now {
            return Err(ServiceError::Invalid(
                "end time can't be in the past".into(),
            ));
        }
        let mut silence = Silence {
            id: String::new(),
            matchers,
            starts_at: posted.starts_at,
            ends_at: posted.ends_at,
            created_by: posted.created_by,
            comment: posted.comment,
        };
        let size = silence.comment.len()
            + silence.created_by.len()
            + silence
                .matchers
                .iter()
                .map(|m| m.name().len() + m.value().len())
                .sum::<usize>();
        if size > limits::MAX_SILENCE_BYTES {
            return Err(limits::too_long("silence", size, limits::MAX_SILENCE_BYTES));
        }
        if posted.id.is_none() {
            let desk = self.desk.lock().await;
            let live = desk
                .silences
                .iter()
                .filter(|s| s.state(now) != SilenceState::Expired)
                .count();
            if live >= limits::MAX_SILENCES {
                return Err(limits::full("silences", limits::MAX_SILENCES));
            }
        }
        let stamp = Timestamp::from_chrono(&now);
        if let Some(id) = &posted.id {
            let previous = self
                .store
                .get_silence(id)
                .await?
                .and_then(|r| silence_from_record(&r))
                .ok_or_else(|| ServiceError::NotFound(format!("silence {id} not found")))?;
            if can_update(&previous, &silence, now) {
                silence.id = id.clone();
                self.store
                    .put_silence(&silence_record(&silence, stamp))
                    .await?;
                self.refresh_silences().await?;
                return Ok(silence.id);
            }
            if previous.state(now) != SilenceState::Expired {
                self.store.expire_silence(id, stamp).await?;
            }
        }
        silence.starts_at = silence.starts_at.max(now);
        silence.id = new_silence_id();
        self.store
            .put_silence(&silence_record(&silence, stamp))
            .await?;
        self.refresh_silences().await?;
        Ok(silence.id)
    }

    /// Expires silence `id` now.
    pub async fn expire_silence(&self, id: &str) -> Result<(), ServiceError> {
        match self.store.expire_silence(id, self.now()).await? {
            ExpireOutcome::Expired => self.refresh_silences().await,
            ExpireOutcome::AlreadyExpired => Err(ServiceError::Invalid(format!(
                "silence {id} already expired"
            ))),
            ExpireOutcome::NotFound => {
                Err(ServiceError::NotFound(format!("silence {id} not found")))
            }
        }
    }
}

fn silence_matches_filter(s: &Silence, filter: &[Matcher]) -> bool {
    let labels: BTreeMap<String, String> = s
        .matchers
        .iter()
        .filter(|m| m.op() == MatchOp::Equal)
        .map(|m| (m.name().to_string(), m.value().to_string()))
        .collect();
    all_match(filter, &labels)
}

/// Upstream's `canUpdate`: same matchers, and only the timestamps the silence's state allows.
fn can_update(previous: &Silence, next: &Silence, now: DateTime<Utc>) -> bool {
    let same = |a: &[Matcher], b: &[Matcher]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.name() == y.name() && x.op() == y.op() && x.value() == y.value())
    };
    if !same(&previous.matchers, &next.matchers) {
        return false;
    }
    match previous.state(now) {
        SilenceState::Active => next.starts_at == previous.starts_at && next.ends_at >= now,
        SilenceState::Pending => next.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// A random version 4 UUID, the form Alertmanager gives silence ids.
fn new_silence_id() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
