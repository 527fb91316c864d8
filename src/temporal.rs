//! The temporal rules, in one place: what "valid at T", "current at T" and the flags mean, which
//! rows each read mode selects, and freshness. Pure functions; every read path uses them.
//!
//! Definitions (spec §3.3, §3.7), with `now` the read time or the replayed instant:
//! - `valid_at(m, T)` ⇔ `valid_from <= T` and (`valid_to` is open or `valid_to > T`)
//! - `current_at(m, T)` ⇔ not superseded and `valid_at(m, T)`
//! - `is_superseded` ⇔ `superseded_by` is set; `is_expired` ⇔ not superseded and
//!   `valid_to <= now`; `is_current` ⇔ neither; `is_known_current` ⇔ `transaction_time_end`
//!   is open.

use crate::model::{Memory, ReadMode};
use crate::time::Timestamp;

const MICROS_PER_DAY: f64 = 86_400_000_000.0;

/// The four derived flags of the `temporal` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemporalFlags {
    /// Still true in the world: neither superseded nor expired.
    pub is_current: bool,
    /// Validity ended (`valid_to <= now`) without a replacement.
    pub is_expired: bool,
    /// Replaced by another memory.
    pub is_superseded: bool,
    /// The store still believes the row (`transaction_time_end` open).
    pub is_known_current: bool,
}

/// `valid_from <= t < valid_to` (an open `valid_to` never ends).
pub fn valid_at(valid_from: Timestamp, valid_to: Option<Timestamp>, t: Timestamp) -> bool {
    valid_from <= t && valid_to.is_none_or(|end| end > t)
}

/// Not superseded and valid at `t`.
pub fn current_at(m: &Memory, t: Timestamp) -> bool {
    m.superseded_by.is_none() && valid_at(m.valid_from, m.valid_to, t)
}

/// The flags of a row (in the state it is given in) at `now`.
pub fn flags(m: &Memory, now: Timestamp) -> TemporalFlags {
    let is_superseded = m.superseded_by.is_some();
    let is_expired = !is_superseded && m.valid_to.is_some_and(|end| end <= now);
    TemporalFlags {
        is_current: !is_superseded && !is_expired,
        is_expired,
        is_superseded,
        is_known_current: m.transaction_time_end.is_none(),
    }
}

/// Whether a read in `mode` returns the row `m`.
///
/// `m` must be in the state the mode reads: for transaction-time modes the state it had at
/// the replayed instant (and only rows that existed then), otherwise its latest state. `now` is
/// the read time.
pub fn selects(mode: &ReadMode, m: &Memory, now: Timestamp) -> bool {
    match *mode {
        ReadMode::Current => current_at(m, now),
        ReadMode::History => true,
        ReadMode::AsOf(t) => valid_at(m.valid_from, m.valid_to, t),
        ReadMode::TransactionAsOf {
            at,
            include_superseded,
        } => m.created_at <= at && (include_superseded || current_at(m, at)),
        ReadMode::Bitemporal {
            valid_at: t,
            transaction_at,
        } => m.created_at <= transaction_at && valid_at(m.valid_from, m.valid_to, t),
    }
}

/// The instant flags and freshness are computed at for a read in `mode` issued at `now`:
/// the replayed instant for transaction-time travel, else `now`.
pub fn reference_instant(mode: &ReadMode, now: Timestamp) -> Timestamp {
    mode.transaction_instant().unwrap_or(now)
}

/// `freshness = 0.5 ^ (age_days / half_life_days)`, rounded to 3 decimals (spec §3.6).
///
/// Superseded or expired rows are `0.0`; a `created_at` after `now` is `1.0`; a half-life that
/// is not a positive finite number is treated as the default 30 days.
pub fn freshness(m: &Memory, now: Timestamp, half_life_days: f64) -> f64 {
    let f = flags(m, now);
    if !f.is_current {
        return 0.0;
    }
    let age_micros = now.as_micros().saturating_sub(m.created_at.as_micros());
    if age_micros <= 0 {
        return 1.0;
    }
    let half_life = if half_life_days.is_finite() && half_life_days > 0.0 {
        half_life_days
    } else {
        30.0
    };
    let age_days = age_micros as f64 / MICROS_PER_DAY;
    let value = 0.5_f64.powf(age_days / half_life);
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MemoryId;

    fn ts(micros: i64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    fn memory(valid_from: i64, valid_to: Option<i64>, superseded: bool) -> Memory {
        Memory {
            id: MemoryId::from_u128(1),
            account: "acct".into(),
            tenant: None,
            decision: "x".into(),
            summary: "x".into(),
            topic: "General".into(),
            importance_score: 5,
            source: "agent".into(),
            channel: "agent".into(),
            session_id: None,
            original_message: "x".into(),
            original_input: "x".into(),
            external_id: None,
            captured_at: ts(0),
            created_at: ts(0),
            valid_from: ts(valid_from),
            valid_to: valid_to.map(ts),
            superseded_by: superseded.then(|| MemoryId::from_u128(2)),
            transaction_time_start: ts(0),
            transaction_time_end: superseded.then(|| ts(50)),
            extraction: None,
        }
    }

    #[test]
    fn exactly_one_state_flag_is_true() {
        for (vt, sup) in [
            (None, false),
            (Some(5), false),
            (Some(500), false),
            (Some(5), true),
        ] {
            let f = flags(&memory(0, vt, sup), ts(100));
            let set = [f.is_current, f.is_expired, f.is_superseded];
            assert_eq!(set.iter().filter(|b| **b).count(), 1, "{vt:?} {sup}");
        }
    }

    #[test]
    fn future_expiry_stays_current_until_it_passes() {
        let m = memory(0, Some(100), false);
        assert!(flags(&m, ts(99)).is_current);
        assert!(flags(&m, ts(100)).is_expired);
        assert!(current_at(&m, ts(99)));
        assert!(!current_at(&m, ts(100)));
    }

    #[test]
    fn valid_interval_is_half_open() {
        assert!(!valid_at(ts(10), Some(ts(20)), ts(9)));
        assert!(valid_at(ts(10), Some(ts(20)), ts(10)));
        assert!(valid_at(ts(10), Some(ts(20)), ts(19)));
        assert!(!valid_at(ts(10), Some(ts(20)), ts(20)));
        assert!(valid_at(ts(10), None, Timestamp::MAX));
    }

    #[test]
    fn freshness_halves_per_half_life_and_is_zero_when_not_current() {
        let m = memory(0, None, false);
        let day = 86_400_000_000;
        assert_eq!(freshness(&m, ts(30 * day), 30.0), 0.5);
        assert_eq!(freshness(&m, ts(60 * day), 30.0), 0.25);
        assert_eq!(freshness(&m, ts(-5), 30.0), 1.0);
        assert_eq!(freshness(&memory(0, None, true), ts(day), 30.0), 0.0);
        assert_eq!(freshness(&memory(0, Some(1), false), ts(day), 30.0), 0.0);
    }
}
