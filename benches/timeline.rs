//! Timeline of a chain of 3-5 versions (from a middle version, walked both ways): aurra vs raw
//! redb (the floor: pointer chasing) vs SQLite (recursive CTE), on the same chains (see
//! `common/mod.rs`).

mod common;

use std::hint::black_box;

use common::*;
use criterion::{BenchmarkId, Criterion, criterion_group};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("timeline");
    for size in sizes() {
        let d = dataset(size);
        let label = size_label(size);
        let chains = &d.chains;
        let mut i = 0;
        group.bench_function(BenchmarkId::new("aurra", &label), |b| {
            b.iter(|| {
                i += 1;
                let (seq, len) = chains[i % chains.len()];
                let t = d
                    .aurra
                    .timeline(ACCOUNT, black_box(d.ids[seq as usize]))
                    .expect("timeline");
                assert_eq!(t.versions.len(), len);
                t
            })
        });
        let mut i = 0;
        group.bench_function(BenchmarkId::new("redb", &label), |b| {
            b.iter(|| {
                i += 1;
                let (seq, len) = chains[i % chains.len()];
                let t = raw::timeline(&d.raw, black_box(d.raw_key(seq))).expect("raw");
                assert_eq!(t.len(), len);
                t
            })
        });
        let conn = d.sqlite.lock().expect("sqlite");
        let mut i = 0;
        group.bench_function(BenchmarkId::new("sqlite", &label), |b| {
            b.iter(|| {
                i += 1;
                let (seq, len) = chains[i % chains.len()];
                let t = sqlite::timeline(&conn, black_box(u64::from(seq))).expect("sqlite");
                assert_eq!(t.len(), len);
                t
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
