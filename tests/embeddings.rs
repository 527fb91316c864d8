//! Embeddings through the OpenAI-compatible client against a fake service on 127.0.0.1:
//! vectors stored with each write, hybrid and semantic search, the temporal scope, and every
//! way the service can fail (nothing written, `Error::Unavailable`).

#[macro_use]
mod backends;
mod fakes;

use backends::TestBackend;

use aurra::{
    Error, ListQuery, NewMemory, OpenAiEmbedder, ReadMode, SearchQuery, SearchType, Store,
    StoreOptions, Supersede,
};
use fakes::embeddings::{FakeEmbeddings, Reply};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn embedder(fake: &FakeEmbeddings) -> OpenAiEmbedder {
    OpenAiEmbedder::new(&fake.base_url(), "fake-embed").api_key("sk-test")
}

fn store_with(backend: &TestBackend, fake: &FakeEmbeddings) -> aurra::Result<Store> {
    backend.try_open(StoreOptions::new().embedder(embedder(fake)))
}

fn decisions(result: &aurra::SearchResult) -> Vec<&str> {
    result
        .hits
        .iter()
        .map(|h| h.memory.decision.as_str())
        .collect()
}

#[test]
fn requests_carry_the_model_the_key_and_a_whole_batch_at_once() -> TestResult {
    let fake = FakeEmbeddings::start();
    let store = Store::in_memory_with(StoreOptions::new().embedder(embedder(&fake)))?;
    store.write_batch(
        "acme",
        vec![
            NewMemory::new("one"),
            NewMemory::new("two"),
            NewMemory::new("three"),
        ],
    )?;
    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "one request for the batch: {seen:?}");
    assert_eq!(seen[0].path, "/v1/embeddings");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(seen[0].body["model"], "fake-embed");
    assert_eq!(
        seen[0].body["input"],
        serde_json::json!(["one", "two", "three"])
    );
    assert!(seen[0].body.get("dimensions").is_none());

    store.search("acme", &SearchQuery::new("question"))?;
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].body["input"], serde_json::json!(["question"]));

    // Dimensions are sent when asked for; no key, no Authorization header.
    let fake = FakeEmbeddings::start();
    let store = Store::in_memory_with(
        StoreOptions::new()
            .embedder(OpenAiEmbedder::new(&format!("{}/", fake.base_url()), "m").dimensions(32)),
    )?;
    store.write("acme", NewMemory::new("x"))?;
    let seen = fake.seen();
    assert_eq!(seen[0].body["dimensions"], 32);
    assert_eq!(seen[0].authorization, None);
    Ok(())
}

