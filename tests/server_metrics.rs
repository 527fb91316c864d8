//! `GET /metrics` on its own listener (`aurra serve --metrics-bind`): off the API's listener,
//! OpenMetrics text, and counts that follow what the server did — requests by route and
//! status, latency histograms, commits and their group sizes, storage state, connections.

mod process;

use std::collections::HashMap;
use std::net::TcpStream;

use serde_json::json;

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("{key} not in the scrape: {samples:?}"))
}

#[test]
fn metrics_count_what_the_server_did() {
    let dir = tempfile::tempdir().expect("temp dir");
    let started =
        process::start(process::serve(dir.path()).args(["--metrics-bind", "127.0.0.1:0"]));
    let mut child = started.child;
    let url = started.url;
    let metrics = process::metrics_url(&started.lines).expect("the metrics address is printed");
    let key = std::fs::read_to_string(dir.path().join("first-api-key")).expect("first key");
    let auth = format!("Bearer {}", key.trim());
    let agent = process::agent();

    // Not on the API's listener.
    let resp = agent.get(format!("{url}/metrics")).call().expect("GET");
    assert_eq!(resp.status(), 404);
    // Only GET /metrics on the metrics listener.
    let base = metrics.trim_end_matches("/metrics");
    assert_eq!(
        agent
            .get(format!("{base}/other"))
            .call()
            .expect("GET")
            .status(),
        404
    );
    let post = agent.post(&metrics).send("").expect("POST");
    assert_eq!(post.status(), 405);

    let before = process::scrape(&metrics);
    for n in 0..3 {
        let resp = agent
            .post(format!("{url}/agent/memories"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(json!({"content": format!("metrics fact {n}")}).to_string())
            .expect("write");
        assert_eq!(resp.status(), 200);
    }
    let refused = agent
        .post(format!("{url}/agent/memories"))
        .header("Authorization", "Bearer not-a-key")
        .header("Content-Type", "application/json")
        .send(json!({"content": "x"}).to_string())
        .expect("write");
    assert_eq!(refused.status(), 401);
    let list = agent
        .get(format!("{url}/agent/memories"))
        .header("Authorization", &auth)
        .call()
        .expect("list");
    assert_eq!(list.status(), 200);
    assert_eq!(
        agent
            .get(format!("{url}/nowhere"))
            .call()
            .expect("GET")
            .status(),
        404
    );
    // Three more connections, held open across the scrape.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(url.trim_start_matches("http://")).expect("connect"))
        .collect();
    // A request on each proves the server has accepted all three before the scrape.
    for mut conn in &held {
        use std::io::{Read, Write};
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        let mut buf = [0u8; 256];
        let n = conn.read(&mut buf).expect("read");
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }

    let after = process::scrape(&metrics);
    let delta = |key: &str| value(&after, key) - before.get(key).copied().unwrap_or(0.0);
    let requests = |route: &str, status: u16| {
        format!("aurra_http_requests_total{{route=\"{route}\",status=\"{status}\"}}")
    };
    assert_eq!(delta(&requests("write_memories", 200)), 3.0);
    assert_eq!(delta(&requests("write_memories", 401)), 1.0);
    assert_eq!(delta(&requests("list_memories", 200)), 1.0);
    assert_eq!(delta(&requests("health", 200)), 3.0);
    assert_eq!(
        value(&after, &requests("unmatched", 404)),
        2.0,
        "/metrics and /nowhere"
    );
    assert_eq!(
        delta("aurra_http_request_duration_seconds_count{route=\"write_memories\"}"),
        4.0
    );
    assert!(delta("aurra_http_request_duration_seconds_sum{route=\"write_memories\"}") > 0.0);
    assert_eq!(
        delta("aurra_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"write_memories\"}"),
        4.0
    );
    // One transaction per sequential write, each holding one request.
    assert_eq!(delta("aurra_commits_total{outcome=\"committed\"}"), 3.0);
    assert_eq!(delta("aurra_commit_duration_seconds_count"), 3.0);
    assert_eq!(delta("aurra_commit_requests_sum"), 3.0);
    assert_eq!(delta("aurra_commit_requests_bucket{le=\"1.0\"}"), 3.0);
    assert_eq!(value(&after, "aurra_storage_errors_total"), 0.0);
    assert_eq!(value(&after, "aurra_storage_degraded"), 0.0);
    assert!(value(&after, "aurra_connections_open") >= 3.0, "{after:?}");
    assert_eq!(value(&after, "aurra_connections_refused_total"), 0.0);
    drop(held);
    child.kill().expect("stop");
    child.wait().expect("wait");
}
