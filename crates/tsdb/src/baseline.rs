//! Baselines: where each source of counter increments stood when the increments logged with it
//! were taken. They travel in the same log record as those increments, so after a crash the
//! store holds both or neither, and a source resumes exactly where its stored increments end.

use std::collections::{BTreeMap, HashMap};

use headroom_core::Timestamp;

use crate::codec::{Dec, DecodeError, Enc};

/// Which source a baseline belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BaselineKey {
    /// A counter series, named by a 16-byte digest of its labels (the caller's choice), so the
    /// store's size does not grow with label lengths.
    Series([u8; 16]),
    /// The backend follower of the SLO with this id.
    Follower(String),
}

/// A counter series' last accepted sample, or (for a follower) the end of the last step stored
/// in `at`, with `value` unused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub at: Timestamp,
    pub value: f64,
}

/// One change to the baselines, applied in order with the record carrying it.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineMove {
    Set(BaselineKey, Baseline),
    /// The source is no longer tracked (silent too long, or no longer configured).
    Forget(BaselineKey),
}

// Move tags in the log and the snapshot.
const SET_SERIES: u8 = 1;
const SET_FOLLOWER: u8 = 2;
const FORGET_SERIES: u8 = 3;
const FORGET_FOLLOWER: u8 = 4;

/// Every baseline the store holds. Counter series are kept apart from followers so the common
/// entry is 32 bytes.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Baselines {
    series: HashMap<[u8; 16], Baseline>,
    followers: BTreeMap<String, Baseline>,
}

impl Baselines {
    pub fn apply(&mut self, moves: &[BaselineMove]) {
        for m in moves {
            match m {
                BaselineMove::Set(BaselineKey::Series(id), b) => {
                    self.series.insert(*id, *b);
                }
                BaselineMove::Set(BaselineKey::Follower(slo), b) => {
                    self.followers.insert(slo.clone(), *b);
                }
                BaselineMove::Forget(BaselineKey::Series(id)) => {
                    self.series.remove(id);
                }
                BaselineMove::Forget(BaselineKey::Follower(slo)) => {
                    self.followers.remove(slo);
                }
            }
        }
    }

    pub fn get(&self, key: &BaselineKey) -> Option<Baseline> {
        match key {
            BaselineKey::Series(id) => self.series.get(id).copied(),
            BaselineKey::Follower(slo) => self.followers.get(slo).copied(),
        }
    }

    /// Every baseline as a `Set`, followers first then series in no particular order.
    pub fn sets(&self) -> impl Iterator<Item = BaselineMove> + '_ {
        let followers = self
            .followers
            .iter()
            .map(|(slo, b)| BaselineMove::Set(BaselineKey::Follower(slo.clone()), *b));
        let series = self
            .series
            .iter()
            .map(|(id, b)| BaselineMove::Set(BaselineKey::Series(*id), *b));
        followers.chain(series)
    }

    pub fn series(&self) -> impl Iterator<Item = ([u8; 16], Baseline)> + '_ {
        self.series.iter().map(|(id, b)| (*id, *b))
    }

    pub fn followers(&self) -> impl Iterator<Item = (&str, Baseline)> + '_ {
        self.followers.iter().map(|(slo, b)| (slo.as_str(), *b))
    }

    pub fn memory_bytes(&self) -> usize {
        // hashbrown: the entry and one control byte per bucket, at most 7/8 full.
        let series = self.series.capacity() * (size_of::<([u8; 16], Baseline)>() + 1);
        let followers: usize = self
            .followers
            .keys()
            .map(|k| k.capacity() + size_of::<(String, Baseline)>() + 16)
            .sum();
        series + followers
    }
}

pub(crate) fn encode_moves(e: &mut Enc<'_>, moves: &[BaselineMove]) {
    e.u32(moves.len() as u32);
    for m in moves {
        match m {
            BaselineMove::Set(key, b) => {
                match key {
                    BaselineKey::Series(id) => {
                        e.u8(SET_SERIES);
                        e.bytes(id);
                    }
                    BaselineKey::Follower(slo) => {
                        e.u8(SET_FOLLOWER);
                        e.str(slo);
                    }
                }
                e.i64(b.at.millis());
                e.f64(b.value);
            }
            BaselineMove::Forget(BaselineKey::Series(id)) => {
                e.u8(FORGET_SERIES);
                e.bytes(id);
            }
            BaselineMove::Forget(BaselineKey::Follower(slo)) => {
                e.u8(FORGET_FOLLOWER);
                e.str(slo);
            }
        }
    }
}

pub(crate) fn decode_moves(d: &mut Dec<'_>) -> Result<Vec<BaselineMove>, DecodeError> {
    let n = d.u32()? as usize;
    // Each move takes at least 17 bytes: never trust a count beyond what the payload can hold.
    let mut moves = Vec::with_capacity(n.min(d.remaining() / 17));
    for _ in 0..n {
        let tag = d.u8()?;
        let key = match tag {
            SET_SERIES | FORGET_SERIES => BaselineKey::Series(d.array()?),
            SET_FOLLOWER | FORGET_FOLLOWER => BaselineKey::Follower(d.str()?.to_owned()),
            _ => return Err(DecodeError("unknown baseline move")),
        };
        moves.push(match tag {
            SET_SERIES | SET_FOLLOWER => {
                let at = Timestamp(d.i64()?);
                let value = d.f64()?;
                BaselineMove::Set(key, Baseline { at, value })
            }
            _ => BaselineMove::Forget(key),
        });
    }
    Ok(moves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_round_trip_and_apply_in_order() {
        let a = BaselineKey::Series([7; 16]);
        let f = BaselineKey::Follower("shop".into());
        let b = |at, value| Baseline {
            at: Timestamp(at),
            value,
        };
        let moves = vec![
            BaselineMove::Set(a.clone(), b(1, 10.0)),
            BaselineMove::Set(f.clone(), b(60_000, 0.0)),
            BaselineMove::Set(a.clone(), b(2, 12.5)),
            BaselineMove::Forget(f.clone()),
            BaselineMove::Set(BaselineKey::Series([9; 16]), b(3, 1.0)),
            BaselineMove::Forget(BaselineKey::Series([9; 16])),
        ];
        let mut buf = Vec::new();
        encode_moves(&mut Enc(&mut buf), &moves);
        let mut d = Dec::new(&buf);
        assert_eq!(decode_moves(&mut d).unwrap(), moves);
        assert!(d.is_empty());

        let mut all = Baselines::default();
        all.apply(&moves);
        assert_eq!(all.get(&a), Some(b(2, 12.5)));
        assert_eq!(all.get(&f), None);
        assert_eq!(all.sets().count(), 1);
        // Applying the same moves again changes nothing: replay is idempotent.
        all.apply(&moves);
        assert_eq!(all.get(&a), Some(b(2, 12.5)));
        assert_eq!(
            all.sets().collect::<Vec<_>>(),
            vec![BaselineMove::Set(a, b(2, 12.5))]
        );
    }

    #[test]
    fn a_count_beyond_the_payload_is_an_error_not_an_allocation() {
        let mut buf = Vec::new();
        Enc(&mut buf).u32(u32::MAX);
        assert!(decode_moves(&mut Dec::new(&buf)).is_err());
    }
}
