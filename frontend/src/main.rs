use std::process::ExitCode;

use frontend::{Config, SERVICE, config::DEFAULT_PORT};

#[tokio::main]
async fn main() -> ExitCode {
    let config: Config = service_kit::config::parse(SERVICE);
    service_kit::server::run(SERVICE, DEFAULT_PORT, &config.server, |lifecycle| {
        frontend::app(&config, lifecycle)
    })
    .await
}
