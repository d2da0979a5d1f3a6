//! The outbound HTTP client every service uses for its upstream: pooled keep-alive
//! connections, connect and total timeouts, a cap on calls in flight, a cap on the body size,
//! and metrics by outcome. Errors are worded for people (they end up in a bird's description).

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, HeaderValue};
use opentelemetry_http::HeaderInjector;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tracing::field::Empty;
use tracing::{Instrument as _, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use url::Url;

use crate::metrics::UpstreamMetrics;

/// Idle pooled connections are dropped before the server side's idle limit
/// ([`crate::server::HEADER_READ_TIMEOUT`]), so a request never races a closing connection.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

const USER_AGENT: &str = concat!("bird-stack/", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Debug)]
pub struct UpstreamSettings {
    /// Name used in metrics, logs and error messages, e.g. `bird-image`.
    pub name: &'static str,
    /// Budget for the whole call, connecting and reading the body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest body read; a bigger answer is an error, not a memory spike.
    pub max_body_bytes: usize,
    /// Calls allowed in flight at once; past it a call waits for a free slot within its budget.
    pub max_in_flight: usize,
    /// Send the call's W3C trace context (`traceparent`, `tracestate`): for our own services
    /// only, never for a third party such as Unsplash.
    pub propagate_trace: bool,
}

impl UpstreamSettings {
    pub fn new(name: &'static str, timeout: Duration) -> Self {
        Self {
            name,
            timeout,
            connect_timeout: timeout.min(Duration::from_millis(1000)),
            max_body_bytes: 256 * 1024,
            max_in_flight: 256,
            propagate_trace: false,
        }
    }
}

