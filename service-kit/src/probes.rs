//! The kit's own routes: liveness, readiness and the metrics scrape. They are not traffic, so
//! they are neither access-logged nor traced unless a setting asks for it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::lifecycle::Lifecycle;
use crate::metrics::{self, Registry};

/// The paths of [`routes`].
pub const PATHS: [&str; 3] = ["/health", "/ready", "/metrics"];

/// Whether `route`, a matched route template, is one of [`PATHS`].
pub fn is_probe(route: &str) -> bool {
    PATHS.contains(&route)
}

/// `/health`, `/ready` and `/metrics`.
pub fn routes(lifecycle: Lifecycle, registry: Arc<Registry>) -> Router {
    let [health_path, ready_path, metrics_path] = PATHS;
    Router::new()
        .route(health_path, get(health))
        .route(ready_path, get(ready).with_state(lifecycle))
        .route(metrics_path, get(scrape).with_state(registry))
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

async fn scrape(State(registry): State<Arc<Registry>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&registry),
    )
        .into_response()
}
