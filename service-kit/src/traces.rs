//! Traces: spans exported over OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, and the W3C trace context (`traceparent`,
//! `tracestate`) of an incoming request continued by the request span.
//!
//! With neither variable set there is no exporter, no OpenTelemetry layer in the subscriber
//! and no propagator: a request costs what it did before traces existed, and no trace context
//! is passed on, so the next hop, if it exports, starts a trace of its own. Passing the
//! incoming `traceparent` through unchanged would need the layer on every span (or a second
//! path for the header through the client) and would hide this hop from the trace anyway.
//!
//! Besides the two endpoints, the SDK reads the standard variables itself:
//! `OTEL_SERVICE_NAME` (default here: the service's own name), `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`),
//! `OTEL_BSP_SCHEDULE_DELAY` and the other `OTEL_BSP_*` batch settings, and
//! `OTEL_EXPORTER_OTLP_HEADERS`. The protocol is always `http/protobuf` and an export gives up
//! after 10 s.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName};
use clap::Args;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HeaderExtractor, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::{EnvResourceDetector, TelemetryResourceDetector};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tokio::runtime::Handle;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;
use url::Url;

use crate::config::http_url;
use crate::web_url::endpoint;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The OTLP/HTTP default: a collector that has not answered a batch in this time will not.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the spans still queued at shutdown may take to leave, after the server returned.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Where spans go. Flattened into [`crate::config::ServerArgs`]; a value that is not an
/// absolute http(s) URL stops the service at start-up with one line naming the variable.
#[derive(Debug, Clone, Default, Args)]
pub struct TraceArgs {
    /// OTLP/HTTP collector base URL; spans go to `<url>/v1/traces`. Unset: no spans leave.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = http_url)]
    pub otel_exporter_otlp_endpoint: Option<Url>,

    /// URL that receives spans, used as it is; wins over OTEL_EXPORTER_OTLP_ENDPOINT.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value_parser = http_url)]
    pub otel_exporter_otlp_traces_endpoint: Option<Url>,
}

impl TraceArgs {
    /// The URL spans are posted to, if any: the OTLP rules for the two variables.
    pub fn traces_url(&self) -> Option<Url> {
        self.otel_exporter_otlp_traces_endpoint.clone().or_else(|| {
            self.otel_exporter_otlp_endpoint
                .as_ref()
                .map(|base| endpoint(base, "v1/traces"))
        })
    }
}

/// A running span pipeline: a batch processor (its own thread, so a request never waits on an
/// export) in front of the OTLP/HTTP exporter. Call [`Traces::shutdown`] before exiting.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
    collector: String,
}

impl Traces {
    /// Starts exporting when `args` names a collector, and installs the W3C propagator the
    /// request span and the upstream client use. Must run inside the tokio runtime that
    /// serves the service: the exporter's HTTP calls run on it.
    pub fn start(service: &'static str, args: &TraceArgs) -> Result<Option<Self>, String> {
        let Some(url) = args.traces_url() else {
            return Ok(None);
        };
        let runtime = Handle::try_current()
            .map_err(|_| "traces must be started inside the tokio runtime".to_owned())?;
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .connect_timeout(Duration::from_secs(1))
            .build()
            .map_err(|err| format!("cannot build the trace exporter's HTTP client: {err}"))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.as_str())
            .with_http_client(OnRuntime { client, runtime })
            .build()
            .map_err(|err| format!("cannot set up the trace exporter: {err}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(service))
            .build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        Ok(Some(Self {
            provider,
            // The origin only: a URL may carry credentials.
            collector: url.origin().ascii_serialization(),
        }))
    }

    /// Where spans go (scheme, host and port), for the start-up log line.
    pub fn collector(&self) -> &str {
        &self.collector
    }

    /// The layer that turns the service's `tracing` spans into OpenTelemetry spans.
    pub fn layer<S>(&self, service: &'static str) -> impl Layer<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        layer(self.provider.tracer(service))
    }

    /// Sends the spans still queued and stops the pipeline, waiting at most [`FLUSH_TIMEOUT`].
    pub async fn shutdown(self) {
        let provider = self.provider;
        // The flush blocks on the export, which runs on this runtime: wait off its threads.
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT))
                .await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "traces: the last spans were not sent"),
            Err(err) => tracing::warn!(error = %err, "traces: the flush did not finish"),
        }
    }
}

