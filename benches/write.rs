//! Durable single write (default `StoreOptions`: every commit fsynced before `write` returns):
//! aurra vs raw redb (the floor: one insert + an `Immediate` commit) vs SQLite (WAL,
//! `synchronous=FULL`, duplicate check + insert in one transaction), each into its copy of the
//! dataset (see `common/mod.rs`). Every iteration adds one row.

mod common;

use common::*;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("write");
    for size in sizes() {
        let d = dataset(size);
        let label = size_label(size);
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("aurra", &label), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    new_memory(0, &fresh_row(n, d.plan.now))
                },
                |m| {
                    let out = d.aurra.write(ACCOUNT, m).expect("write");
                    assert!(out.saved_id().is_some());
                    out
                },
                BatchSize::SmallInput,
            )
        });
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("redb", &label), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    fresh_record(&d, n)
                },
                |r| {
                    raw::write(&d.raw, std::slice::from_ref(&r)).expect("raw write");
                    r
                },
                BatchSize::SmallInput,
            )
        });
        let mut conn = d.sqlite.lock().expect("sqlite");
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("sqlite", &label), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    fresh_record(&d, n)
                },
                |r| {
                    let inserted =
                        sqlite::write(&mut conn, std::slice::from_ref(&r)).expect("sqlite");
                    assert_eq!(inserted, 1);
                    r
                },
                BatchSize::SmallInput,
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
