//! Batch import: 1000 memories in one durable transaction (`write_batch`, default
//! `StoreOptions`): aurra vs raw redb (the floor: 1000 inserts + an `Immediate` commit) vs
//! SQLite (WAL, `synchronous=FULL`, duplicate check + insert per row, one transaction), each into
//! its copy of the dataset (see `common/mod.rs`). Every iteration adds 1000 rows, so the
//! measurement is kept short (10 samples of one batch each after warm-up).

mod common;

use std::time::Duration;

use common::*;
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(500));
    for size in sizes() {
        let d = dataset(size);
        let label = size_label(size);
        let mut n = 0u64;
        let mut next_batch = move || {
            let first = n;
            n += IMPORT_BATCH as u64;
            first..n
        };
        group.bench_function(BenchmarkId::new("aurra", &label), |b| {
            b.iter_batched(
                || {
                    next_batch()
                        .map(|n| new_memory(0, &fresh_row(n, d.plan.now)))
                        .collect::<Vec<_>>()
                },
                |batch| {
                    let out = d.aurra.write_batch(ACCOUNT, batch).expect("write_batch");
                    assert!(out.iter().all(|o| o.saved_id().is_some()));
                    out
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(BenchmarkId::new("redb", &label), |b| {
            b.iter_batched(
                || {
                    next_batch()
                        .map(|n| fresh_record(&d, n))
                        .collect::<Vec<_>>()
                },
                |batch| {
                    raw::write(&d.raw, &batch).expect("raw write");
                    batch
                },
                BatchSize::PerIteration,
            )
        });
        let mut conn = d.sqlite.lock().expect("sqlite");
        group.bench_function(BenchmarkId::new("sqlite", &label), |b| {
            b.iter_batched(
                || {
                    next_batch()
                        .map(|n| fresh_record(&d, n))
                        .collect::<Vec<_>>()
                },
                |batch| {
                    let inserted = sqlite::write(&mut conn, &batch).expect("sqlite");
                    assert_eq!(inserted, IMPORT_BATCH);
                    batch
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = bench
}
fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::finish();
}
