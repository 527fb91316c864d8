//! Shared by every bench: a deterministic, realistic dataset generator, the same data loaded
//! into aurra, raw redb (the floor) and SQLite (the usual alternative), and the queries of
//! the two baselines.
//!
//! The dataset is one tenant of one account holding `size` versions (rows), written over
//! simulated time, one second per version:
//! - sources `agent` (60%), `slack` (20%, with a Slack `ts` as external id), `email`, `crm`;
//!   60% of rows belong to a session of ~25 consecutive writes; 12 topics; importance 1-10;
//!   a third carry a longer original message;
//! - 20% of facts are later superseded by newer versions (chains of 2-5 versions, each new
//!   version arriving 1-5,000 writes after the previous one), the rest are single versions;
//! - 3% of the other facts are expired 1-10,000 writes later with an explicit `valid_to`
//!   (half of them in the past, clamped to `valid_from`, half up to 30 days in the future);
//! - 5% of rows are back-dated: `valid_from` 1 minute to 14 days before their write.
//!
//! aurra is loaded through its public API: `write_batch` of [`BUILD_BATCH`] rows per commit
//! (so the rows of one batch share a transaction time, that of its last second), then each
//! supersession and expiry due in that batch as its own `supersede` commit, 1 µs apart;
//! `StoreOptions::durable(false)` and a `ManualClock` set to the plan's instant of every
//! commit (the store's transaction times are checked to equal the plan's). It is then
//! reopened with the default, durable options and the clock standing one second after the
//! last change ("now" for every engine). Raw redb and SQLite are loaded with each row's final
//! state directly (the plan knows when every change happened). Every dataset is checked once
//! after loading: the three engines must return the same rows for the reads the benches run.
//!
//! Sizes: `AURRA_BENCH_SIZES=10k,100k,1m` (the default for `cargo bench`). In criterion's test
//! mode (`cargo test --benches`, `cargo bench -- --test`) only a 2k dataset is built.
//!
//! Built files are kept in `target/aurra-bench-cache/` between bench processes (building 1M
//! takes about two minutes), keyed by a hash of `src/`, this file, `Cargo.toml` and
//! `Cargo.lock`; each process works on its own copy. `AURRA_BENCH_CACHE=0` builds afresh.

#![allow(dead_code)]

use std::collections::{BinaryHeap, HashMap};
use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aurra::{
    Clock, ListQuery, ManualClock, Memory, MemoryId, NewMemory, ReadMode, Store, StoreOptions,
    Supersede, Timestamp, WriteOutcome,
};
use criterion::{BenchmarkId, Criterion};
use redb::{ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};

/// The account every row belongs to.
pub const ACCOUNT: &str = "acme";
/// The one tenant every row is written in.
pub const TENANT: &str = "agents";
/// 2026-01-01T00:00:00Z, the simulated instant of the first write.
pub const T0: i64 = 1_767_225_600_000_000;
pub const SECOND: i64 = 1_000_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
/// Rows per commit while loading (aurra `write_batch`, raw redb, SQLite).
pub const BUILD_BATCH: usize = 1000;
/// Rows returned by every list bench.
pub const LIMIT: usize = 20;
/// Memories per `write_batch` in the batch bench.
pub const IMPORT_BATCH: usize = 1000;

const SOURCES: [&str; 4] = ["agent", "slack", "email", "crm"];
const TOPICS: [&str; 12] = [
    "General",
    "people",
    "projects",
    "customers",
    "preferences",
    "deadlines",
    "infrastructure",
    "billing",
    "hiring",
    "security",
    "roadmap",
    "support",
];
const SUBJECTS: [&str; 16] = [
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil",
];
const VERBS: [&str; 8] = [
    "prefers",
    "is responsible for",
    "asked to postpone",
    "approved",
    "owns",
    "is blocked on",
    "reported a problem with",
    "wants weekly updates on",
];
const OBJECTS: [&str; 16] = [
    "the Q3 migration to the new billing provider",
    "the on-call rotation for the payments team",
    "dark mode in the customer dashboard",
    "the Globex renewal, due at the end of the month",
    "the SOC 2 evidence collection",
    "hiring two backend engineers in Berlin",
    "the latency regression in the search API",
    "moving standups to 9:30 CET",
    "the Initech integration (SSO via SAML)",
    "the pricing page redesign",
    "the data retention policy for EU customers",
    "the Kubernetes upgrade of the staging cluster",
    "the support backlog older than two weeks",
    "quarterly business reviews with Umbrella Corp",
    "the mobile release train",
    "the offsite in Lisbon",
];

// ------------------------------------------------------------------------------------------
// Deterministic PRNG
// ------------------------------------------------------------------------------------------

/// xorshift64*: tiny, deterministic, good enough for a workload generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

// ------------------------------------------------------------------------------------------
// The plan: every row, every commit, every change, with its simulated instant
// ------------------------------------------------------------------------------------------

/// One row (version) of the dataset, with its final state.
#[derive(Clone, Copy, Debug)]
pub struct RowPlan {
    /// Transaction time of the commit that wrote it.
    pub created_at: i64,
    pub valid_from: i64,
    /// Explicitly back-dated (`valid_from` given on write).
    pub backdated: bool,
    pub fact: u32,
    /// Position in its fact's chain (0 = first version).
    pub version: u8,
    pub source: u8,
    pub session: Option<u32>,
    pub topic: u8,
    pub importance: u8,
    pub long_message: bool,
    /// The version it supersedes.
    pub predecessor: Option<u32>,
    /// Final state: the version that superseded it, and when.
    pub superseded_by: Option<u32>,
    pub tx_end: Option<i64>,
    /// Final state: end of validity, and when it was recorded.
    pub valid_to: Option<i64>,
    pub valid_to_set_at: Option<i64>,
}

/// A change applied after a commit, in its own transaction.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    /// `old` is superseded by `new` (no explicit `valid_to`).
    Supersede { old: u32, new: u32 },
    /// `row` gets an explicit `valid_to` (an expiry).
    Expire { row: u32, valid_to: i64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// Index of the write commit it follows.
    pub after_commit: u32,
    pub at: i64,
    pub change: Change,
}

#[derive(Clone, Copy, Debug)]
pub struct Commit {
    /// Rows `first..end` are written by this commit.
    pub first: u32,
    pub end: u32,
    pub at: i64,
}

#[derive(Debug)]
pub struct Plan {
    pub rows: Vec<RowPlan>,
    pub commits: Vec<Commit>,
    pub events: Vec<Event>,
    /// "Now" for the benches: one second after the last change.
    pub now: i64,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    slot: std::cmp::Reverse<u64>,
    fact: u32,
    remaining: u8,
}

