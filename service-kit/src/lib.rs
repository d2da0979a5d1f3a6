//! Plumbing shared by the three bird services, written once: configuration parsing, JSON logs,
//! the per-request middleware (request ids, access log, metrics, limits), health and readiness
//! probes, graceful shutdown, and the outbound HTTP client.
//!
//! A service builds its own [`axum::Router`], hands it to [`app::build`] and runs the result
//! with [`server::serve`].

pub mod access_log;
pub mod app;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod http_client;
pub mod lifecycle;
pub mod metrics;
pub mod photo;
mod process_metrics;
pub mod request_id;
pub mod request_span;
pub mod server;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
pub mod web_url;

pub use app::AppParts;
pub use lifecycle::Lifecycle;
pub use request_id::RequestId;
