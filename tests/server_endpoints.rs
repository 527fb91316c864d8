//! Every endpoint of spec §4 over real HTTP: shapes, defaults, and every error status.

mod http;

use http::TestServer;
use serde_json::{Value, json};
use sha2::Digest;

fn ts_shape(v: &Value) -> bool {
    // 2026-05-05T23:09:59.063114+00:00
    v.as_str().is_some_and(|s| {
        s.len() == 32
            && s.ends_with("+00:00")
            && s.as_bytes()[19] == b'.'
            && s.as_bytes()[10] == b'T'
    })
}

#[test]
fn health_needs_no_key_and_everything_else_does() {
    let server = TestServer::start();
    let health = server.get_anonymous("/health");
    assert_eq!(
        (health.status, health.body.clone()),
        (200, json!({"status": "ok"}))
    );

    for path in ["/agent/memories", "/agent/settings", "/plan/status"] {
        let resp = server.get_anonymous(path);
        assert_eq!(resp.status, 401, "{path}");
        assert_eq!(resp.text, r#"{"detail":"Not authenticated"}"#);
    }
    let wrong = server.get("/agent/memories", "aurra_0000000000000000");
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["detail"], "Invalid API key");
    let not_bearer = server.get("/agent/memories", "");
    assert_eq!(not_bearer.status, 401);
    assert_eq!(not_bearer.body["detail"], "Not authenticated");

    assert_eq!(server.get("/nowhere", &server.acme).status, 404);
    assert_eq!(server.get("/agent/memories/", &server.acme).status, 404);
    assert_eq!(server.get("/agent/query", &server.acme).status, 405);
}

#[test]
fn content_writes_render_every_field_of_the_memory_object() {
    let server = TestServer::start();
    let write = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"content": "Alice is a senior engineer at Acme Corp.", "topic": "people",
                "importance_score": 8, "tenant_id": "acme-demo", "source": "agent",
                "unknown_future_field": {"x": 1}}),
    );
    assert_eq!(write.status, 200, "{}", write.text);
    assert_eq!(write.body["status"], "saved");
    assert_eq!(write.body["company_id"], "acme");
    assert_eq!(write.body["tenant_id"], "acme-demo");
    assert_eq!(
        write.body["auto_supersede"],
        json!({"ran": false, "skipped_reason": "auto_supersede disabled",
               "candidates_examined": 0, "supersession": null})
    );
    let id = write.body["memory_id"].as_str().unwrap().to_owned();

    let list = server.get("/agent/memories?tenant_id=acme-demo", &server.acme);
    assert_eq!(list.status, 200);
    assert_eq!(list.body["count"], 1);
    assert_eq!(list.body["superseded_count"], 0);
    assert_eq!(list.body["include_superseded"], false);
    let m = &list.body["memories"][0];
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["decision"], "Alice is a senior engineer at Acme Corp.");
    assert_eq!(m["summary"], m["decision"]);
    assert_eq!(
        (m["topic"].clone(), m["importance_score"].clone()),
        (json!("people"), json!(8))
    );
    assert_eq!(
        (m["source"].clone(), m["channel"].clone()),
        (json!("agent"), json!("agent"))
    );
    assert_eq!(m["original_message"], m["decision"]);
    assert_eq!(m["tenant_id"], "acme-demo");
    assert!(
        ts_shape(&m["created_at"]) && ts_shape(&m["valid_from"]),
        "{m}"
    );
    assert!(m["freshness"].as_f64().unwrap() > 0.99);
    let citation = &m["source_citation"];
    assert_eq!(citation["type"], "agent");
    assert!(ts_shape(&citation["captured_at"]));
    let temporal = m["temporal"].as_object().unwrap();
    assert_eq!(temporal.len(), 9);
    assert_eq!(temporal["is_current"], true);
    assert_eq!(temporal["is_known_current"], true);
    assert_eq!(temporal["transaction_time_end"], Value::Null);

    // The default tenant does not see the tenant's row.
    let default = server.get("/agent/memories", &server.acme);
    assert_eq!(default.body["count"], 0);
}

