//! The outbound HTTP client every service uses for its upstream: pooled keep-alive
//! connections, connect and total timeouts, a cap on calls in flight, a cap on the body size,
//! and metrics by outcome. Errors are worded for people (they end up in a bird's description).

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, HeaderValue, Request, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Body as _;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::metrics::UpstreamMetrics;

/// Idle pooled connections are dropped before the server side's idle limit
/// ([`crate::server::HEADER_READ_TIMEOUT`]), so a request never races a closing connection.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

const USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("bird-stack/", env!("CARGO_PKG_VERSION")));

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
}

impl UpstreamSettings {
    pub fn new(name: &'static str, timeout: Duration) -> Self {
        Self {
            name,
            timeout,
            connect_timeout: timeout.min(Duration::from_millis(1000)),
            max_body_bytes: 256 * 1024,
            max_in_flight: 256,
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

/// hyper's pooled client with nothing on top: no redirects, retries or decompression to pay
/// for on every call (upstreams are named by configuration and answer small JSON), and one
/// deadline, ours, instead of a timer per layer.
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    settings: UpstreamSettings,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    in_flight: Arc<Semaphore>,
    metrics: UpstreamMetrics,
}

impl UpstreamClient {
    /// `metrics` comes from [`UpstreamMetrics::register`], called once per registry; clients
    /// of one service share it (each call is labelled with its client's `name`).
    pub fn new(settings: UpstreamSettings, metrics: UpstreamMetrics) -> Result<Self, String> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_nodelay(true);
        // The TLS layer below decides between http and https.
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|err| format!("cannot set up TLS: {err}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(128)
            .pool_timer(TokioTimer::new())
            .build(connector);
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
        headers: HeaderMap,
    ) -> (Result<T, UpstreamError>, Option<HeaderMap>) {
        let started = Instant::now();
        let mut answered = None;
        let result = self
            .get_bytes(url, headers, &mut answered)
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
            tracing::debug!(upstream = self.settings.name, reason = %err, "upstream call failed");
        }
        (result, answered)
    }

    async fn get_bytes(
        &self,
        url: &Url,
        headers: HeaderMap,
        answered: &mut Option<HeaderMap>,
    ) -> Result<Bytes, UpstreamError> {
        let name = self.settings.name;
        // The url crate writes valid URIs; should one ever not be, there is nothing to reach.
        let uri = Uri::try_from(url.as_str()).map_err(|_| UpstreamError::Unreachable(name))?;
        let mut request = Request::new(Empty::new()); // GET, the default method
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        request.headers_mut().insert(USER_AGENT, USER_AGENT_VALUE);

        // Waiting for a free slot counts against the call's budget, so a caller never waits
        // longer than the timeout in all.
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        let _permit = tokio::time::timeout_at(deadline, self.in_flight.acquire())
            .await
            .map_err(|_| UpstreamError::Saturated(name))?
            .map_err(|_| UpstreamError::Saturated(name))?;
        let _in_flight = self.metrics.start_call(name);
        tokio::time::timeout_at(deadline, self.exchange(request, answered))
            .await
            .map_err(|_| UpstreamError::Timeout(name))?
    }

    async fn exchange(
        &self,
        request: Request<Empty<Bytes>>,
        answered: &mut Option<HeaderMap>,
    ) -> Result<Bytes, UpstreamError> {
        let name = self.settings.name;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|err| request_error(name, &err))?;
        let (head, body) = response.into_parts();
        *answered = Some(head.headers);
        if !head.status.is_success() {
            return Err(UpstreamError::Status(name, head.status.as_u16()));
        }
        let cap = self.settings.max_body_bytes;
        // A declared length over the cap is refused before reading a byte.
        if body.size_hint().lower() > cap as u64 {
            return Err(UpstreamError::TooLarge(name));
        }
        let body = Limited::new(body, cap);
        match body.collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(err) if err.is::<LengthLimitError>() => Err(UpstreamError::TooLarge(name)),
            // Cut off or garbled mid-body: what arrived cannot be used.
            Err(_) => Err(UpstreamError::Malformed(name)),
        }
    }
}

/// An answer that is not HTTP could not be understood; anything else kept us from the upstream
/// (refused, reset, closed before answering).
fn request_error(name: &'static str, err: &hyper_util::client::legacy::Error) -> UpstreamError {
    let not_http = err
        .source()
        .and_then(|source| source.downcast_ref::<hyper::Error>())
        .is_some_and(hyper::Error::is_parse);
    if not_http && !err.is_connect() {
        UpstreamError::Malformed(name)
    } else {
        UpstreamError::Unreachable(name)
    }
}
