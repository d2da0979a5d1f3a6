//! bird-image when Unsplash misbehaves below HTTP (raw TCP faults) and when it hangs.

use std::time::{Duration, Instant};

use bird_image::Config;
use serde_json::{Value, json};
use service_kit::photo::DEFAULT_IMAGE_URL;
use service_kit::server::ShutdownSettings;
use service_kit_testing::{Fault, TestServer, assert_probes_answer_promptly};
use url::Url;

const IN_FLIGHT: &str = r#"upstream_in_flight{upstream="unsplash"}"#;

async fn start(unsplash: &str, configure: impl FnOnce(&mut Config)) -> TestServer {
    let mut config = Config::for_tests(Url::parse(unsplash).unwrap(), Some("fault-test-key"));
    config.unsplash_timeout = Duration::from_millis(500);
    configure(&mut config);
    TestServer::start("bird-image", ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird_image::app(&config, lifecycle)
    })
    .await
}

/// Every fault answers the default image within the 500 ms budget plus scheduling slack.
#[tokio::test]
async fn every_transport_fault_answers_the_default_image_within_the_budget() {
    for fault in Fault::ALL {
        let unsplash = fault.serve().await;
        let app = start(&unsplash, |_| {}).await;
        let started = Instant::now();
        let response = reqwest::get(app.url("/v1/image?birdName=Blue%20Jay"))
            .await
            .unwrap();
        let elapsed = started.elapsed();
        println!("{fault:?}: answered in {elapsed:?}");
        assert_eq!(response.status(), 200, "{fault:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"url": DEFAULT_IMAGE_URL, "credit": null}),
            "{fault:?}"
        );
        assert!(
            elapsed < Duration::from_millis(1500),
            "{fault:?} took {elapsed:?}"
        );
    }
}

/// While every Unsplash call hangs, probes answer at once, no more than 8 calls are under way,
/// and every caller gets the default image when its budget runs out.
#[tokio::test]
async fn a_hanging_unsplash_starves_neither_probes_nor_callers() {
    let unsplash = Fault::NoHeaders.serve().await;
    let app = start(&unsplash, |config| {
        config.unsplash_timeout = Duration::from_secs(3);
        config.unsplash_max_calls_per_hour = 1000;
    })
    .await;
    let client = reqwest::Client::new();
    let hanging: Vec<_> = (0..30)
        .map(|n| tokio::spawn(client.get(app.url(&format!("/?birdName=bird-{n}"))).send()))
        .collect();
    crate::support::wait_for_metric(&app, IN_FLIGHT, 8.0).await;

    assert_probes_answer_promptly(&app).await;
    assert_eq!(
        crate::support::metric(&app, IN_FLIGHT).await,
        8.0,
        "8 calls may hang at once, the others wait"
    );
    for request in hanging {
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!(DEFAULT_IMAGE_URL)
        );
    }
}
