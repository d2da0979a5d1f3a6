//! bird-image when Unsplash misbehaves below HTTP (raw TCP faults), when it is flooded with
//! made-up names, and when its upstream hangs.

use std::time::{Duration, Instant};

use bird_image::Config;
use serde_json::{Value, json};
use service_kit::server::ShutdownSettings;
use service_kit::testing::{Fault, LogCapture, TestServer, assert_probes_answer_promptly};
use url::Url;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const DEFAULT_IMAGE: &str =
    "https://www.pokemonmillennium.net/wp-content/uploads/2015/11/missingno.png";

async fn start(unsplash: &str, configure: impl FnOnce(&mut Config)) -> TestServer {
    let mut config = Config::for_tests(Url::parse(unsplash).unwrap(), Some("fault-test-key"));
    config.unsplash_timeout_ms = Duration::from_millis(500);
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
            json!({"url": DEFAULT_IMAGE, "credit": null}),
            "{fault:?}"
        );
        assert!(
            elapsed < Duration::from_millis(1500),
            "{fault:?} took {elapsed:?}"
        );
    }
}

/// A flood of distinct names spends at most the hourly budget, answers every request, is
/// counted in a metric and warned about once.
#[tokio::test]
async fn a_flood_of_names_cannot_spend_more_than_the_budget() {
    let logs = LogCapture::default();
    let _guard = logs.install("bird-image");
    let unsplash = MockServer::start().await;
    Mock::given(path("/search/photos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .expect(5)
        .mount(&unsplash)
        .await;
    let app = start(&unsplash.uri(), |config| {
        config.unsplash_max_calls_per_hour = 5;
        config.cache_max_entries = 20;
    })
    .await;

    let client = reqwest::Client::new();
    for n in 0..60 {
        let response = client
            .get(app.url(&format!("/?birdName=made-up-bird-{n}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!(DEFAULT_IMAGE)
        );
    }
    let metrics = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("unsplash_calls_over_budget_total 55"),
        "{metrics}"
    );
    let warnings = logs
        .lines()
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .unwrap_or("")
                .contains("budget is spent")
        })
        .count();
    assert_eq!(warnings, 1);
}

/// While every Unsplash call hangs, probes answer at once, no more than 8 calls are under way,
/// and every caller gets the default image when its budget runs out.
#[tokio::test]
async fn a_hanging_unsplash_starves_neither_probes_nor_callers() {
    let unsplash = Fault::NoHeaders.serve().await;
    let app = start(&unsplash, |config| {
        config.unsplash_timeout_ms = Duration::from_secs(3);
    })
    .await;
    let client = reqwest::Client::new();
    let hanging: Vec<_> = (0..30)
        .map(|n| tokio::spawn(client.get(app.url(&format!("/?birdName=bird-{n}"))).send()))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert_probes_answer_promptly(&app).await;
    let metrics = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"upstream_in_flight{upstream="unsplash"} 8"#),
        "8 calls may hang at once, the others wait: {metrics}"
    );
    for request in hanging {
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!(DEFAULT_IMAGE)
        );
    }
}
