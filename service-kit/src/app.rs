//! Turns a service's routes into the full application: probes, metrics, and the layers every
//! request passes through. tower-http sets and echoes the request id, makes the request span and
//! the access log, limits the body and catches panics; what no layer does (the URI limit, the
//! handler deadline, the kit's answer to an oversized body, `Connection: close` while draining)
//! is [`AroundHandler`].

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pin_project_lite::pin_project;
use serde_json::json;
use tokio::time::Timeout;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::access_log::{self, AccessLog, PROBES, RequestLine};
use crate::error::json_error;
use crate::lifecycle::Lifecycle;
use crate::metrics::{self, HttpMetrics, Registry};
use crate::request_id;
use crate::request_span::request_span;

/// Longest path-and-query accepted; longer requests get `414` before reaching a handler.
pub const MAX_URI_BYTES: usize = 2048;
/// No route reads a request body. A declared length past this is refused with `413`; a
/// streamed body is never read (the connection closes after the answer instead).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Backstop for a handler; every upstream budget is well below it.
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
    /// How the kit's own refusals are answered; `None` answers JSON.
    pub error_page: Option<ErrorPage>,
}

/// Answers one of the kit's own refusals (`413`, `414`, the deadline's `503`) for a request
/// path, given the status, a short code and a message: for a service whose fallbacks answer
/// HTML pages, so that these answer pages too.
pub type ErrorPage =
    Arc<dyn Fn(&str, StatusCode, &'static str, &'static str) -> Response + Send + Sync>;

/// What [`AroundHandler`] needs.
struct Kit {
    refusals: Refusals,
    lifecycle: Lifecycle,
}

/// The kit's own refusals, answered as the service answers its errors.
struct Refusals {
    error_page: Option<ErrorPage>,
}

impl Refusals {
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
    let access_log = AccessLog::new(HttpMetrics::register(&mut registry), log_probes);
    let kit = Arc::new(Kit {
        refusals: Refusals { error_page },
        lifecycle: lifecycle.clone(),
    });
    crate::process_metrics::register(&mut registry);
    let registry = Arc::new(registry);

    let [health_path, ready_path, metrics_path] = PROBES;
    let probes = Router::new()
        .route(health_path, get(health))
        .route(ready_path, get(ready).with_state(lifecycle))
        .route(metrics_path, get(render_metrics).with_state(registry));

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
                    if !log_probes
                        && route.is_some_and(|route| access_log::is_probe(route.as_str()))
                    {
                        return Span::none();
                    }
                    request_span(service, request)
                })
                .on_request(())
                .on_response(access_log)
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(AroundHandlerLayer(kit))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request could not be completed",
            )
        }));
    routes.merge(probes).layer(layers)
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

/// What the kit does around every handler that no tower-http layer does: the URI limit, the
/// handler deadline, the kit's own `413`, `Connection: close` while draining, and the request
/// line the access log reads. One layer rather than one each, and a tower service rather than
/// `middleware::from_fn`, which boxes the stack below it and its future on every request.
#[derive(Clone)]
struct AroundHandlerLayer(Arc<Kit>);

impl<S> Layer<S> for AroundHandlerLayer {
    type Service = AroundHandler<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundHandler {
            inner,
            kit: Arc::clone(&self.0),
        }
    }
}

#[derive(Clone)]
struct AroundHandler<S> {
    inner: S,
    kit: Arc<Kit>,
}

impl<S> Service<Request> for AroundHandler<S>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AroundHandlerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let line = RequestLine::of(&request);
        let handler = (!is_too_long(request.uri()))
            .then(|| tokio::time::timeout(HANDLER_TIMEOUT, self.inner.call(request)));
        AroundHandlerFuture {
            handler,
            line: Some(line),
            kit: Arc::clone(&self.kit),
        }
    }
}

pin_project! {
    struct AroundHandlerFuture<F> {
        // `None` when the URI is over the limit: no handler sees the request.
        #[pin]
        handler: Option<Timeout<F>>,
        line: Option<RequestLine>,
        kit: Arc<Kit>,
    }
}

impl<F, R> Future for AroundHandlerFuture<F>
where
    F: Future<Output = Result<R, Infallible>>,
    R: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answered = match this.handler.as_pin_mut() {
            Some(handler) => Some(ready!(handler.poll(cx))),
            None => None,
        };
        let line = this.line.take().expect("polled after it was ready");
        let refusals = &this.kit.refusals;
        let path = line.path();
        let mut response = match answered {
            None => refusals.refuse(
                path,
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                "the request URI is too long",
            ),
            Some(Ok(Ok(response))) => {
                let response = response.into_response();
                // The body limit's own 413 is plain text; no route answers 413 itself.
                if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    refusals.refuse(
                        path,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        "the request body is too large",
                    )
                } else {
                    response
                }
            }
            Some(Ok(Err(never))) => match never {},
            Some(Err(_elapsed)) => refusals.refuse(
                path,
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long to answer",
            ),
        };
        if this.kit.lifecycle.is_draining() {
            // Clients re-connect elsewhere instead of reusing a connection to a pod going away.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        line.attach(&mut response);
        Poll::Ready(Ok(response))
    }
}

/// A path and query over [`MAX_URI_BYTES`], answered `414`.
fn is_too_long(uri: &Uri) -> bool {
    uri.path_and_query().map_or(0, |pq| pq.as_str().len()) > MAX_URI_BYTES
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
