//! Each upstream call is a client span, a child of the span it was made in; with
//! `propagate_trace` the next hop gets that client span's W3C context, without it nothing.
//! The test installs what production installs: the kit's tracing-opentelemetry layer over an SDK
//! tracer provider (here with no exporter, only a processor that keeps ended spans) and the
//! W3C propagator. With export off (no such layer) a call makes no span and sends no context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanId, SpanKind, Status, TracerProvider as _};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
use service_kit::http_client::{UpstreamClient, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics};
use tracing::Instrument as _;
use tracing::subscriber::DefaultGuard;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt as _;
use url::Url;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_PARENT: &str = "00f067aa0ba902b7";

/// Keeps every span that ends.
#[derive(Clone, Debug, Default)]
struct Ended(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Ended {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

impl Ended {
    /// The one ended span of `kind`.
    fn only(&self, kind: SpanKind) -> SpanData {
        let spans = self.0.lock().unwrap();
        let mut found = spans.iter().filter(|span| span.span_kind == kind);
        let span = found.next().cloned().expect("a span of that kind ended");
        assert!(found.next().is_none(), "more than one {kind:?} span");
        span
    }
}

/// Traces this thread's spans into the returned [`Ended`] until the guard drops; the test
/// runtime has one thread, so the client's futures are polled here.
fn trace_this_thread() -> (Ended, DefaultGuard) {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let ended = Ended::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(ended.clone())
        .build();
    let layer = service_kit::traces::layer(provider.tracer("kit-test"));
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    (ended, guard)
}

/// A span for the request being served, continuing a trace that came in with a tracestate.
fn request_span() -> tracing::Span {
    let incoming = HashMap::from([
        (
            "traceparent".to_owned(),
            format!("00-{CALLER_TRACE}-{CALLER_PARENT}-01"),
        ),
        ("tracestate".to_owned(), "vendor=opaque".to_owned()),
    ]);
    let span = tracing::info_span!("request", otel.kind = "server");
    span.set_parent(TraceContextPropagator::new().extract(&incoming))
        .expect("the request span takes the incoming context");
    span
}

async fn upstream(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(status).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    server
}

/// One call from inside the request span; the spans have ended when it returns.
async fn call_from_a_request(server: &MockServer, propagate_trace: bool) {
    call_inside(request_span(), server, propagate_trace).await;
}

async fn call_inside(span: tracing::Span, server: &MockServer, propagate_trace: bool) {
    let mut settings = UpstreamSettings::new("next-hop", Duration::from_secs(2));
    settings.propagate_trace = propagate_trace;
    let client = UpstreamClient::new(
        settings,
        UpstreamMetrics::register(&mut Registry::default()),
    )
    .unwrap();
    let url = Url::parse(&server.uri()).unwrap();
    let _ = client
        .get_json::<serde_json::Value>(&url, HeaderMap::new())
        .instrument(span)
        .await;
}

async fn received_headers(server: &MockServer) -> HeaderMap {
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    received[0].headers.clone()
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|pair| pair.key.as_str() == key)
        .map(|pair| pair.value.clone())
}

#[tokio::test]
async fn the_next_hop_gets_the_client_spans_context() {
    let (ended, _guard) = trace_this_thread();
    let server = upstream(200).await;

    call_from_a_request(&server, true).await;

    let request = ended.only(SpanKind::Server);
    let call = ended.only(SpanKind::Client);
    assert_eq!(call.span_context.trace_id().to_string(), CALLER_TRACE);
    assert_eq!(call.parent_span_id, request.span_context.span_id());
    assert_ne!(call.span_context.span_id(), SpanId::INVALID);
    assert_eq!(call.status, Status::Unset);
    assert_eq!(attribute(&call, "upstream"), Some("next-hop".into()));
    assert_eq!(attribute(&call, "http.request.method"), Some("GET".into()));
    assert_eq!(attribute(&call, "server.address"), Some("127.0.0.1".into()));
    let port = i64::from(server.address().port());
    assert_eq!(attribute(&call, "server.port"), Some(port.into()));
    assert_eq!(
        attribute(&call, "http.response.status_code"),
        Some(200_i64.into())
    );

    let headers = received_headers(&server).await;
    let sent = format!("00-{CALLER_TRACE}-{}-01", call.span_context.span_id());
    assert_eq!(headers["traceparent"], sent.as_str());
    assert_eq!(headers["tracestate"], "vendor=opaque");
}

#[tokio::test]
async fn without_propagation_no_trace_context_is_sent() {
    let (ended, _guard) = trace_this_thread();
    let server = upstream(200).await;

    call_from_a_request(&server, false).await;

    let request = ended.only(SpanKind::Server);
    let call = ended.only(SpanKind::Client);
    assert_eq!(call.parent_span_id, request.span_context.span_id());
    let headers = received_headers(&server).await;
    assert!(!headers.contains_key("traceparent"), "{headers:?}");
    assert!(!headers.contains_key("tracestate"), "{headers:?}");
}

#[tokio::test]
async fn a_failed_call_is_an_error_span_with_its_status() {
    let (ended, _guard) = trace_this_thread();
    let server = upstream(503).await;

    call_from_a_request(&server, true).await;

    let call = ended.only(SpanKind::Client);
    assert!(
        matches!(call.status, Status::Error { .. }),
        "{:?}",
        call.status
    );
    assert_eq!(
        attribute(&call, "http.response.status_code"),
        Some(503_i64.into())
    );
    assert_eq!(attribute(&call, "error.type"), Some("status".into()));
}

/// The spans made while installed, by name with the names of their fields: a subscriber
/// without an OpenTelemetry layer, as with export off.
#[derive(Clone, Debug, Default)]
struct Made(Arc<Mutex<Vec<SpanShape>>>);

/// A span's name and the names of its fields.
type SpanShape = (&'static str, Vec<&'static str>);

impl Made {
    fn names(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(name, _)| *name)
            .collect()
    }
}