#[test]
fn importance_is_clamped_and_legacy_strings_are_mapped() {
    let server = TestServer::start();
    let cases = [
        (json!({"content": "a", "importance_score": 42}), 10),
        (json!({"content": "b", "importance_score": -3}), 1),
        (json!({"content": "c", "importance": "HIGH"}), 8),
        (json!({"content": "d", "importance": "low"}), 2),
        (json!({"content": "e", "importance": "whatever"}), 5),
        (
            json!({"content": "f", "importance": "low", "importance_score": 9}),
            9,
        ),
        (json!({"content": "g", "importance_score": 1e300}), 10),
        (json!({"content": "h"}), 5),
    ];
    for (body, expected) in cases {
        server.write(&server.acme, body);
        let list = server.get("/agent/memories?limit=1", &server.acme);
        assert_eq!(list.body["memories"][0]["importance_score"], expected);
    }
    let bad = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"content": "x", "importance_score": 5.5}),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.body["detail"][0]["loc"],
        json!(["body", "importance_score"])
    );
}

#[test]
fn duplicates_are_suppressed_per_tenant() {
    let server = TestServer::start();
    let first = server.write(&server.acme, json!({"content": "Bob likes tea"}));
    let again = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"content": "  Bob likes tea "}),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(again.body["memory_id"], Value::Null);
    assert_eq!(again.body["duplicate_of"], first.as_str());
    let other_tenant = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"content": "Bob likes tea", "tenant_id": "t2"}),
    );
    assert_eq!(other_tenant.body["status"], "saved");
}

#[test]
fn optional_write_fields_back_date_and_are_kept_for_audit() {
    let server = TestServer::start();
    let id = server.write(
        &server.acme,
        json!({"content": "Carol joined in 2020", "valid_from": "2020-01-01T00:00:00Z",
               "recorded_at": "2020-01-02T10:00:00+02:00", "external_id": "evt-7"}),
    );
    let list = server.get("/agent/memories", &server.acme);
    let m = &list.body["memories"][0];
    assert_eq!(m["valid_from"], "2020-01-01T00:00:00.000000+00:00");
    assert_eq!(
        m["source_citation"]["captured_at"],
        "2020-01-02T08:00:00.000000+00:00"
    );
    assert_ne!(m["created_at"], m["valid_from"]);
    let audit = server.get(&format!("/memories/{id}/audit"), &server.acme);
    assert_eq!(audit.body["provenance"]["external_id"], "evt-7");
}

#[test]
fn write_validation_statuses() {
    let server = TestServer::start();
    let key = &server.acme;
    let status = |body: Value| server.post("/agent/memories", key, &body).status;
    assert_eq!(status(json!({})), 400);
    assert_eq!(status(json!({"content": "   "})), 400);
    assert_eq!(
        status(json!({"content": "x", "messages": [{"role": "user", "content": "y"}]})),
        400
    );
    assert_eq!(status(json!({"messages": []})), 400);
    assert_eq!(status(json!({"content": 5})), 422);
    assert_eq!(status(json!({"content": "x", "tenant_id": 7})), 422);
    assert_eq!(
        status(json!({"content": "x", "auto_supersede": "yes"})),
        422
    );
    assert_eq!(
        status(json!({"content": "x", "valid_from": "yesterday"})),
        422
    );
    assert_eq!(status(json!({"content": "x", "source": ""})), 400);
    assert_eq!(status(json!({"content": "x", "tenant_id": ""})), 400);
    assert_eq!(status(json!({"messages": "hello"})), 422);
    assert_eq!(status(json!({"messages": [{"role": "user"}]})), 422);
    assert_eq!(
        status(
            json!({"messages": [{"role": "user", "content": "hi"}], "llm": {"provider": "acme-ai", "api_key": "k", "model": "m"}})
        ),
        400
    );
    assert_eq!(
        status(
            json!({"messages": [{"role": "user", "content": "hi"}], "llm": {"provider": "openai", "api_key": "k"}})
        ),
        400
    );
    assert_eq!(
        status(json!({"messages": [{"role": "user", "content": "hi"}], "llm": "openai"})),
        422
    );
    let errors = server.post(
        "/agent/memories",
        key,
        &json!({"content": 1, "topic": [], "session_id": {}}),
    );
    let locs: Vec<Value> = errors.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"].clone())
        .collect();
    assert_eq!(
        locs,
        vec![
            json!(["body", "content"]),
            json!(["body", "topic"]),
            json!(["body", "session_id"])
        ]
    );
    for e in errors.body["detail"].as_array().unwrap() {
        assert!(e["msg"].is_string() && e["type"].is_string());
    }
    // Nothing was stored by any refused request.
    assert_eq!(
        server
            .get("/agent/memories?include_superseded=true", key)
            .body["count"],
        0
    );
}

