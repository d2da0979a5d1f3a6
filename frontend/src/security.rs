//! Headers every response carries, whatever produced it.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Only the page's own script and stylesheet run; photos may come from any https host (Unsplash
/// hot-linking) or from here (the placeholder); the page cannot be framed, nor post elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' https:; connect-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// No referrer at all: Unsplash's attribution travels in the utm parameters, and hosts that
/// block hot-linking by `Referer` (as some default-image hosts do) still serve the photo.
pub const REFERRER_POLICY: &str = "no-referrer";

/// The cache rule for anything that set none: CloudFront's default would otherwise keep it
/// for 5 minutes (probes, metrics, errors).
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static(REFERRER_POLICY),
    );
    // For browsers that predate frame-ancestors.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(header::CACHE_CONTROL).or_insert(NO_STORE);
    response
}
