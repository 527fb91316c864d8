//! The isolation matrix: for every endpoint, another account's key gets 403/404 and never
//! data, and another tenant's rows never appear in a tenant-scoped read.

mod http;

use http::TestServer;
use serde_json::json;

#[test]
fn another_account_never_reads_or_changes_a_memory() {
    let server = TestServer::start();
    let acme_id = server.write(
        &server.acme,
        json!({"content": "Acme secret plan", "tenant_id": "t"}),
    );
    let acme_other = server.write(
        &server.acme,
        json!({"content": "Acme other fact", "tenant_id": "t"}),
    );
    let globex_id = server.write(
        &server.globex,
        json!({"content": "Globex fact", "tenant_id": "t"}),
    );

    // Per-memory endpoints: 403 for the foreign id, with no data in the body.
    for path in [
        format!("/memories/{acme_id}/timeline"),
        format!("/memories/{acme_id}/audit"),
    ] {
        let resp = server.get(&path, &server.globex);
        assert_eq!(resp.status, 403, "{path}");
        assert!(!resp.text.contains("Acme secret plan"), "{}", resp.text);
        assert_eq!(resp.body.as_object().unwrap().len(), 1);
    }
    let supersede = server.post(
        &format!("/memories/{acme_id}/supersede"),
        &server.globex,
        &json!({"superseded_by": globex_id}),
    );
    assert_eq!(supersede.status, 403);
    let expire = server.post(
        &format!("/memories/{acme_id}/supersede"),
        &server.globex,
        &json!({"valid_to": "2030-01-01T00:00:00Z"}),
    );
    assert_eq!(expire.status, 403);
    // Pointing one's own memory at a foreign replacement is refused too.
    let foreign_replacement = server.post(
        &format!("/memories/{acme_other}/supersede"),
        &server.acme,
        &json!({"superseded_by": globex_id}),
    );
    assert_eq!(foreign_replacement.status, 403);
    // Nothing changed.
    let audit = server.get(&format!("/memories/{acme_id}/audit"), &server.acme);
    assert_eq!(audit.body["history"].as_array().unwrap().len(), 2);
    assert_eq!(audit.body["temporal"]["is_current"], true);

    // Collection endpoints only ever show the caller's own rows.
    for params in [
        "tenant_id=t",
        "tenant_id=t&include_superseded=true",
        "tenant_id=t&as_of=2100-01-01T00:00:00Z",
        "tenant_id=t&transaction_as_of=2100-01-01T00:00:00Z",
        "include_superseded=true",
    ] {
        let list = server.get(&format!("/agent/memories?{params}"), &server.globex);
        assert_eq!(list.status, 200);
        assert!(!list.text.contains("Acme"), "{params}: {}", list.text);
        assert_eq!(list.body["company_id"], "globex");
    }
    for tenant in ["nobody", "t"] {
        let query = server.post(
            "/agent/query",
            &server.globex,
            &json!({"question": "Acme secret plan", "tenant_id": tenant, "include_proof_tree": true}),
        );
        assert_eq!(query.status, 200);
        assert_eq!(query.body["memories_searched"], 0, "{}", query.text);
        assert_eq!(query.body["proof_tree"]["evidence_chain"], json!([]));
    }

    // A whole-account delete by globex leaves acme's rows alone.
    let deleted = server.delete("/agent/memories", &server.globex);
    assert_eq!(deleted.body["deleted_count"], 1);
    assert_eq!(
        server.get("/agent/memories?tenant_id=t", &server.acme).body["count"],
        2
    );
    // And a globex tenant delete of the same tenant name leaves acme's tenant alone.
    server.write(
        &server.globex,
        json!({"content": "Globex again", "tenant_id": "t"}),
    );
    server.delete("/agent/memories?tenant_id=t", &server.globex);
    assert_eq!(
        server.get("/agent/memories?tenant_id=t", &server.acme).body["count"],
        2
    );

    // Settings and plan are the caller's own.
    server.patch(
        "/agent/settings",
        &server.acme,
        &json!({"min_confidence": 0.95}),
    );
    assert_eq!(
        server.get("/agent/settings", &server.globex).body["min_confidence"],
        0.85
    );
    assert_eq!(
        server.get("/plan/status", &server.globex).body["writes_used"],
        2
    );
    assert_eq!(
        server.get("/plan/status", &server.acme).body["writes_used"],
        2
    );
}

#[test]
fn keys_of_one_account_share_data_but_not_settings() {
    let server = TestServer::start();
    let id = server.write(&server.acme, json!({"content": "shared"}));
    let seen = server.get("/agent/memories", &server.acme_second);
    assert_eq!(seen.body["memories"][0]["id"], id.as_str());
    assert_eq!(
        server
            .get(&format!("/memories/{id}/audit"), &server.acme_second)
            .status,
        200
    );
    server.patch(
        "/agent/settings",
        &server.acme_second,
        &json!({"auto_supersede_default": true}),
    );
    assert_eq!(
        server.get("/agent/settings", &server.acme).body["auto_supersede_default"],
        false
    );
}