#[test]
fn messages_mode_stores_rows_with_channel_and_rendered_conversation() {
    let server = TestServer::start();
    let resp = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"messages": [{"role": "system", "content": "be nice"},
                             {"role": "user", "content": "My name is Alice Chen"},
                             {"role": "assistant", "content": "Nice to meet you, Alice"}],
                "session_id": "onboarding-1", "source": "agent", "topic": "General"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["status"], "extracted");
    assert_eq!(resp.body["extracted_count"], 1);
    assert_eq!(resp.body["saved_count"], 1);
    assert_eq!(resp.body["extraction"]["byo_llm"], false);
    let id = resp.body["memory_ids"][0].as_str().unwrap();
    assert_eq!(resp.body["auto_supersede"][0]["memory_id"], id);
    let list = server.get("/agent/memories", &server.acme);
    let m = &list.body["memories"][0];
    assert_eq!(m["source"], "agent_session");
    assert_eq!(m["channel"], "onboarding-1");
    assert_eq!(m["session_id"], "onboarding-1");
    assert_eq!(
        m["original_message"],
        "User: My name is Alice Chen\nAssistant: Nice to meet you, Alice"
    );
    let audit = server.get(&format!("/memories/{id}/audit"), &server.acme);
    assert_eq!(audit.body["history"][1]["details"]["shape"], "messages");
    assert_eq!(audit.body["extraction"]["provider"], "builtin");

    let by_session = server.get("/agent/memories?session_id=onboarding-1", &server.acme);
    assert_eq!(by_session.body["count"], 1);
    let other_session = server.get("/agent/memories?session_id=other", &server.acme);
    assert_eq!(other_session.body["count"], 0);
}

/// Messages with their speakers' names (a chat between two people) and the day said: each
/// fact names its subject, the other person's facts are kept, "you" is the listener, and
/// relative time is resolved against `recorded_at` — or against a message's own
/// `timestamp`. A name or timestamp of the wrong type is a 422 naming the field.
#[test]
fn named_messages_yield_named_facts_with_resolved_dates() {
    let server = TestServer::start();
    let resp = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"messages": [
                    {"role": "user", "name": "Caroline",
                     "content": "I went to a LGBTQ support group yesterday."},
                    {"role": "assistant", "name": "Melanie",
                     "content": "Wow! My husband and I went camping last weekend."},
                    {"role": "user", "name": "Caroline", "timestamp": "2023-06-01T09:00:00Z",
                     "content": "Your painting won a prize last week."}],
                "tenant_id": "friends", "recorded_at": "2023-05-08T13:56:00Z"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let list = server.get("/agent/memories?tenant_id=friends", &server.acme);
    let mut facts: Vec<String> = list.body["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["decision"].as_str().unwrap().to_owned())
        .collect();
    facts.sort();
    assert_eq!(
        facts,
        [
            "Caroline went to a LGBTQ support group on 7 May 2023.",
            "Melanie's husband and Melanie went camping on the weekend of 6 May 2023.",
            "Melanie's painting won a prize in the week of 22 May 2023.",
        ],
        "{}",
        list.text
    );
    let original = list.body["memories"][0]["original_message"]
        .as_str()
        .unwrap();
    assert!(
        original.starts_with("Caroline: I went to a LGBTQ support group yesterday."),
        "{original}"
    );
    assert!(original.contains("\nMelanie: Wow!"), "{original}");

    for (bad, field, kind) in [
        (
            json!({"role": "user", "content": "hi", "name": 7}),
            "name",
            "type_error.str",
        ),
        (
            json!({"role": "user", "content": "hi", "timestamp": "not a date"}),
            "timestamp",
            "value_error.datetime",
        ),
    ] {
        let resp = server.post("/agent/memories", &server.acme, &json!({"messages": [bad]}));
        assert_eq!(resp.status, 422, "{}", resp.text);
        assert_eq!(
            resp.body["detail"][0]["loc"],
            json!(["body", "messages", 0, field])
        );
        assert_eq!(resp.body["detail"][0]["type"], kind);
    }

    // A blank name or timestamp is none: the fact names the user and is dated by
    // recorded_at.
    let resp = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"messages": [{"role": "user", "name": " ", "timestamp": "",
                              "content": "I moved to Lisbon yesterday."}],
                "tenant_id": "blank", "recorded_at": "2023-05-08T13:56:00Z"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let list = server.get("/agent/memories?tenant_id=blank", &server.acme);
    assert_eq!(
        list.body["memories"][0]["decision"], "User moved to Lisbon on 7 May 2023.",
        "{}",
        list.text
    );
}

#[test]
fn list_parameters_are_validated_and_echoed() {
    let server = TestServer::start();
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "include_superseded=maybe",
        "as_of=not-a-date",
        "transaction_as_of=2026-13-45",
    ] {
        let resp = server.get(&format!("/agent/memories?{bad}"), &server.acme);
        assert_eq!(resp.status, 422, "{bad}: {}", resp.text);
        assert_eq!(resp.body["detail"][0]["loc"][0], "query");
    }
    let resp = server.get(
        "/agent/memories?as_of=2026-01-01T00:00:00Z&source=slack&include_superseded=1&limit=1000",
        &server.acme,
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["as_of"], "2026-01-01T00:00:00Z");
    assert_eq!(resp.body["source"], "slack");
    assert_eq!(resp.body["include_superseded"], true);
}

