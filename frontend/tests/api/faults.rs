//! The frontend when bird misbehaves below HTTP (raw TCP faults) or hangs: the page shows its
//! error state and `/api/bird` answers 502, within the budget, and the probes stay fast.

use std::time::{Duration, Instant};

use frontend::Config;
use serde_json::Value;
use service_kit::server::ShutdownSettings;
use service_kit_testing::{
    Fault, TestServer, assert_probes_answer_promptly, wait_for_upstream_calls,
};
use url::Url;

async fn start(bird: &str, timeout: Duration) -> TestServer {
    let mut config = Config::for_tests(Url::parse(bird).unwrap());
    config.bird_api_timeout = timeout;
    TestServer::start("frontend", ShutdownSettings::IMMEDIATE, |lifecycle| {
        frontend::app(&config, lifecycle)
    })
    .await
}

#[tokio::test]
async fn every_transport_fault_gives_a_502_and_the_error_page_within_the_budget() {
    for fault in Fault::ALL {
        let bird = fault.serve().await;
        let app = start(&bird, Duration::from_millis(500)).await;

        let started = Instant::now();
        let api = reqwest::get(app.url("/api/bird")).await.unwrap();
        println!("{fault:?}: /api/bird answered in {:?}", started.elapsed());
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{fault:?}: /api/bird took {:?}",
            started.elapsed()
        );
        assert_eq!(api.status(), 502, "{fault:?}");
        let body: Value = api.json().await.unwrap();
        assert_eq!(body["error"], "bad_gateway", "{fault:?}");

        let started = Instant::now();
        let page = reqwest::get(app.url("/")).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{fault:?}: / took {:?}",
            started.elapsed()
        );
        assert_eq!(page.status(), 502, "{fault:?}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Try again"),
            "{fault:?}: the page offers a retry"
        );
    }
}

#[tokio::test]
async fn a_hanging_bird_does_not_starve_the_probes() {
    let bird = Fault::NoHeaders.serve().await;
    let app = start(&bird, Duration::from_secs(3)).await;
    let client = reqwest::Client::new();
    let hanging: Vec<_> = (0..50)
        .map(|n| {
            let path = if n % 2 == 0 { "/" } else { "/api/bird" };
            tokio::spawn(client.get(app.url(path)).send())
        })
        .collect();
    wait_for_upstream_calls(&app, 50).await;
    assert_probes_answer_promptly(&app).await;
    for request in hanging {
        assert_eq!(request.await.unwrap().unwrap().status(), 502);
    }
}
