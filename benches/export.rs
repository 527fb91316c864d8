//! Export speed: `Store::export` of a whole account of the dataset (see `common/mod.rs`), each
//! record serialised to JSON Lines into a sink, in rows per second (criterion's throughput).
//! The goal is 200 000 rows/s on redb.

mod common;

use common::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("export");
    group.sample_size(10);
    for size in sizes() {
        let d = dataset(size);
        let label = size_label(size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(BenchmarkId::new("aurra", &label), |b| {
            b.iter(|| {
                let mut out = std::io::BufWriter::new(std::io::sink());
                let totals = export_account(&d.aurra, &mut out);
                assert_eq!(totals.memories as usize, size);
                totals
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    common::finish();
}
