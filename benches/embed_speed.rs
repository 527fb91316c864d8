//! Sentences per second through `LocalEmbedder` on this machine's CPU, on the turns of the
//! LoCoMo dev split (the memories `aurra eval locomo` stores), in batches of 128 as a
//! `write_batch` hands them over. Writes the sentences to
//! `target/embed-speed/sentences.json` so that `scripts/embed-speed` can time
//! sentence-transformers on exactly the same texts in the same run.
//!
//! `AURRA_TEST_MODEL=$(scripts/test-model) cargo bench --features local-embed --bench embed_speed`
//! (`AURRA_EMBED_SENTENCES=N` to embed only the first N; `AURRA_LOCOMO` for another file).

use std::time::Instant;

use aurra::{Embedder, LocalEmbedder};

mod locomo_inputs;

const BATCH: usize = 128;

// The allocator the `aurra` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let model = locomo_inputs::model_dir();
    let mut sentences: Vec<String> = locomo_inputs::conversations()
        .into_iter()
        .flat_map(|c| c.turns.into_iter().map(|t| t.content))
        .collect();
    if let Some(n) = std::env::var("AURRA_EMBED_SENTENCES")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        sentences.truncate(n);
    }
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/embed-speed");
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(
        format!("{out}/sentences.json"),
        serde_json::to_string(&sentences).unwrap(),
    )
    .unwrap();

    let started = Instant::now();
    let embedder = LocalEmbedder::open(&model).expect("the model folder");
    let loaded = started.elapsed();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    // One warm-up batch, as the Python side gets.
    embedder.embed(&texts[..BATCH.min(texts.len())]).unwrap();
    let started = Instant::now();
    let mut dims = 0;
    for chunk in texts.chunks(BATCH) {
        dims = embedder.embed(chunk).unwrap()[0].len();
    }
    let elapsed = started.elapsed();
    println!(
        "aurra LocalEmbedder: {} sentences ({dims} dims) in {:.2} s: {:.1} sentences/s \
         (model load {:.2} s, {} threads)",
        texts.len(),
        elapsed.as_secs_f64(),
        texts.len() as f64 / elapsed.as_secs_f64(),
        loaded.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
}