#[test]
fn supersede_timeline_and_audit_follow_the_chain() {
    let server = TestServer::start();
    let old = server.write(&server.acme, json!({"content": "Alice works at Acme"}));
    let new = server.write(&server.acme, json!({"content": "Alice works at Globex"}));
    let resp = server.post(
        &format!("/memories/{old}/supersede"),
        &server.acme,
        &json!({"superseded_by": new}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["status"], "superseded");
    assert_eq!(resp.body["superseded_by"], new.as_str());
    assert!(ts_shape(&resp.body["valid_to"]));
    // Idempotent repeat.
    let again = server.post(
        &format!("/memories/{old}/supersede"),
        &server.acme,
        &json!({"superseded_by": new}),
    );
    assert_eq!(
        (again.status, again.body["valid_to"].clone()),
        (200, resp.body["valid_to"].clone())
    );

    let current = server.get("/agent/memories", &server.acme);
    assert_eq!(current.body["count"], 1);
    let history = server.get("/agent/memories?include_superseded=true", &server.acme);
    assert_eq!(
        (
            history.body["count"].clone(),
            history.body["superseded_count"].clone()
        ),
        (json!(2), json!(1))
    );

    for start in [&old, &new] {
        let tl = server.get(&format!("/memories/{start}/timeline"), &server.acme);
        assert_eq!(tl.status, 200);
        assert_eq!(tl.body["memory_id"], start.as_str());
        assert_eq!(tl.body["chain_length"], 2);
        assert_eq!(tl.body["timeline"][0]["id"], old.as_str());
        assert_eq!(tl.body["timeline"][0]["temporal"]["is_superseded"], true);
        assert_eq!(tl.body["timeline"][0]["freshness"], 0.0);
        assert_eq!(tl.body["timeline"][1]["temporal"]["is_current"], true);
    }
    let audit = server.get(&format!("/memories/{old}/audit"), &server.acme);
    let events: Vec<&str> = audit.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["created", "memory.created", "memory.superseded"]);
    assert_eq!(audit.body["history"][2]["by"], "acme");
    assert_eq!(
        audit.body["history"][2]["details"]["superseded_by"],
        new.as_str()
    );
    assert_eq!(
        audit.body["provenance"]["original_input"],
        "Alice works at Acme"
    );
    assert_eq!(audit.body["temporal"].as_object().unwrap().len(), 9);

    // Expiry only: transaction_time_end stays null.
    let third = server.write(
        &server.acme,
        json!({"content": "On PTO", "valid_from": "2019-06-01T00:00:00Z"}),
    );
    let exp = server.post(
        &format!("/memories/{third}/supersede"),
        &server.acme,
        &json!({"valid_to": "2020-01-01T00:00:00Z"}),
    );
    assert_eq!(exp.body["superseded_by"], Value::Null);
    assert_eq!(exp.body["valid_to"], "2020-01-01T00:00:00.000000+00:00");
    let audit = server.get(&format!("/memories/{third}/audit"), &server.acme);
    assert_eq!(audit.body["history"][2]["event"], "memory.expired");
    assert_eq!(audit.body["temporal"]["transaction_time_end"], Value::Null);
    assert_eq!(audit.body["temporal"]["is_expired"], true);
}

