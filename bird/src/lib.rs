//! bird: answers a random North American bird as JSON, with a photo found by bird-image.

pub mod catalogue;
pub mod config;
pub mod images;
pub mod photos;
pub mod routes;

use std::time::Duration;

use axum::Router;
use service_kit::http_client::{UpstreamClient, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics};
use service_kit::{AppParts, Lifecycle};

pub use config::Config;

use images::BirdImage;
use photos::PhotoMetrics;
use routes::AppState;

pub const SERVICE: &str = "bird";

/// The complete application: routes, probes, metrics and middleware.
pub fn app(config: &Config, lifecycle: Lifecycle) -> Result<Router, String> {
    let mut registry = Registry::default();
    let mut settings = UpstreamSettings::new("bird-image", config.bird_image_timeout);
    // Our own next hop: the trace goes on.
    settings.propagate_trace = true;
    let client = UpstreamClient::new(settings, UpstreamMetrics::register(&mut registry))
        .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
    let images = BirdImage::new(
        client,
        &config.bird_image_url,
        Duration::from_secs(config.bird_image_cache_ttl_secs),
    );
    let state = AppState {
        images,
        default_image: config.default_image_url.clone(),
        photos: PhotoMetrics::register(&mut registry),
    };
    Ok(service_kit::app::build(
        routes::router(state),
        AppParts {
            service: SERVICE,
            registry,
            lifecycle,
            log_probes: config.server.access_log_probes,
            error_page: None,
        },
    ))
}
