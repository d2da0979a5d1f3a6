//! bird when bird-image misbehaves below HTTP (raw TCP faults) or hangs.

use std::time::{Duration, Instant};

use bird::Config;
use serde_json::Value;
use service_kit::server::ShutdownSettings;
use service_kit_testing::{
    Fault, TestServer, assert_probes_answer_promptly, wait_for_upstream_calls,
};
use url::Url;

async fn start(bird_image: &str, timeout: Duration) -> TestServer {
    let mut config = Config::for_tests(Url::parse(bird_image).unwrap());
    config.bird_image_timeout = timeout;
    config.bird_image_cache_ttl_secs = 0;
    TestServer::start("bird", ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird::app(&config, lifecycle)
    })
    .await
}

#[tokio::test]
async fn every_transport_fault_gives_the_bird_in_disguise_within_the_budget() {
    for fault in Fault::ALL {
        let bird_image = fault.serve().await;
        let app = start(&bird_image, Duration::from_millis(500)).await;
        let started = Instant::now();
        let response = reqwest::get(app.url("/")).await.unwrap();
        let elapsed = started.elapsed();
        println!("{fault:?}: answered in {elapsed:?}");
        assert_eq!(response.status(), 200, "{fault:?}");
        let bird: Value = response.json().await.unwrap();
        assert_eq!(bird["name"], "Bird in disguise", "{fault:?}");
        let description = bird["description"].as_str().unwrap();
        assert!(
            description.starts_with("This bird is in disguise because: bird-image "),
            "{fault:?}: {description}"
        );
        assert!(
            elapsed < Duration::from_millis(1500),
            "{fault:?} took {elapsed:?}"
        );
    }
}

#[tokio::test]
async fn a_hanging_bird_image_does_not_starve_the_probes() {
    let bird_image = Fault::NoHeaders.serve().await;
    let app = start(&bird_image, Duration::from_secs(3)).await;
    let client = reqwest::Client::new();
    let hanging: Vec<_> = (0..50)
        .map(|_| tokio::spawn(client.get(app.url("/")).send()))
        .collect();
    wait_for_upstream_calls(&app, 50).await;
    assert_probes_answer_promptly(&app).await;
    for request in hanging {
        let bird: Value = request.await.unwrap().unwrap().json().await.unwrap();
        assert_eq!(bird["name"], "Bird in disguise");
    }
}
