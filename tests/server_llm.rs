//! `POST /agent/query` with a language model: a caller's BYO `llm` (its key used for that
//! request only, its `base_url` checked against the server's policy), the server's default
//! model, and every provider failure as an `llm_provider_error` with the statuses of spec §9.1.

mod fakes;
mod http;

use aurra::Store;
use aurra::llm::{BaseUrlPolicy, LlmConfig, Provider};
use aurra::server::Config;
use fakes::llm::{FakeLlm, Script, Shape, user_text};
use http::TestServer;
use serde_json::{Value, json};

fn open_policy() -> Config {
    Config {
        base_url_policy: BaseUrlPolicy {
            allow_private: true,
        },
        ..Config::default()
    }
}

/// The server's default model: `provider`'s `model` at `base_url`, called with `api_key`.
fn default_model(provider: Provider, model: &str, api_key: &str, base_url: String) -> LlmConfig {
    LlmConfig {
        provider,
        model: model.into(),
        api_key: api_key.into(),
        base_url: Some(base_url),
        api_version: None,
    }
}

fn byo(fake: &FakeLlm) -> Value {
    json!({"provider": "openai", "api_key": "sk-caller-secret", "model": "gpt-fake",
           "base_url": format!("{}/v1", fake.url())})
}

#[test]
fn a_byo_llm_answers_with_verified_markers_and_its_key_goes_nowhere_else() {
    let fake = FakeLlm::start();
    let server = TestServer::start_with(open_policy());
    let key = &server.acme;
    let id = server.write(key, json!({"content": "Alice works at Acme"}));
    server.write(key, json!({"content": "Bob likes tea"}));
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where does Alice work?", "llm": byo(&fake), "include_proof_tree": true}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    // The fake cites [mem-1] and an invented [mem-99], which verification drops.
    assert_eq!(
        resp.body["answer_with_citations"],
        "Alice works at Acme [mem-1]."
    );
    assert_eq!(resp.body["answer"], "Alice works at Acme.");
    assert_eq!(resp.body["citations"][0]["memory_id"], id.as_str());
    assert_eq!(resp.body["citations"][0]["cited_by_llm"], true);
    assert!(!resp.text.contains("sk-caller-secret"));

    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer sk-caller-secret")
    );
    assert_eq!(seen[0].body["model"], "gpt-fake");
    let user = user_text(Shape::OpenAi, &seen[0].body);
    assert!(user.contains("[mem-1] (valid from "), "{user}");
    assert!(user.contains("Question: Where does Alice work?"), "{user}");
    let system = seen[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("[mem-N]"), "{system}");

    // Nothing about the key is stored: the audit log and the memories never mention it.
    let audit = server.get(&format!("/memories/{id}/audit"), key);
    assert!(!audit.text.contains("sk-caller-secret"));
}

#[test]
fn time_travel_asks_for_historical_phrasing_and_an_empty_scope_calls_no_model() {
    let fake = FakeLlm::start();
    let server = TestServer::start_with(open_policy());
    let key = &server.acme;
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Anything?", "llm": byo(&fake)}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(
        resp.body["answer"],
        "No memories found for this company yet."
    );
    assert!(fake.seen().is_empty(), "no candidates: no model call");

    server.write(key, json!({"content": "Alice works at Acme"}));
    let at = "2030-01-01T00:00:00Z";
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where did Alice work?", "as_of": at, "llm": byo(&fake)}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let user = user_text(Shape::OpenAi, &fake.seen()[0].body);
    assert!(
        user.contains("begin the answer with \"As of 2030-01-01,\""),
        "{user}"
    );
}

#[test]
fn provider_failures_are_llm_provider_errors_with_the_contracts_statuses() {
    let fake = FakeLlm::start();
    let server = TestServer::start_with(open_policy());
    let key = &server.acme;
    server.write(key, json!({"content": "Alice works at Acme"}));
    let cases = [
        (Script::BadKey, 401, None),
        (Script::UnknownModel, 422, None),
        (Script::RateLimited(7), 429, Some("7")),
        (Script::Outage, 502, None),
        (Script::NoText, 502, None),
    ];
    for (script, status, retry_after) in cases {
        fake.script([script.clone()]);
        let resp = server.post(
            "/agent/query",
            key,
            &json!({"question": "Where does Alice work?", "llm": byo(&fake)}),
        );
        assert_eq!(resp.status, status, "{script:?}: {}", resp.text);
        assert_eq!(resp.body["detail"]["error"], "llm_provider_error");
        assert_eq!(resp.body["detail"]["provider"], "openai");
        assert!(resp.body["detail"]["message"].is_string());
        assert_eq!(resp.retry_after.as_deref(), retry_after, "{script:?}");
        assert!(!resp.text.contains("sk-caller-secret"));
    }
}

