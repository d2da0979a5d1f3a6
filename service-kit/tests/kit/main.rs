//! service-kit's integration tests, one binary: each module starts the kit's real app (or its
//! upstream client) against servers the test itself runs on loopback.

mod access_log;
mod connections;
mod in_flight;
mod limits;
mod logs;
mod metrics;
mod outcomes;
mod process_metrics;
mod request_id;
mod request_span;
mod tls;
mod trace_context;

use axum::Router;
use axum::routing::get;
use service_kit::AppParts;
use service_kit::app::build;
use service_kit::metrics::Registry;
use service_kit::server::ShutdownSettings;
use service_kit_testing::TestServer;

/// A service on the kit with one route, `GET /` answering `hello`, and the kit's 404 and 405.
async fn start_unit_app(log_probes: bool) -> TestServer {
    TestServer::start("unit", ShutdownSettings::IMMEDIATE, |lifecycle| {
        let routes = Router::new()
            .route("/", get(|| async { "hello" }))
            .fallback(service_kit::error::not_found)
            .method_not_allowed_fallback(service_kit::error::method_not_allowed);
        Ok(build(
            routes,
            AppParts {
                service: "unit",
                registry: Registry::default(),
                lifecycle,
                log_probes,
                error_page: None,
            },
        ))
    })
    .await
}
