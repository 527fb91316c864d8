//! The hot paths, one at a time, for counting their instructions under callgrind
//! (`tests/instruction_counts.rs` runs it; nothing here times anything).
//!
//! ```sh
//! cargo build --release --example hot_paths --no-default-features
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*hot_paths::measured*' \
//!     target/release/examples/hot_paths list_current
//! ```
//!
//! Every run builds the same in-memory store (a fixed clock, fixed facts) and then calls
//! [`measured`] once with the named case; only that call is counted. The store's ids carry
//! random bits, so counts move by a few hundred instructions from run to run, no more.

use std::hint::black_box;
use std::process::ExitCode;

use aurra::{
    Clock, ListCursor, ListQuery, ManualClock, MemoryId, NewMemory, ReadMode, SearchQuery, Store,
    StoreOptions, Supersede, Timestamp,
};

/// The rows written before the measured call.
const PRELOAD: usize = 2_000;
/// How many times a case repeats its operation inside the counted call.
const REPEAT: usize = 20;

/// The cases, in the order the gate reports them.
const CASES: &[&str] = &[
    "write",
    "batch_100",
    "supersede",
    "get",
    "list_current",
    "list_page_deep",
    "list_as_of",
    "list_tx_as_of",
    "list_bitemporal",
    "search",
    "timeline",
];

const START: i64 = 1_750_000_000_000_000;
const SECOND: i64 = 1_000_000;

/// The `i`-th fact: a few people, projects and places, so that terms repeat as they do in
/// real memories; two tenants, a session per ten facts.
fn fact(prefix: &str, i: usize) -> NewMemory {
    NewMemory::new(format!(
        "{prefix} {i}: person{} works on project{} in city{} since week {}",
        i % 97,
        i % 31,
        i % 13,
        i / 7
    ))
    .with_tenant(["crm", "support"][i % 2])
    .with_session(format!("session-{}", i / 10))
}

struct Fixture {
    store: Store,
    clock: ManualClock,
    /// Ids of the preloaded rows, in write order.
    ids: Vec<MemoryId>,
    /// A chain of supersessions (oldest first) for the timeline.
    chain: Vec<MemoryId>,
    /// An instant in the middle of the history.
    middle: Timestamp,
    /// A list cursor a quarter into the preloaded rows: the next page is three quarters
    /// down the tenant's list (a page deep in it, as the dashboard reads one).
    deep: ListCursor,
    next: usize,
}

fn fixture() -> Fixture {
    let clock = ManualClock::new(Timestamp::from_micros(START));
    let store = Store::in_memory_with(StoreOptions::new().clock(clock.clone()))
        .expect("open an in-memory store");
    let mut ids = Vec::with_capacity(PRELOAD);
    let mut middle = Timestamp::from_micros(START);
    for start in (0..PRELOAD).step_by(100) {
        let batch = (start..start + 100).map(|i| fact("Fact", i)).collect();
        for outcome in store.write_batch("acme", batch).expect("preload") {
            ids.push(outcome.saved_id().expect("saved"));
        }
        clock.advance(SECOND);
        if start == PRELOAD / 2 {
            middle = clock.now();
        }
    }
    // Every fifth row of the first half superseded, so that time travel has history to skip.
    let mut next = PRELOAD;
    for &id in ids.iter().take(PRELOAD / 2).step_by(5) {
        supersede(&store, id, &mut next);
        clock.advance(SECOND);
    }
    let mut chain = vec![ids[PRELOAD - 1]];
    for _ in 0..8 {
        let last = *chain.last().expect("not empty");
        chain.push(supersede(&store, last, &mut next));
        clock.advance(SECOND);
    }
    let deep = ListCursor::after(&store.get("acme", ids[PRELOAD / 4]).expect("get"));
    Fixture {
        store,
        clock,
        ids,
        chain,
        middle,
        deep,
        next,
    }
}

/// Replaces `id` by a revised fact; returns the replacement.
fn supersede(store: &Store, id: MemoryId, next: &mut usize) -> MemoryId {
    let replacement = store
        .write("acme", fact("Revised fact", *next))
        .expect("write the replacement")
        .saved_id()
        .expect("saved");
    *next += 1;
    let change = Supersede {
        superseded_by: Some(replacement),
        valid_to: None,
    };
    assert!(
        store
            .supersede("acme", id, change, "hot paths")
            .expect("supersede")
            .changed
    );
    replacement
}

