//! Current truth, 20 rows (`ReadMode::Current`): aurra vs raw redb (the floor) vs SQLite, on
//! the same data (see `common/mod.rs`).

mod common;

use std::hint::black_box;

use aurra::ReadMode;
use common::*;
use criterion::{BenchmarkId, Criterion, criterion_group};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("list_current");
    for size in sizes() {
        let d = dataset(size);
        let label = size_label(size);
        group.bench_function(BenchmarkId::new("aurra", &label), |b| {
            b.iter(|| {
                let rows = aurra_list(&d, black_box(ReadMode::Current));
                assert_eq!(rows.len(), LIMIT);
                rows
            })
        });
        group.bench_function(BenchmarkId::new("redb", &label), |b| {
            b.iter(|| {
                let rows = raw::newest(&d.raw, black_box(i64::MAX), LIMIT).expect("raw");
                assert_eq!(rows.len(), LIMIT);
                rows
            })
        });
        let conn = d.sqlite.lock().expect("sqlite");
        group.bench_function(BenchmarkId::new("sqlite", &label), |b| {
            b.iter(|| {
                let rows = sqlite::list(&conn, sqlite::CURRENT, black_box(d.plan.now), LIMIT)
                    .expect("sqlite");
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
