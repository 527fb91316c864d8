//! The REST server (feature `server`): the hosted Aurra contract over a [`Store`].
//!
//! A thin shim: routing, authentication, wire types and errors. Every store call runs on
//! tokio's blocking pool, so the async runtime never waits on redb or an fsync; concurrent
//! writes are group-committed by the store itself ([`Store::write_batch`]).
//!
//! ```no_run
//! # async fn serve() -> std::io::Result<()> {
//! use std::sync::Arc;
//! let store = aurra::Store::open("aurra-data/aurra.redb").expect("open");
//! let state = Arc::new(aurra::server::AppState::new(store, aurra::server::Config::default()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8787").await?;
//! aurra::server::run(listener, state, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod admin;
mod auth;
mod cache;
mod connections;
mod dashboard;
mod errors;
pub mod facts;
mod handlers;
mod input;
pub mod mcp;
pub mod metrics;
mod openapi;
mod readers;
mod routes;
mod wire;

use std::convert::Infallible;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::Store;

/// The largest request body accepted (spec O-30); larger bodies get `413`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long shutdown waits for in-flight requests before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Server configuration. The defaults are the embedded default: no quota enforcement, no
/// rate limiting.
#[derive(Clone, Debug)]
pub struct Config {
    /// Refuse writes over `writes_limit` (grace period, then blocked). Off by default.
    pub enforce_quota: bool,
    /// Writes per period (a UTC calendar month).
    pub writes_limit: u64,
    /// Days of grace after the quota runs out before the account is blocked.
    pub grace_days: u32,
    /// `plan_tier` reported by `GET /plan/status`.
    pub plan_tier: String,
    /// Requests per minute per API key; `None` disables rate limiting (the default).
    pub rate_limit_per_minute: Option<NonZeroU32>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most connections open at once. At the cap the oldest connection with no request in
    /// flight (idle, or stalled before its headers) is closed to make room; when every one
    /// is busy a new connection gets `503` and is closed. Keep it below the process's file
    /// descriptor limit (`ulimit -n`).
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, and how long a
    /// keep-alive connection may stay idle, before it is closed.
    pub idle_timeout: std::time::Duration,
    /// Messages-mode requests extracting at once; more wait their turn. Extraction holds the
    /// conversation several times over (its rendering, the turns, the facts, a provider's
    /// request and response), so this bounds the memory a burst of large requests takes.
    pub max_concurrent_extractions: usize,
    /// How long a request's body may take to arrive once its headers have (408 and the
    /// connection closed after it): a client that announces a body and stalls holds a
    /// connection and its memory no longer than this.
    pub body_read_timeout: std::time::Duration,
    /// Reads (list, query) without `tenant_id` see every tenant of the account instead of
    /// only the default tenant (spec O-1). Off by default.
    pub all_tenants_when_omitted: bool,
    /// The server's default language model (answers; later extraction). `None`: the built-in
    /// offline implementations answer.
    pub default_llm: Option<crate::llm::LlmConfig>,
    /// How long one provider call may take.
    pub llm_timeout: std::time::Duration,
    /// Which hosts a caller's `llm.base_url` may point at (default: public addresses only).
    pub base_url_policy: crate::llm::BaseUrlPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enforce_quota: false,
            writes_limit: 50_000,
            grace_days: 7,
            plan_tier: "starter".into(),
            rate_limit_per_minute: None,
            max_body_bytes: MAX_BODY_BYTES,
            body_read_timeout: std::time::Duration::from_secs(30),
            max_connections: 4096,
            max_concurrent_extractions: std::thread::available_parallelism().map_or(2, |n| n.get()),
            idle_timeout: std::time::Duration::from_secs(30),
            all_tenants_when_omitted: false,
            default_llm: None,
            llm_timeout: std::time::Duration::from_secs(60),
            base_url_policy: crate::llm::BaseUrlPolicy::default(),
        }
    }
}

/// What every request handler shares: the store, the configuration, the rate limiter.
pub struct AppState {
    store: Store,
    config: Config,
    limiter: Option<auth::RateLimiter>,
    caches: cache::Caches,
    readers: readers::ReaderPool,
    /// Permits for messages-mode requests' extraction and write (`max_concurrent_extractions`).
    extractions: tokio::sync::Semaphore,
    /// The API listener's connections (`max_connections`).
    connections: Arc<connections::Connections>,
    /// `Some` when `/metrics` is served ([`AppState::with_metrics`]).
    metrics: Option<Arc<metrics::Metrics>>,
}

impl AppState {
    /// State over `store` with `config`.
    pub fn new(store: Store, config: Config) -> Self {
        let limiter = config.rate_limit_per_minute.map(auth::RateLimiter::new);
        let extractions = tokio::sync::Semaphore::new(config.max_concurrent_extractions.max(1));
        let connections = connections::Connections::new(config.max_connections);
        AppState {
            store,
            config,
            limiter,
            caches: cache::Caches::default(),
            readers: readers::ReaderPool::new(reader_threads()),
            extractions,
            connections,
            metrics: None,
        }
    }