impl Plan {
    pub fn generate(size: usize, seed: u64) -> Plan {
        let mut rng = Rng::new(seed);
        let slot_time = |slot: usize| T0 + slot as i64 * SECOND;
        let commit_of = |slot: usize| slot / BUILD_BATCH;
        let commit_time = |commit: usize| slot_time(((commit + 1) * BUILD_BATCH).min(size) - 1);

        let mut rows: Vec<RowPlan> = Vec::with_capacity(size);
        // Head (latest version) of every fact.
        let mut heads: Vec<u32> = Vec::new();
        // Next versions due, and expiries due: (slot, fact).
        let mut next_versions: BinaryHeap<Due> = BinaryHeap::new();
        let mut expiries: BinaryHeap<(std::cmp::Reverse<u64>, u32)> = BinaryHeap::new();
        // Changes per commit, in the order they happen.
        let mut changes: Vec<Vec<Change>> = vec![Vec::new(); size.div_ceil(BUILD_BATCH)];
        let mut session = 0u32;

        for slot in 0..size {
            let commit = commit_of(slot);
            let created_at = commit_time(commit);
            if slot.is_multiple_of(25) {
                session += 1;
            }
            let seq = slot as u32;
            let (fact, version, predecessor) = match next_versions.peek() {
                Some(due) if due.slot.0 <= slot as u64 => {
                    let due = next_versions.pop().expect("peeked");
                    let old = heads[due.fact as usize];
                    if due.remaining > 1 {
                        next_versions.push(Due {
                            slot: std::cmp::Reverse(slot as u64 + rng.range(1, 5_000)),
                            fact: due.fact,
                            remaining: due.remaining - 1,
                        });
                    }
                    changes[commit].push(Change::Supersede { old, new: seq });
                    heads[due.fact as usize] = seq;
                    (due.fact, rows[old as usize].version + 1, Some(old))
                }
                _ => {
                    let fact = heads.len() as u32;
                    heads.push(seq);
                    if rng.percent(20) {
                        let versions = rng.range(2, 5) as u8;
                        next_versions.push(Due {
                            slot: std::cmp::Reverse(slot as u64 + rng.range(1, 5_000)),
                            fact,
                            remaining: versions - 1,
                        });
                    } else if rng.percent(3) {
                        expiries
                            .push((std::cmp::Reverse(slot as u64 + rng.range(1, 10_000)), fact));
                    }
                    (fact, 0, None)
                }
            };
            let backdated = rng.percent(5);
            let valid_from = if backdated {
                created_at - rng.range(MINUTE as u64, 14 * DAY as u64) as i64
            } else {
                created_at
            };
            let source = match rng.range(0, 9) {
                0..=5 => 0,
                6 | 7 => 1,
                8 => 2,
                _ => 3,
            };
            rows.push(RowPlan {
                created_at,
                valid_from,
                backdated,
                fact,
                version,
                source,
                session: rng.percent(60).then_some(session),
                topic: rng.range(0, TOPICS.len() as u64 - 1) as u8,
                importance: rng.range(1, 10) as u8,
                long_message: rng.percent(33),
                predecessor,
                superseded_by: None,
                tx_end: None,
                valid_to: None,
                valid_to_set_at: None,
            });
            while let Some(&(std::cmp::Reverse(due), fact)) = expiries.peek() {
                if due > slot as u64 {
                    break;
                }
                expiries.pop();
                let row = heads[fact as usize];
                // Decided now, resolved against the change's instant below.
                let past = rng.percent(50);
                let amount = if past {
                    -(rng.range(0, 2 * DAY as u64) as i64)
                } else {
                    rng.range(HOUR as u64, 30 * DAY as u64) as i64
                };
                changes[commit].push(Change::Expire {
                    row,
                    valid_to: amount,
                });
            }
        }

        let mut commits = Vec::with_capacity(changes.len());
        let mut events = Vec::new();
        for (c, list) in changes.into_iter().enumerate() {
            let at = commit_time(c);
            commits.push(Commit {
                first: (c * BUILD_BATCH) as u32,
                end: ((c + 1) * BUILD_BATCH).min(size) as u32,
                at,
            });
            for (i, change) in list.into_iter().enumerate() {
                let at = at + 1 + i as i64;
                let change = match change {
                    Change::Supersede { old, new } => {
                        let r = &mut rows[old as usize];
                        r.superseded_by = Some(new);
                        r.tx_end = Some(at);
                        r.valid_to = Some(at.max(r.valid_from));
                        r.valid_to_set_at = Some(at);
                        change
                    }
                    Change::Expire { row, valid_to } => {
                        let r = &mut rows[row as usize];
                        let valid_to = (at + valid_to).max(r.valid_from);
                        r.valid_to = Some(valid_to);
                        r.valid_to_set_at = Some(at);
                        Change::Expire { row, valid_to }
                    }
                };
                events.push(Event {
                    after_commit: c as u32,
                    at,
                    change,
                });
            }
        }
        let last = events
            .last()
            .map_or(commits.last().map_or(T0, |c| c.at), |e| e.at)
            .max(commits.last().map_or(T0, |c| c.at));
        Plan {
            rows,
            commits,
            events,
            now: last + SECOND,
        }
    }

    /// `count` instants spread over the history (after the first 200 rows), deterministic.
    pub fn past_instants(&self, count: usize, seed: u64) -> Vec<i64> {
        let mut rng = Rng::new(seed);
        let lo = self.rows[200.min(self.rows.len() - 1)].created_at;
        let hi = self.now - SECOND;
        (0..count)
            .map(|_| rng.range(lo as u64, hi as u64) as i64)
            .collect()
    }

    /// Up to `count` chains of at least 3 versions, spread over the history: (a middle
    /// version, the chain's length).
    pub fn sample_chains(&self, count: usize) -> Vec<(u32, usize)> {
        let mut all = Vec::new();
        for (seq, r) in self.rows.iter().enumerate() {
            // A middle version: it has a predecessor and a successor.
            if r.version == 0 || r.superseded_by.is_none() {
                continue;
            }
            let mut len = 1;
            let mut at = seq as u32;
            while let Some(p) = self.rows[at as usize].predecessor {
                len += 1;
                at = p;
            }
            let mut at = seq as u32;
            while let Some(n) = self.rows[at as usize].superseded_by {
                len += 1;
                at = n;
            }
            all.push((seq as u32, len));
        }
        let step = all.len().div_ceil(count).max(1);
        all.into_iter().step_by(step).collect()
    }
}

/// The full content of one row, built from its plan (and identical in every engine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub decision: String,
    pub topic: &'static str,
    pub importance: u8,
    pub source: &'static str,
    pub session_id: Option<String>,
    pub original_message: Option<String>,
    pub external_id: Option<String>,
}