/// The service's resource: `service.name` is the service's own and `service.version` the
/// build's, unless `OTEL_RESOURCE_ATTRIBUTES` (or, for the name, `OTEL_SERVICE_NAME`) says
/// otherwise. The SDK's own default name would be `unknown_service`.
fn resource(service: &'static str) -> Resource {
    let named = Resource::builder_empty()
        .with_service_name(service)
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_detectors(&[
            Box::new(TelemetryResourceDetector),
            Box::new(EnvResourceDetector::new()),
        ]);
    match std::env::var("OTEL_SERVICE_NAME") {
        Ok(name) if !name.is_empty() => named.with_service_name(name),
        _ => named,
    }
    .build()
}

/// Makes `span` the continuation of the trace in the request's `traceparent`/`tracestate`.
/// Without a valid `traceparent` the span starts a new trace; with export off (no layer) this
/// does nothing, and [`crate::request_span::request_span`] does not call it then. Call it
/// before the span is first entered.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    if span.is_disabled() || !headers.contains_key(&TRACEPARENT) {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only when there is no OpenTelemetry layer, that is when nothing is exported.
    let _ = span.set_parent(parent);
}

/// The layer that turns `tracing` spans into OpenTelemetry spans of `tracer`, marked so that
/// [`is_exporting`] finds it. [`Traces::layer`] is this layer on the pipeline's tracer.
pub fn layer<S>(tracer: SdkTracer) -> impl Layer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .and_then(Exporting)
}

/// Marks a subscriber that exports spans; does nothing else.
struct Exporting;

impl<S: Subscriber> Layer<S> for Exporting {}

/// Whether the current subscriber exports spans ([`layer`] is in it). Without it, whatever a
/// span carries only for the trace (the request span's OpenTelemetry fields, a client span
/// for each upstream call) would be pure cost.
pub fn is_exporting() -> bool {
    tracing::dispatcher::get_default(|dispatch| dispatch.is::<Exporting>())
}

/// reqwest on the service's own runtime. The batch processor exports from a thread of its
/// own, outside any runtime, where reqwest's connections cannot be driven; rather than a
/// second runtime (the blocking client) each export is a task on the service's.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move { client.send_bytes(request).await })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Settings {
        #[command(flatten)]
        trace: TraceArgs,
    }

    fn parse(args: &[&str]) -> Result<TraceArgs, String> {
        Settings::try_parse_from(std::iter::once("unit").chain(args.iter().copied()))
            .map(|settings| settings.trace)
            .map_err(|err| err.to_string())
    }

    #[test]
    fn the_traces_url_follows_the_otlp_rules() {
        let url = |args: &[&str]| parse(args).unwrap().traces_url().map(String::from);
        assert_eq!(url(&[]), None);
        assert_eq!(
            url(&["--otel-exporter-otlp-endpoint", "http://agent:4316"]).as_deref(),
            Some("http://agent:4316/v1/traces")
        );
        assert_eq!(
            url(&["--otel-exporter-otlp-endpoint", "https://collector/otlp/"]).as_deref(),
            Some("https://collector/otlp/v1/traces")
        );
        assert_eq!(
            url(&[
                "--otel-exporter-otlp-endpoint",
                "http://agent:4316",
                "--otel-exporter-otlp-traces-endpoint",
                "http://other:4318/custom"
            ])
            .as_deref(),
            Some("http://other:4318/custom")
        );
    }

    #[test]
    fn a_bad_endpoint_is_refused_naming_the_variable() {
        for bad in [
            "agent:4316",
            "not a url",
            "ftp://agent",
            "http://agent:4316/?x=1",
        ] {
            let refused = parse(&["--otel-exporter-otlp-endpoint", bad]).unwrap_err();
            assert!(
                refused.contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
                "{bad}: {refused}"
            );
            let refused = parse(&["--otel-exporter-otlp-traces-endpoint", bad]).unwrap_err();
            assert!(
                refused.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
                "{bad}: {refused}"
            );
        }
    }

    #[test]
    fn without_an_endpoint_nothing_starts() {
        assert!(
            Traces::start("unit", &TraceArgs::default())
                .unwrap()
                .is_none()
        );
    }
}
