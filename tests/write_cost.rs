//! The write path's cost in deterministic counts, not times: what a durable insert makes the
//! storage do (write calls, bytes written, syncs), counted through redb's `StorageBackend`
//! on a fixed workload, against the committed baseline below. A change that costs more than
//! the tolerance fails with the figures; one that costs clearly less fails too, asking for
//! the baseline to be lowered, so that a gain is locked in. Changing [`BASELINE`] is a
//! deliberate, reviewed commit: say in its message what moved and why.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aurra::{
    ListQuery, ManualClock, NewMemory, StorageBackend, Store, StoreOptions, Supersede, Timestamp,
};

/// How far a figure may move either way before the gate fails.
const TOLERANCE: f64 = 0.10;

/// What the workload costs, per operation, at the commit that last changed it (redb 4.6,
/// 4 KiB pages: a write call is about one page). Three runs agreed to 0.2%: the counts
/// depend only on the operations and the random bits of the ids.
const BASELINE: &[(&str, f64)] = &[
    ("single write: write calls", 16.88),
    ("single write: KiB written", 63.8),
    ("single write: syncs", 1.0),
    ("batch of 100: write calls", 90.0),
    ("batch of 100: KiB written", 356.3),
    ("batch of 100: syncs", 1.0),
    ("supersede: write calls", 19.0),
    ("supersede: KiB written", 72.3),
    ("supersede: syncs", 1.0),
    ("raw redb commit: write calls", 7.98),
    ("raw redb commit: KiB written", 28.2),
];

/// The rows in the store before anything is measured.
const PRELOAD: usize = 2_000;
const SINGLE_WRITES: usize = 50;
const BATCHES: usize = 5;
const SUPERSESSIONS: usize = 30;

/// An in-memory file that counts what redb asks of it.
#[derive(Clone, Default)]
struct Counting {
    inner: Arc<redb::backends::InMemoryBackend>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    writes: AtomicU64,
    bytes: AtomicU64,
    syncs: AtomicU64,
}

impl Counts {
    fn take(&self) -> [u64; 3] {
        [
            self.writes.swap(0, Ordering::Relaxed),
            self.bytes.swap(0, Ordering::Relaxed),
            self.syncs.swap(0, Ordering::Relaxed),
        ]
    }
}

impl std::fmt::Debug for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Counting")
    }
}

impl StorageBackend for Counting {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.counts.syncs.fetch_add(1, Ordering::Relaxed);
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.counts.writes.fetch_add(1, Ordering::Relaxed);
        self.counts
            .bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.inner.write(offset, data)
    }
}

/// The `i`-th fact of the workload: a few people, projects and places, so that terms repeat
/// as they do in real memories.
fn fact(i: usize) -> NewMemory {
    fact_with("Fact", i)
}

fn fact_with(prefix: &str, i: usize) -> NewMemory {
    NewMemory::new(format!(
        "{prefix} {i}: person{} works on project{} in city{} since week {}",
        i % 97,
        i % 31,
        i % 13,
        i / 7
    ))
    .with_tenant(["crm", "support"][i % 2])
}