    /// Counts requests into `metrics` and serves them from [`run_metrics`]. Open the store
    /// with `StoreOptions::observe_commits(metrics::commit_observer(&metrics))` so that its
    /// commits are counted too.
    pub fn with_metrics(mut self, metrics: Arc<metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs a store read on the reader pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, errors::ApiError> {
        let store = self.store.clone();
        self.readers.run(move || f(&store)).await
    }

    /// Runs a store write, or anything that waits on the network (a provider call), on
    /// tokio's blocking pool, keeping the fixed reader pool free for reads.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, errors::ApiError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result.map_err(errors::ApiError::from),
            Err(e) => {
                tracing::error!(error = %e, "store task failed");
                Err(errors::ApiError::detail(
                    hyper::StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                ))
            }
        }
    }

    /// The settings of key `key`, from the cache or the store.
    async fn settings(&self, key: uuid::Uuid) -> Result<crate::Settings, errors::ApiError> {
        match self.caches.settings(&self.store, key) {
            Ok(settings) => Ok(settings),
            Err(miss) => {
                let settings = self.read(move |store| store.settings(key)).await?;
                self.caches.fill_settings(miss, &settings);
                Ok(settings)
            }
        }
    }
}

/// Reader threads: twice the cores (a read that waits on the disk leaves the core to
/// another), at least four.
fn reader_threads() -> usize {
    std::thread::available_parallelism().map_or(4, |n| (2 * n.get()).max(4))
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish (up to 30 s) and returns.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let connections = state.connections.clone();
    let mcp = Arc::new(mcp::http_service(state.clone()));
    let idle_timeout = state.config.idle_timeout;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(admitted) = connections.admit() else {
                    // Every slot has a request in flight: say so, and close.
                    tracing::debug!(%peer, "connection refused: at the connection cap");
                    tokio::spawn(async move {
                        use tokio::io::AsyncReadExt;
                        let refuse = async {
                            stream.write_all(connections::REFUSAL).await?;
                            stream.shutdown().await?;
                            // Read what the client sent until it closes: closing with its
                            // request unread would reset the connection, and a reset can
                            // destroy the refusal before the client reads it.
                            let mut sink = [0u8; 4096];
                            let mut seen = 0usize;
                            while seen < 64 * 1024 {
                                match stream.read(&mut sink).await? {
                                    0 => break,
                                    n => seen += n,
                                }
                            }
                            Ok::<_, std::io::Error>(())
                        };
                        let _ = tokio::time::timeout(Duration::from_secs(1), refuse).await;
                    });
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let slot = admitted.slot.clone();
                let mcp = mcp.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    let mcp = mcp.clone();
                    let busy = slot.request();
                    async move {
                        let _busy = busy;
                        // `/mcp` is the MCP endpoint; every other path is the REST API's.
                        let resp = if req.uri().path() == "/mcp" {
                            mcp::serve_http(&state, &mcp, req).await.map(Either::Right)
                        } else {
                            routes::handle(state, req).await.map(Either::Left)
                        };
                        Ok::<_, Infallible>(resp)
                    }
                });
                // The header-read timeout also closes a keep-alive connection left idle
                // that long (hyper starts it when it waits for the next request's head).
                let conn = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(idle_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    let slot = admitted.slot.clone();
                    let _admitted = admitted;
                    tokio::pin!(conn);
                    let result = tokio::select! {
                        result = conn.as_mut() => result,
                        () = slot.closing() => {
                            // Evicted or shutting down. With no request in flight (idle,
                            // or a head still arriving) close now; hyper's graceful
                            // shutdown would wait for a partial head to complete. Else
                            // finish the request, then close.
                            if slot.is_idle() {
                                return;
                            }
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let (evicted, refused) = connections.evicted_and_refused();
    tracing::info!(
        open = connections.open(),
        evicted,
        refused,
        "shutting down: waiting for in-flight requests"
    );
    tokio::select! {
        () = connections.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("in-flight requests did not finish in time; closing");
        }
    }
    Ok(())
}

/// Serves `GET /metrics` ([`metrics`]) on `listener` until `shutdown` completes; any other
/// request is a 404. Meant for an address only the operator's scraper reaches (the API's
/// listener never serves it). Does nothing useful without [`AppState::with_metrics`]: every
/// request is then a 404.
pub async fn run_metrics(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let idle_timeout = state.config.idle_timeout;
                let state = state.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(scrape(&state, &req)) }
                });
                let conn = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(idle_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "metrics connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => return Ok(()),
        }
    }
}

/// One request to the metrics listener.
fn scrape(state: &AppState, req: &Request<Incoming>) -> Response<Body> {
    let Some(metrics) = &state.metrics else {
        return response(
            hyper::StatusCode::NOT_FOUND,
            &serde_json::json!({"detail": "Not Found"}),
        );
    };
    if req.uri().path() != "/metrics" {
        return response(
            hyper::StatusCode::NOT_FOUND,
            &serde_json::json!({"detail": "Not Found"}),
        );
    }
    if req.method() != hyper::Method::GET {
        return response(
            hyper::StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"detail": "Method Not Allowed"}),
        );
    }
    let (evicted, refused) = state.connections.evicted_and_refused();
    let text = metrics.render(&metrics::Snapshot {
        degraded: state.store.is_degraded(),
        open_connections: state.connections.open(),
        evicted,
        refused,
    });
    let mut resp = Response::new(full(text));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    resp
}

/// A response body: whole (every response but one), or streamed (the operator's export).
/// An error ends a streamed body early; hyper then closes the connection, so a client never
/// takes a cut stream for a whole one.
type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// A whole response body.
fn full(bytes: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt;
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn response(status: hyper::StatusCode, json: &serde_json::Value) -> Response<Body> {
    json_response(status, json.to_string().into_bytes())
}

fn json_response(status: hyper::StatusCode, bytes: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}