#[test]
fn a_private_base_url_is_refused_by_default_before_anything_is_sent() {
    let fake = FakeLlm::start();
    let server = TestServer::start();
    let key = &server.acme;
    server.write(key, json!({"content": "Alice works at Acme"}));
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where does Alice work?", "llm": byo(&fake)}),
    );
    assert_eq!(resp.status, 400, "{}", resp.text);
    assert_eq!(resp.body["detail"]["error"], "llm_provider_error");
    assert!(
        resp.body["detail"]["message"]
            .as_str()
            .unwrap()
            .contains("non-public"),
        "{}",
        resp.text
    );
    assert!(fake.seen().is_empty());
}

#[test]
fn the_servers_default_model_answers_unless_the_caller_brings_one() {
    let default = FakeLlm::start();
    let callers = FakeLlm::start();
    let config = Config {
        default_llm: Some(default_model(
            Provider::Anthropic,
            "claude-fake",
            "sk-operator",
            default.url(),
        )),
        ..open_policy()
    };
    let server = TestServer::launch(Store::in_memory().unwrap(), config);
    let key = &server.acme;
    server.write(key, json!({"content": "Alice works at Acme"}));
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where does Alice work?"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(
        resp.body["answer_with_citations"],
        "Alice works at Acme [mem-1]."
    );
    assert_eq!(default.seen().len(), 1);
    assert_eq!(default.seen()[0].header("x-api-key"), Some("sk-operator"));

    // A caller's model replaces it, with no fallback when it fails.
    callers.script([Script::Outage]);
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where does Alice work?", "llm": byo(&callers)}),
    );
    assert_eq!(resp.status, 502, "{}", resp.text);
    assert_eq!(default.seen().len(), 1, "no fallback to the default model");
    assert_eq!(callers.seen().len(), 1);

    // The server's own model failing is a dependency unavailable: 503 (spec §4.2), for a
    // query and for messages mode, with the same error object; its output not being the
    // contract stays a 502.
    let conversation = json!([{"role": "user", "content": "I moved to Lisbon."}]);
    for (path, body) in [
        (
            "/agent/query",
            json!({"question": "Where does Alice work?"}),
        ),
        ("/agent/memories", json!({"messages": conversation})),
    ] {
        default.script([Script::Outage]);
        let resp = server.post(path, key, &body);
        assert_eq!(resp.status, 503, "{path}: {}", resp.text);
        assert_eq!(resp.body["detail"]["error"], "llm_provider_error");
        assert_eq!(resp.body["detail"]["provider"], "anthropic");
    }
    default.script([Script::NoText]);
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where does Alice work?"}),
    );
    assert_eq!(resp.status, 502, "{}", resp.text);
}

/// A default model at an address where nothing listens is unreachable: 503.
#[test]
fn an_unreachable_default_model_is_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = Config {
        default_llm: Some(default_model(
            Provider::OpenAi,
            "gpt-fake",
            "sk-operator",
            format!("{url}/v1"),
        )),
        ..open_policy()
    };
    let server = TestServer::launch(Store::in_memory().unwrap(), config);
    let key = &server.acme;
    server.write(key, json!({"content": "Alice works at Acme"}));
    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where does Alice work?"}),
    );
    assert_eq!(resp.status, 503, "{}", resp.text);
    assert_eq!(resp.body["detail"]["error"], "llm_provider_error");
}

