//! What bird-image's test modules share: the app on a random port going by a manual clock,
//! Unsplash's answers, and reading `/metrics`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bird_image::Config;
use bird_image::clock::ManualClock;
use serde_json::{Value, json};
use service_kit::server::ShutdownSettings;
use service_kit_testing::{LogCapture, TestServer};
use tracing::subscriber::DefaultGuard;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub const KEY: &str = "test-access-key-0123456789";

/// bird-image with a key, Unsplash at `unsplash`, time standing still until `clock` moves.
pub async fn start(
    unsplash: &str,
    clock: &ManualClock,
    configure: impl FnOnce(&mut Config),
) -> TestServer {
    let mut config = Config::for_tests(Url::parse(unsplash).unwrap(), Some(KEY));
    config.unsplash_timeout = Duration::from_millis(500);
    configure(&mut config);
    let clock = Arc::new(clock.clone());
    TestServer::start("bird-image", ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird_image::app_with_clock(&config, lifecycle, clock)
    })
    .await
}

/// Unsplash's search answer with one photo at `url`.
pub fn photo(url: &str) -> Value {
    json!({
        "total": 1, "total_pages": 1,
        "results": [{
            "id": "abc",
            "urls": { "raw": url, "full": url, "regular": url, "small": url },
            "links": { "html": "https://unsplash.com/photos/abc" },
            "user": { "name": "Ada Lens", "links": { "html": "https://unsplash.com/@adalens" } }
        }]
    })
}

pub fn search() -> MockBuilder {
    Mock::given(method("GET")).and(path("/search/photos"))
}

/// The photo URL bird-image answers when Unsplash finds [`unsplash_with_a_photo`]'s photo.
pub const PHOTO: &str = "https://images.unsplash.com/p?w=2000&q=100";

/// An Unsplash that finds the same photo for every name.
pub async fn unsplash_with_a_photo() -> MockServer {
    let unsplash = MockServer::start().await;
    search()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(photo("https://images.unsplash.com/p")),
        )
        .mount(&unsplash)
        .await;
    unsplash
}

/// The calls `unsplash` has received.
pub async fn calls(unsplash: &MockServer) -> usize {
    unsplash.received_requests().await.unwrap().len()
}

/// The photo URL bird-image answers for `bird` (URL-encoded), on the original's route.
pub async fn photo_for(app: &TestServer, bird: &str) -> String {
    let response = reqwest::get(app.url(&format!("/?birdName={bird}")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<String>().await.unwrap()
}

pub async fn metrics(app: &TestServer) -> String {
    reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample `series` (name and labels as rendered), 0 when absent.
pub async fn metric(app: &TestServer, series: &str) -> f64 {
    let text = metrics(app).await;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits until `series` reaches `value`: background work (a refresh) is seen by its effect,
/// however long the shared machine takes, with no sleep that has to guess.
pub async fn wait_for_metric(app: &TestServer, series: &str, value: f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = metric(app, series).await;
        if now == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {now}, never {value}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until bird-image answers `url` for `bird`: a background refresh seen by its effect.
pub async fn wait_for_photo(app: &TestServer, bird: &str, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = photo_for(app, bird).await;
        if now == url {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{bird} is still {now}, never {url}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Routes this thread's events to `logs` at `level` and above, whatever `RUST_LOG` says.
pub fn capture_logs(logs: &LogCapture, level: tracing::Level) -> DefaultGuard {
    logs.install_at("bird-image", level)
}

/// Waits until `unsplash` has received `count` requests (one sent in the background, say).
pub async fn wait_for_requests(unsplash: &MockServer, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let received = unsplash.received_requests().await.unwrap().len();
        if received == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Unsplash received {received} requests, never {count}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
