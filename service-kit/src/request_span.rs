//! The span every request is served in. Its `service` and `request_id` are on every line logged
//! while the request is served (the JSON formatter takes them from the span); when spans are
//! exported, its `otel.*`, `http.*` and `url.*` fields are those of an OpenTelemetry HTTP server
//! span.

use std::fmt;

use axum::extract::MatchedPath;
use axum::http::Request;
use tracing::Span;
use tracing::field::Empty;

use crate::metrics::method_label;
use crate::request_id;

/// The `request` span of `request`, made once its route is matched and its id is set. When
/// exporting, it continues the trace of the request's `traceparent`, and
/// `http.response.status_code` (and `otel.status_code` for a 5xx) are recorded when it is
/// answered.
///
/// At ERROR, the most severe level, so that whatever level the log filter lets through, the
/// lines it lets through carry the request's context.
pub fn request_span<B>(service: &'static str, request: &Request<B>) -> Span {
    let method = match method_label(request.method()) {
        "other" => "_OTHER",
        known => known,
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(&request_id::HEADER)
        .and_then(|id| id.to_str().ok());
    // A root: a request is served in no other span, and saying so spares looking one up.
    if !crate::traces::is_exporting() {
        // What the log lines need and no more: the other fields would be recorded for nothing.
        return tracing::error_span!(parent: None, "request", service, request_id);
    }
    let span = tracing::error_span!(
        parent: None,
        "request",
        service,
        request_id,
        otel.kind = "server",
        otel.name = %SpanName { method, route },
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    crate::traces::continue_trace(&span, request.headers());
    span
}

/// OpenTelemetry's name for a server span: `GET /api/bird`; the method alone when no route
/// matched, and `HTTP` for a method outside the standard ones.
struct SpanName<'a> {
    method: &'a str,
    route: Option<&'a str>,
}

impl fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = if self.method == "_OTHER" {
            "HTTP"
        } else {
            self.method
        };
        match self.route {
            Some(route) => write!(f, "{method} {route}"),
            None => f.write_str(method),
        }
    }
}
