//! bird-image: answers the URL of a photo of a bird, found on Unsplash and cached.

pub mod budget;
pub mod cache;
pub mod clock;
pub mod config;
pub mod key_quota;
pub mod routes;
pub mod store;
pub mod unsplash;

use std::sync::Arc;

use axum::Router;
use service_kit::http_client::{UpstreamClient, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics};
use service_kit::{AppParts, Lifecycle};

pub use config::Config;

use cache::{CacheLimits, ImageCache};
use clock::{Clock, SystemClock};
use store::Store;
use unsplash::{Photo, Unsplash};

pub const SERVICE: &str = "bird-image";

/// Calls to Unsplash in flight at once; a demo key allows 50 an hour, so more is never useful.
const UNSPLASH_MAX_IN_FLIGHT: usize = 8;

/// The complete application: routes, probes, metrics and middleware.
pub fn app(config: &Config, lifecycle: Lifecycle) -> Result<Router, String> {
    app_with_clock(config, lifecycle, Arc::new(SystemClock))
}

/// [`app`] going by `clock` for expiry and the hourly budget (tests move a manual clock).
pub fn app_with_clock(
    config: &Config,
    lifecycle: Lifecycle,
    clock: Arc<dyn Clock>,
) -> Result<Router, String> {
    let mut registry = Registry::default();
    let unsplash = match config
        .unsplash_access_key
        .as_ref()
        .filter(|k| !k.is_empty())
    {
        Some(key) => {
            let mut settings = UpstreamSettings::new("unsplash", config.unsplash_timeout);
            settings.max_in_flight = UNSPLASH_MAX_IN_FLIGHT;
            // `propagate_trace` stays off: Unsplash is a third party, no trace context for it.
            let client = UpstreamClient::new(settings, UpstreamMetrics::register(&mut registry))
                .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
            Some(Unsplash::new(client, &config.unsplash_api_url, key)?)
        }
        None => {
            tracing::warn!(
                service = SERVICE,
                "UNSPLASH_ACCESS_KEY is not set: Unsplash will not be called and every answer is the default image"
            );
            None
        }
    };
    // Connected even without a key, which leaves it unused: /metrics still says whether the
    // store answers (the chart's helm test reads `image_store_up`).
    let store = config
        .cache_url
        .as_ref()
        .map(|url| Store::connect(url, config.cache_timeout, &mut registry))
        .transpose()?;
    let default_photo = Photo {
        url: config.default_image_url.clone(),
        credit: None,
    };
    let cache = ImageCache::new(
        unsplash,
        store,
        default_photo,
        CacheLimits {
            ttl: config.cache_ttl(),
            max_entries: config.cache_max_entries,
            calls_per_hour: config.unsplash_max_calls_per_hour,
            unsplash_timeout: config.unsplash_timeout,
        },
        clock,
        &mut registry,
    );
    Ok(service_kit::app::build(
        routes::router(cache),
        AppParts {
            service: SERVICE,
            registry,
            lifecycle,
            log_probes: config.server.access_log_probes,
            error_page: None,
        },
    ))
}
