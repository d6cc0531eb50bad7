//! What Prometheus reads at `/metrics`: one registry of berth's own figures, every name under
//! `berth_`. The layers that see a thing happen count it here (a leaf: it knows nothing of
//! them); the figures that are a state rather than events (workspaces by state) are set just
//! before each scrape.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostLabel {
    pub host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    pub method: String,
    pub route: String,
    pub status: String,
}

/// Every figure berth keeps for Prometheus.
pub struct Metrics {
    registry: Registry,
    pub sessions: Gauge,
    pub streams: Family<KindLabel, Gauge>,
    pub relayed_bytes: Counter,
    pub exec_start: Histogram,
    pub workspaces: Family<StateLabel, Gauge>,
    pub culls: Counter,
    pub engine_errors: Family<HostLabel, Counter>,
    pub http_requests: Family<RequestLabel, Counter>,
    pub http_duration: Family<RouteLabel, Histogram>,
    pub db_latency: Histogram,
}

fn seconds_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("berth");
        let metrics = Metrics {
            sessions: Gauge::default(),
            streams: Family::default(),
            relayed_bytes: Counter::default(),
            exec_start: seconds_histogram(),
            workspaces: Family::default(),
            culls: Counter::default(),
            engine_errors: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(seconds_histogram),
            db_latency: seconds_histogram(),
            registry: Registry::default(),
        };
        registry.register(
            "sessions",
            "Live WebSocket sessions",
            metrics.sessions.clone(),
        );
        registry.register("streams", "Live streams, by kind", metrics.streams.clone());
        registry.register(
            "relayed_bytes",
            "Bytes of stream output sent to clients",
            metrics.relayed_bytes.clone(),
        );
        registry.register(
            "exec_start_seconds",
            "From an exec's creation to its process started",
            metrics.exec_start.clone(),
        );
        registry.register(
            "workspaces",
            "Workspaces, by state",
            metrics.workspaces.clone(),
        );
        registry.register(
            "workspace_culls",
            "Idle workspaces stopped",
            metrics.culls.clone(),
        );
        registry.register(
            "engine_errors",
            "Health pings of a Docker host that failed, by host",
            metrics.engine_errors.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests, by route and status",
            metrics.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by route",
            metrics.http_duration.clone(),
        );
        registry.register(
            "db_ping_seconds",
            "Round trips of a trivial query to the database",
            metrics.db_latency.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The registry in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Sets the workspaces by state (states not in `counts` go to 0).
    pub fn set_workspaces(&self, counts: &[(&str, i64)]) {
        for state in ["running", "stopped", "missing", "unknown"] {
            let count = counts.iter().find(|(s, _)| *s == state).map_or(0, |c| c.1);
            self.workspaces
                .get_or_create(&StateLabel {
                    state: state.into(),
                })
                .set(count);
        }
    }

    pub fn engine_error(&self, host: &str) {
        self.engine_errors
            .get_or_create(&HostLabel { host: host.into() })
            .inc();
    }

    /// A request of `route` (its pattern, `/api/v1/containers/{id}`) answered with `status`.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let route = route.to_string();
        self.http_requests
            .get_or_create(&RequestLabel {
                method: method.into(),
                route: route.clone(),
                status: status.to_string(),
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabel {
                method: method.into(),
                route,
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a stream of `kind` while the guard lives.
    pub fn stream(&self, kind: &str) -> LiveStream {
        let gauge = self
            .streams
            .get_or_create(&KindLabel { kind: kind.into() })
            .clone();
        gauge.inc();
        LiveStream(gauge)
    }
}

/// A live stream, counted until it is dropped.
pub struct LiveStream(Gauge);

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts a live session until dropped.
pub struct LiveSession;

impl LiveSession {
    pub fn new() -> LiveSession {
        metrics().sessions.inc();
        LiveSession
    }
}

impl Default for LiveSession {
    fn default() -> Self {
        LiveSession::new()
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        metrics().sessions.dec();
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's figures (one registry per process, as Prometheus scrapes a process).
pub fn metrics() -> &'static Metrics {
    &METRICS
}
