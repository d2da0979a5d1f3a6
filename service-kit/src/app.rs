//! Turns a service's routes into the full application: probes, metrics, and the layers every
//! request passes through. tower-http sets and echoes the request id, makes the request span and
//! the access log, limits the body, catches panics and bounds the handler's time; what no layer
//! does is [`AroundHandler`](crate::around_handler::AroundHandler).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::around_handler::{Around, AroundHandlerLayer};
use crate::error::{ErrorPage, json_error};
use crate::lifecycle::Lifecycle;
use crate::metrics::{HttpMetrics, Registry};
use crate::record_response::RecordResponse;
use crate::request_span::request_span;
use crate::{probes, request_id};

/// Longest path-and-query accepted; longer requests get `414` before reaching a handler.
pub const MAX_URI_BYTES: usize = 2048;
/// No route reads a request body. A declared length past this is refused with `413`; a
/// streamed body is never read (the connection closes after the answer instead).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Backstop for a handler, answered `503`; every upstream budget is well below it.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(15);

/// What [`build`] needs besides the routes.
pub struct AppParts {
    /// `bird`, `bird-image` or `frontend`: the `service` field of every log line.
    pub service: &'static str,
    /// The service's registry, with its own metrics already registered.
    pub registry: Registry,
    pub lifecycle: Lifecycle,
    /// Access-log the probes and scrapes too (`ACCESS_LOG_PROBES`); they are counted in the
    /// metrics either way.
    pub log_probes: bool,
    /// How the kit's own refusals (`413`, `414`, the deadline's `503`) are answered; `None`
    /// answers JSON.
    pub error_page: Option<ErrorPage>,
}

/// The whole application: `routes` (with its own fallbacks, JSON for APIs, HTML for the
/// frontend), `/health`, `/ready` and `/metrics`, and the layers every request passes through.
pub fn build(routes: Router, parts: AppParts) -> Router {
    let AppParts {
        service,
        mut registry,
        lifecycle,
        log_probes,
        error_page,
    } = parts;
    let record_response = RecordResponse::new(HttpMetrics::register(&mut registry), log_probes);
    let around = Arc::new(Around {
        error_page,
        lifecycle: lifecycle.clone(),
    });
    crate::process_metrics::register(&mut registry);
    let probes = probes::routes(lifecycle, Arc::new(registry));

    // Outermost first. Router::layer wraps each route, so the matched route is known to all.
    let layers = ServiceBuilder::new()
        .map_request(request_id::drop_insane::<Body>)
        .layer(SetRequestIdLayer::x_request_id(request_id::MakeUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |request: &Request| {
                    // Probes are neither logged nor traced unless asked: no span at all.
                    let route = request.extensions().get::<MatchedPath>();
                    if !log_probes && route.is_some_and(|route| probes::is_probe(route.as_str())) {
                        return Span::none();
                    }
                    request_span(service, request)
                })
                .on_request(())
                .on_response(record_response)
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(AroundHandlerLayer(around))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request could not be completed",
            )
        }))
        // A bare 504, which no route answers: AroundHandler answers the kit's refusal instead.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            HANDLER_TIMEOUT,
        ));
    routes.merge(probes).layer(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// The answer to a request whose handler never finishes (the clock is paused and jumps
    /// ahead when nothing else can run), and when it came.
    async fn past_the_deadline(error_page: Option<ErrorPage>) -> (Duration, Response) {
        let routes = Router::new().route("/slow", get(std::future::pending::<()>));
        let app = build(
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
        let answered = app.oneshot(Request::get("/slow").body(Body::empty()).unwrap());
        let response = tokio::time::timeout(2 * HANDLER_TIMEOUT, answered)
            .await
            .expect("the deadline answered")
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
        let page: ErrorPage = Arc::new(|path, refusal| {
            (refusal.status, format!("page for {path}: {}", refusal.code)).into_response()
        });
        let (_, response) = past_the_deadline(Some(page)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(text(response).await, "page for /slow: timeout");
    }
}
