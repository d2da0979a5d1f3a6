//! What the kit does around every handler that no tower-http layer does: the URI limit, the
//! kit's own answers in place of the body limit's bare `413` and the deadline's bare `504`,
//! `Connection: close` while draining, and the request line
//! [`RecordResponse`](crate::record_response::RecordResponse) reads. One layer rather than
//! one each, and a tower service rather than `middleware::from_fn`, which boxes the stack below
//! it and its future on every request.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::app::MAX_URI_BYTES;
use crate::error::{ErrorPage, Refusal};
use crate::lifecycle::Lifecycle;
use crate::record_response::RequestLine;

/// What [`AroundHandler`] needs.
pub struct Around {
    /// How the kit's refusals are answered; `None` answers JSON.
    pub error_page: Option<ErrorPage>,
    pub lifecycle: Lifecycle,
}

impl Around {
    fn refuse(&self, path: &str, refusal: &Refusal) -> Response {
        match &self.error_page {
            Some(page) => page(path, refusal),
            None => refusal.json(),
        }
    }
}

/// A path and query over [`MAX_URI_BYTES`], answered `414`.
fn is_too_long(uri: &Uri) -> bool {
    uri.path_and_query().map_or(0, |pq| pq.as_str().len()) > MAX_URI_BYTES
}

#[derive(Clone)]
pub struct AroundHandlerLayer(pub Arc<Around>);

impl<S> Layer<S> for AroundHandlerLayer {
    type Service = AroundHandler<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundHandler {
            inner,
            around: Arc::clone(&self.0),
        }
    }
}

#[derive(Clone)]
pub struct AroundHandler<S> {
    inner: S,
    around: Arc<Around>,
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
        let handler = (!is_too_long(request.uri())).then(|| self.inner.call(request));
        AroundHandlerFuture {
            handler,
            line: Some(line),
            around: Arc::clone(&self.around),
        }
    }
}

pin_project! {
    pub struct AroundHandlerFuture<F> {
        // `None` when the URI is over the limit: no handler sees the request.
        #[pin]
        handler: Option<F>,
        line: Option<RequestLine>,
        around: Arc<Around>,
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
        let around = &this.around;
        let mut response = match answered {
            None => around.refuse(line.path(), &Refusal::URI_TOO_LONG),
            Some(Ok(response)) => {
                let response = response.into_response();
                // The body limit's 413 and the deadline's 504 are bare; no route answers either.
                match response.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => {
                        around.refuse(line.path(), &Refusal::BODY_TOO_LARGE)
                    }
                    StatusCode::GATEWAY_TIMEOUT => around.refuse(line.path(), &Refusal::TIMEOUT),
                    _ => response,
                }
            }
            Some(Err(never)) => match never {},
        };
        if around.lifecycle.is_draining() {
            // Clients re-connect elsewhere instead of reusing a connection to a pod going away.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        line.attach(&mut response);
        Poll::Ready(Ok(response))
    }
}