#[test]
fn supersede_error_statuses() {
    let server = TestServer::start();
    let a = server.write(&server.acme, json!({"content": "a"}));
    let b = server.write(&server.acme, json!({"content": "b"}));
    let c = server.write(&server.acme, json!({"content": "c"}));
    let absent = "00000000-0000-7000-8000-000000000000";
    let post = |id: &str, body: Value| {
        server.post(&format!("/memories/{id}/supersede"), &server.acme, &body)
    };
    let neither = post(&a, json!({}));
    assert_eq!(
        (neither.status, neither.body["detail"].clone()),
        (400, json!("Must provide superseded_by or valid_to"))
    );
    assert_eq!(post(&a, json!({"superseded_by": a})).status, 400);
    assert_eq!(post(absent, json!({"superseded_by": a})).status, 404);
    assert_eq!(post(&a, json!({"superseded_by": absent})).status, 404);
    assert_eq!(post("not-a-uuid", json!({"superseded_by": a})).status, 422);
    assert_eq!(post(&a, json!({"superseded_by": "nope"})).status, 422);
    assert_eq!(post(&a, json!({"valid_to": "soon"})).status, 422);
    assert_eq!(post(&a, json!({"superseded_by": b})).status, 200);
    let other = post(&a, json!({"superseded_by": c}));
    assert_eq!(
        (other.status, other.body["detail"].clone()),
        (400, json!("memory already superseded"))
    );
    // b → a would close a cycle a → b → a.
    assert_eq!(post(&b, json!({"superseded_by": a})).status, 400);
    assert_eq!(
        server
            .get(&format!("/memories/{absent}/timeline"), &server.acme)
            .status,
        404
    );
    assert_eq!(
        server
            .get(&format!("/memories/{absent}/audit"), &server.acme)
            .status,
        404
    );
    assert_eq!(server.get("/memories/xyz/audit", &server.acme).status, 422);
}

#[test]
fn bulk_delete_by_tenant_and_whole_account() {
    let server = TestServer::start();
    let t1 = server.write(&server.acme, json!({"content": "one", "tenant_id": "t1"}));
    server.write(&server.acme, json!({"content": "two", "tenant_id": "t2"}));
    server.write(&server.acme, json!({"content": "three"}));
    let resp = server.delete("/agent/memories?tenant_id=t1", &server.acme);
    assert_eq!(
        resp.body,
        json!({"status": "deleted", "company_id": "acme", "tenant_id": "t1", "deleted_count": 1})
    );
    assert_eq!(
        server
            .get(&format!("/memories/{t1}/audit"), &server.acme)
            .status,
        404
    );
    assert_eq!(
        server
            .get("/agent/memories?tenant_id=t2", &server.acme)
            .body["count"],
        1
    );
    let all = server.delete("/agent/memories", &server.acme);
    assert_eq!(
        (
            all.body["deleted_count"].clone(),
            all.body["tenant_id"].clone()
        ),
        (json!(2), Value::Null)
    );
    let again = server.delete("/agent/memories", &server.acme);
    assert_eq!(again.body["deleted_count"], 0);
}