#[test]
fn messages_mode_extracts_with_the_servers_default_model() {
    let fake = FakeLlm::start();
    let config = Config {
        default_llm: Some(default_model(
            Provider::Gemini,
            "gemini-fake",
            "operator-key",
            fake.url(),
        )),
        ..Config::default()
    };
    let server = TestServer::launch(Store::in_memory().unwrap(), config);
    let key = &server.acme;
    fake.script([Script::Text(
        r#"```json
{"facts": [{"decision": "User's name is Alice", "topic": "Identity", "importance_score": 8},
           {"decision": "User moved to Lisbon last year", "topic": "Location", "importance_score": 12}]}
```"#
            .into(),
    )]);
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"messages": [{"role": "user", "content": "I'm Alice; I moved to Lisbon last year."}],
                "recorded_at": "2026-03-01T10:00:00Z"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["extracted_count"], 2);
    assert_eq!(
        resp.body["extraction"],
        json!({"provider": "gemini", "model": "gemini-fake", "byo_llm": false})
    );
    let sent = &fake.seen()[0];
    assert_eq!(
        sent.body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    let user = user_text(Shape::Gemini, &sent.body);
    assert!(user.starts_with("Today: 2026-03-01\n"), "{user}");
    assert!(
        user.contains("User: I'm Alice; I moved to Lisbon last year."),
        "{user}"
    );
    let list = server.get("/agent/memories", key);
    let rows = list.body["memories"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let lisbon = rows
        .iter()
        .find(|m| m["decision"] == "User moved to Lisbon last year")
        .unwrap();
    assert_eq!(lisbon["topic"], "Location");
    assert_eq!(lisbon["importance_score"], 10, "clamped to 1-10");
    let audit = server.get(
        &format!("/memories/{}/audit", lisbon["id"].as_str().unwrap()),
        key,
    );
    assert_eq!(audit.body["extraction"]["prompt_version"], "extract-v2");

    // Output that is not the JSON contract is a 502 and writes nothing.
    fake.script([Script::Text("I found two facts!".into())]);
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"messages": [{"role": "user", "content": "I keep bees."}], "tenant_id": "t2"}),
    );
    assert_eq!(resp.status, 502, "{}", resp.text);
    assert_eq!(resp.body["detail"]["error"], "llm_provider_error");
    let list = server.get("/agent/memories?tenant_id=t2", key);
    assert_eq!(list.body["memories"], json!([]));
}

#[test]
fn level2_classifies_with_the_default_model_and_survives_its_failure() {
    let fake = FakeLlm::start();
    let config = Config {
        default_llm: Some(default_model(
            Provider::OpenAi,
            "gpt-fake",
            "sk-operator",
            format!("{}/v1", fake.url()),
        )),
        ..Config::default()
    };
    let server = TestServer::launch(Store::in_memory().unwrap(), config);
    let key = &server.acme;
    let old = server.write(key, json!({"content": "User works at Initech"}));
    fake.script([Script::Text(
        r#"{"verdict": "supersedes", "confidence": 0.91, "reasoning": "Employer changed."}"#.into(),
    )]);
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"content": "User is an engineer at Globex these days", "auto_supersede": true}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let auto = &resp.body["auto_supersede"];
    assert_eq!(auto["ran"], true, "{}", resp.text);
    assert_eq!(auto["supersession"]["old_memory_id"], old.as_str());
    assert_eq!(auto["supersession"]["confidence"], 0.91);
    assert_eq!(auto["supersession"]["reasoning"], "Employer changed.");
    // The hosted default classifier id is Anthropic's: on OpenAI the default model is used.
    assert_eq!(auto["supersession"]["model"], "gpt-fake");
    let sent = fake.seen().pop().unwrap();
    assert_eq!(sent.body["model"], "gpt-fake");
    assert_eq!(sent.body["response_format"]["type"], "json_object");
    let user = user_text(Shape::OpenAi, &sent.body);
    assert!(user.contains("OLD (valid from "), "{user}");
    assert!(user.contains("User works at Initech"), "{user}");
    assert!(user.contains("NEW (valid from "), "{user}");

    // A failing classifier leaves the new row saved and says why.
    fake.script([Script::Outage]);
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"content": "User is an engineer at Hooli these days", "auto_supersede": true}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let auto = &resp.body["auto_supersede"];
    assert_eq!(auto["ran"], false);
    assert!(
        auto["skipped_reason"]
            .as_str()
            .unwrap()
            .starts_with("classifier unavailable:"),
        "{}",
        resp.text
    );
    assert!(resp.body["memory_id"].is_string());

    // classifier_model names the model the backend is asked for; builtin-rules-v2 (or its
    // former name builtin-rules-v1) is offline.
    let patch = server.patch(
        "/agent/settings",
        key,
        &json!({"classifier_model": "gpt-classifier"}),
    );
    assert_eq!(patch.status, 200, "{}", patch.text);
    // Two current candidates (Globex, Hooli): two classifications.
    let refines = r#"{"verdict": "refines", "confidence": 0.6, "reasoning": "More detail."}"#;
    fake.script([Script::Text(refines.into()), Script::Text(refines.into())]);
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"content": "User is an engineer at Globex on the payments team", "auto_supersede": true}),
    );
    assert_eq!(resp.body["auto_supersede"]["ran"], true, "{}", resp.text);
    assert_eq!(resp.body["auto_supersede"]["candidates_examined"], 2);
    assert_eq!(fake.seen().pop().unwrap().body["model"], "gpt-classifier");
    let before = fake.seen().len();
    server.patch(
        "/agent/settings",
        key,
        &json!({"classifier_model": "builtin-rules-v2"}),
    );
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"content": "User is no longer an engineer at Globex these days", "auto_supersede": true}),
    );
    assert_eq!(resp.body["auto_supersede"]["ran"], true, "{}", resp.text);
    assert_eq!(
        resp.body["auto_supersede"]["supersession"]["model"],
        "builtin-rules-v2"
    );
    // A key saved with the rule set's former name keeps the offline classifier.
    server.patch(
        "/agent/settings",
        key,
        &json!({"classifier_model": "builtin-rules-v1"}),
    );
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"content": "User is no longer an engineer at Hooli these days", "auto_supersede": true}),
    );
    assert_eq!(resp.body["auto_supersede"]["ran"], true, "{}", resp.text);
    assert_eq!(
        resp.body["auto_supersede"]["supersession"]["model"], "builtin-rules-v2",
        "{}",
        resp.text
    );
    assert_eq!(
        fake.seen().len(),
        before,
        "the offline classifier calls no model"
    );
}

#[test]
fn a_conversation_with_too_many_facts_is_refused_and_nothing_is_stored() {
    let server = TestServer::start();
    let key = &server.acme;
    let many: String = (0..1001)
        .map(|i| format!("I like topic number {i} a lot. "))
        .collect();
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"messages": [{"role": "user", "content": many}], "tenant_id": "big"}),
    );
    assert_eq!(resp.status, 400, "{}", resp.text);
    assert!(
        resp.body["detail"]
            .as_str()
            .unwrap()
            .contains("at most 1000"),
        "{}",
        resp.text
    );
    let list = server.get("/agent/memories?tenant_id=big", key);
    assert_eq!(list.body["memories"], json!([]));
    // A thousand are fine: the conversation is stored once, whatever the number of facts.
    let thousand: String = (0..1000)
        .map(|i| format!("I like topic number {i} a lot. "))
        .collect();
    let resp = server.post(
        "/agent/memories",
        key,
        &json!({"messages": [{"role": "user", "content": thousand}], "tenant_id": "big"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["saved_count"], 1000);
}

/// A provider that quotes the key it refused must not hand that key to the caller: not the
/// operator's (the server's default model, which every account's requests use), not a
/// caller's own, in messages mode and in queries; and nothing is stored.
#[test]
fn a_provider_quoting_a_key_never_reaches_a_response() {
    let default = FakeLlm::start();
    let callers = FakeLlm::start();
    let operator_key = "operator-secret-0001";
    let config = Config {
        default_llm: Some(default_model(
            Provider::OpenAi,
            "gpt-fake",
            operator_key,
            format!("{}/v1", default.url()),
        )),
        ..open_policy()
    };
    let server = TestServer::launch(Store::in_memory().unwrap(), config);
    let key = &server.acme;
    server.write(key, json!({"content": "Alice works at Acme"}));
    let conversation = json!([{"role": "user", "content": "I moved to Lisbon."}]);
    let requests = [
        (
            "/agent/memories",
            json!({"messages": conversation, "tenant_id": "t1"}),
            &default,
        ),
        (
            "/agent/query",
            json!({"question": "Where does Alice work?"}),
            &default,
        ),
        (
            "/agent/memories",
            json!({"messages": conversation, "tenant_id": "t1", "llm": byo(&callers)}),
            &callers,
        ),
        (
            "/agent/query",
            json!({"question": "Where does Alice work?", "llm": byo(&callers)}),
            &callers,
        ),
    ];
    for (path, body, fake) in requests {
        fake.script([Script::QuoteKey]);
        let resp = server.post(path, key, &body);
        assert_eq!(resp.status, 401, "{path}: {}", resp.text);
        assert_eq!(resp.body["detail"]["error"], "llm_provider_error");
        let message = resp.body["detail"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Incorrect API key provided: [redacted]."),
            "{path}: {message}"
        );
        for secret in [operator_key, "sk-caller-secret", "sk-proj-Ab12Cd34Ef56Gh78"] {
            assert!(
                !resp.text.contains(secret),
                "{path} leaked {secret}: {}",
                resp.text
            );
        }
    }
    // The provider did receive the keys: the scrubbing is in what comes back.
    assert!(
        default
            .seen()
            .iter()
            .all(|r| { r.header("authorization") == Some(&format!("Bearer {operator_key}")) })
    );
    assert!(
        callers
            .seen()
            .iter()
            .all(|r| { r.header("authorization") == Some("Bearer sk-caller-secret") })
    );
    let list = server.get("/agent/memories?tenant_id=t1", key);
    assert_eq!(
        list.body["memories"],
        json!([]),
        "a failed extraction stores nothing"
    );
}

/// Messages-mode extraction is bounded (`max_concurrent_extractions`): with a bound of 1,
/// three concurrent conversations reach the provider one at a time. The fake provider holds
/// each request until the test releases it, and records how many it held at once.
#[test]
fn concurrent_extractions_are_bounded() {
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;
    #[derive(Default)]
    struct Gate {
        arrived: usize,
        in_flight: usize,
        peak: usize,
        released: usize,
    }
    let gate = Arc::new((Mutex::new(Gate::default()), Condvar::new()));
    let shared = gate.clone();
    let addr = fakes::http::serve(move |_request| {
        let (lock, cv) = &*shared;
        let mut g = lock.lock().unwrap();
        g.arrived += 1;
        g.in_flight += 1;
        g.peak = g.peak.max(g.in_flight);
        let me = g.arrived;
        cv.notify_all();
        let (mut g, timeout) = cv
            .wait_timeout_while(g, Duration::from_secs(20), |g| g.released < me)
            .unwrap();
        assert!(!timeout.timed_out(), "request {me} was never released");
        g.in_flight -= 1;
        let content = r#"{"facts": [{"decision": "User moved to Lisbon", "topic": "Location", "importance_score": 6}]}"#;
        fakes::http::Reply::json(
            200,
            &json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}),
        )
    });
    let config = Config {
        default_llm: Some(default_model(
            Provider::OpenAi,
            "gpt-fake",
            "sk-operator",
            format!("http://{addr}/v1"),
        )),
        max_concurrent_extractions: 1,
        ..open_policy()
    };
    let server = TestServer::launch(Store::in_memory().unwrap(), config);
    let key = server.acme.clone();
    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..3)
            .map(|i| {
                let (server, key) = (&server, &key);
                scope.spawn(move || {
                    let body = json!({"messages": [{"role": "user", "content": "I moved to Lisbon."}],
                                      "tenant_id": format!("t{i}")});
                    server.post("/agent/memories", key, &body)
                })
            })
            .collect();
        let (lock, cv) = &*gate;
        for n in 1..=3 {
            let g = lock.lock().unwrap();
            let (mut g, timeout) = cv
                .wait_timeout_while(g, Duration::from_secs(20), |g| g.arrived < n)
                .unwrap();
            assert!(
                !timeout.timed_out(),
                "conversation {n} never reached the provider"
            );
            g.released = n;
            cv.notify_all();
        }
        for client in clients {
            let resp = client.join().unwrap();
            assert_eq!(resp.status, 200, "{}", resp.text);
            assert_eq!(resp.body["extracted_count"], 1);
        }
    });
    assert_eq!(gate.0.lock().unwrap().peak, 1, "one extraction at a time");
}