fn measure() -> Vec<(&'static str, f64)> {
    let clock = ManualClock::new(Timestamp::from_micros(1_750_000_000_000_000));
    let backend = Counting::default();
    let counts = backend.counts.clone();
    let store = Store::open_backend(backend, StoreOptions::new().clock(clock.clone()))
        .expect("open the store");
    let tick = || clock.advance(1_000_000);
    for start in (0..PRELOAD).step_by(100) {
        store
            .write_batch("acme", (start..start + 100).map(fact).collect())
            .expect("preload");
        tick();
    }
    let mut next = PRELOAD;
    let per = |total: [u64; 3], n: usize| total.map(|c| c as f64 / n as f64);

    counts.take();
    let mut ids = Vec::new();
    for _ in 0..SINGLE_WRITES {
        let outcome = store.write("acme", fact(next)).expect("write");
        ids.push(outcome.saved_id().expect("saved"));
        next += 1;
        tick();
    }
    let single = per(counts.take(), SINGLE_WRITES);

    for _ in 0..BATCHES {
        store
            .write_batch("acme", (next..next + 100).map(fact).collect())
            .expect("batch");
        next += 100;
        tick();
    }
    let batch = per(counts.take(), BATCHES);

    let mut superseding = [0u64; 3];
    for &id in ids.iter().take(SUPERSESSIONS) {
        let replacement = store
            .write("acme", fact_with("Revised fact", next))
            .expect("write the replacement")
            .saved_id()
            .expect("saved");
        next += 1;
        tick();
        counts.take();
        let change = Supersede {
            superseded_by: Some(replacement),
            valid_to: None,
        };
        let outcome = store
            .supersede("acme", id, change, "gate")
            .expect("supersede");
        assert!(outcome.changed);
        for (sum, c) in superseding.iter_mut().zip(counts.take()) {
            *sum += c;
        }
        tick();
    }
    let supersede = per(superseding, SUPERSESSIONS);

    // The workload did what it says.
    let listed = store
        .list("acme", &ListQuery::new().tenant("crm").limit(1000))
        .expect("list");
    assert!(!listed.memories.is_empty());

    let kib = |bytes: f64| bytes / 1024.0;
    let floor = floor();
    vec![
        ("single write: write calls", single[0]),
        ("single write: KiB written", kib(single[1])),
        ("single write: syncs", single[2]),
        ("batch of 100: write calls", batch[0]),
        ("batch of 100: KiB written", kib(batch[1])),
        ("batch of 100: syncs", batch[2]),
        ("supersede: write calls", supersede[0]),
        ("supersede: KiB written", kib(supersede[1])),
        ("supersede: syncs", supersede[2]),
        ("raw redb commit: write calls", floor[0]),
        ("raw redb commit: KiB written", kib(floor[1])),
    ]
}

/// The floor the single write is compared with: a redb commit of one 600-byte value (about an
/// aurra row record) into one table of [`PRELOAD`] such values, on the same counting file.
fn floor() -> [f64; 3] {
    const TABLE: redb::TableDefinition<u128, &[u8]> = redb::TableDefinition::new("rows");
    let backend = Counting::default();
    let counts = backend.counts.clone();
    let db = redb::Database::builder()
        .create_with_backend(backend)
        .expect("create the raw redb file");
    let value = vec![7u8; 600];
    let insert = |from: u128, to: u128| {
        let txn = db.begin_write().expect("begin");
        {
            let mut table = txn.open_table(TABLE).expect("open the table");
            for key in from..to {
                table.insert(key, value.as_slice()).expect("insert");
            }
        }
        txn.commit().expect("commit");
    };
    let preload = PRELOAD as u128;
    insert(0, preload);
    counts.take();
    for key in preload..preload + SINGLE_WRITES as u128 {
        insert(key, key + 1);
    }
    counts.take().map(|c| c as f64 / SINGLE_WRITES as f64)
}

#[test]
fn a_durable_insert_costs_what_the_baseline_says() {
    let measured = measure();
    let mut report = String::new();
    let mut failed = false;
    for ((name, got), (base_name, base)) in measured.iter().zip(BASELINE) {
        assert_eq!(
            name, base_name,
            "the baseline lists the same figures in order"
        );
        let ratio = if *base == 0.0 {
            f64::INFINITY
        } else {
            got / base
        };
        let verdict = if ratio > 1.0 + TOLERANCE {
            failed = true;
            "MORE than the baseline"
        } else if ratio < 1.0 - TOLERANCE {
            failed = true;
            "less than the baseline: lower it"
        } else {
            "ok"
        };
        report.push_str(&format!(
            "{name:28} {got:10.2}  baseline {base:10.2}  ({ratio:.3}×) {verdict}\n"
        ));
    }
    let ratio = measured[0].1 / measured[9].1;
    report.push_str(&format!(
        "a single write dirties {ratio:.2}× the pages of a raw redb commit\n"
    ));
    println!("{report}");
    assert!(
        !failed,
        "the write path's counts moved by more than {:.0}% (tests/write_cost.rs):\n{report}",
        TOLERANCE * 100.0
    );
}