#[test]
fn settings_are_per_key_with_floor_range_and_list_replacement() {
    let server = TestServer::start();
    let defaults = server.get("/agent/settings", &server.acme);
    assert_eq!(
        defaults.body,
        json!({"auto_supersede_default": false,
        "excluded_categories": ["health_medical", "legal_status"], "min_confidence": 0.85,
        "classifier_model": "claude-haiku-4-5-20251001", "freshness_half_life_days": 30.0,
        "status": "default"})
    );
    let updated = server.patch(
        "/agent/settings",
        &server.acme,
        &json!({"min_confidence": 0.9, "excluded_categories": ["x"], "ignored": 1}),
    );
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.body["min_confidence"], 0.9);
    assert_eq!(updated.body["excluded_categories"], json!(["x"]));
    assert_eq!(updated.body["status"], "updated");
    let replaced = server.patch(
        "/agent/settings",
        &server.acme,
        &json!({"excluded_categories": []}),
    );
    assert_eq!(replaced.body["excluded_categories"], json!([]));
    assert_eq!(replaced.body["min_confidence"], 0.9);
    assert_eq!(
        server.get("/agent/settings", &server.acme_second).body["min_confidence"],
        0.85
    );

    assert_eq!(
        server
            .patch(
                "/agent/settings",
                &server.acme,
                &json!({"min_confidence": 0.5})
            )
            .status,
        400
    );
    assert_eq!(
        server
            .patch(
                "/agent/settings",
                &server.acme,
                &json!({"min_confidence": 1.5})
            )
            .status,
        400
    );
    assert_eq!(
        server
            .patch("/agent/settings", &server.acme, &json!({}))
            .status,
        400
    );
    assert_eq!(
        server
            .patch("/agent/settings", &server.acme, &json!({"nothing": true}))
            .status,
        400
    );
    assert_eq!(
        server
            .patch(
                "/agent/settings",
                &server.acme,
                &json!({"auto_supersede_default": "yes"})
            )
            .status,
        422
    );
    assert_eq!(
        server
            .patch(
                "/agent/settings",
                &server.acme,
                &json!({"classifier_model": ""})
            )
            .status,
        400
    );
    let range = server.patch(
        "/agent/settings",
        &server.acme,
        &json!({"freshness_half_life_days": 0}),
    );
    assert_eq!(range.status, 400);
    assert_eq!(range.body["status"], "error");
    assert_eq!(range.body["error"], "validation failed");
    assert_eq!(
        range.body["hint"],
        "freshness_half_life_days must be a number between 1 and 3650."
    );
    assert_eq!(range.body["detail"], range.body["hint"]);
    assert_eq!(
        server.get("/agent/settings", &server.acme).body["freshness_half_life_days"],
        30.0
    );
}

#[test]
fn the_half_life_setting_drives_freshness() {
    let clock = aurra::ManualClock::new(aurra::Timestamp::parse("2026-01-01T00:00:00Z").unwrap());
    let server = TestServer::start_with_clock(clock.clone());
    server.write(&server.acme, json!({"content": "old fact"}));
    clock.advance(10 * 86_400_000_000);
    assert_eq!(
        server.get("/agent/memories", &server.acme).body["memories"][0]["freshness"],
        0.794
    );
    server.patch(
        "/agent/settings",
        &server.acme,
        &json!({"freshness_half_life_days": 10}),
    );
    assert_eq!(
        server.get("/agent/memories", &server.acme).body["memories"][0]["freshness"],
        0.5
    );
    // The other key of the account keeps the default half-life.
    assert_eq!(
        server.get("/agent/memories", &server.acme_second).body["memories"][0]["freshness"],
        0.794
    );
}

