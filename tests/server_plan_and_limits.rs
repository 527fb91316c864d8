//! Quota enforcement (grace period, then blocked) and per-key rate limiting: both off by
//! default, both answered with 429 and Retry-After when on.

mod http;

use std::num::NonZeroU32;

use aurra::server::Config;
use http::TestServer;
use serde_json::json;

#[test]
fn without_enforcement_writes_never_hit_the_quota() {
    let server = TestServer::start_with(Config {
        writes_limit: 1,
        ..Config::default()
    });
    server.write(&server.acme, json!({"content": "a"}));
    server.write(&server.acme, json!({"content": "b"}));
    let plan = server.get("/plan/status", &server.acme);
    assert_eq!(plan.body["writes_used"], 2);
    assert_eq!(plan.body["writes_remaining"], 0);
    assert_eq!(plan.body["in_grace_period"], false);
}

#[test]
fn over_quota_writes_get_429_while_reads_keep_working() {
    let server = TestServer::start_with(Config {
        enforce_quota: true,
        writes_limit: 2,
        ..Config::default()
    });
    server.write(&server.acme, json!({"content": "a"}));
    server.write(&server.acme, json!({"content": "b"}));
    let refused = server.post("/agent/memories", &server.acme, &json!({"content": "c"}));
    assert_eq!(refused.status, 429, "{}", refused.text);
    let retry: u64 = refused.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=31 * 86_400).contains(&retry));
    assert!(refused.body["detail"].as_str().unwrap().contains("quota"));
    let messages = server.post(
        "/agent/memories",
        &server.acme,
        &json!({"messages": [{"role": "user", "content": "d"}]}),
    );
    assert_eq!(messages.status, 429);

    let list = server.get("/agent/memories", &server.acme);
    assert_eq!((list.status, list.body["count"].clone()), (200, json!(2)));
    let plan = server.get("/plan/status", &server.acme);
    assert_eq!(plan.body["in_grace_period"], true);
    assert_eq!(plan.body["blocked"], false);
    assert_eq!(plan.body["writes_used"], 2);
    // Another account is unaffected.
    assert_eq!(
        server
            .post("/agent/memories", &server.globex, &json!({"content": "c"}))
            .status,
        200
    );
}

#[test]
fn a_blocked_account_only_reaches_plan_status() {
    let server = TestServer::start_with(Config {
        enforce_quota: true,
        writes_limit: 1,
        grace_days: 0,
        ..Config::default()
    });
    let id = server.write(&server.acme, json!({"content": "a"}));
    assert_eq!(
        server
            .post("/agent/memories", &server.acme, &json!({"content": "b"}))
            .status,
        429
    );
    for path in [
        "/agent/memories".to_owned(),
        format!("/memories/{id}/audit"),
        "/agent/settings".to_owned(),
    ] {
        let resp = server.get(&path, &server.acme);
        assert_eq!(resp.status, 429, "{path}");
        assert_eq!(resp.body["detail"], "Account blocked: plan quota exceeded");
        assert!(resp.retry_after.is_some());
    }
    let plan = server.get("/plan/status", &server.acme);
    assert_eq!(plan.status, 200);
    assert_eq!(plan.body["blocked"], true);
    assert_eq!(server.get("/agent/memories", &server.globex).status, 200);
}

#[test]
fn rate_limits_are_per_key_with_retry_after() {
    let server = TestServer::start_with(Config {
        rate_limit_per_minute: NonZeroU32::new(3),
        ..Config::default()
    });
    for _ in 0..3 {
        assert_eq!(server.get("/agent/settings", &server.acme).status, 200);
    }
    let limited = server.get("/agent/settings", &server.acme);
    assert_eq!(limited.status, 429);
    let retry: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The account's other key and other accounts have their own buckets.
    assert_eq!(
        server.get("/agent/settings", &server.acme_second).status,
        200
    );
    assert_eq!(server.get("/agent/settings", &server.globex).status, 200);
    // Unauthenticated requests are refused before they can spend anyone's budget.
    assert_eq!(server.get("/agent/settings", "aurra_wrong").status, 401);
    assert_eq!(server.get_anonymous("/health").status, 200);
}