#[test]
fn tenant_scoped_reads_never_show_another_tenant() {
    let server = TestServer::start();
    let tenants = [None, Some("alpha"), Some("beta")];
    for tenant in tenants {
        for i in 0..3 {
            let mut body = json!({"content": format!("fact {i} of {tenant:?}"), "source": if i == 0 { "slack" } else { "agent" }});
            if let Some(t) = tenant {
                body["tenant_id"] = json!(t);
            }
            server.write(&server.acme, body);
        }
    }
    for tenant in tenants {
        let scope = tenant.map_or(String::new(), |t| format!("tenant_id={t}&"));
        for extra in [
            "",
            "source=slack",
            "include_superseded=true",
            "as_of=2100-01-01T00:00:00Z",
            "transaction_as_of=2100-01-01T00:00:00Z",
        ] {
            let list = server.get(&format!("/agent/memories?{scope}{extra}"), &server.acme);
            assert_eq!(list.status, 200);
            let memories = list.body["memories"].as_array().unwrap();
            assert!(!memories.is_empty(), "{scope}{extra}");
            for m in memories {
                assert_eq!(m["tenant_id"].as_str(), tenant, "{scope}{extra}");
            }
        }
    }
    // A tenant delete removes exactly that tenant.
    let deleted = server.delete("/agent/memories?tenant_id=alpha", &server.acme);
    assert_eq!(deleted.body["deleted_count"], 3);
    assert_eq!(
        server
            .get("/agent/memories?tenant_id=beta", &server.acme)
            .body["count"],
        3
    );
    assert_eq!(server.get("/agent/memories", &server.acme).body["count"], 3);
}

#[test]
fn revoked_keys_stop_working_immediately() {
    let server = TestServer::start();
    assert_eq!(
        server.get("/agent/memories", &server.acme_second).status,
        200
    );
    let key = server
        .store
        .api_keys()
        .unwrap()
        .into_iter()
        .find(|k| k.label == "second")
        .unwrap();
    server.store.revoke_api_key(key.id).unwrap();
    let resp = server.get("/agent/memories", &server.acme_second);
    assert_eq!(
        (resp.status, resp.body["detail"].clone()),
        (401, json!("Invalid API key"))
    );
    assert_eq!(server.get("/agent/memories", &server.acme).status, 200);
}

#[test]
fn the_all_tenants_switch_widens_untenanted_reads_to_the_account_only() {
    use aurra::server::Config;
    let server = TestServer::start_with(Config {
        all_tenants_when_omitted: true,
        ..Config::default()
    });
    server.write(&server.acme, json!({"content": "default tenant"}));
    server.write(
        &server.acme,
        json!({"content": "tenant a", "tenant_id": "a"}),
    );
    server.write(
        &server.acme,
        json!({"content": "tenant b", "tenant_id": "b", "source": "slack"}),
    );
    server.write(
        &server.globex,
        json!({"content": "globex row", "tenant_id": "a"}),
    );
    let all = server.get("/agent/memories", &server.acme);
    let texts: Vec<&str> = all.body["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["decision"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["tenant b", "tenant a", "default tenant"]);
    assert_eq!(all.body["tenant_id"], serde_json::Value::Null);
    let limited = server.get("/agent/memories?limit=2&source=slack", &server.acme);
    assert_eq!(limited.body["count"], 1);
    // An explicit tenant still scopes to exactly that tenant.
    assert_eq!(
        server.get("/agent/memories?tenant_id=a", &server.acme).body["count"],
        1
    );
    let globex = server.get("/agent/memories", &server.globex);
    assert_eq!(globex.body["count"], 1);
    assert_eq!(globex.body["memories"][0]["decision"], "globex row");
    // Query's scope follows the same rule: rows only in a named tenant mean "not empty".
    let deleted = server.delete("/agent/memories?tenant_id=a", &server.globex);
    assert_eq!(deleted.body["deleted_count"], 1, "{}", deleted.text);
    let empty = server.post("/agent/query", &server.globex, &json!({"question": "q"}));
    assert_eq!(empty.body["memories_searched"], 0, "{}", empty.text);
    server.write(
        &server.globex,
        json!({"content": "only in a tenant", "tenant_id": "t"}),
    );
    let query = server.post(
        "/agent/query",
        &server.globex,
        &json!({"question": "tenant"}),
    );
    assert_eq!(query.status, 200, "{}", query.text);
    assert_eq!(query.body["memories_searched"], 1, "{}", query.text);
}
