//! Runs bird-image, bird and the frontend in one process on their usual ports, each configured
//! from the same environment variables as its own binary (`PORT` excepted: each keeps its own,
//! or takes `BIRD_IMAGE_PORT`, `BIRD_PORT`, `FRONTEND_PORT`).
//! Without `UNSPLASH_ACCESS_KEY` nothing leaves the machine.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use service_kit::config::ServerArgs;
use service_kit::{server, telemetry};
use tokio::task::JoinSet;

/// The one setting of the stack's own: a port per service, as one `PORT` cannot serve three.
#[derive(Debug, Parser)]
struct Ports {
    #[arg(long, env = "BIRD_IMAGE_PORT", default_value_t = bird_image::config::DEFAULT_PORT)]
    bird_image_port: u16,
    #[arg(long, env = "BIRD_PORT", default_value_t = bird::config::DEFAULT_PORT)]
    bird_port: u16,
    #[arg(long, env = "FRONTEND_PORT", default_value_t = frontend::config::DEFAULT_PORT)]
    frontend_port: u16,
}

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
    let ports: Ports = service_kit::config::from_env("bird-stack")?;
    telemetry::init("bird-stack", bird.server.log_format);

    // HOST and the rest come from the environment.
    let on = |args: &ServerArgs, port| SocketAddr::new(args.host, port);
    let mut services = JoinSet::new();
    services.spawn(
        server::start(
            bird_image::SERVICE,
            on(&bird_image.server, ports.bird_image_port),
            &bird_image.server,
            |lifecycle| bird_image::app(&bird_image, lifecycle),
        )
        .await?,
    );
    services.spawn(
        server::start(
            bird::SERVICE,
            on(&bird.server, ports.bird_port),
            &bird.server,
            |lifecycle| bird::app(&bird, lifecycle),
        )
        .await?,
    );
    services.spawn(
        server::start(
            frontend::SERVICE,
            on(&frontend.server, ports.frontend_port),
            &frontend.server,
            |lifecycle| frontend::app(&frontend, lifecycle),
        )
        .await?,
    );

    println!(
        "bird-stack: Bird Explorer http://localhost:{}  bird http://localhost:{}  bird-image http://localhost:{}  (Ctrl-C to stop)",
        ports.frontend_port, ports.bird_port, ports.bird_image_port,
    );
    while let Some(done) = services.join_next().await {
        done.map_err(|err| err.to_string())??;
    }
    Ok(())
}
