//! Transaction time on PostgreSQL, exact across server processes.
//!
//! The protocol (ARCHITECTURE.md, "Transaction time on PostgreSQL"):
//! - Each account has a row in `clocks` holding the stamp of its last commit (`last_tx`).
//! - A **writer** takes `pg_advisory_xact_lock(key(account))` for every account it writes,
//!   in sorted order, then reads their `last_tx` and the clock, and stamps its transaction
//!   `s = max(clock, last_tx + 1, this process's floors)`. It writes its rows with `s`, sets
//!   `last_tx = s` and commits; the lock is released at commit. So writers of one account
//!   commit one after another, in stamp order: transaction time strictly increases per
//!   account in commit order.
//! - A **reader** of an account takes `pg_advisory_xact_lock_shared(key(account))` before
//!   its first statement on the account's data, in a READ COMMITTED transaction. Once
//!   granted, no writer of the account is in flight and none can commit until the reader
//!   ends, so every later statement of the reader sees the same, complete state of the
//!   account: every commit stamped before its "now", none after. Its now is
//!   `max(clock, last_tx)`.
//! - A writer that starts after a reader therefore stamps after the reader's now, provided
//!   the clock did not step back between them: `transaction_as_of = now` of any read
//!   replays exactly what it saw, from any process. The clock is the database server's
//!   (`clock_timestamp()`), one clock for every process, so skew between application hosts
//!   does not matter; each process also keeps floors (the latest now it handed out, the
//!   latest stamp it committed) that make it exact within the process whatever the clock.
//!   The remaining assumption, stated in the README: the database server's clock does not
//!   step back (NTP slews it).
//!
//! Advisory locks live in the server's memory (no WAL, no page written by a read). On Citus
//! they are local to the node a session is connected to: every aurra server must connect to
//! the coordinator (README).

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

/// The advisory lock key of `account` in `schema`: 64 bits of SHA-256. Two accounts that
/// collide only wait for each other; they never read each other's rows.
pub(crate) fn account_lock(schema: &str, account: &str) -> i64 {
    key(&["account", schema, account])
}

/// The advisory lock that serialises migrations of `schema`.
pub(crate) fn migration_lock(schema: &str) -> i64 {
    key(&["migrate", schema])
}

fn key(parts: &[&str]) -> i64 {
    let mut hash = Sha256::new();
    hash.update(b"aurra");
    for part in parts {
        hash.update([0]);
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes of a 32-byte digest"))
}

/// This process's floors (see the module docs).
#[derive(Debug)]
pub(crate) struct Floors {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The latest stamp this process committed (or found committed when it opened).
    committed: Option<i64>,
    /// The latest "now" this process handed to a reader.
    read: Option<i64>,
}

impl Floors {
    /// Floors for a store opened when the clock read `opened_at`, whose latest commit of any
    /// account was `latest`.
    pub(crate) fn new(opened_at: i64, latest: Option<i64>) -> Self {
        Floors {
            state: Mutex::new(State {
                committed: latest,
                read: Some(opened_at.saturating_sub(1)),
            }),
        }
    }

    /// The stamp of a writer holding accounts whose latest commit is `last`, at `clock`.
    pub(crate) fn stamp(&self, clock: i64, last: Option<i64>) -> i64 {
        let s = self.state.lock();
        [last, s.committed, s.read]
            .into_iter()
            .flatten()
            .fold(clock, |stamp, floor| stamp.max(floor.saturating_add(1)))
    }

    /// Records that a transaction stamped `stamp` committed.
    pub(crate) fn committed(&self, stamp: i64) {
        let mut s = self.state.lock();
        s.committed = Some(s.committed.map_or(stamp, |c| c.max(stamp)));
    }

    /// "Now" for a reader of an account whose latest commit is `last`, at `clock`; later
    /// stamps of this process follow it.
    pub(crate) fn read_now(&self, clock: i64, last: Option<i64>) -> i64 {
        let mut s = self.state.lock();
        let now = [last, s.committed]
            .into_iter()
            .flatten()
            .fold(clock, i64::max);
        s.read = Some(s.read.map_or(now, |r| r.max(now)));
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_follow_commits_reads_and_the_database() {
        let floors = Floors::new(1_000, None);
        assert_eq!(
            floors.stamp(500, None),
            1_000,
            "after the instant it opened"
        );
        assert_eq!(
            floors.stamp(2_000, Some(3_000)),
            3_001,
            "after the account's last"
        );
        floors.committed(3_001);
        assert_eq!(floors.read_now(2_500, Some(10)), 3_001);
        assert_eq!(floors.stamp(2_500, Some(10)), 3_002);
        assert_eq!(floors.read_now(9_000, None), 9_000);
        assert_eq!(floors.stamp(8_000, None), 9_001, "after a now handed out");
    }

    #[test]
    fn lock_keys_differ_by_schema_and_account() {
        assert_ne!(account_lock("aurra", "a"), account_lock("aurra", "b"));
        assert_ne!(account_lock("aurra", "a"), account_lock("other", "a"));
        assert_ne!(account_lock("aurra", "ab"), account_lock("aurr", "ab"));
        assert_ne!(migration_lock("aurra"), account_lock("aurra", ""));
    }
}
