//! The vector index's recall on a real model's vectors: every turn of the LoCoMo dev split
//! (2 760, all five conversations) stored in **one** tenant with all-MiniLM-L6-v2 vectors, and
//! each LoCoMo question asked against the same file opened with the index (binary codes,
//! then the exact cosine of the best candidates: the default) and without it (the exact scan
//! of every vector). Recall@10 is the index's top 10 against the exact scan's, semantic-only
//! and hybrid. `benches/query_hybrid.rs` measures the same at 100k on synthetic clusters;
//! this is the check on text the model actually embeds, where codes rank less cleanly.
//!
//! `AURRA_TEST_MODEL=$(scripts/test-model | tail -1) cargo bench --features local-embed --bench index_recall`
//! (`AURRA_LOCOMO` for another file).

use aurra::{LocalEmbedder, MemoryId, NewMemory, SearchQuery, SearchType, Store, StoreOptions};

mod locomo_inputs;
mod recall;

use recall::recall;

const ACCOUNT: &str = "acme";
const TENANT: &str = "locomo";

fn main() {
    let model = locomo_inputs::model_dir();
    let conversations = locomo_inputs::conversations();
    let turns: Vec<String> = conversations
        .iter()
        .flat_map(|c| c.turns.iter().map(|t| t.content.clone()))
        .collect();
    let questions: Vec<String> = conversations
        .iter()
        .flat_map(|c| c.questions.iter().map(|q| q.text.clone()))
        .collect();

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("aurra.redb");
    let embedder = || LocalEmbedder::open(&model).expect("the model folder");
    {
        let store = Store::open_with(
            &path,
            StoreOptions::new().durable(false).embedder(embedder()),
        )
        .expect("open");
        for chunk in turns.chunks(128) {
            let batch = chunk
                .iter()
                .map(|t| NewMemory::new(t.clone()).with_tenant(TENANT))
                .collect();
            store.write_batch(ACCOUNT, batch).expect("load");
        }
    }
    let tops = |index: bool, method: SearchType| -> Vec<Vec<MemoryId>> {
        let store = Store::open_with(
            &path,
            StoreOptions::new().embedder(embedder()).vector_index(index),
        )
        .expect("open");
        questions
            .iter()
            .map(|q| {
                let query = SearchQuery::new(q.clone())
                    .tenant(TENANT)
                    .limit(10)
                    .method(method);
                let found = store.search(ACCOUNT, &query).expect("search");
                assert_eq!(found.search_type, method);
                found.hits.iter().map(|h| h.memory.id).collect()
            })
            .collect()
    };
    println!("| memories in the tenant | questions | index recall@10, semantic | hybrid |");
    println!("| ---: | ---: | ---: | ---: |");
    let semantic = recall(
        &tops(false, SearchType::Semantic),
        &tops(true, SearchType::Semantic),
    );
    let hybrid = recall(
        &tops(false, SearchType::Hybrid),
        &tops(true, SearchType::Hybrid),
    );
    println!(
        "| {} | {} | {semantic:.3} | {hybrid:.3} |",
        turns.len(),
        questions.len()
    );
}
