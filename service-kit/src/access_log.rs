//! What is recorded once a request is answered, as TraceLayer's `on_response`: the HTTP metrics
//! of every request, the status on the request span, and one access-log line (not for probes
//! and scrapes, unless asked).

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, Response, Uri};
use axum::middleware::Next;
use tower_http::trace::OnResponse;
use tracing::Span;

use crate::metrics::HttpMetrics;

/// The kit's own routes: not traffic, so not access-logged unless asked.
pub const PROBES: [&str; 3] = ["/health", "/ready", "/metrics"];

#[derive(Clone)]
pub struct AccessLog {
    metrics: HttpMetrics,
    log_probes: bool,
}

impl AccessLog {
    pub fn new(metrics: HttpMetrics, log_probes: bool) -> Self {
        Self {
            metrics,
            log_probes,
        }
    }
}

/// The request's method, path and matched route, which `on_response` does not see: carried on
/// the response's extensions by [`carry_request_line`].
#[derive(Clone)]
struct RequestLine {
    method: Method,
    uri: Uri,
    route: Option<MatchedPath>,
}

/// Puts the request's [`RequestLine`] on its answer, for [`AccessLog`]. Runs inside the trace
/// layer and outside everything that can answer, so every answer has one.
pub async fn carry_request_line(request: Request, next: Next) -> axum::response::Response {
    let line = RequestLine {
        method: request.method().clone(),
        uri: request.uri().clone(),
        route: request.extensions().get::<MatchedPath>().cloned(),
    };
    let mut response = next.run(request).await;
    response.extensions_mut().insert(line);
    response
}

impl<B> OnResponse<B> for AccessLog {
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
        if !self.log_probes && PROBES.contains(&route) {
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
