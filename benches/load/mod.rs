//! The HTTP load generator of the server benches: keep-alive connections, one per client,
//! each sending requests back to back (durable content-mode writes, or lists of 20 of the
//! 10k memories of tenant `list`), latencies recorded per request.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// Requests per second and latency percentiles of one phase.
pub struct Stats {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// One phase: `clients` keep-alive clients (spread over `addrs` in turn) send requests back
/// to back until `phase` ends.
pub async fn run_phase(
    addrs: &[std::net::SocketAddr],
    key: &str,
    clients: usize,
    phase: Duration,
    write: bool,
) -> Stats {
    let started = Instant::now();
    let deadline = started + phase;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let auth = format!("Bearer {key}");
            let addr = addrs[client % addrs.len()];
            tokio::spawn(async move { client_loop(addr, auth, client, deadline, write).await })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pick = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies
            .get(i)
            .map_or(0.0, |d: &Duration| d.as_secs_f64() * 1000.0)
    };
    Stats {
        rate: latencies.len() as f64 / elapsed,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
    }
}

async fn client_loop(
    addr: std::net::SocketAddr,
    auth: String,
    client: usize,
    deadline: Instant,
    write: bool,
) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    let mut n = 0u64;
    while Instant::now() < deadline {
        let request = if write {
            let body = format!(
                r#"{{"content": "client {client} wrote fact number {n} during the load benchmark", "tenant_id": "writes"}}"#
            );
            Request::post("/agent/memories")
                .header("host", "bench")
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
        } else {
            Request::get("/agent/memories?tenant_id=list&limit=20")
                .header("host", "bench")
                .header("authorization", &auth)
                .body(Full::new(Bytes::new()))
        }
        .expect("request");
        let sent = Instant::now();
        let response = sender.send_request(request).await.expect("response");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        latencies.push(sent.elapsed());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        n += 1;
    }
    latencies
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
