//! The admin API: accounts and keys managed while the server serves, with the operator
//! credential only. An API key never reaches it; the operator credential never reaches the
//! memory endpoints; a key issued through it works at once and stops when revoked.

mod http;

use http::TestServer;
use serde_json::json;

#[test]
fn the_operator_manages_accounts_and_keys_while_the_server_serves() {
    let server = TestServer::start();
    let token = server
        .store
        .ensure_operator_token()
        .expect("issue")
        .expect("a new store has none");

    // Without the operator credential: 401, an API key included.
    let anonymous = server.get_anonymous("/admin/accounts");
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let with_key = server.get("/admin/accounts", &server.acme);
    assert_eq!(with_key.status, 401, "{}", with_key.text);
    assert_eq!(with_key.body["detail"], "Invalid operator credential");
    // And the operator credential is no API key.
    let as_key = server.get("/agent/memories", &token);
    assert_eq!(as_key.status, 401, "{}", as_key.text);

    let accounts = server.get("/admin/accounts", &token);
    assert_eq!(accounts.status, 200, "{}", accounts.text);
    let items = accounts.body["items"].as_array().expect("items");
    let acme = items.iter().find(|a| a["id"] == "acme").expect("acme");
    assert_eq!(acme["active_keys"], 2);
    assert_eq!(acme["revoked_keys"], 0);
    assert!(items.iter().any(|a| a["id"] == "globex"));

    // Accounts: created once; a bad id or a missing one is refused.
    let created = server.post("/admin/accounts", &token, &json!({"id": "initech"}));
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["id"], "initech");
    assert_eq!(created.body["active_keys"], 0);
    let again = server.post("/admin/accounts", &token, &json!({"id": "initech"}));
    assert_eq!(again.status, 409, "{}", again.text);
    let bad = server.post("/admin/accounts", &token, &json!({"id": "no spaces"}));
    assert_eq!(bad.status, 400, "{}", bad.text);
    let missing = server.post("/admin/accounts", &token, &json!({}));
    assert_eq!(missing.status, 422, "{}", missing.text);

    // A key issued while serving: its secret once, usable at once.
    let issued = server.post(
        "/admin/keys",
        &token,
        &json!({"account": "initech", "label": "ci"}),
    );
    assert_eq!(issued.status, 201, "{}", issued.text);
    let secret = issued.body["secret"].as_str().expect("secret").to_owned();
    let key_id = issued.body["id"].as_str().expect("id").to_owned();
    assert!(secret.starts_with("aurra_"));
    assert!(secret.starts_with(issued.body["shown_prefix"].as_str().unwrap()));
    let write = server.post(
        "/agent/memories",
        &secret,
        &json!({"content": "Initech moved to Austin"}),
    );
    assert_eq!(write.status, 200, "{}", write.text);

    // Listings never carry a secret.
    let listed = server.get("/admin/keys?account=initech", &token);
    assert_eq!(listed.status, 200, "{}", listed.text);
    let keys = listed.body["items"].as_array().expect("items");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["label"], "ci");
    assert!(keys[0].get("secret").is_none());
    assert!(!listed.text.contains(&secret));
    let all = server.get("/admin/keys", &token);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 4);
    assert!(!all.text.contains(&server.acme));

    let detail = server.get("/admin/accounts/initech", &token);
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_eq!(detail.body["writes_used"], 1);
    assert_eq!(detail.body["keys"].as_array().unwrap().len(), 1);
    assert!(!detail.text.contains(&secret));
    assert_eq!(server.get("/admin/accounts/nobody", &token).status, 404);

    // Revoked: refused at once; revoking again keeps the first time; unknown ids are 404.
    let revoked = server.delete(&format!("/admin/keys/{key_id}"), &token);
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let at = revoked.body["revoked_at"]
        .as_str()
        .expect("revoked_at")
        .to_owned();
    let refused = server.get("/agent/memories", &secret);
    assert_eq!(refused.status, 401, "{}", refused.text);
    let twice = server.delete(&format!("/admin/keys/{key_id}"), &token);
    assert_eq!(twice.body["revoked_at"], at.as_str());
    let unknown = server.delete("/admin/keys/0195f1c2-1111-7000-8000-000000000000", &token);
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let malformed = server.delete("/admin/keys/not-a-uuid", &token);
    assert_eq!(malformed.status, 422, "{}", malformed.text);
    let detail = server.get("/admin/accounts/initech", &token);
    assert_eq!(detail.body["active_keys"], 0);
    assert_eq!(detail.body["revoked_keys"], 1);

    // A method a path does not take says which it does.
    let wrong = server.delete("/admin/accounts", &token);
    assert_eq!(wrong.status, 405);

    // A reset takes effect while serving: the old token is refused, the new one works.
    let fresh = server.store.reset_operator_token().expect("reset");
    assert_eq!(server.get("/admin/keys", &token).status, 401);
    assert_eq!(server.get("/admin/keys", &fresh).status, 200);
}