#[test]
fn plan_status_counts_one_write_per_request() {
    let server = TestServer::start();
    server.write(&server.acme, json!({"content": "a"}));
    server.post(
        "/agent/memories",
        &server.acme,
        &json!({"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]}),
    );
    let plan = server.get("/plan/status", &server.acme);
    let body = plan.body.as_object().unwrap();
    assert_eq!(body.len(), 9, "{}", plan.text);
    assert_eq!(plan.body["writes_used"], 2);
    assert_eq!(plan.body["writes_limit"], 50000);
    assert_eq!(plan.body["writes_remaining"], 49998);
    assert_eq!(plan.body["plan_tier"], "starter");
    assert_eq!(plan.body["in_grace_period"], false);
    assert!(
        plan.body["period_start"]
            .as_str()
            .unwrap()
            .contains("-01T00:00:00.000000+00:00")
    );
    assert!(
        plan.body["org_id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
    assert_eq!(
        server.get("/plan/status", &server.globex).body["writes_used"],
        0
    );
}

#[test]
fn query_validates_and_answers_the_empty_scope() {
    let server = TestServer::start();
    let status = |body: Value| server.post("/agent/query", &server.acme, &body).status;
    assert_eq!(status(json!({})), 422);
    assert_eq!(status(json!({"question": ""})), 422);
    assert_eq!(status(json!({"question": 3})), 422);
    assert_eq!(status(json!({"question": "q", "limit": 0})), 422);
    assert_eq!(status(json!({"question": "q", "limit": 101})), 422);
    assert_eq!(status(json!({"question": "q", "sources": "slack"})), 422);
    assert_eq!(status(json!({"question": "q", "as_of": "then"})), 422);
    assert_eq!(
        status(json!({"question": "q", "llm": {"provider": "nope", "api_key": "k", "model": "m"}})),
        400
    );
    let empty = server.post(
        "/agent/query",
        &server.acme,
        &json!({"question": "Where does Alice work?", "include_proof_tree": true}),
    );
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.body["answer"],
        "No memories found for this company yet."
    );
    assert_eq!(empty.body["answer_with_citations"], empty.body["answer"]);
    assert_eq!(empty.body["citations"], json!([]));
    assert_eq!(empty.body["memories_searched"], 0);
    assert_eq!(
        empty.body["proof_tree"]["answer_hash"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    server.write(
        &server.acme,
        json!({"content": "Alice works at Acme", "source": "notion"}),
    );
    let filtered = server.post(
        "/agent/query",
        &server.acme,
        &json!({"question": "q", "sources": ["slack"]}),
    );
    assert_eq!(filtered.body["memories_searched"], 0);
    // A question none of whose words occur finds no candidate either.
    let unrelated = server.post("/agent/query", &server.acme, &json!({"question": "zebra"}));
    assert_eq!(
        unrelated.body["answer"],
        "No memories found for this company yet."
    );
}

#[test]
fn query_answers_with_verified_citations_in_time_and_a_checkable_proof_tree() {
    let server = TestServer::start();
    let key = &server.acme;
    let old = server.write(
        key,
        json!({"content": "Alice works at Initech", "source": "crm"}),
    );
    let before = server.get("/agent/memories", key).body["memories"][0]["created_at"].clone();
    let new = server.write(
        key,
        json!({"content": "Alice works at Globex", "source": "crm"}),
    );
    server.write(key, json!({"content": "Bob likes tea", "source": "slack"}));
    server.post(
        &format!("/memories/{old}/supersede"),
        key,
        &json!({"superseded_by": new}),
    );

    let resp = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where does Alice work?", "limit": 10, "include_proof_tree": true}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let body = &resp.body;
    assert_eq!(body["search_type"], "keyword");
    assert_eq!(
        body["memories_searched"], 1,
        "the superseded fact is never a current candidate"
    );
    assert_eq!(body["citations"][0]["memory_id"], new.as_str());
    assert_eq!(body["citations"][0]["index"], 1);
    assert_eq!(body["citations"][0]["cited_by_llm"], true);
    assert_eq!(body["citations"][0]["is_superseded"], false);
    assert_eq!(
        body["answer_with_citations"],
        "Alice works at Globex [mem-1]."
    );
    assert_eq!(body["answer"], "Alice works at Globex.");
    let sim = body["citations"][0]["similarity"].as_f64().unwrap();
    assert!(sim > 0.0 && sim <= 1.0);
    assert_eq!(body["memories"][0]["id"], new.as_str());

    // The proof tree: the hash recomputed from the evidence, the chain both ways.
    let tree = &body["proof_tree"];
    assert_eq!(tree["version"], "2.0");
    let evidence: Vec<serde_json::Value> = tree["evidence_chain"].as_array().unwrap().iter().map(|e| json!({
        "cited": e["cited"], "decision": e["decision"], "memory_id": e["memory_id"],
        "valid_from": e["bi_temporal"]["valid_from"], "valid_to": e["bi_temporal"]["valid_to"],
    })).collect();
    let canonical = json!({"answer": body["answer"], "evidence": evidence}).to_string();
    let hash: String = sha2::Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(tree["answer_hash"], hash.as_str());
    let chain = &tree["supersession_chains"][0];
    assert_eq!(chain["starting_memory_id"], new.as_str());
    assert_eq!(chain["current_truth_memory_id"], new.as_str());
    assert_eq!(chain["chain"][0]["memory_id"], old.as_str());
    assert_eq!(chain["chain"][0]["superseded_by"], new.as_str());
    assert_eq!(
        chain["chain"][0]["decision_at_time"],
        "Alice works at Initech"
    );
    assert_eq!(tree["retrieval"]["k"], 10);
    assert_eq!(tree["retrieval"]["memories_cited"], 1);

    // Time travel: what the system held before the supersession, phrased historically.
    let past = server.post(
        "/agent/query",
        key,
        &json!({"question": "Where does Alice work?", "transaction_as_of": before}),
    );
    assert_eq!(past.body["citations"][0]["memory_id"], old.as_str());
    assert!(
        past.body["answer"].as_str().unwrap().starts_with("As of "),
        "{}",
        past.text
    );
    assert_eq!(past.body["transaction_as_of"], before);

    // Sources filter before ranking.
    let slack = server.post(
        "/agent/query",
        key,
        &json!({"question": "Alice Bob tea", "sources": ["slack"]}),
    );
    let ids: Vec<&str> = slack.body["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["slack"]);
}