/// The operator sets an account's own plan while the server serves: plan status reports it,
/// quotas use its limit, other accounts keep the server's, and `null` returns to the default.
#[test]
fn an_accounts_own_plan_replaces_the_servers_defaults() {
    let server = TestServer::start_with(Config {
        enforce_quota: true,
        writes_limit: 1,
        plan_tier: "starter".into(),
        ..Config::default()
    });
    let token = server.store.ensure_operator_token().unwrap().unwrap();
    let patch = |body: serde_json::Value| server.patch("/admin/accounts/acme", &token, &body);

    let set = patch(json!({"plan_tier": "pro", "writes_limit": 3}));
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["plan_tier"], "pro");
    assert_eq!(set.body["writes_limit"], 3);
    assert_eq!(
        set.body["plan"],
        json!({"plan_tier": "pro", "writes_limit": 3})
    );

    for text in ["a", "b", "c"] {
        server.write(&server.acme, json!({"content": text}));
    }
    let refused = server.post("/agent/memories", &server.acme, &json!({"content": "d"}));
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(
        refused.body["detail"].as_str().unwrap().contains("3 of 3"),
        "{}",
        refused.text
    );
    let plan = server.get("/plan/status", &server.acme);
    assert_eq!(plan.body["plan_tier"], "pro");
    assert_eq!(
        (
            plan.body["writes_limit"].clone(),
            plan.body["writes_used"].clone()
        ),
        (json!(3), json!(3))
    );
    // Globex keeps the server's plan.
    let other = server.get("/plan/status", &server.globex);
    assert_eq!(
        (
            other.body["plan_tier"].clone(),
            other.body["writes_limit"].clone()
        ),
        (json!("starter"), json!(1))
    );

    // A field left out is kept; null returns it to the server's default.
    let tier_only = patch(json!({"plan_tier": null}));
    assert_eq!(tier_only.status, 200, "{}", tier_only.text);
    assert_eq!(
        tier_only.body["plan"],
        json!({"plan_tier": null, "writes_limit": 3})
    );
    assert_eq!(tier_only.body["plan_tier"], "starter");
    let usage = server.get("/admin/accounts/acme", &token);
    assert_eq!(usage.body["writes_used"], 3);
    assert_eq!(
        usage.body["writes_by_day"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .sum::<u64>(),
        3,
        "{}",
        usage.text
    );

    // Refused: nothing to change, a control character, a negative limit, no such account.
    for (body, status) in [
        (json!({}), 400),
        (json!({"plan_tier": "a\u{7}"}), 400),
        (json!({"plan_tier": ""}), 400),
        (json!({"writes_limit": -1}), 400),
        (json!({"writes_limit": 9_223_372_036_854_775_808_u64}), 400),
        (json!({"writes_limit": "many"}), 422),
    ] {
        let resp = patch(body.clone());
        assert_eq!(resp.status, status, "{body}: {}", resp.text);
        assert!(
            resp.body["detail"].is_string() || resp.body["detail"].is_array(),
            "{}",
            resp.text
        );
    }
    let absent = server.patch(
        "/admin/accounts/nobody",
        &token,
        &json!({"writes_limit": 5}),
    );
    assert_eq!(absent.status, 404, "{}", absent.text);
    assert!(
        server.store.account("nobody").unwrap().is_none(),
        "nothing created"
    );
    // The refusals changed nothing.
    assert_eq!(
        server
            .store
            .account("acme")
            .unwrap()
            .unwrap()
            .plan
            .writes_limit,
        Some(3)
    );
    // And an API key cannot do it.
    let as_key = server.patch(
        "/admin/accounts/acme",
        &server.acme,
        &json!({"writes_limit": 9}),
    );
    assert_eq!(as_key.status, 401);
}
