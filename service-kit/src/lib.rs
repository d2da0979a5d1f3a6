//! Plumbing shared by the three bird services, written once: configuration parsing, logs,
//! metrics and traces, the per-request middleware (request ids, access log, limits), health and
//! readiness probes, graceful shutdown, and the outbound HTTP client.
//!
//! A service builds its own [`axum::Router`], hands it to [`app::build`] and runs the result
//! with [`server::run`]. Its tests use the dev-only crate `service-kit-testing`.

pub mod app;
mod around_handler;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod http_client;
pub mod lifecycle;
pub mod logs;
pub mod metrics;
pub mod photo;
pub mod probes;
mod process_metrics;
mod record_response;
pub mod request_id;
pub mod request_span;
pub mod server;
pub mod traces;
pub mod web_url;

pub use app::AppParts;
pub use lifecycle::Lifecycle;
pub use request_id::RequestId;
