//! Runs bird-image, bird and the frontend in one process on their usual ports, each configured
//! from the same environment variables as its own binary (`PORT` excepted: each keeps its own,
//! or takes `BIRD_IMAGE_PORT`, `BIRD_PORT`, `FRONTEND_PORT`).
//! Without `UNSPLASH_ACCESS_KEY` nothing leaves the machine.
//!
//! Each service runs on a thread of its own with a single-threaded runtime and its own
//! subscriber as that thread's default, so its log lines carry its name and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, its spans carry its own `service.name`: a page view is
//! one trace across three services, as in a cluster.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread::JoinHandle;

use axum::Router;
use clap::Parser;
use service_kit::config::ServerArgs;
use service_kit::traces::Traces;
use service_kit::{Lifecycle, logs, server};

/// The stack's own settings: a port per service, as one `PORT` cannot serve three.
#[derive(Debug, Parser)]
#[command(
    name = "bird-stack",
    version,
    about = "Runs bird-image, bird and the frontend in one process, for a laptop",
    after_help = "Everything else each service reads from its own environment variables, as \
                  its own binary does (HOST, LOG_FORMAT, UNSPLASH_ACCESS_KEY, BIRD_IMAGE_URL, \
                  BIRD_API_URL, ...; the README lists them). Without UNSPLASH_ACCESS_KEY \
                  nothing leaves the machine."
)]
struct Ports {
    /// Port of bird-image.
    #[arg(long, env = "BIRD_IMAGE_PORT", default_value_t = bird_image::config::DEFAULT_PORT)]
    bird_image_port: u16,
    /// Port of bird.
    #[arg(long, env = "BIRD_PORT", default_value_t = bird::config::DEFAULT_PORT)]
    bird_port: u16,
    /// Port of the frontend.
    #[arg(long, env = "FRONTEND_PORT", default_value_t = frontend::config::DEFAULT_PORT)]
    frontend_port: u16,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("bird-stack: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    // First, so that `--help` and `--version` answer before anything starts.
    let ports: Ports = service_kit::config::parse("bird-stack");
    let bird_image: bird_image::Config = service_kit::config::from_env(bird_image::SERVICE)?;
    let bird: bird::Config = service_kit::config::from_env(bird::SERVICE)?;
    let frontend: frontend::Config = service_kit::config::from_env(frontend::SERVICE)?;
    // For whatever is logged outside the three services' threads.
    logs::init("bird-stack", bird.server.log_format, None);

    // HOST and the rest come from the environment.
    let on = |args: &ServerArgs, port| SocketAddr::new(args.host, port);
    let services = [
        host(
            bird_image::SERVICE,
            on(&bird_image.server, ports.bird_image_port),
            bird_image.server.clone(),
            move |lifecycle| bird_image::app(&bird_image, lifecycle),
        )?,
        host(
            bird::SERVICE,
            on(&bird.server, ports.bird_port),
            bird.server.clone(),
            move |lifecycle| bird::app(&bird, lifecycle),
        )?,
        host(
            frontend::SERVICE,
            on(&frontend.server, ports.frontend_port),
            frontend.server.clone(),
            move |lifecycle| frontend::app(&frontend, lifecycle),
        )?,
    ];

    println!(
        "bird-stack: Bird Explorer http://localhost:{}  bird http://localhost:{}  bird-image http://localhost:{}  (Ctrl-C to stop)",
        ports.frontend_port, ports.bird_port, ports.bird_image_port,
    );
    for service in services {
        service
            .join()
            .map_err(|_| "a service thread panicked".to_owned())??;
    }
    Ok(())
}

/// Starts `service` on a thread of its own and returns once it listens (or could not start).
/// The thread serves until SIGTERM or SIGINT, sends its last spans and ends.
fn host(
    service: &'static str,
    addr: SocketAddr,
    args: ServerArgs,
    build: impl FnOnce(Lifecycle) -> Result<Router, String> + Send + 'static,
) -> Result<JoinHandle<Result<(), String>>, String> {
    let (listening, started) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(service.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| format!("{service}: cannot start a runtime: {err}"))?;
            runtime.block_on(async move {
                let traces = Traces::start(service, &args.trace)
                    .map_err(|err| format!("{service}: {err}"))?;
                let logs = logs::dispatch(service, args.log_format, traces.as_ref());
                let _default = tracing::dispatcher::set_default(&logs);
                if let Some(traces) = &traces {
                    tracing::info!(service, collector = traces.collector(), "exporting traces");
                }
                let served = match server::start(service, addr, &args, build).await {
                    Ok(serving) => {
                        let _ = listening.send(());
                        serving.await
                    }
                    Err(reason) => Err(reason),
                };
                if let Some(traces) = traces {
                    traces.shutdown().await;
                }
                served
            })
        })
        .map_err(|err| format!("{service}: cannot start a thread: {err}"))?;
    match started.recv() {
        Ok(()) => Ok(thread),
        // The thread ended before listening: its result says why.
        Err(_) => Err(thread
            .join()
            .map_err(|_| format!("{service}: the thread panicked"))?
            .err()
            .unwrap_or_else(|| format!("{service}: stopped before listening"))),
    }
}
