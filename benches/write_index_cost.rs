//! What the lexical index costs a durable single write: the same store, preloaded with the
//! same 10k memories, opened with and without the index (`StoreOptions::lexical_index`),
//! measured in one run. `cargo bench --bench write_index_cost`.
//!
//! First it prints latency percentiles of 640 writes each way (ten merges of the delta into
//! the postings, one every 64th indexed write, so p99 and max show what a merge costs), then
//! criterion measures the mean.

use aurra::{NewMemory, Store, StoreOptions};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};

const PRELOAD: usize = 10_000;

const WORDS: [&str; 24] = [
    "alice", "bob", "carol", "works", "likes", "moved", "team", "project", "deadline", "friday",
    "coffee", "tea", "berlin", "paris", "launch", "budget", "review", "customer", "meeting",
    "contract", "hiking", "piano", "garden", "report",
];

fn sentence(n: usize) -> String {
    let h = n.wrapping_mul(2_654_435_761);
    (0..10)
        .map(|i| WORDS[(h >> (i * 3)) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
        + &format!(" #{n}")
}

fn store(dir: &std::path::Path, indexed: bool) -> Store {
    let path = dir.join("store.redb");
    {
        let bulk = Store::open_with(
            &path,
            StoreOptions::new().durable(false).lexical_index(indexed),
        )
        .expect("open");
        for chunk in (0..PRELOAD).collect::<Vec<_>>().chunks(1000) {
            let batch = chunk.iter().map(|n| NewMemory::new(sentence(*n))).collect();
            bulk.write_batch("acme", batch).expect("preload");
        }
    }
    Store::open_with(&path, StoreOptions::new().lexical_index(indexed)).expect("reopen")
}

/// p50, p99 and max of 640 durable writes, each way.
fn percentiles() {
    println!("| index | p50 | p99 | max |");
    println!("| --- | ---: | ---: | ---: |");
    for indexed in [true, false] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path(), indexed);
        let mut samples: Vec<std::time::Duration> = (0..640)
            .map(|i| {
                let m = NewMemory::new(sentence(2 * PRELOAD + i));
                let t = std::time::Instant::now();
                let out = store.write("acme", m).expect("write");
                let elapsed = t.elapsed();
                assert!(out.saved_id().is_some());
                elapsed
            })
            .collect();
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        println!(
            "| {} | {:.2?} | {:.2?} | {:.2?} |",
            if indexed { "on" } else { "off" },
            at(0.50),
            at(0.99),
            samples[samples.len() - 1]
        );
    }
}

fn bench(c: &mut Criterion) {
    if !std::env::args().any(|a| a == "--test") {
        percentiles();
    }
    let mut group = c.benchmark_group("write_index_cost");
    for indexed in [true, false] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(dir.path(), indexed);
        let label = if indexed { "indexed" } else { "unindexed" };
        let mut n = PRELOAD;
        group.bench_function(BenchmarkId::new("durable_write", label), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    NewMemory::new(sentence(n))
                },
                |m| {
                    let out = store.write("acme", m).expect("write");
                    assert!(out.saved_id().is_some());
                    out
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
