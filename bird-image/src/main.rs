use std::process::ExitCode;

use bird_image::{Config, SERVICE, config::DEFAULT_PORT};
use service_kit::config::Command;
use service_kit::{Lifecycle, server, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config: Config = service_kit::config::parse(SERVICE);
    let addr = config.server.addr(DEFAULT_PORT);
    if let Some(Command::Healthcheck) = config.server.command {
        return service_kit::healthcheck::run(addr);
    }
    telemetry::init(SERVICE, config.server.log_format);

    let lifecycle = Lifecycle::new();
    let result = async {
        let app = bird_image::app(&config, lifecycle.clone())?;
        let listener = server::bind(SERVICE, addr).await.map_err(|e| e.to_string())?;
        tracing::info!(service = SERVICE, %addr, "listening");
        server::serve(SERVICE, listener, app, lifecycle, config.server.shutdown(), server::termination_signal())
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            tracing::error!(service = SERVICE, reason, "bird-image stopped");
            eprintln!("{SERVICE}: {reason}");
            ExitCode::FAILURE
        }
    }
}
