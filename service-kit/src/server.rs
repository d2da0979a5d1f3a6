//! Binding, serving, and the graceful shutdown sequence:
//! signal -> `/ready` answers 503 while requests are still served (the drain) -> the listener
//! closes -> in-flight requests finish (bounded) -> return, so `main` exits 0.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::config::{Command, ServerArgs};
use crate::lifecycle::Lifecycle;
use crate::traces::Traces;

#[derive(Clone, Copy, Debug)]
pub struct ShutdownSettings {
    /// How long `/ready` answers 503 while requests are still served.
    pub drain: Duration,
    /// How long in-flight requests may take once the listener is closed.
    pub timeout: Duration,
}

impl ShutdownSettings {
    /// No drain and a short wait: for tests and tools that stop a server they started.
    pub const IMMEDIATE: Self = Self {
        drain: Duration::ZERO,
        timeout: Duration::from_secs(5),
    };
}

/// Binds `addr`, naming the service and address in the error.
pub async fn bind(service: &str, addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("{service}: cannot listen on {addr}: {err}"),
        )
    })
}

/// Longest request head (request line and headers) accepted: hyper answers `431` past it,
/// before anything reaches the app.
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;
/// A client gets this long to send a complete request head (slow-header attacks), and an
/// idle keep-alive connection is closed after it. The upstream client's pool lets go sooner.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` over HTTP/1.1 until `signal` resolves, then runs the shutdown sequence.
pub async fn serve(
    service: &'static str,
    listener: TcpListener,
    app: Router,
    lifecycle: Lifecycle,
    settings: ShutdownSettings,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let drained = async {
        signal.await;
        lifecycle.begin_drain();
        tracing::info!(
            service,
            drain_secs = settings.drain.as_secs_f64(),
            "shutdown: draining"
        );
        tokio::time::sleep(settings.drain).await;
    };
    let mut drained = pin!(drained);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES);
    let connections = GracefulShutdown::new();

    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Small JSON answers: send them now rather than waiting for more bytes.
                    let _ = stream.set_nodelay(true);
                    let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
                    let connection = connections.watch(connection);
                    tokio::spawn(async move {
                        if let Err(err) = connection.await {
                            tracing::debug!(service, error = %err, "connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(service, error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut drained => break,
        }
    }
    drop(listener);
    tracing::info!(
        service,
        "shutdown: listener closed, finishing in-flight requests"
    );
    if tokio::time::timeout(settings.timeout, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            service,
            "shutdown: in-flight requests still running at the deadline"
        );
    }
    tracing::info!(service, "shutdown: done");
    Ok(())
}

/// Resolves on SIGTERM (Kubernetes, Docker) or SIGINT (Ctrl-C).
pub async fn termination_signal() {
    let interrupt = on_signal("SIGINT", tokio::signal::ctrl_c());
    #[cfg(unix)]
    let terminate = on_signal("SIGTERM", async {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::terminate())?.recv().await;
        Ok(())
    });
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Resolves when `signal` has arrived. A handler that cannot be installed is no reason to
/// stop: it is logged and never resolves, and the service serves until the other signal.
async fn on_signal(name: &'static str, signal: impl Future<Output = io::Result<()>>) {
    if let Err(err) = signal.await {
        tracing::warn!(signal = name, error = %err, "cannot listen for the signal; serving on");
        std::future::pending::<()>().await;
    }
}

/// Builds the app with a fresh [`Lifecycle`] and binds `addr`. The returned future serves until
/// SIGTERM or SIGINT and then shuts down; binaries that host several services spawn one each.
pub async fn start(
    service: &'static str,
    addr: SocketAddr,
    args: &ServerArgs,
    build: impl FnOnce(Lifecycle) -> Result<Router, String>,
) -> Result<impl Future<Output = Result<(), String>> + Send + 'static, String> {
    let lifecycle = Lifecycle::new();
    let app = build(lifecycle.clone())?;
    let listener = bind(service, addr).await.map_err(|e| e.to_string())?;
    tracing::info!(service, %addr, version = env!("CARGO_PKG_VERSION"), "listening");
    let shutdown = args.shutdown();
    Ok(async move {
        serve(
            service,
            listener,
            app,
            lifecycle,
            shutdown,
            termination_signal(),
        )
        .await
        .map_err(|e| e.to_string())
    })
}

/// Everything a service's `main` does after parsing its configuration: answer the
/// `healthcheck` subcommand, or start logging, build the app, listen and serve until a signal.
pub async fn run(
    service: &'static str,
    default_port: u16,
    args: &ServerArgs,
    build: impl FnOnce(Lifecycle) -> Result<Router, String>,
) -> ExitCode {
    let addr = args.addr(default_port);
    if let Some(Command::Healthcheck) = args.command {
        return crate::healthcheck::run(addr);
    }
    let traces = match Traces::start(service, &args.trace) {
        Ok(traces) => traces,
        Err(reason) => {
            eprintln!("{service}: {reason}");
            return ExitCode::FAILURE;
        }
    };
    crate::logs::init(service, args.log_format, traces.as_ref());
    if let Some(traces) = &traces {
        tracing::info!(service, collector = traces.collector(), "exporting traces");
    }

    let result = async { start(service, addr, args, build).await?.await }.await;
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            tracing::error!(service, reason, "stopped on an error");
            eprintln!("{service}: {reason}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit_testing::LogCapture;

    #[tokio::test(start_paused = true)]
    async fn a_signal_handler_that_cannot_be_installed_starts_no_shutdown() {
        let logs = LogCapture::default();
        let _guard = logs.install("unit");
        let failed = on_signal("SIGINT", async { Err(io::Error::other("no handler")) });
        let waited = tokio::time::timeout(Duration::from_secs(24 * 3600), failed).await;
        assert!(
            waited.is_err(),
            "a failed handler resolved the shutdown signal"
        );
        let warning = &logs.lines()[0];
        assert_eq!(warning["level"], "WARN");
        assert_eq!(warning["signal"], "SIGINT");
        assert_eq!(warning["error"], "no handler");
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_that_arrives_resolves_at_once_and_quietly() {
        let logs = LogCapture::default();
        let _guard = logs.install("unit");
        let arrived = on_signal("SIGTERM", async { Ok(()) });
        // The clock is paused: a signal that never resolved would meet the bound at once.
        let waited = tokio::time::timeout(Duration::from_secs(1), arrived).await;
        assert!(waited.is_ok(), "an arrived signal did not resolve");
        assert_eq!(logs.text(), "", "an arrived signal logged something");
    }
}