#[test]
fn overload_and_server_errors_are_retried() -> TestResult {
    let fake = FakeEmbeddings::start();
    let store = Store::in_memory_with(StoreOptions::new().embedder(embedder(&fake)))?;
    fake.script([
        Reply::Status(503, "busy".into()),
        Reply::Status(429, "slow down".into()),
    ]);
    store.write("acme", NewMemory::new("Alice likes tea"))?;
    assert_eq!(fake.seen().len(), 3);

    fake.script([
        Reply::Status(500, "a".into()),
        Reply::Status(502, "b".into()),
        Reply::Status(500, "c".into()),
    ]);
    match store.search("acme", &SearchQuery::new("tea")) {
        Err(Error::Unavailable(msg)) => assert!(msg.contains("HTTP 500: c"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    Ok(())
}

#[test]
fn an_unreachable_service_is_unavailable() -> TestResult {
    // A port nothing listens on: bind, note it, close.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let store = Store::in_memory_with(
        StoreOptions::new().embedder(OpenAiEmbedder::new(&format!("http://{addr}/v1"), "m")),
    )?;
    assert!(matches!(
        store.write("acme", NewMemory::new("x")),
        Err(Error::Unavailable(_))
    ));
    Ok(())
}

on_every_backend! {
    fn hybrid_search_finds_a_memory_that_shares_no_word_with_the_question(backend: &TestBackend) -> TestResult {
        let fake = FakeEmbeddings::start();
        let store = store_with(backend, &fake)?;
        store.write("acme", NewMemory::new("Alice bought a new automobile"))?;
        store.write("acme", NewMemory::new("Bob plays chess on Sundays"))?;
        let result = store.search("acme", &SearchQuery::new("what car does she drive"))?;
        assert_eq!(result.search_type, SearchType::Hybrid);
        assert_eq!(decisions(&result)[0], "Alice bought a new automobile");
        assert!(
            result
                .hits
                .windows(2)
                .all(|w| w[0].similarity >= w[1].similarity)
        );
        assert!(
            result
                .hits
                .iter()
                .all(|h| (0.0..=1.0).contains(&h.similarity))
        );

        // The same question without embeddings finds nothing: no word in common.
        let keyword = Store::in_memory()?;
        keyword.write("acme", NewMemory::new("Alice bought a new automobile"))?;
        let found = keyword.search("acme", &SearchQuery::new("what car does she drive"))?;
        assert_eq!(found.search_type, SearchType::Keyword);
        assert!(found.hits.is_empty());
        Ok(())
    }

    fn a_search_can_ask_for_any_method_the_store_can_do_and_no_other(backend: &TestBackend) -> TestResult {
        let fake = FakeEmbeddings::start();
        let store = store_with(backend, &fake)?;
        store.write("acme", NewMemory::new("Alice bought a new automobile"))?;
        let question = "what car does she drive";
        let calls = fake.seen().len();
        let keyword = store.search("acme", &SearchQuery::new(question).method(SearchType::Keyword))?;
        assert_eq!(keyword.search_type, SearchType::Keyword);
        assert!(keyword.hits.is_empty(), "no word in common");
        assert_eq!(fake.seen().len(), calls, "keyword search embeds nothing");
        let semantic = store.search("acme", &SearchQuery::new(question).method(SearchType::Semantic))?;
        assert_eq!(semantic.search_type, SearchType::Semantic);
        assert_eq!(decisions(&semantic), ["Alice bought a new automobile"]);
        let hybrid = store.search("acme", &SearchQuery::new(question).method(SearchType::Hybrid))?;
        assert_eq!(hybrid.search_type, SearchType::Hybrid);

        let plain = Store::in_memory()?;
        for method in [SearchType::Semantic, SearchType::Hybrid] {
            match plain.search("acme", &SearchQuery::new(question).method(method)) {
                Err(Error::InvalidArgument(message)) => {
                    assert!(message.contains(method.as_str()), "{message}")
                }
                other => panic!("{method:?}: {other:?}"),
            }
        }
        Ok(())
    }

    fn semantic_only_search_reports_semantic_and_cosine_similarity(backend: &TestBackend) -> TestResult {
        let fake = FakeEmbeddings::start();
        let store = backend.try_open(
            StoreOptions::new()
                .lexical_index(false)
                .embedder(embedder(&fake)),
        )?;
        store.write("acme", NewMemory::new("my puppy is glad"))?;
        store.write("acme", NewMemory::new("the weather is cold"))?;
        let result = store.search("acme", &SearchQuery::new("dog happy"))?;
        assert_eq!(result.search_type, SearchType::Semantic);
        assert_eq!(decisions(&result)[0], "my puppy is glad");
        // "dog happy" vs "my puppy is glad": 2 shared dimensions of 2 and 4 words.
        let expected = 2.0 / (2f64.sqrt() * 4f64.sqrt());
        assert!(
            (result.hits[0].similarity - expected).abs() < 1e-5,
            "{}",
            result.hits[0].similarity
        );
        Ok(())
    }

    fn a_superseded_memory_is_never_a_semantic_candidate_in_current_truth(backend: &TestBackend) -> TestResult {
        let fake = FakeEmbeddings::start();
        let store = store_with(backend, &fake)?;
        let old = store
            .write("acme", NewMemory::new("Alice drives a sedan"))?
            .saved_id()
            .unwrap();
        let before = store.now()?;
        let new = store
            .write("acme", NewMemory::new("Alice sold her vehicle"))?
            .saved_id()
            .unwrap();
        store.supersede(
            "acme",
            old,
            Supersede {
                superseded_by: Some(new),
                valid_to: None,
            },
            "test",
        )?;
        let current = store.search("acme", &SearchQuery::new("automobile"))?;
        assert_eq!(decisions(&current), ["Alice sold her vehicle"]);
        let then = store.search(
            "acme",
            &SearchQuery::new("automobile").mode(ReadMode::AsOf(before)),
        )?;
        assert_eq!(decisions(&then), ["Alice drives a sedan"]);
        // Exactly the rows a list selects, for every mode.
        for mode in [ReadMode::Current, ReadMode::AsOf(before), ReadMode::History] {
            let mut searched: Vec<_> = store
                .search("acme", &SearchQuery::new("car").mode(mode).limit(100))?
                .hits
                .into_iter()
                .map(|h| h.memory.id)
                .collect();
            let mut listed: Vec<_> = store
                .list("acme", &ListQuery::new().mode(mode))?
                .memories
                .into_iter()
                .map(|m| m.id)
                .collect();
            searched.sort();
            listed.sort();
            assert_eq!(searched, listed);
        }
        Ok(())
    }

    fn a_failing_service_fails_the_write_and_writes_nothing(backend: &TestBackend) -> TestResult {
        let fake = FakeEmbeddings::start();
        let store = store_with(backend, &fake)?;
        let failures = [
            Reply::Status(401, r#"{"error":{"message":"Incorrect API key"}}"#.into()),
            Reply::Status(400, r#"{"error":"model not found"}"#.into()),
            Reply::Garbage,
            Reply::TooFew,
        ];
        for failure in failures {
            fake.script([failure.clone()]);
            match store.write("acme", NewMemory::new("Alice likes tea")) {
                Err(Error::Unavailable(msg)) => {
                    assert!(msg.contains("/v1/embeddings"), "{msg}");
                    assert!(!msg.contains("sk-test"), "the key leaked: {msg}");
                }
                other => panic!("{failure:?}: expected Unavailable, got {other:?}"),
            }
        }
        fake.script([Reply::MixedLengths]);
        let batch = vec![NewMemory::new("a b"), NewMemory::new("c d")];
        assert!(matches!(
            store.write_batch("acme", batch),
            Err(Error::Unavailable(_))
        ));
        assert!(store.list("acme", &ListQuery::new())?.memories.is_empty());
        assert_eq!(
            store.usage("acme")?.writes_used,
            0,
            "a failed write is not counted"
        );

        // Not-retryable statuses were tried once each; the store still works afterwards.
        assert_eq!(fake.seen().len(), 5);
        store.write("acme", NewMemory::new("Alice likes tea"))?;
        assert_eq!(store.list("acme", &ListQuery::new())?.memories.len(), 1);
        Ok(())
    }

    fn vectors_of_another_model_are_not_compared_and_survive_reopen(backend: &TestBackend) -> TestResult {
        let fake = FakeEmbeddings::start();
        {
            let store = backend.try_open(StoreOptions::new().embedder(embedder(&fake)))?;
            store.write("acme", NewMemory::new("Alice bought an automobile"))?;
        }
        let semantic = |model: &str| -> aurra::Result<Vec<String>> {
            let store = backend.try_open(StoreOptions::new()
                    .lexical_index(false)
                    .embedder(OpenAiEmbedder::new(&fake.base_url(), model).api_key("sk-test")),
            )?;
            Ok(store
                .search("acme", &SearchQuery::new("car"))?
                .hits
                .into_iter()
                .map(|h| h.memory.decision)
                .collect())
        };
        assert_eq!(semantic("fake-embed")?, ["Alice bought an automobile"]);
        assert!(semantic("another-model")?.is_empty());
        Ok(())
    }

    fn deleting_a_tenant_erases_its_vectors(backend: &TestBackend) -> TestResult {
        let fake = FakeEmbeddings::start();
        let store = store_with(backend, &fake)?;
        store.write(
            "acme",
            NewMemory::new("Alice bought an automobile").with_tenant("t1"),
        )?;
        store.write("acme", NewMemory::new("Bob has a dog").with_tenant("t2"))?;
        assert_eq!(store.delete_tenant("acme", Some("t1"))?, 1);
        // A vector left behind would name a missing row (an error), or be found.
        let query = SearchQuery::new("car").tenant("t1");
        assert!(store.search("acme", &query)?.hits.is_empty());
        store.write(
            "acme",
            NewMemory::new("Carol owns a sedan").with_tenant("t1"),
        )?;
        assert_eq!(
            decisions(&store.search("acme", &query)?),
            ["Carol owns a sedan"]
        );
        let other = store.search("acme", &SearchQuery::new("puppy").tenant("t2"))?;
        assert_eq!(decisions(&other), ["Bob has a dog"]);
        Ok(())
    }

    fn memories_written_before_embeddings_are_embedded_once_by_embed_missing(backend: &TestBackend) -> TestResult {
        let fake = FakeEmbeddings::start();
        {
            let plain = backend.try_open(StoreOptions::new())?;
            plain.write("acme", NewMemory::new("Alice bought an automobile"))?;
            plain.write(
                "acme",
                NewMemory::new("Bob adopted a puppy").with_tenant("t2"),
            )?;
            let gone = plain.write("other", NewMemory::new("Carol drives a sedan"))?;
            assert!(gone.saved_id().is_some());
            plain.delete_account("other")?;
        }
        let semantic = |store: &Store| -> aurra::Result<Vec<String>> {
            Ok(store
                .search("acme", &SearchQuery::new("car"))?
                .hits
                .into_iter()
                .map(|h| h.memory.decision)
                .collect())
        };
        let store = backend.try_open(StoreOptions::new()
                .lexical_index(false)
                .embedder(embedder(&fake)),
        )?;
        assert!(semantic(&store)?.is_empty(), "no vectors yet");
        let mut reports = Vec::new();
        assert_eq!(store.embed_missing(1, |n| reports.push(n))?, 2);
        assert_eq!(reports, [1, 2], "one batch per row, a running count");
        assert_eq!(semantic(&store)?, ["Alice bought an automobile"]);
        assert_eq!(store.embed_missing(16, |_| {})?, 0, "nothing left to embed");
        let requests = fake.seen().len();

        // Another model: every row is embedded again for its space; a failure keeps what was done.
        drop(store);
        let other = backend.try_open(StoreOptions::new().embedder(OpenAiEmbedder::new(&fake.base_url(), "model-2")),
        )?;
        fake.script([Reply::Vectors, Reply::Status(400, "bad".into())]);
        assert!(matches!(
            other.embed_missing(1, |_| {}),
            Err(Error::Unavailable(_))
        ));
        assert_eq!(
            other.embed_missing(1, |_| {})?,
            1,
            "the first batch was kept"
        );
        assert!(fake.seen().len() > requests);
        assert!(matches!(
            Store::in_memory()?.embed_missing(8, |_| {}),
            Err(Error::InvalidArgument(_))
        ));
        Ok(())
    }

    fn level2_candidate_search_reuses_the_new_rows_stored_vector(backend: &TestBackend) -> TestResult {
        use aurra::classify::{RulesClassifier, run_level2};
        let fake = FakeEmbeddings::start();
        let store = store_with(backend, &fake)?;
        let old = store
            .write("acme", NewMemory::new("User drives a sedan"))?
            .saved_id()
            .unwrap();
        let id = store
            .write("acme", NewMemory::new("User no longer drives a sedan"))?
            .saved_id()
            .unwrap();
        let new = store.get("acme", id)?;
        assert_eq!(fake.seen().len(), 2, "one embedding call per write");
        let result = run_level2(
            &store,
            "acme",
            &new,
            &[],
            &aurra::Settings::default(),
            &RulesClassifier::default(),
        )?;
        assert_eq!(result.supersession.map(|s| s.old_memory_id), Some(old));
        assert_eq!(
            fake.seen().len(),
            2,
            "the candidate search embedded nothing again"
        );
        Ok(())
    }
}
