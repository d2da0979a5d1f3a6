//! Test support for the bird services, a dev-dependency only: the real app on an ephemeral
//! loopback port ([`TestServer`]), the JSON log lines it writes ([`LogCapture`]), upstreams that
//! hold requests or misbehave ([`GatedUpstream`], [`Fault`]), a service binary run as Kubernetes
//! runs it ([`ServiceProcess`], [`sigterm_under_load`]), and what `/metrics` says.

mod faults;
mod gated_upstream;
mod log_capture;
mod scrape;
mod service_process;
mod shutdown;
mod test_server;
mod tls;

pub use faults::Fault;
pub use gated_upstream::GatedUpstream;
pub use log_capture::LogCapture;
pub use scrape::{assert_probes_answer_promptly, metric_sum, wait_for_upstream_calls};
pub use service_process::{ServiceProcess, free_port};
pub use shutdown::{ShutdownReport, sigterm_under_load};
pub use test_server::TestServer;
pub use tls::self_signed_tls;
