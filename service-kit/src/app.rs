//! Turns a service's routes into the full application: probes, metrics, and the middleware
//! every request passes through (request id, limits, access log, metrics, panic guard,
//! deadline).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::error::json_error;
use crate::lifecycle::Lifecycle;
use crate::metrics::{self, HttpMetrics, Registry};
use crate::request_id::{self, RequestId};

/// Longest path-and-query accepted; longer requests get `414` before reaching a handler.
pub const MAX_URI_BYTES: usize = 2048;
/// No route reads a request body. A declared length past this is refused with `413`; a
/// streamed body is never read (the connection closes after the answer instead).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Backstop for a handler; every upstream budget is well below it.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(15);

/// What [`finish`] needs besides the routes.
pub struct AppParts {
    /// `bird`, `bird-image` or `frontend`: the `service` field of every log line.
    pub service: &'static str,
    /// The service's registry, with its own metrics already registered.
    pub registry: Registry,
    pub lifecycle: Lifecycle,
    /// Access-log the probes and scrapes too (`ACCESS_LOG_PROBES`); they are counted in the
    /// metrics either way.
    pub log_probes: bool,
    /// How the kit's own refusals are answered; `None` answers JSON.
    pub error_page: Option<ErrorPage>,
}

/// Answers one of the kit's own refusals (`413`, `414`, the deadline's `503`) for a request
/// path, given the status, a short code and a message: for a service whose fallbacks answer
/// HTML pages, so that these answer pages too.
pub type ErrorPage =
    Arc<dyn Fn(&str, StatusCode, &'static str, &'static str) -> Response + Send + Sync>;

/// The kit's own routes: not traffic, so not access-logged unless asked.
const PROBES: [&str; 3] = ["/health", "/ready", "/metrics"];

struct Observer {
    service: &'static str,
    metrics: HttpMetrics,
    lifecycle: Lifecycle,
    log_probes: bool,
    error_page: Option<ErrorPage>,
}

impl Observer {
    fn refuse(
        &self,
        path: &str,
        status: StatusCode,
        code: &'static str,
        message: &'static str,
    ) -> Response {
        match &self.error_page {
            Some(page) => page(path, status, code, message),
            None => json_error(status, code, message),
        }
    }
}

/// Adds `/health`, `/ready` and `/metrics` to `routes` and wraps everything in the common
/// middleware. `routes` brings its own fallbacks (JSON for APIs, HTML for the frontend).
pub fn finish(routes: Router, parts: AppParts) -> Router {
    let AppParts {
        service,
        mut registry,
        lifecycle,
        log_probes,
        error_page,
    } = parts;
    let observer = Arc::new(Observer {
        service,
        metrics: HttpMetrics::register(&mut registry),
        lifecycle: lifecycle.clone(),
        log_probes,
        error_page,
    });
    let registry = Arc::new(registry);

    let [health_path, ready_path, metrics_path] = PROBES;
    let probes = Router::new()
        .route(health_path, get(health))
        .route(ready_path, get(ready).with_state(lifecycle))
        .route(metrics_path, get(render_metrics).with_state(registry));

    routes.merge(probes).layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(observer, observe))
            .layer(CatchPanicLayer::custom(|_| {
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the request could not be completed",
                )
            })),
    )
}

/// Liveness: the process runs and its runtime answers. Touches nothing else.
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: `503` from the moment shutdown begins, so load balancers stop sending.
async fn ready(State(lifecycle): State<Lifecycle>) -> Response {
    if lifecycle.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        )
            .into_response()
    } else {
        Json(json!({ "status": "ready" })).into_response()
    }
}

async fn render_metrics(State(registry): State<Arc<Registry>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&registry),
    )
        .into_response()
}

/// Request id in and out, the URI and body limits, the deadline, one access-log line (probes
/// only when asked) and the HTTP metrics.
async fn observe(
    State(observer): State<Arc<Observer>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = RequestId::from_incoming(request.headers().get(request_id::HEADER));
    request
        .headers_mut()
        .insert(request_id::HEADER, request_id.0.clone());
    request.extensions_mut().insert(request_id.clone());

    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());

    let declared_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|len| len.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);

    let mut response = if uri_len > MAX_URI_BYTES {
        observer.refuse(
            &path,
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "the request URI is too long",
        )
    } else if declared_body > MAX_BODY_BYTES as u64 {
        observer.refuse(
            &path,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large",
        )
    } else {
        // Stand-in for the request span of tower-http's layer: the trace's server span.
        let span = tracing::info_span!("request", otel.kind = "server", service = observer.service);
        crate::trace::continue_trace(&span, request.headers());
        let handled = next.run(request).instrument(span);
        match tokio::time::timeout(HANDLER_TIMEOUT, handled).await {
            Ok(response) => response,
            Err(_) => observer.refuse(
                &path,
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long to answer",
            ),
        }
    };

    let headers = response.headers_mut();
    headers.insert(request_id::HEADER, request_id.0.clone());
    if observer.lifecycle.is_draining() {
        // Clients re-connect elsewhere instead of reusing a connection to a pod going away.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    observer.metrics.record(&route, &method, status, elapsed);
    if !observer.log_probes && PROBES.contains(&route.as_str()) {
        return response;
    }
    tracing::info!(
        service = observer.service,
        method = method.as_str(),
        path = path.as_str(),
        status_code = status,
        response_time = elapsed.as_secs_f64() * 1000.0,
        request_id = request_id.as_str(),
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// The answer to a request whose handler never finishes (the clock is paused and jumps
    /// ahead when nothing else can run), and when it came.
    async fn past_the_deadline(error_page: Option<ErrorPage>) -> (Duration, Response) {
        let routes = Router::new().route("/slow", get(std::future::pending::<()>));
        let app = finish(
            routes,
            AppParts {
                service: "unit",
                registry: Registry::default(),
                lifecycle: Lifecycle::new(),
                log_probes: false,
                error_page,
            },
        );
        let started = tokio::time::Instant::now();
        let response = app
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        (started.elapsed(), response)
    }

    async fn text(response: Response) -> String {
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_past_the_deadline_gets_a_json_503() {
        let (waited, response) = past_the_deadline(None).await;
        assert_eq!(waited, HANDLER_TIMEOUT);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(body["error"], "timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn a_service_with_error_pages_answers_the_deadline_with_its_page() {
        let page: ErrorPage = Arc::new(|path, status, code, _| {
            (status, format!("page for {path}: {code}")).into_response()
        });
        let (_, response) = past_the_deadline(Some(page)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(text(response).await, "page for /slow: timeout");
    }
}
