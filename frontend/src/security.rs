//! Headers every response carries, whatever produced it: pages, assets, probes, metrics, the
//! fallbacks and the kit's own refusals.

use axum::Router;
use axum::http::{HeaderValue, header};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

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

/// `app` with the headers on every answer. Call it on the finished app, so that its layers
/// are the outermost.
pub fn with_headers(app: Router) -> Router {
    let static_value = HeaderValue::from_static;
    app.layer(
        ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::CONTENT_SECURITY_POLICY,
                static_value(CONTENT_SECURITY_POLICY),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                static_value("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::REFERRER_POLICY,
                static_value(REFERRER_POLICY),
            ))
            // For browsers that predate frame-ancestors.
            .layer(SetResponseHeaderLayer::overriding(
                header::X_FRAME_OPTIONS,
                static_value("DENY"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                NO_STORE,
            )),
    )
}