pub fn content(seq: u32, r: &RowPlan) -> Content {
    let h = (seq as usize).wrapping_mul(2_654_435_761);
    let decision = format!(
        "[{}-{}] {} {} {}.",
        r.fact,
        r.version,
        SUBJECTS[h % SUBJECTS.len()],
        VERBS[(h >> 4) % VERBS.len()],
        OBJECTS[(h >> 8) % OBJECTS.len()]
    );
    let source = SOURCES[r.source as usize];
    Content {
        original_message: r.long_message.then(|| {
            format!(
                "Quick note from the thread earlier today, please keep it in mind: {decision} \
                 Let me know if anything changes, and loop in {} if it affects the plan \
                 for next week.",
                SUBJECTS[(h >> 12) % SUBJECTS.len()]
            )
        }),
        decision,
        topic: TOPICS[r.topic as usize],
        importance: r.importance,
        source,
        session_id: r.session.map(|s| format!("session-{s:07}")),
        external_id: (source == "slack").then(|| format!("{}.{:06}", r.created_at / SECOND, seq)),
    }
}

pub fn new_memory(seq: u32, r: &RowPlan) -> NewMemory {
    let c = content(seq, r);
    let mut m = NewMemory::new(c.decision)
        .with_tenant(TENANT)
        .with_topic(c.topic)
        .with_importance(i64::from(c.importance))
        .with_source(c.source);
    if let Some(s) = c.session_id {
        m = m.with_session(s);
    }
    if let Some(e) = c.external_id {
        m = m.with_external_id(e);
    }
    if let Some(o) = c.original_message {
        m = m.with_original_message(o);
    }
    if r.backdated {
        m = m.with_valid_from(Timestamp::from_micros(r.valid_from));
    }
    m
}

/// A row that is not in the plan, for the write benches: unique text, never a duplicate.
pub fn fresh_row(n: u64, created_at: i64) -> RowPlan {
    RowPlan {
        created_at,
        valid_from: created_at,
        backdated: false,
        fact: 100_000_000 + n as u32,
        version: 0,
        source: (n % 4 == 3) as u8 * 2,
        session: (n % 5 < 3).then_some(10_000_000 + (n / 25) as u32),
        topic: (n % 12) as u8,
        importance: (n % 10 + 1) as u8,
        long_message: n.is_multiple_of(3),
        predecessor: None,
        superseded_by: None,
        tx_end: None,
        valid_to: None,
        valid_to_set_at: None,
    }
}

// ------------------------------------------------------------------------------------------
// What the baselines return: a row as owned values (aurra returns `Memory`)
// ------------------------------------------------------------------------------------------

/// One row as stored by the baselines; the raw redb record is `postcard(Record)`, the same
/// serialiser aurra uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub account: String,
    pub tenant: Option<String>,
    pub decision: String,
    pub summary: String,
    pub topic: String,
    pub importance: u8,
    pub source: String,
    pub channel: String,
    pub session_id: Option<String>,
    pub original_message: String,
    pub original_input: String,
    pub external_id: Option<String>,
    pub captured_at: i64,
    pub created_at: i64,
    pub valid_from: i64,
    pub valid_to: Option<i64>,
    pub valid_to_set_at: Option<i64>,
    /// Raw redb: key of the successor; SQLite: its id.
    pub superseded_by: Option<RawKey>,
    pub predecessor: Option<RawKey>,
    pub tx_start: i64,
    pub tx_end: Option<i64>,
}

pub fn record(seq: u32, r: &RowPlan, plan_rows: &[RowPlan]) -> Record {
    let c = content(seq, r);
    let original = c.original_message.unwrap_or_else(|| c.decision.clone());
    let key = |s: u32| (plan_rows[s as usize].created_at, u64::from(s));
    Record {
        seq: u64::from(seq),
        account: ACCOUNT.to_owned(),
        tenant: Some(TENANT.to_owned()),
        summary: c.decision.clone(),
        decision: c.decision,
        topic: c.topic.to_owned(),
        importance: c.importance,
        source: c.source.to_owned(),
        channel: c.source.to_owned(),
        session_id: c.session_id,
        original_input: original.clone(),
        original_message: original,
        external_id: c.external_id,
        captured_at: r.created_at,
        created_at: r.created_at,
        valid_from: r.valid_from,
        valid_to: r.valid_to,
        valid_to_set_at: r.valid_to_set_at,
        superseded_by: r.superseded_by.map(key),
        predecessor: r.predecessor.map(key),
        tx_start: r.created_at,
        tx_end: r.tx_end,
    }
}

/// A baseline record that is not in the plan (for the write benches), created at `now + n µs`.
pub fn fresh_record(d: &Dataset, n: u64) -> Record {
    let created_at = d.plan.now + n as i64;
    let mut r = record(0, &fresh_row(n, created_at), &[]);
    r.seq = 1_000_000_000 + n;
    r
}

// ------------------------------------------------------------------------------------------
// Raw redb: the floor
// ------------------------------------------------------------------------------------------

/// `(created_at, seq)`: insertion order, which is creation order.
pub type RawKey = (i64, u64);
/// The only table: `(created_at, seq) → postcard(Record)`.
pub const RAW_ROWS: TableDefinition<RawKey, &[u8]> = TableDefinition::new("rows");

pub mod raw {
    //! Raw redb, "the minimal equivalent work", per operation:
    //! - single write: encode the record, one insert into `RAW_ROWS`, commit (`Immediate`);
    //! - batch: encode and insert 1000 records, one commit (`Immediate`);
    //! - every list: one reverse range scan of `RAW_ROWS` from the newest key (current truth)
    //!   or from `(T, MAX)` (`as_of`, `transaction_as_of`), the first 20 records decoded, no
    //!   temporal check at all;
    //! - timeline: point lookups following the successor / predecessor keys stored in the
    //!   records, then a sort by `valid_from`.
    use super::*;

