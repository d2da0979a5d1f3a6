//! frontend: Bird Explorer, the page that shows one bird full screen. The first bird is rendered
//! on the server; a small script fetches the next ones from `/api/bird`.

pub mod assets;
pub mod bird_api;
pub mod config;
pub mod page;
pub mod routes;
pub mod security;

use std::sync::Arc;

use axum::Router;
use service_kit::http_client::{UpstreamClient, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics};
use service_kit::{AppParts, Lifecycle};

pub use config::Config;

use assets::Assets;
use bird_api::BirdApi;
use routes::AppState;

pub const SERVICE: &str = "frontend";

/// The complete application: pages, API, assets, probes, metrics and middleware.
pub fn app(config: &Config, lifecycle: Lifecycle) -> Result<Router, String> {
    let mut registry = Registry::default();
    let mut settings = UpstreamSettings::new("bird", config.bird_api_timeout);
    // Our own next hop: the trace goes on.
    settings.propagate_trace = true;
    let client = UpstreamClient::new(settings, UpstreamMetrics::register(&mut registry))
        .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
    let state = Arc::new(AppState {
        birds: BirdApi::new(client, config.bird_api_url.clone()),
        assets: Assets::embedded(),
        unsplash_href: page::unsplash_href(&config.unsplash_app_name),
        utm_source: config.unsplash_app_name.clone(),
        srcsets: page::Srcsets::default(),
    });
    let pages = state.clone();
    let app = service_kit::app::build(
        routes::router(state),
        AppParts {
            service: SERVICE,
            registry,
            lifecycle,
            log_probes: config.server.access_log_probes,
            error_page: Some(Arc::new(move |path, refusal| {
                routes::refusal(&pages, path, refusal)
            })),
        },
    );
    Ok(security::with_headers(app))
}
