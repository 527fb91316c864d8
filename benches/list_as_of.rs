//! Valid-time travel, 20 rows (`ReadMode::AsOf(T)`, T a random past instant): aurra vs raw
//! redb (the floor) vs SQLite, on the same data and the same instants (see `common/mod.rs`).

mod common;

use common::*;
use criterion::{Criterion, criterion_group};

fn bench(c: &mut Criterion) {
    instant_list_bench(c, "list_as_of", as_of_mode, sqlite::AS_OF);
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
