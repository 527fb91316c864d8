//! What embeddings cost a query: keyword search (BM25) against hybrid search (BM25 + exact
//! cosine over every vector of the scope, fused by rank) on the same store, in one run, at
//! 10k and 100k memories in one tenant with 384-dimension vectors (the size of common local
//! models). The embedder is in-process and nearly free, so the difference is the store's own
//! cost: reading and scoring the scope's vectors.
//!
//! `cargo bench --bench query_hybrid` (sizes: `AURRA_BENCH_SIZES=10k,100k`; dimensions:
//! `AURRA_EMBED_DIMS=384`).

use std::time::{Duration, Instant};

use aurra::{Embedder, NewMemory, SearchQuery, SearchType, Store, StoreOptions};

mod sizes;

const ACCOUNT: &str = "acme";
const TENANT: &str = "bench";
const QUESTIONS: usize = 200;

/// Hashes words into `dims` dimensions (FNV-1a), one count per word.
#[derive(Debug)]
struct HashEmbedder {
    dims: usize,
}

impl Embedder for HashEmbedder {
    fn space(&self) -> &str {
        "bench-hash"
    }

    fn embed(&self, texts: &[&str]) -> aurra::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; self.dims];
                for word in t.split_whitespace() {
                    let mut h: u32 = 0x811c_9dc5;
                    for b in word.bytes() {
                        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
                    }
                    v[h as usize % self.dims] += 1.0;
                }
                v
            })
            .collect())
    }
}

fn text(i: usize) -> String {
    format!(
        "note {i} about topic{} with detail{} and person{} at place{}",
        i % 997,
        (i * 7) % 5003,
        (i * 13) % 211,
        (i * 31) % 89
    )
}

fn question(i: usize) -> String {
    format!(
        "what about topic{} and person{}",
        (i * 37) % 997,
        (i * 11) % 211
    )
}

fn sizes() -> Vec<usize> {
    sizes::sizes(&[10_000, 100_000], 1000)
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.95))
}

fn main() {
    let dims: usize = std::env::var("AURRA_EMBED_DIMS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(384);
    println!(
        "| memories | keyword p50 | keyword p95 | hybrid p50 | hybrid p95 | hybrid p95 ÷ keyword p95 |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for size in sizes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("aurra.redb");
        {
            let store = Store::open_with(
                &path,
                StoreOptions::new()
                    .durable(false)
                    .embedder(HashEmbedder { dims }),
            )
            .expect("open");
            for start in (0..size).step_by(1000) {
                let batch = (start..(start + 1000).min(size))
                    .map(|i| NewMemory::new(text(i)).with_tenant(TENANT))
                    .collect();
                store.write_batch(ACCOUNT, batch).expect("load");
            }
        }
        // The same file, opened both ways: keyword (no embedder) and hybrid.
        let run = |options: StoreOptions, expect: SearchType| -> (Duration, Duration) {
            let store = Store::open_with(&path, options).expect("open");
            let search = |i: usize| {
                let query = SearchQuery::new(question(i)).tenant(TENANT).limit(10);
                let found = store.search(ACCOUNT, &query).expect("search");
                assert_eq!(found.search_type, expect);
                assert!(!found.hits.is_empty());
            };
            (0..QUESTIONS).for_each(search);
            let samples = (0..QUESTIONS)
                .map(|i| {
                    let t = Instant::now();
                    search(i);
                    t.elapsed()
                })
                .collect();
            percentiles(samples)
        };
        let (k50, k95) = run(StoreOptions::new(), SearchType::Keyword);
        let (h50, h95) = run(
            StoreOptions::new().embedder(HashEmbedder { dims }),
            SearchType::Hybrid,
        );
        println!(
            "| {size} | {k50:.2?} | {k95:.2?} | {h50:.2?} | {h95:.2?} | {:.1}× |",
            h95.as_secs_f64() / k95.as_secs_f64()
        );
    }
}
