//! A real server on 127.0.0.1:0 over an in-memory store, driven through HTTP.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;

use aurra::Store;
use aurra::server::{AppState, Config};
use serde_json::Value;

/// A running server with keys for two accounts: `acme` (two keys) and `globex`.
pub struct TestServer {
    pub addr: SocketAddr,
    pub acme: String,
    pub acme_second: String,
    pub globex: String,
    pub store: Store,
    agent: ureq::Agent,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

/// A response: status, JSON body (or `Null`), and the `Retry-After` header.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
    pub text: String,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(Config::default())
    }

    pub fn start_with(config: Config) -> TestServer {
        Self::launch(Store::in_memory().expect("store"), config)
    }

    /// A server whose store reads time from `clock`.
    pub fn start_with_clock(clock: aurra::ManualClock) -> TestServer {
        let options = aurra::StoreOptions::new().clock(clock);
        Self::launch(
            Store::in_memory_with(options).expect("store"),
            Config::default(),
        )
    }

    /// A server over a given store (with the three keys created in it).
    pub fn launch(store: Store, config: Config) -> TestServer {
        let (_, acme) = store.create_api_key("acme", "first").expect("key");
        let (_, acme_second) = store.create_api_key("acme", "second").expect("key");
        let (_, globex) = store.create_api_key("globex", "").expect("key");
        let state = Arc::new(AppState::new(store.clone(), config));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx
                    .send(listener.local_addr()?)
                    .expect("report address");
                aurra::server::run(listener, state, async {
                    let _ = shutdown_rx.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().expect("server started");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        TestServer {
            addr,
            acme,
            acme_second,
            globex,
            store,
            agent,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// Signals shutdown (as SIGTERM does in the binary) without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for the server to finish and returns what `run` returned.
    pub fn join(&mut self) -> std::io::Result<()> {
        self.begin_shutdown();
        match self.thread.take() {
            Some(thread) => thread.join().expect("server thread"),
            None => Ok(()),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn finish(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut resp = resp.expect("HTTP exchange");
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.body_mut().read_to_string().expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            retry_after,
            text,
        }
    }

    pub fn get(&self, path: &str, key: &str) -> Resp {
        Self::finish(
            self.agent
                .get(self.url(path))
                .header("Authorization", format!("Bearer {key}"))
                .call(),
        )
    }

    pub fn get_anonymous(&self, path: &str) -> Resp {
        Self::finish(self.agent.get(self.url(path)).call())
    }

    pub fn delete(&self, path: &str, key: &str) -> Resp {
        Self::finish(
            self.agent
                .delete(self.url(path))
                .header("Authorization", format!("Bearer {key}"))
                .call(),
        )
    }

    pub fn post(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.post_raw(path, key, &body.to_string())
    }

    pub fn post_raw(&self, path: &str, key: &str, body: &str) -> Resp {
        Self::finish(
            self.agent
                .post(self.url(path))
                .header("Authorization", format!("Bearer {key}"))
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    pub fn patch(&self, path: &str, key: &str, body: &Value) -> Resp {
        Self::finish(
            self.agent
                .patch(self.url(path))
                .header("Authorization", format!("Bearer {key}"))
                .header("Content-Type", "application/json")
                .send(body.to_string()),
        )
    }

    /// Writes a content-mode memory and returns its id.
    pub fn write(&self, key: &str, body: Value) -> String {
        let resp = self.post("/agent/memories", key, &body);
        assert_eq!(resp.status, 200, "{}", resp.text);
        resp.body["memory_id"]
            .as_str()
            .expect("memory_id")
            .to_owned()
    }

    /// Sends raw bytes on a fresh connection and returns everything received until the
    /// server closes it (requests should say `Connection: close`).
    pub fn raw(&self, request: &[u8]) -> String {
        self.raw_inner(request, false)
    }

    /// Like [`TestServer::raw`], but half-closes after sending, as a client that gives up
    /// mid-request does.
    pub fn raw_then_close(&self, request: &[u8]) -> String {
        self.raw_inner(request, true)
    }

    fn raw_inner(&self, request: &[u8], half_close: bool) -> String {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        let _ = stream.write_all(request);
        if half_close {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                result.expect("server thread").expect("server run");
            }
        }
    }
}

/// The status line's code of a raw HTTP response.
pub fn raw_status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}