impl<S: tracing::Subscriber> Layer<S> for Made {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let metadata = attrs.metadata();
        let fields = metadata.fields().iter().map(|field| field.name()).collect();
        self.0.lock().unwrap().push((metadata.name(), fields));
    }
}

fn served_request() -> axum::http::Request<()> {
    axum::http::Request::get("/birds?n=1")
        .header("x-request-id", "r-1")
        .body(())
        .unwrap()
}

#[tokio::test]
async fn with_export_off_a_call_makes_no_span_and_sends_no_context() {
    // Even with a propagator installed, as another test of this binary may have done.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let made = Made::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(made.clone()));
    let server = upstream(200).await;

    call_inside(tracing::info_span!("request"), &server, true).await;

    assert_eq!(made.names(), ["request"]);
    let headers = received_headers(&server).await;
    assert!(!headers.contains_key("traceparent"), "{headers:?}");
}

#[test]
fn with_export_off_the_request_span_has_only_what_log_lines_need() {
    let made = Made::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(made.clone()));

    drop(service_kit::request_span::request_span(
        "unit",
        &served_request(),
    ));

    let spans = made.0.lock().unwrap();
    assert_eq!(*spans, [("request", vec!["service", "request_id"])]);
}

#[test]
fn when_exporting_the_request_span_is_an_http_server_span() {
    let (ended, _guard) = trace_this_thread();

    drop(service_kit::request_span::request_span(
        "unit",
        &served_request(),
    ));

    let request = ended.only(SpanKind::Server);
    assert_eq!(request.name, "GET");
    assert_eq!(
        attribute(&request, "http.request.method"),
        Some("GET".into())
    );
    assert_eq!(attribute(&request, "url.path"), Some("/birds".into()));
    assert_eq!(attribute(&request, "request_id"), Some("r-1".into()));
}
