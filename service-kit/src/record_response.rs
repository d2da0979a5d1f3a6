//! What is recorded once a request is answered, as TraceLayer's `on_response`: the HTTP metrics
//! of every request, the status on the request span, and one access-log line (not for probes
//! and scrapes, unless asked).

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response, Uri};
use tower_http::trace::OnResponse;
use tracing::Span;

use crate::metrics::HttpMetrics;
use crate::probes;

#[derive(Clone)]
pub struct RecordResponse {
    metrics: HttpMetrics,
    log_probes: bool,
}

impl RecordResponse {
    pub fn new(metrics: HttpMetrics, log_probes: bool) -> Self {
        Self {
            metrics,
            log_probes,
        }
    }
}

/// The request's method, path and matched route, which `on_response` does not see: carried to
/// it on the answer's extensions.
#[derive(Clone)]
pub struct RequestLine {
    method: Method,
    uri: Uri,
    route: Option<MatchedPath>,
}

impl RequestLine {
    pub fn of<B>(request: &Request<B>) -> Self {
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            route: request.extensions().get::<MatchedPath>().cloned(),
        }
    }

    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// Puts the line on `response`, for [`RecordResponse`], which runs outside whatever answered.
    pub fn attach<B>(self, response: &mut Response<B>) {
        response.extensions_mut().insert(self);
    }
}

impl<B> OnResponse<B> for RecordResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        let Some(line) = response.extensions().get::<RequestLine>() else {
            return;
        };
        let route = line.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        self.metrics
            .record(route, &line.method, status.as_u16(), latency);
        if !self.log_probes && probes::is_probe(route) {
            return;
        }
        tracing::info!(
            method = line.method.as_str(),
            path = line.uri.path(),
            status_code = status.as_u16(),
            response_time = latency.as_secs_f64() * 1000.0,
            "request"
        );
    }
}
