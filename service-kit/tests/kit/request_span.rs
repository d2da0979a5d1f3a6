//! Every line logged while a request is served carries the request's `request_id` and `service`
//! from its span, lines logged deep inside the upstream client included.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use service_kit::AppParts;
use service_kit::app::build;
use service_kit::http_client::{UpstreamClient, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics};
use service_kit::server::ShutdownSettings;
use service_kit_testing::{Fault, LogCapture, TestServer};
use url::Url;

/// A service whose `GET /call` calls `upstream`, which refuses connections; the call's
/// failure is logged inside the client, where no request id is in sight.
async fn start_calling_app(upstream: Url) -> TestServer {
    TestServer::start("caller", ShutdownSettings::IMMEDIATE, |lifecycle| {
        let mut registry = Registry::default();
        let client = UpstreamClient::new(
            UpstreamSettings::new("refusing", Duration::from_secs(2)),
            UpstreamMetrics::register(&mut registry),
        )?;
        let routes = Router::new()
            .route(
                "/call",
                get(
                    |State((client, url)): State<(UpstreamClient, Url)>| async move {
                        match client
                            .get_json::<serde_json::Value>(&url, HeaderMap::new())
                            .await
                        {
                            Ok(_) => StatusCode::OK,
                            Err(_) => StatusCode::BAD_GATEWAY,
                        }
                    },
                ),
            )
            .with_state((client, upstream));
        Ok(build(
            routes,
            AppParts {
                service: "caller",
                registry,
                lifecycle,
                log_probes: false,
                error_page: None,
            },
        ))
    })
    .await
}

#[tokio::test]
async fn a_line_logged_inside_the_upstream_client_carries_the_requests_id_and_service() {
    let logs = LogCapture::default();
    // The process-wide default names another service: `caller` can only come from the span.
    let _guard = logs.install_at("default", tracing::Level::DEBUG);
    let upstream = Url::parse(&Fault::Refused.serve().await).unwrap();
    let app = start_calling_app(upstream).await;
    let response = reqwest::Client::new()
        .get(app.url("/call"))
        .header("x-request-id", "call-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    app.stop().await.unwrap();

    let lines = logs.lines();
    let from_client: Vec<_> = lines
        .iter()
        .filter(|line| line["upstream"] == "refusing")
        .collect();
    assert!(
        !from_client.is_empty(),
        "nothing logged by the client: {lines:?}"
    );
    for line in from_client {
        assert_eq!(line["request_id"], "call-7", "{line}");
        assert_eq!(line["service"], "caller", "{line}");
    }
    // Lines outside any request keep the default service and have no request id.
    let shutdown = lines
        .iter()
        .find(|line| line["message"] == "shutdown: done")
        .expect("the shutdown line");
    assert_eq!(shutdown["service"], "caller", "the kit's own lines name it");
    assert!(shutdown.get("request_id").is_none(), "{shutdown}");
}