/// Why an upstream call gave no usable answer.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    #[error("{0} could not be reached")]
    Unreachable(&'static str),
    #[error("{0} did not answer in time")]
    Timeout(&'static str),
    #[error("{0} is too busy (too many calls in progress)")]
    Saturated(&'static str),
    #[error("{0} answered with status {1}")]
    Status(&'static str, u16),
    #[error("{0} sent an answer that was too large")]
    TooLarge(&'static str),
    #[error("{0} sent an answer that could not be understood")]
    Malformed(&'static str),
}

impl UpstreamError {
    /// The `outcome` label of the upstream metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Timeout(_) => "timeout",
            Self::Saturated(_) => "saturated",
            Self::Status(..) => "status",
            Self::TooLarge(_) => "too_large",
            Self::Malformed(_) => "malformed",
        }
    }
}

/// reqwest's pooled client, trimmed to what a configured upstream answering small JSON needs:
/// HTTP/1 over plain TCP or rustls, no proxy, redirects, retries or decompression, and one
/// deadline, ours, which also covers the wait for a slot.
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    settings: UpstreamSettings,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
    metrics: UpstreamMetrics,
}

impl UpstreamClient {
    /// `metrics` comes from [`UpstreamMetrics::register`], called once per registry; clients
    /// of one service share it (each call is labelled with its client's `name`).
    pub fn new(settings: UpstreamSettings, metrics: UpstreamMetrics) -> Result<Self, String> {
        // reqwest would send `Accept: */*` otherwise; these calls only take JSON.
        let headers =
            HeaderMap::from_iter([(ACCEPT, HeaderValue::from_static("application/json"))]);
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .http1_only()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            // No retries; a zero count also spares the copy of each request kept for one.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(128)
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .build()
            .map_err(|err| format!("cannot set up the HTTP client: {err}"))?;
        Ok(Self {
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            metrics,
            settings,
            client,
        })
    }

    /// `GET url` and decode the JSON body as `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        headers: HeaderMap,
    ) -> Result<T, UpstreamError> {
        self.get_json_and_headers(url, headers).await.0
    }

    /// [`Self::get_json`], also handing back the headers the upstream answered with (with an
    /// error status too; `None` when it did not answer), for upstreams that report their quota
    /// in them.
    pub async fn get_json_and_headers<T: DeserializeOwned>(
        &self,
        url: &Url,
        mut headers: HeaderMap,
    ) -> (Result<T, UpstreamError>, Option<HeaderMap>) {
        // A child of whatever span is current: the request being served. It is only for the
        // trace (log lines take their context from the request span), so with export off
        // there is none. Numbers go in as i64, which tracing-opentelemetry keeps as numbers
        // (other integers become text).
        let span = if crate::traces::is_exporting() {
            tracing::info_span!(
                "upstream",
                otel.kind = "client",
                otel.name = "GET",
                otel.status_code = Empty,
                upstream = self.settings.name,
                http.request.method = "GET",
                server.address = url.host_str().unwrap_or_default(),
                server.port = url.port_or_known_default().map(i64::from),
                http.response.status_code = Empty,
                error.type = Empty,
            )
        } else {
            Span::none()
        };
        if self.settings.propagate_trace && !span.is_none() {
            // The next hop's span becomes a child of this call, not of the request.
            let context = span.context();
            opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.inject_context(&context, &mut HeaderInjector(&mut headers));
            });
        }
        self.call(url, headers, &span)
            .instrument(span.clone())
            .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        url: &Url,
        headers: HeaderMap,
        span: &Span,
    ) -> (Result<T, UpstreamError>, Option<HeaderMap>) {
        let started = Instant::now();
        let mut answered = None;
        let result = self
            .get_bytes(url, headers, span, &mut answered)
            .await
            .and_then(|body| {
                serde_json::from_slice(&body)
                    .map_err(|_| UpstreamError::Malformed(self.settings.name))
            });
        let outcome = result
            .as_ref()
            .map_or_else(UpstreamError::outcome, |_| "ok");
        self.metrics
            .record(self.settings.name, outcome, started.elapsed());
        if let Err(err) = &result {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", outcome);
            tracing::debug!(upstream = self.settings.name, reason = %err, "upstream call failed");
        }
        (result, answered)
    }

    async fn get_bytes(
        &self,
        url: &Url,
        headers: HeaderMap,
        span: &Span,
        answered: &mut Option<HeaderMap>,
    ) -> Result<Vec<u8>, UpstreamError> {
        let name = self.settings.name;
        let mut request = reqwest::Request::new(reqwest::Method::GET, url.clone());
        *request.headers_mut() = headers;

        // Waiting for a free slot counts against the call's budget, so a caller never waits
        // longer than the timeout in all.
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        let _permit = tokio::time::timeout_at(deadline, self.in_flight.acquire())
            .await
            .map_err(|_| UpstreamError::Saturated(name))?
            .map_err(|_| UpstreamError::Saturated(name))?;
        let _in_flight = self.metrics.start_call(name);
        tokio::time::timeout_at(deadline, self.exchange(request, span, answered))
            .await
            .map_err(|_| UpstreamError::Timeout(name))?
    }

    async fn exchange(
        &self,
        request: reqwest::Request,
        span: &Span,
        answered: &mut Option<HeaderMap>,
    ) -> Result<Vec<u8>, UpstreamError> {
        let name = self.settings.name;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|err| request_error(name, &err))?;
        let status = response.status();
        span.record("http.response.status_code", i64::from(status.as_u16()));
        *answered = Some(std::mem::take(response.headers_mut()));
        if !status.is_success() {
            return Err(UpstreamError::Status(name, status.as_u16()));
        }
        let cap = self.settings.max_body_bytes;
        // A declared length over the cap is refused before reading a byte.
        let declared = response.content_length().unwrap_or(0);
        if declared > cap as u64 {
            return Err(UpstreamError::TooLarge(name));
        }
        let mut body = Vec::with_capacity(declared as usize);
        // Cut off or garbled mid-body, what arrived cannot be used.
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| UpstreamError::Malformed(name))?
        {
            if body.len() + chunk.len() > cap {
                return Err(UpstreamError::TooLarge(name));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// An answer that is not HTTP could not be understood; anything else kept us from the upstream
/// (refused, reset, closed before answering, a certificate nobody vouches for).
fn request_error(name: &'static str, err: &reqwest::Error) -> UpstreamError {
    // reqwest says whether connecting failed but not why a request did: hyper's error, in the
    // chain of sources, tells a parse failure from a dropped connection.
    let not_http = std::iter::successors(err.source(), |&source| source.source())
        .filter_map(|source| source.downcast_ref::<hyper::Error>())
        .any(hyper::Error::is_parse);
    if not_http && !err.is_connect() {
        UpstreamError::Malformed(name)
    } else {
        UpstreamError::Unreachable(name)
    }
}
