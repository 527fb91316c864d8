//! What the vector index costs a write: the same durable writes, each memory with a
//! 384-dimension vector, into a store preloaded with 10k such memories in one tenant, with
//! the index (each vector's binary code appended to the tenant's last code block, in the
//! row's transaction) and without it (`StoreOptions::vector_index(false)`), in one run.
//! Single writes go in alternating rounds of 64 (so drift falls on both sides alike), then
//! batches of 100.
//!
//! `cargo bench --bench vector_write_cost` (`AURRA_EMBED_DIMS=384`).

use std::time::{Duration, Instant};

use aurra::{NewMemory, Store, StoreOptions};

mod vectors;

use vectors::{TopicEmbedder, text};

const PRELOAD: usize = 10_000;
const ROUNDS: usize = 10;
const PER_ROUND: usize = 64;
const BATCHES: usize = 20;
const BATCH: usize = 100;

fn options(dims: usize, index: bool) -> StoreOptions {
    StoreOptions::new()
        .embedder(TopicEmbedder { dims })
        .vector_index(index)
}

fn store(dir: &std::path::Path, dims: usize, index: bool) -> Store {
    let path = dir.join("aurra.redb");
    {
        let bulk = Store::open_with(&path, options(dims, index).durable(false)).expect("open");
        for start in (0..PRELOAD).step_by(1000) {
            let batch = (start..start + 1000)
                .map(|i| NewMemory::new(text(i)).with_tenant("t"))
                .collect();
            bulk.write_batch("acme", batch).expect("preload");
        }
    }
    Store::open_with(&path, options(dims, index)).expect("reopen")
}

fn main() {
    let dims: usize = std::env::var("AURRA_EMBED_DIMS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(384);
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let stores = [
        store(dirs[0].path(), dims, true),
        store(dirs[1].path(), dims, false),
    ];
    let mut singles: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut next = 2 * PRELOAD;
    for _ in 0..ROUNDS {
        for (store, samples) in stores.iter().zip(singles.iter_mut()) {
            for _ in 0..PER_ROUND {
                next += 1;
                let memory = NewMemory::new(text(next)).with_tenant("t");
                let started = Instant::now();
                store.write("acme", memory).expect("write");
                samples.push(started.elapsed());
            }
        }
    }
    let mut batches: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..BATCHES {
        for (store, samples) in stores.iter().zip(batches.iter_mut()) {
            let batch = (0..BATCH)
                .map(|_| {
                    next += 1;
                    NewMemory::new(text(next)).with_tenant("t")
                })
                .collect();
            let started = Instant::now();
            store.write_batch("acme", batch).expect("batch");
            samples.push(started.elapsed());
        }
    }
    let median = |samples: &mut Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let [mut on, mut off] = singles;
    let (on, off) = (median(&mut on), median(&mut off));
    let [mut batch_on, mut batch_off] = batches;
    let (batch_on, batch_off) = (median(&mut batch_on), median(&mut batch_off));
    println!("| write ({dims} dims, 10k preloaded) | index on | index off | on ÷ off |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| single durable write, median of {} | {on:.2?} | {off:.2?} | {:.2}× |",
        ROUNDS * PER_ROUND,
        on.as_secs_f64() / off.as_secs_f64()
    );
    println!(
        "| batch of {BATCH}, median of {BATCHES} | {batch_on:.2?} | {batch_off:.2?} | {:.2}× |",
        batch_on.as_secs_f64() / batch_off.as_secs_f64()
    );
}
