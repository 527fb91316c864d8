//! Transaction-time travel, 20 rows (`ReadMode::TransactionAsOf { at: T, include_superseded:
//! false }`, T a random past instant): aurra vs raw redb (the floor) vs SQLite, on the same
//! data and the same instants (see `common/mod.rs`).

mod common;

use std::hint::black_box;

use common::*;
use criterion::{BenchmarkId, Criterion, criterion_group};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("list_tx_as_of");
    for size in sizes() {
        let d = dataset(size);
        let label = size_label(size);
        let instants = &d.instants;
        let mut i = 0;
        group.bench_function(BenchmarkId::new("aurra", &label), |b| {
            b.iter(|| {
                i += 1;
                let rows = aurra_list(&d, tx_as_of_mode(black_box(instants[i % instants.len()])));
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
                let rows = sqlite::list(&conn, sqlite::TX_AS_OF, at, LIMIT).expect("sqlite");
                assert_eq!(rows.len(), LIMIT);
                rows
            })
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
