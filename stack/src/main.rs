//! Runs bird-image, bird and the frontend in one process on their usual ports, each configured
//! from the same environment variables as its own binary (`PORT` excepted: each keeps its own).
//! Without `UNSPLASH_ACCESS_KEY` nothing leaves the machine.

use std::process::ExitCode;

use service_kit::config::ServerArgs;
use service_kit::{Lifecycle, server, telemetry};
use tokio::task::JoinSet;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("bird-stack: {reason}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let bird_image: bird_image::Config = service_kit::config::from_env(bird_image::SERVICE)?;
    let bird: bird::Config = service_kit::config::from_env(bird::SERVICE)?;
    let frontend: frontend::Config = service_kit::config::from_env(frontend::SERVICE)?;
    telemetry::init("bird-stack", bird.server.log_format);

    let mut services = JoinSet::new();
    let image_lifecycle = Lifecycle::new();
    let app = bird_image::app(&bird_image, image_lifecycle.clone())?;
    spawn(
        &mut services,
        bird_image::SERVICE,
        &bird_image.server,
        bird_image::config::DEFAULT_PORT,
        app,
        image_lifecycle,
    )
    .await?;

    let bird_lifecycle = Lifecycle::new();
    let app = bird::app(&bird, bird_lifecycle.clone())?;
    spawn(
        &mut services,
        bird::SERVICE,
        &bird.server,
        bird::config::DEFAULT_PORT,
        app,
        bird_lifecycle,
    )
    .await?;

    let frontend_lifecycle = Lifecycle::new();
    let app = frontend::app(&frontend, frontend_lifecycle.clone())?;
    spawn(
        &mut services,
        frontend::SERVICE,
        &frontend.server,
        frontend::config::DEFAULT_PORT,
        app,
        frontend_lifecycle,
    )
    .await?;

    println!(
        "bird-stack: Bird Explorer http://localhost:{}  bird http://localhost:{}  bird-image http://localhost:{}  (Ctrl-C to stop)",
        frontend::config::DEFAULT_PORT,
        bird::config::DEFAULT_PORT,
        bird_image::config::DEFAULT_PORT,
    );
    while let Some(done) = services.join_next().await {
        done.map_err(|err| err.to_string())??;
    }
    Ok(())
}

async fn spawn(
    services: &mut JoinSet<Result<(), String>>,
    service: &'static str,
    args: &ServerArgs,
    port: u16,
    app: axum::Router,
    lifecycle: Lifecycle,
) -> Result<(), String> {
    let addr = std::net::SocketAddr::new(args.host, port);
    let listener = server::bind(service, addr)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(service, %addr, "listening");
    let shutdown = args.shutdown();
    services.spawn(async move {
        server::serve(
            service,
            listener,
            app,
            lifecycle,
            shutdown,
            server::termination_signal(),
        )
        .await
        .map_err(|e| e.to_string())
    });
    Ok(())
}