/// The counted call: `REPEAT` operations of one case (a batch case writes one batch).
#[inline(never)]
fn measured(case: &str, f: &mut Fixture) -> usize {
    let store = &f.store;
    let crm = || ListQuery::new().tenant("crm").limit(20);
    let mut seen = 0;
    match case {
        "write" => {
            for _ in 0..REPEAT {
                let outcome = store
                    .write("acme", fact("New fact", f.next))
                    .expect("write");
                seen += usize::from(outcome.saved_id().is_some());
                f.next += 1;
                f.clock.advance(SECOND);
            }
        }
        "batch_100" => {
            let batch = (f.next..f.next + 100)
                .map(|i| fact("New fact", i))
                .collect();
            seen = store.write_batch("acme", batch).expect("batch").len();
            f.next += 100;
        }
        "supersede" => {
            for i in 0..REPEAT {
                let change = Supersede {
                    superseded_by: None,
                    valid_to: Some(f.clock.now()),
                };
                let id = f.ids[PRELOAD / 2 + 1 + 2 * i];
                seen += usize::from(
                    store
                        .supersede("acme", id, change, "hot paths")
                        .expect("expire")
                        .changed,
                );
                f.clock.advance(SECOND);
            }
        }
        "get" => {
            for i in 0..REPEAT {
                let id = f.ids[i * (PRELOAD / REPEAT)];
                seen += store.get("acme", id).expect("get").decision.len();
            }
        }
        "list_current" => {
            for _ in 0..REPEAT {
                seen += store.list("acme", &crm()).expect("list").memories.len();
            }
        }
        "list_page_deep" => {
            for _ in 0..REPEAT {
                let query = crm().before(f.deep);
                seen += store.list("acme", &query).expect("list").memories.len();
            }
        }
        "list_as_of" => {
            for _ in 0..REPEAT {
                let query = crm().mode(ReadMode::AsOf(f.middle));
                seen += store.list("acme", &query).expect("list").memories.len();
            }
        }
        "list_tx_as_of" => {
            for _ in 0..REPEAT {
                let query = crm().mode(ReadMode::TransactionAsOf {
                    at: f.middle,
                    include_superseded: false,
                });
                seen += store.list("acme", &query).expect("list").memories.len();
            }
        }
        "list_bitemporal" => {
            for _ in 0..REPEAT {
                let query = crm().mode(ReadMode::Bitemporal {
                    valid_at: f.middle,
                    transaction_at: f.clock.now(),
                });
                seen += store.list("acme", &query).expect("list").memories.len();
            }
        }
        "search" => {
            for i in 0..REPEAT {
                let text = format!("who works on project{} in city{}", i % 31, i % 13);
                let query = SearchQuery::new(text).tenant("crm").limit(10);
                seen += store.search("acme", &query).expect("search").hits.len();
            }
        }
        "timeline" => {
            for i in 0..REPEAT {
                let id = f.chain[i % f.chain.len()];
                seen += store.timeline("acme", id).expect("timeline").versions.len();
            }
        }
        other => panic!("unknown case {other:?}"),
    }
    black_box(seen)
}

fn main() -> ExitCode {
    let Some(case) = std::env::args().nth(1) else {
        eprintln!("usage: hot_paths CASE   (cases: {})", CASES.join(", "));
        return ExitCode::from(2);
    };
    if case == "--list" {
        println!("{}", CASES.join("\n"));
        return ExitCode::SUCCESS;
    }
    if !CASES.contains(&case.as_str()) {
        eprintln!("unknown case {case:?} (cases: {})", CASES.join(", "));
        return ExitCode::from(2);
    }
    let mut f = fixture();
    let seen = measured(&case, &mut f);
    // The case did what it says: every case returns something.
    if seen == 0 {
        eprintln!("case {case} returned nothing");
        return ExitCode::FAILURE;
    }
    println!("{case}: {seen}");
    ExitCode::SUCCESS
}