#[test]
fn a_malformed_admin_request_is_refused_without_an_operator_credential_first() {
    let server = TestServer::start();
    // Even a request that could not route (a malformed key id) asks for the operator first:
    // nothing about the admin API's validation is visible without it.
    let resp = server.delete("/admin/keys/not-a-uuid", &server.acme);
    assert_eq!(resp.status, 401, "{}", resp.text);
    let token = server.store.ensure_operator_token().unwrap().unwrap();
    let body = server.post_raw("/admin/keys", &token, "{not json");
    assert_eq!(body.status, 400, "{}", body.text);
    let no_account = server.post("/admin/keys", &token, &json!({"label": "x"}));
    assert_eq!(no_account.status, 422, "{}", no_account.text);
    // Nothing was issued by the refused requests.
    assert_eq!(server.store.api_keys().unwrap().len(), 3);
}

/// `GET /admin/export`: the store's export streamed while the server serves, the operator's
/// only; a bad scope is refused before anything is sent.
#[test]
fn the_operator_exports_the_store_while_it_serves() {
    let server = TestServer::start();
    let token = server.store.ensure_operator_token().unwrap().unwrap();
    for i in 0..300 {
        // Enough rows for several chunks of the stream.
        let content = format!(
            "fact {i}: {} works on project {} in city {}",
            i * 7919,
            i % 31,
            i % 13
        );
        server.write(&server.acme, json!({"content": content, "tenant_id": "t"}));
    }
    server.write(
        &server.globex,
        json!({"content": "Globex ships on Fridays"}),
    );

    let whole = server.get("/admin/export", &token);
    assert_eq!(whole.status, 200, "{}", whole.text);
    let lines: Vec<serde_json::Value> = whole
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[0]["whole_store"], true);
    let end = lines.last().expect("lines");
    assert_eq!(end["type"], "end");
    assert_eq!(end["memories"], 301);
    let memories = lines.iter().filter(|l| l["type"] == "memory").count();
    assert_eq!(memories, 301);
    assert!(lines.iter().any(|l| l["type"] == "api_key"));
    assert!(
        !whole.text.contains(&server.acme),
        "hashes only, never a key"
    );

    let one = server.get("/admin/accounts/acme/export?tenant=t", &token);
    assert_eq!(one.status, 200);
    let memories: Vec<serde_json::Value> = one
        .text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["type"] == "memory")
        .collect();
    assert_eq!(memories.len(), 300);
    assert!(
        memories
            .iter()
            .all(|m| m["account"] == "acme" && m["tenant"] == "t")
    );

    for path in [
        "/admin/accounts/acme/export?tenant=",
        "/admin/accounts/acme/export?tenant=%00",
        "/admin/accounts/no%20spaces/export",
    ] {
        let refused = server.get(path, &token);
        assert!(
            refused.status == 400 || refused.status == 422,
            "{path}: {}",
            refused.text
        );
        assert!(refused.body["detail"].is_string() || refused.body["detail"].is_array());
    }
    assert_eq!(server.get("/admin/export", &server.acme).status, 401);
}