    pub fn write(db: &redb::Database, records: &[Record]) -> redb::Result<(), redb::Error> {
        let txn = db.begin_write()?;
        {
            let mut t = txn.open_table(RAW_ROWS)?;
            for r in records {
                let bytes = postcard::to_stdvec(r).expect("encode");
                t.insert((r.created_at, r.seq), bytes.as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The newest `limit` records created at or before `at`.
    pub fn newest(
        db: &redb::Database,
        at: i64,
        limit: usize,
    ) -> redb::Result<Vec<Record>, redb::Error> {
        let txn = db.begin_read()?;
        let t = txn.open_table(RAW_ROWS)?;
        let mut out = Vec::with_capacity(limit);
        for entry in t.range(..=(at, u64::MAX))?.rev().take(limit) {
            let (_, v) = entry?;
            out.push(postcard::from_bytes(v.value()).expect("decode"));
        }
        Ok(out)
    }

    pub fn timeline(db: &redb::Database, key: RawKey) -> redb::Result<Vec<Record>, redb::Error> {
        let txn = db.begin_read()?;
        let t = txn.open_table(RAW_ROWS)?;
        let load = |k: RawKey| -> redb::Result<Record, redb::Error> {
            let v = t.get(k)?.expect("chain member");
            Ok(postcard::from_bytes(v.value()).expect("decode"))
        };
        let start = load(key)?;
        let mut chain = Vec::new();
        let mut back = start.predecessor;
        let mut forward = start.superseded_by;
        chain.push(start);
        while let Some(k) = back {
            let r = load(k)?;
            back = r.predecessor;
            chain.push(r);
        }
        while let Some(k) = forward {
            let r = load(k)?;
            forward = r.superseded_by;
            chain.push(r);
        }
        chain.sort_by_key(|r| (r.valid_from, r.created_at, r.seq));
        Ok(chain)
    }
}

/// The dataset's account exported (`Store::export`) as JSON Lines into `out`.
pub fn export_account(store: &Store, out: &mut impl std::io::Write) -> aurra::export::ExportTotals {
    store
        .export(
            &aurra::ExportScope {
                account: Some(ACCOUNT.to_owned()),
                tenant: None,
            },
            &mut |record| {
                serde_json::to_writer(&mut *out, &record).expect("serialise");
                out.write_all(b"\n").expect("write");
                Ok(())
            },
        )
        .expect("export")
}

// ------------------------------------------------------------------------------------------
// PostgreSQL baseline
// ------------------------------------------------------------------------------------------

pub mod postgres_baseline {
    //! The SQLite baseline's table (`sqlite::SCHEMA`) in PostgreSQL's types, with the same
    //! indexes; rows keyed and fingerprinted as there (`sqlite::fingerprint`).
    #[cfg(feature = "postgres")]
    use super::Record;

    pub const SCHEMA: &str = "
        CREATE TABLE memories (
            id bigint PRIMARY KEY,
            account text NOT NULL,
            tenant text,
            decision text NOT NULL,
            summary text NOT NULL,
            topic text NOT NULL,
            importance integer NOT NULL,
            source text NOT NULL,
            channel text NOT NULL,
            session_id text,
            original_message text NOT NULL,
            original_input text NOT NULL,
            external_id text,
            fingerprint text NOT NULL,
            captured_at bigint NOT NULL,
            created_at bigint NOT NULL,
            valid_from bigint NOT NULL,
            valid_to bigint,
            valid_to_set_at bigint,
            superseded_by bigint,
            tx_start bigint NOT NULL,
            tx_end bigint
        );
        CREATE INDEX memories_created ON memories (account, tenant, created_at);
        CREATE INDEX memories_valid_from ON memories (account, tenant, valid_from);
        CREATE INDEX memories_current ON memories (account, tenant, created_at)
            WHERE superseded_by IS NULL;
        CREATE INDEX memories_successor ON memories (superseded_by) WHERE superseded_by IS NOT NULL;
        CREATE INDEX memories_dedup ON memories (fingerprint) WHERE superseded_by IS NULL;
    ";

    /// What a row binds besides the record's own fields.
    #[cfg(feature = "postgres")]
    pub struct Bound {
        seq: i64,
        importance: i32,
        fingerprint: String,
        superseded_by: Option<i64>,
    }

    #[cfg(feature = "postgres")]
    impl Bound {
        pub fn of(r: &Record) -> Bound {
            Bound {
                seq: r.seq as i64,
                importance: i32::from(r.importance),
                fingerprint: super::sqlite::fingerprint(r),
                superseded_by: r.superseded_by.map(|k| k.1 as i64),
            }
        }

        /// The row's 22 values, in the table's column order.
        pub fn params<'a>(
            &'a self,
            r: &'a Record,
        ) -> [&'a (dyn tokio_postgres::types::ToSql + Sync); 22] {
            [
                &self.seq,
                &r.account,
                &r.tenant,
                &r.decision,
                &r.summary,
                &r.topic,
                &self.importance,
                &r.source,
                &r.channel,
                &r.session_id,
                &r.original_message,
                &r.original_input,
                &r.external_id,
                &self.fingerprint,
                &r.captured_at,
                &r.created_at,
                &r.valid_from,
                &r.valid_to,
                &r.valid_to_set_at,
                &self.superseded_by,
                &r.tx_start,
                &r.tx_end,
            ]
        }
    }
}

// ------------------------------------------------------------------------------------------
// SQLite
// ------------------------------------------------------------------------------------------

pub mod sqlite {
    //! SQLite (bundled, via rusqlite): WAL, `synchronous=FULL`, one bitemporal table with the
    //! final state of every row plus the transaction time of each change (`tx_end` when it
    //! was superseded, `valid_to_set_at` when its `valid_to` was recorded). In aurra each of
    //! `superseded_by` and `valid_to` is set at most once, so these two instants describe
    //! every version exactly and `transaction_as_of` is a plain predicate.
    //!
    //! Tuned to give SQLite its best shot: `INTEGER PRIMARY KEY` ids, statements prepared
    //! once (`prepare_cached`), `LIMIT 20` written as a literal and `ANALYZE` statistics
    //! without STAT4 samples. A bound `LIMIT ?` or STAT4 samples make SQLite re-prepare the
    //! statement on every execution (it re-plans for the new values), which tripled the cost
    //! of a list in this workload; the chosen plans are the same without them (check with
    //! `AURRA_BENCH_EXPLAIN=1`).
    use rusqlite::{Connection, params};

    use super::*;

    pub const SCHEMA: &str = "
        CREATE TABLE memories (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            tenant TEXT,
            decision TEXT NOT NULL,
            summary TEXT NOT NULL,
            topic TEXT NOT NULL,
            importance INTEGER NOT NULL,
            source TEXT NOT NULL,
            channel TEXT NOT NULL,
            session_id TEXT,
            original_message TEXT NOT NULL,
            original_input TEXT NOT NULL,
            external_id TEXT,
            fingerprint TEXT NOT NULL,
            captured_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            valid_from INTEGER NOT NULL,
            valid_to INTEGER,
            valid_to_set_at INTEGER,
            superseded_by INTEGER,
            tx_start INTEGER NOT NULL,
            tx_end INTEGER
        );
        CREATE INDEX memories_created ON memories (account, tenant, created_at);
        CREATE INDEX memories_valid_from ON memories (account, tenant, valid_from);
        CREATE INDEX memories_current ON memories (account, tenant, created_at)
            WHERE superseded_by IS NULL;
        CREATE INDEX memories_successor ON memories (superseded_by)
            WHERE superseded_by IS NOT NULL;
        CREATE INDEX memories_dedup ON memories (fingerprint) WHERE superseded_by IS NULL;
    ";

    /// Current truth at `?3`: not superseded and valid now.
    pub const CURRENT: &str = "SELECT id, account, tenant, decision, summary, topic, importance, \
        source, channel, session_id, original_message, original_input, external_id, \
        captured_at, created_at, valid_from, valid_to, valid_to_set_at, superseded_by, \
        tx_start, tx_end FROM memories \
        WHERE account = ?1 AND tenant = ?2 AND superseded_by IS NULL AND valid_from <= ?3 \
        AND (valid_to IS NULL OR valid_to > ?3) \
        ORDER BY created_at DESC, id DESC LIMIT 20";

    /// Valid at `?3`, latest state, superseded rows included (aurra's `as_of`).
    pub const AS_OF: &str = "SELECT id, account, tenant, decision, summary, topic, importance, \
        source, channel, session_id, original_message, original_input, external_id, \
        captured_at, created_at, valid_from, valid_to, valid_to_set_at, superseded_by, \
        tx_start, tx_end FROM memories \
        WHERE account = ?1 AND tenant = ?2 AND valid_from <= ?3 \
        AND (valid_to IS NULL OR valid_to > ?3) \
        ORDER BY created_at DESC, id DESC LIMIT 20";

    /// Created by `?3` and current at `?3` as believed at `?3`, rendered in that state
    /// (aurra's `transaction_as_of` with `include_superseded = false`).
    pub const TX_AS_OF: &str = "SELECT id, account, tenant, decision, summary, topic, \
        importance, source, channel, session_id, original_message, original_input, \
        external_id, captured_at, created_at, valid_from, \
        CASE WHEN valid_to_set_at <= ?3 THEN valid_to END, \
        CASE WHEN valid_to_set_at <= ?3 THEN valid_to_set_at END, \
        CASE WHEN tx_end <= ?3 THEN superseded_by END, \
        tx_start, CASE WHEN tx_end <= ?3 THEN tx_end END FROM memories \
        WHERE account = ?1 AND tenant = ?2 AND created_at <= ?3 \
        AND (tx_end IS NULL OR tx_end > ?3) AND valid_from <= ?3 \
        AND (valid_to IS NULL OR valid_to_set_at > ?3 OR valid_to > ?3) \
        ORDER BY created_at DESC, id DESC LIMIT 20";

    /// The chain containing `?1`, both ways, by `valid_from`.
    pub const TIMELINE: &str = "WITH RECURSIVE \
        forward(id) AS (SELECT ?1 UNION SELECT m.superseded_by FROM memories m \
            JOIN forward f ON m.id = f.id WHERE m.superseded_by IS NOT NULL), \
        backward(id) AS (SELECT ?1 UNION SELECT m.id FROM memories m \
            JOIN backward b ON m.superseded_by = b.id) \
        SELECT id, account, tenant, decision, summary, topic, importance, source, channel, \
        session_id, original_message, original_input, external_id, captured_at, created_at, \
        valid_from, valid_to, valid_to_set_at, superseded_by, tx_start, tx_end FROM memories \
        WHERE id IN (SELECT id FROM forward UNION SELECT id FROM backward) \
        ORDER BY valid_from, created_at, id";

    const INSERT: &str = "INSERT INTO memories (id, account, tenant, decision, summary, topic, \
        importance, source, channel, session_id, original_message, original_input, \
        external_id, fingerprint, captured_at, created_at, valid_from, valid_to, \
        valid_to_set_at, superseded_by, tx_start, tx_end) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
        ?18, ?19, ?20, ?21, ?22)";

    /// Duplicate suppression, as aurra does on every write: a live row with the fingerprint.
    const DUPLICATE: &str = "SELECT id FROM memories WHERE fingerprint = ?1 \
        AND superseded_by IS NULL AND (valid_to IS NULL OR valid_to > ?2) LIMIT 1";

    pub fn open(path: &Path) -> Connection {
        let conn = Connection::open(path).expect("open sqlite");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.pragma_update(None, "synchronous", "FULL")
            .expect("synchronous");
        conn.set_prepared_statement_cache_capacity(32);
        conn
    }

    /// The duplicate fingerprint aurra computes for the row (the baselines' dedup index).
    pub fn fingerprint(r: &Record) -> String {
        let key: String = match (&r.external_id, r.source.as_str()) {
            (Some(ts), "slack") => format!("slack|{ts}"),
            _ => format!(
                "{}|{}|{}",
                r.source,
                r.channel,
                r.decision.trim().chars().take(100).collect::<String>()
            ),
        };
        format!("{}|{}|{key}", r.account, r.tenant.as_deref().unwrap_or(""))
    }

    fn insert_one(conn: &Connection, r: &Record) -> rusqlite::Result<usize> {
        conn.prepare_cached(INSERT)?.execute(params![
            r.seq as i64,
            r.account,
            r.tenant,
            r.decision,
            r.summary,
            r.topic,
            r.importance,
            r.source,
            r.channel,
            r.session_id,
            r.original_message,
            r.original_input,
            r.external_id,
            fingerprint(r),
            r.captured_at,
            r.created_at,
            r.valid_from,
            r.valid_to,
            r.valid_to_set_at,
            r.superseded_by.map(|k| k.1 as i64),
            r.tx_start,
            r.tx_end,
        ])
    }

    /// One transaction: for each record, the duplicate check then the insert.
    pub fn write(conn: &mut Connection, records: &[Record]) -> rusqlite::Result<usize> {
        let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut inserted = 0;
        for r in records {
            let duplicate: Option<i64> = {
                let mut stmt = txn.prepare_cached(DUPLICATE)?;
                let mut rows = stmt.query(params![fingerprint(r), r.created_at])?;
                rows.next()?.map(|row| row.get(0)).transpose()?
            };
            if duplicate.is_none() {
                inserted += insert_one(&txn, r)?;
            }
        }
        txn.commit()?;
        Ok(inserted)
    }

    /// Bulk load without duplicate checks (the plan has none).
    pub fn load(conn: &mut Connection, records: &[Record]) -> rusqlite::Result<()> {
        let txn = conn.transaction()?;
        for r in records {
            insert_one(&txn, r)?;
        }
        txn.commit()
    }

    fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
        Ok(Record {
            seq: row.get::<_, i64>(0)? as u64,
            account: row.get(1)?,
            tenant: row.get(2)?,
            decision: row.get(3)?,
            summary: row.get(4)?,
            topic: row.get(5)?,
            importance: row.get(6)?,
            source: row.get(7)?,
            channel: row.get(8)?,
            session_id: row.get(9)?,
            original_message: row.get(10)?,
            original_input: row.get(11)?,
            external_id: row.get(12)?,
            captured_at: row.get(13)?,
            created_at: row.get(14)?,
            valid_from: row.get(15)?,
            valid_to: row.get(16)?,
            valid_to_set_at: row.get(17)?,
            superseded_by: row.get::<_, Option<i64>>(18)?.map(|id| (0, id as u64)),
            predecessor: None,
            tx_start: row.get(19)?,
            tx_end: row.get(20)?,
        })
    }

    /// Runs one of the list queries at instant `at`.
    pub fn list(
        conn: &Connection,
        sql: &str,
        at: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<Record>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![ACCOUNT, TENANT, at], row)?;
        assert_eq!(limit, LIMIT, "the limit is a literal in the SQL");
        rows.collect()
    }

