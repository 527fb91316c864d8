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
