//! Prometheus metrics. Each service owns its own [`Registry`] (passed explicitly, no global
//! recorder), so several services in one process, or many tests, never mix their figures.

use std::time::Duration;

use axum::http::Method;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Metric;
pub use prometheus_client::registry::Registry;

/// Latency buckets from half a millisecond to ten seconds: the services answer in
/// microseconds from cache and in seconds when an upstream is slow.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// The `method` label: the standard methods by name, anything a client made up as `other`,
/// so no request can add a series.
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::PATCH, "PATCH"),
        (Method::TRACE, "TRACE"),
        (Method::CONNECT, "CONNECT"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, label)| label)
}

/// `metric` registered under `name`, returned for the code that records it (a metric is a
/// handle: its clones share the figures the registry renders).
pub fn registered<M: Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// A counter registered under `name` (the exposition adds `_total`), for a service's own metrics.
pub fn counter(registry: &mut Registry, name: &str, help: &str) -> Counter {
    registered(registry, name, help, Counter::default())
}

/// `http_requests_total` and `http_request_duration_seconds`, by route, method and status.
/// Every label comes from a fixed set: the matched route template or `unmatched`, a method of
/// [`method_label`], and a status code the service itself chose.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<HttpLabels, Counter>,
    duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

impl HttpMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        Self {
            requests: registered(
                registry,
                "http_requests",
                "HTTP requests served",
                Family::default(),
            ),
            duration: registered(
                registry,
                "http_request_duration_seconds",
                "Time to answer an HTTP request",
                Family::new_with_constructor(latency_histogram),
            ),
        }
    }

    /// `route` is a route template of the app (never the request's path) or `unmatched`.
    pub fn record(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        let labels = HttpLabels {
            route: route.to_owned(),
            method: method_label(method),
            status,
        };
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamName {
    upstream: &'static str,
}

/// `upstream_requests_total` and `upstream_request_duration_seconds`, by upstream and outcome,
/// and `upstream_in_flight`, the calls under way now.
#[derive(Clone, Debug)]
pub struct UpstreamMetrics {
    calls: Family<UpstreamLabels, Counter>,
    duration: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<UpstreamName, Gauge>,
}

/// Counts one call in `upstream_in_flight` until dropped.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl UpstreamMetrics {
    /// Registers the upstream families in `registry`: once per registry, as a second
    /// registration would repeat the families and Prometheus would reject the scrape.
    pub fn register(registry: &mut Registry) -> Self {
        Self {
            in_flight: registered(
                registry,
                "upstream_in_flight",
                "Calls to upstream services under way",
                Family::default(),
            ),
            calls: registered(
                registry,
                "upstream_requests",
                "Calls made to upstream services",
                Family::default(),
            ),
            duration: registered(
                registry,
                "upstream_request_duration_seconds",
                "Time an upstream call took, body included",
                Family::new_with_constructor(latency_histogram),
            ),
        }
    }

    pub fn start_call(&self, upstream: &'static str) -> InFlight {
        let gauge = self
            .in_flight
            .get_or_create(&UpstreamName { upstream })
            .clone();
        gauge.inc();
        InFlight(gauge)
    }

    pub fn record(&self, upstream: &'static str, outcome: &'static str, elapsed: Duration) {
        let labels = UpstreamLabels { upstream, outcome };
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.calls.get_or_create(&labels).inc();
    }
}

/// Renders a registry in the Prometheus/OpenMetrics text format.
pub fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(8 * 1024);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