    pub fn timeline(conn: &Connection, id: u64) -> rusqlite::Result<Vec<Record>> {
        let mut stmt = conn.prepare_cached(TIMELINE)?;
        let rows = stmt.query_map(params![id as i64], row)?;
        rows.collect()
    }

    /// SQLite's query plan for one of the list queries, for the report.
    pub fn explain(conn: &Connection, sql: &str, at: i64) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let rows = stmt
            .query_map(params![ACCOUNT, TENANT, at], |r| r.get::<_, String>(3))
            .expect("explain");
        rows.map(|r| r.expect("explain row"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

// ------------------------------------------------------------------------------------------
// The dataset: one plan, three engines
// ------------------------------------------------------------------------------------------

pub struct Dataset {
    pub size: usize,
    pub plan: Plan,
    pub clock: ManualClock,
    pub aurra: Store,
    /// aurra's id of every row, by sequence number.
    pub ids: Vec<MemoryId>,
    pub raw: redb::Database,
    pub sqlite: Mutex<rusqlite::Connection>,
    /// Random past instants (µs) for `as_of` and `transaction_as_of`.
    pub instants: Vec<i64>,
    /// Timeline targets: (a middle version's seq, chain length).
    pub chains: Vec<(u32, usize)>,
    pub build_secs: BuildTimes,
    /// Holds the three files; removed when the dataset is dropped (after the engines).
    pub dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct BuildTimes {
    pub aurra: f64,
    pub raw: f64,
    pub sqlite: f64,
}

impl Dataset {
    pub fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.plan.now)
    }

    pub fn raw_key(&self, seq: u32) -> RawKey {
        (self.plan.rows[seq as usize].created_at, u64::from(seq))
    }

    pub fn file_sizes(&self) -> (u64, u64, u64) {
        let len = |name: &str| {
            std::fs::metadata(self.dir.path().join(name)).map_or(0, |m| m.len())
                + std::fs::metadata(self.dir.path().join(format!("{name}-wal")))
                    .map_or(0, |m| m.len())
        };
        (len("aurra.redb"), len("raw.redb"), len("sqlite.db"))
    }
}

#[path = "../sizes/mod.rs"]
mod bench_sizes;

/// The dataset sizes to run: `AURRA_BENCH_SIZES` (e.g. `10k,100k,1m`), else 10k, 100k and 1M
/// in benchmark mode and 2k in test mode (so `cargo test --benches` stays fast).
pub fn sizes() -> Vec<usize> {
    bench_sizes::sizes(&[10_000, 100_000, 1_000_000], 2_000)
}

pub fn size_label(size: usize) -> String {
    match size {
        s if s >= 1_000_000 && s.is_multiple_of(1_000_000) => format!("{}M", s / 1_000_000),
        s if s >= 1_000 && s.is_multiple_of(1_000) => format!("{}k", s / 1_000),
        s => s.to_string(),
    }
}

/// Criterion settings for a 2-core, noisy machine: the whole suite in well under 20 minutes.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .noise_threshold(0.05)
        .configure_from_args()
}

type Cache = Mutex<HashMap<usize, Arc<Dataset>>>;
static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();

/// The dataset of `size` versions, built (or copied from the on-disk cache) on first use in
/// this process.
pub fn dataset(size: usize) -> Arc<Dataset> {
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().expect("cache");
    if let Some(d) = map.get(&size) {
        return d.clone();
    }
    // Only one size is alive at a time: benches walk the sizes in order.
    map.clear();
    let d = Arc::new(load(size));
    map.insert(size, d.clone());
    d
}

/// Drops the datasets of this process (and so removes their temporary directories). Call it
/// at the end of `main`: statics are never dropped.
pub fn finish() {
    if let Some(cache) = CACHE.get() {
        cache.lock().expect("cache").clear();
    }
}

const FILES: [&str; 3] = ["aurra.redb", "raw.redb", "sqlite.db"];
/// Bump when the generator or the baselines' layouts change (the source hash covers it too).
const GENERATOR_VERSION: u64 = 2;

/// Where the built files of `size` are kept between bench processes: `target/aurra-bench-cache/
/// <size>-<hash>`, the hash covering `src/`, `benches/common/`, `Cargo.toml` and `Cargo.lock`.
/// `None` (build in a temporary directory) when `AURRA_BENCH_CACHE=0`, when the sources
/// cannot be read, or when a source is newer than this bench binary (then the binary may not
/// be built from them).
fn cache_dir(size: usize) -> Option<std::path::PathBuf> {
    if std::env::var("AURRA_BENCH_CACHE").is_ok_and(|v| v == "0") {
        return None;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::current_exe().ok()?;
    let built = std::fs::metadata(&exe).ok()?.modified().ok()?;
    let mut files = Vec::new();
    let mut dirs = vec![manifest.join("src"), manifest.join("benches/common")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ok()? {
            let path = entry.ok()?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.push(manifest.join("Cargo.toml"));
    files.push(manifest.join("Cargo.lock"));
    files.sort();
    // FNV-1a over names and contents.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ GENERATOR_VERSION;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in &files {
        if std::fs::metadata(file).ok()?.modified().ok()? > built {
            return None;
        }
        feed(
            file.strip_prefix(manifest)
                .ok()?
                .to_string_lossy()
                .as_bytes(),
        );
        feed(&std::fs::read(file).ok()?);
    }
    // target/<profile>/deps/<bench binary>
    let target = exe.parent()?.parent()?.parent()?;
    Some(
        target
            .join("aurra-bench-cache")
            .join(format!("{}-{hash:016x}", size_label(size))),
    )
}

fn load(size: usize) -> Dataset {
    let plan = Plan::generate(size, 0x5EED_0000 ^ size as u64);
    let dir = tempfile::Builder::new()
        .prefix("aurra-bench-")
        .tempdir()
        .expect("tempdir");
    let (ids, build_secs, cached) = match cache_dir(size) {
        Some(cache) => {
            if !cache.join("complete").exists() {
                publish(&plan, &cache);
            }
            for name in FILES {
                std::fs::copy(cache.join(name), dir.path().join(name)).expect("copy dataset");
            }
            let ids = std::fs::read(cache.join("ids.bin"))
                .expect("ids")
                .chunks_exact(16)
                .map(|b| MemoryId::from_u128(u128::from_be_bytes(b.try_into().expect("16"))))
                .collect::<Vec<_>>();
            let times = std::fs::read_to_string(cache.join("build_secs"))
                .expect("build times")
                .split_whitespace()
                .map(|t| t.parse::<f64>().expect("build time"))
                .collect::<Vec<_>>();
            let times = BuildTimes {
                aurra: times[0],
                raw: times[1],
                sqlite: times[2],
            };
            (ids, times, true)
        }
        None => {
            let (ids, times) = build_files(&plan, dir.path());
            (ids, times, false)
        }
    };
    let clock = ManualClock::new(Timestamp::from_micros(plan.now));
    let aurra = Store::open_with(
        dir.path().join("aurra.redb"),
        StoreOptions::new().clock(clock.clone()),
    )
    .expect("open aurra");
    let raw = redb::Database::create(dir.path().join("raw.redb")).expect("open raw redb");
    let sqlite = sqlite::open(&dir.path().join("sqlite.db"));
    let instants = plan.past_instants(64, 0xA5_0F ^ size as u64);
    let chains = plan.sample_chains(64);
    let d = Dataset {
        size,
        plan,
        clock,
        aurra,
        ids,
        raw,
        sqlite: Mutex::new(sqlite),
        instants,
        chains,
        build_secs,
        dir,
    };
    verify(&d);
    let (a, r, s) = d.file_sizes();
    let facts = d.plan.rows.iter().filter(|r| r.version == 0).count();
    let superseded = d
        .plan
        .rows
        .iter()
        .filter(|r| r.version == 0 && r.superseded_by.is_some())
        .count();
    let count = |f: fn(&Change) -> bool| d.plan.events.iter().filter(|e| f(&e.change)).count();
    eprintln!(
        "dataset {}: {} versions, {} facts ({:.1}% superseded), {} supersessions, {} expiries, \
         {} back-dated; {} aurra {:.1}s, raw redb {:.1}s, sqlite {:.1}s; files: aurra \
         {:.1} MiB, raw redb {:.1} MiB, sqlite {:.1} MiB",
        size_label(size),
        size,
        facts,
        100.0 * superseded as f64 / facts as f64,
        count(|c| matches!(c, Change::Supersede { .. })),
        count(|c| matches!(c, Change::Expire { .. })),
        d.plan.rows.iter().filter(|r| r.backdated).count(),
        if cached {
            "copied from the cache, built in"
        } else {
            "built in"
        },
        d.build_secs.aurra,
        d.build_secs.raw,
        d.build_secs.sqlite,
        a as f64 / 1048576.0,
        r as f64 / 1048576.0,
        s as f64 / 1048576.0,
    );
    d
}

/// Builds the three files into `cache` (through a staging directory, renamed into place).
fn publish(plan: &Plan, cache: &Path) {
    let parent = cache.parent().expect("cache parent");
    std::fs::create_dir_all(parent).expect("cache dir");
    let staging = parent.join(format!("staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("staging dir");
    let (ids, times) = build_files(plan, &staging);
    let bytes: Vec<u8> = ids
        .iter()
        .flat_map(|id| id.as_u128().to_be_bytes())
        .collect();
    std::fs::write(staging.join("ids.bin"), bytes).expect("ids");
    std::fs::write(
        staging.join("build_secs"),
        format!("{} {} {}", times.aurra, times.raw, times.sqlite),
    )
    .expect("build times");
    std::fs::write(staging.join("complete"), b"").expect("marker");
    // Another process may have published it meanwhile: keep theirs.
    if std::fs::rename(&staging, cache).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    // Drop datasets of the same size built from other sources.
    let name = cache
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let prefix = format!("{}-", name.split('-').next().expect("size"));
    for entry in std::fs::read_dir(parent).expect("cache dir").flatten() {
        let other = entry.file_name().to_string_lossy().into_owned();
        if other.starts_with(&prefix) && other != name {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Builds the three files into `dir` and closes them.
fn build_files(plan: &Plan, dir: &Path) -> (Vec<MemoryId>, BuildTimes) {
    let started = Instant::now();
    let ids = build_aurra(plan, &dir.join("aurra.redb"));
    let aurra = started.elapsed().as_secs_f64();
    let started = Instant::now();
    build_raw(plan, &dir.join("raw.redb"));
    let raw = started.elapsed().as_secs_f64();
    let started = Instant::now();
    build_sqlite(plan, &dir.join("sqlite.db"));
    let sqlite = started.elapsed().as_secs_f64();
    (ids, BuildTimes { aurra, raw, sqlite })
}

fn build_aurra(plan: &Plan, path: &Path) -> Vec<MemoryId> {
    let clock = ManualClock::new(Timestamp::from_micros(T0 - SECOND));
    let options = StoreOptions::new().clock(clock.clone()).durable(false);
    let store = Store::open_with(path, options).expect("open aurra");
    let mut ids: Vec<MemoryId> = Vec::with_capacity(plan.rows.len());
    let mut events = plan.events.iter().peekable();
    for (c, commit) in plan.commits.iter().enumerate() {
        clock.set(Timestamp::from_micros(commit.at));
        let batch: Vec<NewMemory> = (commit.first..commit.end)
            .map(|seq| new_memory(seq, &plan.rows[seq as usize]))
            .collect();
        for outcome in store.write_batch(ACCOUNT, batch).expect("write_batch") {
            match outcome {
                WriteOutcome::Saved(m) => {
                    assert_eq!(m.created_at.as_micros(), commit.at, "stamp = plan");
                    ids.push(m.id);
                }
                WriteOutcome::Duplicate { existing } => {
                    panic!("the plan has no duplicates (row {}, {existing})", ids.len())
                }
            }
        }
        while let Some(e) = events.next_if(|e| e.after_commit as usize == c) {
            clock.set(Timestamp::from_micros(e.at));
            let (id, request) = match e.change {
                Change::Supersede { old, new } => (
                    ids[old as usize],
                    Supersede {
                        superseded_by: Some(ids[new as usize]),
                        valid_to: None,
                    },
                ),
                Change::Expire { row, valid_to } => (
                    ids[row as usize],
                    Supersede {
                        superseded_by: None,
                        valid_to: Some(Timestamp::from_micros(valid_to)),
                    },
                ),
            };
            let outcome = store
                .supersede(ACCOUNT, id, request, ACCOUNT)
                .expect("supersede");
            assert!(outcome.changed);
        }
    }
    // The load commits without syncing (`durable(false)`), and redb frees the pages a
    // non-durable commit replaced only at the next durable one: the file ends with free pages
    // no durable writer would leave. Compacting (what `aurra compact` does) returns them and
    // repacks the half-empty tables, so the file compares with SQLite's, which is packed
    // as loaded.
    let mut store = store;
    let written = std::fs::metadata(path).expect("the aurra file").len();
    let started = Instant::now();
    store.compact().expect("compact aurra");
    drop(store);
    let compacted = std::fs::metadata(path).expect("the aurra file").len();
    eprintln!(
        "aurra file: {:.1} MiB as written, {:.1} MiB compacted ({:.1}s)",
        written as f64 / (1024.0 * 1024.0),
        compacted as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    ids
}

fn build_raw(plan: &Plan, path: &Path) {
    let db = redb::Database::create(path).expect("create raw redb");
    let rows = &plan.rows;
    for (c, chunk) in (0..rows.len() as u32)
        .collect::<Vec<_>>()
        .chunks(BUILD_BATCH)
        .enumerate()
    {
        let mut txn = db.begin_write().expect("begin");
        if c % 100 != 99 {
            txn.set_durability(redb::Durability::None)
                .expect("durability");
        }
        {
            let mut t = txn.open_table(RAW_ROWS).expect("table");
            for &seq in chunk {
                let r = record(seq, &rows[seq as usize], rows);
                let bytes = postcard::to_stdvec(&r).expect("encode");
                t.insert((r.created_at, r.seq), bytes.as_slice())
                    .expect("insert");
            }
        }
        txn.commit().expect("commit");
    }
    // One durable commit at the end.
    let txn = db.begin_write().expect("begin");
    txn.open_table(RAW_ROWS).expect("table");
    txn.commit().expect("commit");
}

fn build_sqlite(plan: &Plan, path: &Path) {
    let mut conn = sqlite::open(path);
    conn.pragma_update(None, "synchronous", "OFF")
        .expect("synchronous");
    conn.execute_batch(sqlite::SCHEMA).expect("schema");
    let rows = &plan.rows;
    let all: Vec<u32> = (0..rows.len() as u32).collect();
    for chunk in all.chunks(BUILD_BATCH) {
        let records: Vec<Record> = chunk
            .iter()
            .map(|&seq| record(seq, &rows[seq as usize], rows))
            .collect();
        sqlite::load(&mut conn, &records).expect("load sqlite");
    }
    // Statistics for the planner, but not STAT4's samples: with them SQLite re-prepares a
    // statement whenever a parameter used in a range constraint is re-bound (every call here),
    // which costs more than the query. The plans are the same with `sqlite_stat1` alone.
    conn.execute_batch("ANALYZE; DELETE FROM sqlite_stat4; PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("analyze");
    conn.close().expect("close sqlite");
}

// ------------------------------------------------------------------------------------------
// Checks: the three engines agree on what the benches read
// ------------------------------------------------------------------------------------------

pub fn aurra_list(d: &Dataset, mode: ReadMode) -> Vec<Memory> {
    let q = ListQuery::new().tenant(TENANT).mode(mode).limit(LIMIT);
    d.aurra.list(ACCOUNT, &q).expect("list").memories
}

pub fn as_of_mode(at: i64) -> ReadMode {
    ReadMode::AsOf(Timestamp::from_micros(at))
}

pub fn tx_as_of_mode(at: i64) -> ReadMode {
    ReadMode::TransactionAsOf {
        at: Timestamp::from_micros(at),
        include_superseded: false,
    }
}

/// One time-travel list bench (group `name`): aurra in `mode(T)`, the raw redb floor from T,
/// SQLite's `sql` at T, on the dataset's instants, at every size; each call asserts 20 rows.
pub fn instant_list_bench(c: &mut Criterion, name: &str, mode: fn(i64) -> ReadMode, sql: &str) {
    let mut group = c.benchmark_group(name);
    for size in sizes() {
        let d = dataset(size);
        let label = size_label(size);
        let instants = &d.instants;
        let mut i = 0;
        group.bench_function(BenchmarkId::new("aurra", &label), |b| {
            b.iter(|| {
                i += 1;
                let rows = aurra_list(&d, mode(black_box(instants[i % instants.len()])));
                assert_eq!(rows.len(), LIMIT);
                rows
            })
        });
        let mut i = 0;
        group.bench_function(BenchmarkId::new("redb", &label), |b| {
            b.iter(|| {
                i += 1;
                let at = black_box(instants[i % instants.len()]);
                let rows = raw::newest(&d.raw, at, LIMIT).expect("raw");
                assert_eq!(rows.len(), LIMIT);
                rows
            })
        });
        let conn = d.sqlite.lock().expect("sqlite");
        let mut i = 0;
        group.bench_function(BenchmarkId::new("sqlite", &label), |b| {
            b.iter(|| {
                i += 1;
                let at = black_box(instants[i % instants.len()]);
                let rows = sqlite::list(&conn, sql, at, LIMIT).expect("sqlite");
                assert_eq!(rows.len(), LIMIT);
                rows
            })
        });
    }
    group.finish();
}

fn verify(d: &Dataset) {
    let seq_of: HashMap<MemoryId, u64> = d
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u64))
        .collect();
    let aurra_seqs = |ms: &[Memory]| -> Vec<u64> { ms.iter().map(|m| seq_of[&m.id]).collect() };
    let sql_seqs = |rs: &[Record]| -> Vec<u64> { rs.iter().map(|r| r.seq).collect() };
    let conn = d.sqlite.lock().expect("sqlite");
    assert_eq!(Clock::now(&d.clock).as_micros(), d.plan.now);

    let current = aurra_list(d, ReadMode::Current);
    let expected = sqlite::list(&conn, sqlite::CURRENT, d.plan.now, LIMIT).expect("sqlite");
    assert_eq!(aurra_seqs(&current), sql_seqs(&expected), "current truth");
    assert_eq!(current.len(), LIMIT);
    for (i, &at) in d.instants.iter().enumerate().take(16) {
        let got = aurra_list(d, as_of_mode(at));
        let want = sqlite::list(&conn, sqlite::AS_OF, at, LIMIT).expect("sqlite");
        assert_eq!(aurra_seqs(&got), sql_seqs(&want), "as_of #{i}");
        assert_eq!(got.len(), LIMIT, "as_of #{i}");
        let got = aurra_list(d, tx_as_of_mode(at));
        let want = sqlite::list(&conn, sqlite::TX_AS_OF, at, LIMIT).expect("sqlite");
        assert_eq!(aurra_seqs(&got), sql_seqs(&want), "transaction_as_of #{i}");
        assert_eq!(got.len(), LIMIT, "transaction_as_of #{i}");
        // Rendered in the state of the replayed instant.
        for (m, r) in got.iter().zip(&want) {
            assert_eq!(m.valid_to.map(Timestamp::as_micros), r.valid_to);
            assert_eq!(m.superseded_by, None);
            assert_eq!(m.transaction_time_end, None);
        }
        assert_eq!(
            raw::newest(&d.raw, at, LIMIT).expect("raw").len(),
            LIMIT,
            "raw #{i}"
        );
    }
    for &(seq, len) in d.chains.iter().take(16) {
        let t = d
            .aurra
            .timeline(ACCOUNT, d.ids[seq as usize])
            .expect("timeline");
        let want = sqlite::timeline(&conn, u64::from(seq)).expect("sqlite timeline");
        assert_eq!(t.versions.len(), len);
        assert_eq!(
            aurra_seqs(&t.versions),
            sql_seqs(&want),
            "timeline of {seq}"
        );
        let raw = raw::timeline(&d.raw, d.raw_key(seq)).expect("raw timeline");
        assert_eq!(sql_seqs(&raw), sql_seqs(&want), "raw timeline of {seq}");
    }
    if std::env::var_os("AURRA_BENCH_EXPLAIN").is_some() {
        let at = d.instants[0];
        for (name, sql, at) in [
            ("current", sqlite::CURRENT, d.plan.now),
            ("as_of", sqlite::AS_OF, at),
            ("transaction_as_of", sqlite::TX_AS_OF, at),
        ] {
            eprintln!("sqlite plan {name}: {}", sqlite::explain(&conn, sql, at));
        }
    }
}
