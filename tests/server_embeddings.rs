//! `aurra serve` with an embedder: queries report `hybrid` (in the response and the proof
//! tree) and find memories by meaning; a failing embeddings service is a 503 with a clear
//! detail that names neither the operator's endpoint nor its key, and writes nothing.

mod fakes;
mod http;

use aurra::server::Config;
use aurra::{OpenAiEmbedder, Store, StoreOptions};
use fakes::embeddings::{FakeEmbeddings, Reply};
use http::TestServer;
use serde_json::json;

fn server(fake: &FakeEmbeddings) -> TestServer {
    let embedder = OpenAiEmbedder::new(&fake.base_url(), "fake-embed").api_key("sk-operator");
    let store = Store::in_memory_with(StoreOptions::new().embedder(embedder)).expect("store");
    TestServer::launch(store, Config::default())
}

#[test]
fn queries_are_hybrid_and_find_memories_by_meaning() {
    let fake = FakeEmbeddings::start();
    let server = server(&fake);
    let key = &server.acme;
    let car = server.write(key, json!({"content": "Alice bought an automobile"}));
    server.write(key, json!({"content": "Bob plays chess"}));
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Which car is hers?", "include_proof_tree": true}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["search_type"], "hybrid");
    assert_eq!(resp.body["proof_tree"]["retrieval"]["method"], "hybrid");
    assert_eq!(resp.body["citations"][0]["memory_id"], car.as_str());
    let sims: Vec<f64> = resp.body["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["similarity"].as_f64().unwrap())
        .collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]), "{sims:?}");
    assert!(sims.iter().all(|s| (0.0..=1.0).contains(s)), "{sims:?}");
}

#[test]
fn a_failing_embeddings_service_is_503_and_writes_nothing() {
    let fake = FakeEmbeddings::start();
    let server = server(&fake);
    let key = &server.acme;
    fake.script([Reply::Status(401, "bad key".into())]);
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"content": "Alice likes tea"}),
    );
    assert_eq!(resp.status, 503, "{}", resp.text);
    assert_eq!(
        resp.body["detail"],
        "Embedding model temporarily unavailable; retry later"
    );
    assert!(!resp.text.contains("sk-operator"));
    assert!(!resp.text.contains(&fake.addr.to_string()));
    let listed = server.get("/agent/memories", key);
    assert_eq!(listed.body["memories"], json!([]));

    server.write(key, json!({"content": "Alice likes tea"}));
    fake.script([Reply::Garbage]);
    let resp = server.post("/agent/query", key, &json!({"question": "tea?"}));
    assert_eq!(resp.status, 503, "{}", resp.text);
    // The server recovers with the service.
    let resp = server.post("/agent/query", key, &json!({"question": "tea?"}));
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["memories_searched"], 1);
}
