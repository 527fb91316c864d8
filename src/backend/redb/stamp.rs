//! Transaction-time stamping that keeps replay exact under concurrency.
//!
//! A write is stamped when its transaction starts; a read is told "now" when its snapshot
//! starts. Spec §3.7 requires `transaction_as_of = now` to replay exactly what that reader saw,
//! so two rules hold for every reader R and writer W:
//! - if R's snapshot does not contain W, then R's now < W's stamp;
//! - if it does, R's now ≥ W's stamp (true: now is never before the snapshot's last commit).
//!
//! Writers are serialised by redb. Each stamp is `max(clock, last commit + 1, max now handed
//! out + 1)`, and the stamps of recent transactions are kept so that a reader whose snapshot
//! misses a commit (in flight, or landed after the snapshot began) is told a "now" just before
//! the first such stamp.

use std::collections::VecDeque;

use parking_lot::Mutex;

/// How many recent stamps are remembered. A reader needs the first stamp after its snapshot;
/// only if more commits than this land between its `begin_read` and its stamp check does it
/// fall back to the (still correct, but older) instant of its snapshot.
const RECENT: usize = 64;

#[derive(Debug, Default)]
struct State {
    /// Stamps handed to writers, increasing; the last may belong to a transaction in flight.
    recent: VecDeque<i64>,
    /// The latest "now" handed to a reader.
    max_read: Option<i64>,
    /// Whether a stamp has been dropped from `recent`. Until then `recent` holds every stamp
    /// of this process, and stamps of earlier processes are in every snapshot.
    evicted: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Stamper {
    state: Mutex<State>,
}

impl Stamper {
    /// A stamper for a store opened when the clock read `opened_at`. Readers of an earlier
    /// handle were told instants before it (with a clock that does not step back), so writes
    /// of this handle are stamped at or after it.
    pub(crate) fn new(opened_at: i64) -> Self {
        Stamper {
            state: Mutex::new(State {
                max_read: Some(opened_at.saturating_sub(1)),
                ..State::default()
            }),
        }
    }

    /// The stamp of a write transaction that read `clock` after `last_commit`.
    pub(crate) fn assign(&self, clock: i64, last_commit: Option<i64>) -> i64 {
        let mut s = self.state.lock();
        let mut stamp = clock;
        for floor in [last_commit, s.max_read, s.recent.back().copied()]
            .into_iter()
            .flatten()
        {
            stamp = stamp.max(floor.saturating_add(1));
        }
        if s.recent.len() == RECENT {
            s.recent.pop_front();
            s.evicted = true;
        }
        s.recent.push_back(stamp);
        stamp
    }

    /// Forgets a stamp whose transaction did not commit.
    pub(crate) fn abandon(&self, stamp: i64) {
        let mut s = self.state.lock();
        if s.recent.back() == Some(&stamp) {
            s.recent.pop_back();
        }
    }

    /// "Now" for a reader whose snapshot's last commit is `snapshot_last`, reading `clock`.
    pub(crate) fn read_now(&self, clock: i64, snapshot_last: Option<i64>) -> i64 {
        let mut s = self.state.lock();
        let seen = snapshot_last.unwrap_or(i64::MIN);
        let mut now = clock.max(seen);
        if s.recent.back().is_some_and(|&last| last > seen) {
            let complete = !s.evicted || s.recent.front().is_some_and(|&f| f <= seen);
            now = match s.recent.iter().find(|&&t| t > seen) {
                // Every stamp the snapshot misses is at or after this one.
                Some(&first_unseen) if complete => now.min(first_unseen - 1),
                // Too many commits since the snapshot began to know the first: its own
                // last commit is a safe "now".
                _ => seen,
            };
        }
        s.max_read = Some(s.max_read.map_or(now, |m| m.max(now)));
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_that_misses_a_stamped_write_is_told_an_earlier_now() {
        let s = Stamper::default();
        let first = s.assign(100, None);
        assert_eq!(first, 100);
        // Committed; a second write is stamped and in flight.
        let second = s.assign(200, Some(first));
        // A reader whose snapshot holds only the first commit, with the clock at 300.
        assert_eq!(s.read_now(300, Some(first)), second - 1);
        // One that sees both is told the clock.
        assert_eq!(s.read_now(300, Some(second)), 300);
    }

    #[test]
    fn a_write_after_a_read_is_stamped_after_the_reader_now() {
        let s = Stamper::default();
        assert_eq!(s.read_now(500, None), 500);
        assert_eq!(s.assign(500, None), 501);
    }

    #[test]
    fn abandoned_stamps_do_not_hold_readers_back() {
        let s = Stamper::default();
        let first = s.assign(100, None);
        let failed = s.assign(200, Some(first));
        s.abandon(failed);
        assert_eq!(s.read_now(300, Some(first)), 300);
    }

    #[test]
    fn a_reader_of_an_empty_store_stays_before_the_first_write() {
        let s = Stamper::default();
        let first = s.assign(100, None);
        assert_eq!(s.read_now(300, None), first - 1);
    }

    #[test]
    fn after_many_unseen_commits_the_reader_falls_back_to_its_snapshot() {
        let s = Stamper::default();
        let first = s.assign(10, None);
        let mut last = first;
        for i in 0..(RECENT as i64 + 5) {
            last = s.assign(100 + i, Some(last));
        }
        assert_eq!(s.read_now(10_000, Some(first)), first);
    }
}
