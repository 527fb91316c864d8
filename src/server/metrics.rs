//! `GET /metrics` in the OpenMetrics text format (which Prometheus scrapes), on a listener of
//! its own (`aurra serve --metrics-bind`), never on the API's: requests by route and status,
//! request latency by route, commit latency and group size, commits by outcome, storage
//! errors, the degraded state, and connections. Built on `prometheus-client`.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::{Commit, CommitOutcome};

/// The `Content-Type` of a scrape.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Latency buckets: 100 µs to ~6.5 s, doubling.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_1, 2.0, 17)
}

/// The server's metrics. Create it before the store, so that the store reports its commits
/// to it ([`Metrics::observe_commit`] through `StoreOptions::observe_commits`), then hand it
/// to [`super::AppState::with_metrics`].
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
    commit_seconds: Histogram,
    commit_requests: Histogram,
    commits: Family<OutcomeLabel, Counter>,
    storage_errors: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("aurra");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let latency: Family<RouteLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(latency_buckets()));
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's headers to its response, by route",
            latency.clone(),
        );
        let commit_seconds = Histogram::new(latency_buckets());
        registry.register(
            "commit_duration_seconds",
            "Write transactions, start to durable commit (fsync included)",
            commit_seconds.clone(),
        );
        let commit_requests = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "commit_requests",
            "Write requests per transaction (group commit shares one among concurrent writes)",
            commit_requests.clone(),
        );
        let commits = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "commits",
            "Write transactions by outcome (committed, refused by their checks, failed)",
            commits.clone(),
        );
        let storage_errors = Counter::default();
        registry.register(
            "storage_errors",
            "Write transactions that failed below the store's rules (storage, I/O, poisoned handle)",
            storage_errors.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            commit_seconds,
            commit_requests,
            commits,
            storage_errors,
        }
    }

    /// Records one commit (the store's commit observer).
    pub fn observe_commit(&self, commit: &Commit) {
        self.commit_seconds.observe(commit.duration.as_secs_f64());
        self.commit_requests.observe(commit.requests as f64);
        let outcome = match commit.outcome {
            CommitOutcome::Committed => "committed",
            CommitOutcome::Refused => "refused",
            _ => {
                self.storage_errors.inc();
                "failed"
            }
        };
        self.commits.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Records one answered request.
    pub(crate) fn observe_request(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.latency
            .get_or_create(&RouteLabel { route })
            .observe(elapsed.as_secs_f64());
    }

    /// The scrape: every metric, with the values read now (degraded state, connections).
    pub(crate) fn render(&self, now: &Snapshot) -> String {
        let mut scrape = Registry::with_prefix("aurra");
        scrape.register(
            "storage_degraded",
            "1 while a storage failure makes writes fail (see /health), else 0",
            ConstGauge::new(i64::from(now.degraded)),
        );
        scrape.register(
            "connections_open",
            "HTTP connections open on the API listener",
            ConstGauge::new(now.open_connections as i64),
        );
        scrape.register(
            "connections_evicted",
            "Idle or stalled connections closed to make room at the connection cap",
            ConstCounter::new(now.evicted),
        );
        scrape.register(
            "connections_refused",
            "Connections refused with 503 because every slot had a request in flight",
            ConstCounter::new(now.refused),
        );
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &scrape);
        let _ = encode_eof(&mut out);
        out
    }
}

/// What a scrape reads from the server at that moment.
pub(crate) struct Snapshot {
    pub degraded: bool,
    pub open_connections: usize,
    pub evicted: u64,
    pub refused: u64,
}

/// The commit observer for `StoreOptions::observe_commits`.
pub fn commit_observer(metrics: &Arc<Metrics>) -> impl Fn(&Commit) + Send + Sync + 'static {
    let metrics = metrics.clone();
    move |commit| metrics.observe_commit(commit)
}
