//! Traces from the real `bird-stack` binary (each service with its own resource, as three pods
//! would have), received by a small OTLP/HTTP collector the test runs: one page view is one
//! trace, hop by hop, and nothing of it reaches Unsplash.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use service_kit_testing::{ServiceProcess, free_port};
use tokio::sync::mpsc;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer};

const STACK: &str = env!("CARGO_BIN_EXE_bird-stack");
/// Longest wait for a span the test is owed.
const PATIENCE: Duration = Duration::from_secs(15);

/// One exported span, with the `service.name` of the resource it came with.
#[derive(Clone, Debug)]
struct Exported {
    service: String,
    name: String,
    kind: SpanKind,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
}

/// An OTLP/HTTP collector on loopback: every span of every protobuf batch posted to
/// `/v1/traces` comes out of the returned channel, as it arrives.
async fn start_collector() -> (String, mpsc::UnboundedReceiver<Exported>) {
    let (arrived, spans) = mpsc::unbounded_channel();
    let collect = move |headers: HeaderMap, body: Bytes| {
        let arrived = arrived.clone();
        async move {
            if headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes())
                != Some(b"application/x-protobuf")
            {
                return StatusCode::UNSUPPORTED_MEDIA_TYPE;
            }
            let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                return StatusCode::BAD_REQUEST;
            };
            for batch in request.resource_spans {
                let service = batch
                    .resource
                    .iter()
                    .flat_map(|resource| &resource.attributes)
                    .find(|attribute| attribute.key == "service.name")
                    .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
                    .map(|value| match value {
                        any_value::Value::StringValue(name) => name.clone(),
                        other => format!("{other:?}"),
                    })
                    .unwrap_or_default();
                for span in batch.scope_spans.into_iter().flat_map(|scope| scope.spans) {
                    let _ = arrived.send(Exported {
                        service: service.clone(),
                        kind: span.kind(),
                        name: span.name,
                        trace_id: span.trace_id,
                        span_id: span.span_id,
                        parent_span_id: span.parent_span_id,
                    });
                }
            }
            StatusCode::OK
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route("/v1/traces", post(collect));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

/// The stack on free loopback ports, exporting to `collector`; returns it and the base URLs
/// of bird-image, bird and the frontend once all three are ready.
async fn start_stack(
    collector: &str,
    batch_delay_ms: &str,
    unsplash: &str,
) -> (ServiceProcess, [String; 3]) {
    let ports = [(); 3].map(|()| free_port().to_string());
    let bases = ports.clone().map(|port| format!("http://127.0.0.1:{port}"));
    let [image_port, bird_port, frontend_port] = &ports;
    let [bird_image, bird, _] = &bases;
    let mut stack = ServiceProcess::spawn(
        STACK,
        &[
            ("HOST", "127.0.0.1"),
            ("BIRD_IMAGE_PORT", image_port),
            ("BIRD_PORT", bird_port),
            ("FRONTEND_PORT", frontend_port),
            ("BIRD_IMAGE_URL", bird_image),
            ("BIRD_API_URL", bird),
            ("UNSPLASH_API_URL", unsplash),
            ("UNSPLASH_ACCESS_KEY", "trace-test-key"),
            ("SHUTDOWN_DRAIN_SECS", "0"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector),
            ("OTEL_BSP_SCHEDULE_DELAY", batch_delay_ms),
        ],
    );
    for base in &bases {
        stack.wait_ready(base).await;
    }
    (stack, bases)
}

/// Stops the stack as Kubernetes would and checks that it exited 0.
async fn stop(mut stack: ServiceProcess) {
    stack.terminate().await;
    let status = stack.exit_within(PATIENCE).await;
    assert_eq!(status.code(), Some(0), "{}", stack.stdout());
}

/// Unsplash with one photo for any query.
async fn unsplash() -> MockServer {
    let unsplash = MockServer::start().await;
    Mock::given(path("/search/photos"))
        .respond_with(crate::one_photo())
        .mount(&unsplash)
        .await;
    unsplash
}

/// The spans of one page view, by service and kind.
type Hops = HashMap<(String, SpanKind), Vec<Exported>>;

const HOPS: [(&str, SpanKind); 6] = [
    ("frontend", SpanKind::Server),
    ("frontend", SpanKind::Client),
    ("bird", SpanKind::Server),
    ("bird", SpanKind::Client),
    ("bird-image", SpanKind::Server),
    ("bird-image", SpanKind::Client),
];

fn by_hop(spans: &[Exported], trace_id: &[u8]) -> Hops {
    let mut hops = Hops::new();
    for span in spans.iter().filter(|span| span.trace_id == trace_id) {
        hops.entry((span.service.clone(), span.kind))
            .or_default()
            .push(span.clone());
    }
    hops
}

/// Collects spans until the page view's trace (the one of the frontend's only upstream call)
/// has a span for every hop; returns everything received.
async fn until_the_page_view_arrives(
    spans: &mut mpsc::UnboundedReceiver<Exported>,
) -> Vec<Exported> {
    let mut received = Vec::new();
    let complete = |received: &[Exported]| {
        let call = received
            .iter()
            .find(|span| span.service == "frontend" && span.kind == SpanKind::Client)?;
        let hops = by_hop(received, &call.trace_id);
        HOPS.iter()
            .all(|(service, kind)| hops.contains_key(&(service.to_string(), *kind)))
            .then_some(())
    };
    while complete(&received).is_none() {
        match tokio::time::timeout(PATIENCE, spans.recv()).await {
            Ok(Some(span)) => received.push(span),
            _ => panic!("the page view's spans did not all arrive: {received:#?}"),
        }
    }
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_page_view_is_one_trace_across_the_three_services() {
    let (collector, mut spans) = start_collector().await;
    let unsplash = unsplash().await;
    let (stack, [_, _, frontend]) = start_stack(&collector, "50", &unsplash.uri()).await;

    let page = reqwest::get(&frontend).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.unwrap().contains("Ada"),
        "the photo's credit"
    );
    // A short batch delay: the spans come without a shutdown.
    let mut received = until_the_page_view_arrives(&mut spans).await;
    stop(stack).await;
    // Whatever else the shutdown flushed: all of it is checked below.
    while let Ok(span) = spans.try_recv() {
        received.push(span);
    }

    let call = received
        .iter()
        .find(|span| span.service == "frontend" && span.kind == SpanKind::Client)
        .unwrap();
    let hops = by_hop(&received, &call.trace_id);
    let one = |service: &str, kind: SpanKind| -> &Exported {
        let spans = &hops[&(service.to_owned(), kind)];
        assert_eq!(spans.len(), 1, "{service} {kind:?}: {spans:#?}");
        &spans[0]
    };
    assert_eq!(
        hops.values().map(Vec::len).sum::<usize>(),
        HOPS.len(),
        "one span per hop and nothing else in the trace: {hops:#?}"
    );
    // No traceparent came with the page request: the frontend started the trace.
    let page_view = one("frontend", SpanKind::Server);
    assert!(page_view.parent_span_id.is_empty(), "{page_view:?}");
    // Each service's upstream call is a child of its request span, and the next service's
    // request span a child of that call.
    let chain = [
        ("frontend", Some("bird")),
        ("bird", Some("bird-image")),
        ("bird-image", None),
    ];
    for (service, next) in chain {
        let server = one(service, SpanKind::Server);
        let client = one(service, SpanKind::Client);
        assert_eq!(client.parent_span_id, server.span_id, "{service}'s call");
        if let Some(next) = next {
            let next_server = one(next, SpanKind::Server);
            assert_eq!(
                next_server.parent_span_id, client.span_id,
                "{next}'s request"
            );
        }
    }

    let searches = unsplash.received_requests().await.unwrap();
    assert_eq!(searches.len(), 1, "{searches:#?}");
    for header in ["traceparent", "tracestate"] {
        assert!(
            !searches[0].headers.contains_key(header),
            "{header} sent to Unsplash"
        );
    }
}

/// With an hour's batch delay nothing leaves until shutdown, which sends it all before the
/// process exits. A request's own `traceparent` is continued. The probes the start-up waited
/// on are not traced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_sends_the_queued_spans_and_an_incoming_trace_is_continued() {
    let (collector, mut spans) = start_collector().await;
    let unsplash = unsplash().await;
    let (stack, [_, bird, frontend]) = start_stack(&collector, "3600000", &unsplash.uri()).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let answer = reqwest::Client::new()
        .get(&bird)
        .header("traceparent", format!("00-{trace_id}-{caller}-01"))
        .header("tracestate", "vendor=opaque")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let page = reqwest::get(&frontend).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(spans.try_recv().is_err(), "a span left before the shutdown");
    stop(stack).await;

    let mut received = Vec::new();
    while let Ok(span) = spans.try_recv() {
        received.push(span);
    }
    for service in ["frontend", "bird", "bird-image"] {
        assert!(
            received.iter().any(|span| span.service == service),
            "no span of {service} was flushed: {received:#?}"
        );
    }
    let probes: Vec<_> = received
        .iter()
        .filter(|span| span.name.starts_with("GET /ready") || span.name.starts_with("GET /health"))
        .collect();
    assert!(probes.is_empty(), "probes were traced: {probes:#?}");
    let bird_request = received
        .iter()
        .find(|span| {
            span.service == "bird"
                && span.kind == SpanKind::Server
                && hex(&span.trace_id) == trace_id
        })
        .unwrap_or_else(|| {
            panic!("bird's request span is not in the caller's trace: {received:#?}")
        });
    assert_eq!(hex(&bird_request.parent_span_id), caller);
}

#[tokio::test]
async fn a_bad_collector_url_stops_the_stack_with_one_line_naming_it() {
    for variable in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ] {
        let mut env = vec![("HOST", "127.0.0.1".to_owned())];
        for port in ["BIRD_IMAGE_PORT", "BIRD_PORT", "FRONTEND_PORT"] {
            env.push((port, free_port().to_string()));
        }
        env.push((variable, "cloudwatch-agent:4316".to_owned()));
        let run = tokio::process::Command::new(STACK)
            .env_clear()
            .envs(env)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(PATIENCE, run)
            .await
            .unwrap_or_else(|_| panic!("{variable}: the stack started"))
            .unwrap();
        assert!(!output.status.success(), "{variable}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
