//! What embeddings cost a query: keyword search (BM25) against hybrid search (BM25 + cosine,
//! fused) on the same store, in one run, at 10k and 100k memories in one tenant with
//! 384-dimension vectors (the size of common local models); hybrid with the vector index (the
//! default: binary codes, then the exact cosine of the best candidates) and with the exact
//! scan of every vector (`StoreOptions::vector_index(false)`); and the index's recall@10
//! against the exact scan, semantic and hybrid. The embedder is in-process and nearly free,
//! so the differences are the store's own cost.
//!
//! The vectors are clustered as a text model's are: each memory mixes the direction of its
//! topic (997 topics) and of its person (211), plus noise of its own; a question mixes a topic
//! and a person with other noise. (Random vectors would have no neighbours worth the name.)
//!
//! `cargo bench --bench query_hybrid` (sizes: `AURRA_BENCH_SIZES=10k,100k`; dimensions:
//! `AURRA_EMBED_DIMS=384`).

use std::time::{Duration, Instant};

use aurra::{MemoryId, NewMemory, SearchQuery, SearchType, Store, StoreOptions};

mod recall;
mod sizes;
mod vectors;

use recall::recall;
use vectors::{TopicEmbedder, text};

const ACCOUNT: &str = "acme";
const TENANT: &str = "bench";
const QUESTIONS: usize = 200;

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
        "| memories | keyword p95 | hybrid, exact scan: p50 | p95 | hybrid, index: p50 | p95 | \
         index p95 ÷ keyword p95 | index recall@10, semantic | hybrid |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for size in sizes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("aurra.redb");
        {
            let store = Store::open_with(
                &path,
                StoreOptions::new()
                    .durable(false)
                    .embedder(TopicEmbedder { dims }),
            )
            .expect("open");
            for start in (0..size).step_by(1000) {
                let batch = (start..(start + 1000).min(size))
                    .map(|i| NewMemory::new(text(i)).with_tenant(TENANT))
                    .collect();
                store.write_batch(ACCOUNT, batch).expect("load");
            }
        }
        // The same file, opened each way; the top 10 of every question kept for recall.
        let run = |options: StoreOptions,
                   expect: SearchType|
         -> (Duration, Duration, Vec<Vec<MemoryId>>) {
            let store = Store::open_with(&path, options).expect("open");
            let search = |i: usize| {
                let query = SearchQuery::new(question(i)).tenant(TENANT).limit(10);
                let found = store.search(ACCOUNT, &query).expect("search");
                assert_eq!(found.search_type, expect);
                assert!(!found.hits.is_empty());
                found.hits.iter().map(|h| h.memory.id).collect::<Vec<_>>()
            };
            let tops: Vec<Vec<MemoryId>> = (0..QUESTIONS).map(search).collect();
            let samples = (0..QUESTIONS)
                .map(|i| {
                    let t = Instant::now();
                    search(i);
                    t.elapsed()
                })
                .collect();
            let (p50, p95) = percentiles(samples);
            (p50, p95, tops)
        };
        let embedder = || TopicEmbedder { dims };
        let (_, k95, _) = run(StoreOptions::new(), SearchType::Keyword);
        let (e50, e95, exact) = run(
            StoreOptions::new().embedder(embedder()).vector_index(false),
            SearchType::Hybrid,
        );
        let (i50, i95, indexed) = run(StoreOptions::new().embedder(embedder()), SearchType::Hybrid);
        // Semantic only, last: opening without the lexical index marks it stale.
        let semantic = StoreOptions::new()
            .lexical_index(false)
            .embedder(embedder());
        let (_, _, semantic_indexed) = run(semantic, SearchType::Semantic);
        let semantic = StoreOptions::new()
            .lexical_index(false)
            .embedder(embedder())
            .vector_index(false);
        let (_, _, semantic_exact) = run(semantic, SearchType::Semantic);
        println!(
            "| {size} | {k95:.2?} | {e50:.2?} | {e95:.2?} | {i50:.2?} | {i95:.2?} | {:.1}× | {:.3} | {:.3} |",
            i95.as_secs_f64() / k95.as_secs_f64(),
            recall(&semantic_exact, &semantic_indexed),
            recall(&exact, &indexed),
        );
    }
}
