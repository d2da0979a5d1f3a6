//! The three services wired together as in production, Unsplash played by wiremock.

use std::time::{Duration, Instant};

use clap::Parser;

use serde_json::{Value, json};
use service_kit::photo::DEFAULT_IMAGE_URL;
use service_kit::server::ShutdownSettings;
use service_kit_testing::{Fault, LogCapture, TestServer};
use url::Url;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "leak-canary-5f3a9c0e7d1b";

struct Stack {
    bird_image: TestServer,
    bird: TestServer,
    frontend: TestServer,
}

/// bird-image -> bird -> frontend, each with its production default budgets.
async fn start_stack(unsplash: &str, key: Option<&str>) -> Stack {
    let image_config = bird_image::Config::for_tests(Url::parse(unsplash).unwrap(), key);
    let bird_image = TestServer::start("bird-image", ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird_image::app(&image_config, lifecycle)
    })
    .await;
    let bird_config = bird::Config::for_tests(Url::parse(&bird_image.url("")).unwrap());
    let bird = TestServer::start("bird", ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird::app(&bird_config, lifecycle)
    })
    .await;
    let frontend_config = frontend::Config::for_tests(Url::parse(&bird.url("")).unwrap());
    let frontend = TestServer::start("frontend", ShutdownSettings::IMMEDIATE, |lifecycle| {
        frontend::app(&frontend_config, lifecycle)
    })
    .await;
    Stack {
        bird_image,
        bird,
        frontend,
    }
}

/// The hop budgets nest: each service gives up on its upstream before its caller gives up on it.
#[test]
fn the_default_timeouts_nest() {
    let image = bird_image::Config::parse_from(["bird-image"]);
    let bird = bird::Config::parse_from(["bird"]);
    let frontend = frontend::Config::parse_from(["frontend"]);
    assert!(image.unsplash_timeout < bird.bird_image_timeout);
    assert!(bird.bird_image_timeout < frontend.bird_api_timeout);
}

/// With Unsplash hanging, bird-image answers the default image at its 2 s budget, before bird's
/// 3 s budget runs out, so the page still gets a real bird (with the default photo) instead of
/// an error.
#[tokio::test]
async fn a_hanging_unsplash_still_gives_the_page_a_real_bird() {
    let unsplash = Fault::NoHeaders.serve().await;
    let stack = start_stack(&unsplash, Some(KEY)).await;
    let started = Instant::now();
    let response = reqwest::get(stack.frontend.url("/api/bird")).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    let bird: Value = response.json().await.unwrap();
    assert_ne!(bird["name"], "Bird in disguise");
    assert_eq!(bird["image"], DEFAULT_IMAGE_URL);
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

/// A known key goes in; it comes out of nothing but the Authorization header sent to Unsplash:
/// not a log line, not a response body or header, not /metrics, of any service, on any path,
/// even when Unsplash echoes it back in an error.
#[tokio::test]
async fn the_access_key_never_leaks() {
    let logs = LogCapture::default();
    let _guard = logs.install("stack");
    let unsplash = MockServer::start().await;
    // A real Unsplash error for a bad key quotes the key; nothing of it may travel further.
    Mock::given(path("/search/photos"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errors": [format!("OAuth error: The access token is invalid: Client-ID {KEY}")]
        })))
        .up_to_n_times(3)
        .mount(&unsplash)
        .await;
    Mock::given(path("/search/photos"))
        .respond_with(crate::one_photo())
        .mount(&unsplash)
        .await;
    let stack = start_stack(&unsplash.uri(), Some(KEY)).await;

    let client = reqwest::Client::new();
    let mut seen = String::new();
    let servers = [&stack.bird_image, &stack.bird, &stack.frontend];
    let paths = [
        "/",
        "/?birdName=Mallard",
        "/v1/image?birdName=Blue%20Jay",
        "/api/bird",
        "/health",
        "/ready",
        "/metrics",
        "/missing",
        "/?birdName=a&birdName=b",
        "/static/../Cargo.toml",
    ];
    for server in servers {
        for path in paths {
            for _ in 0..2 {
                let response = client.get(server.url(path)).send().await.unwrap();
                for (name, value) in response.headers() {
                    seen.push_str(&format!(
                        "{name}: {}\n",
                        String::from_utf8_lossy(value.as_bytes())
                    ));
                }
                seen.push_str(&response.text().await.unwrap());
            }
        }
        let response = client.post(server.url("/")).send().await.unwrap();
        seen.push_str(&response.text().await.unwrap());
    }

    let received = unsplash.received_requests().await.unwrap();
    assert!(received.len() >= 3, "Unsplash was called");
    assert!(received.iter().all(|r| !r.url.as_str().contains(KEY)));
    assert!(!seen.contains(KEY), "the key is in a response");
    let lines = logs.text();
    assert!(lines.lines().count() > 60, "every request was logged");
    assert!(!lines.contains(KEY), "the key is in a log line");
    assert!(
        lines.contains("answered with status 401"),
        "the failure itself is logged"
    );
}
