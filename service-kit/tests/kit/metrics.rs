//! `/metrics` stays bounded whatever clients send, and stays a scrape Prometheus accepts.

use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::Method;
use service_kit::http_client::{UpstreamClient, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics};
use service_kit_testing::TestServer;
use url::Url;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::start_unit_app;

/// The samples of a scrape: every line that is not a comment.
fn series(scrape: &str) -> Vec<&str> {
    scrape
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

async fn scrape(client: &reqwest::Client, app: &TestServer) -> String {
    let response = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Made-up methods, on a route and off it, add no series: each maps onto `other`, and each
/// unknown path onto `unmatched`.
#[tokio::test]
async fn a_flood_of_made_up_methods_and_paths_adds_no_series() {
    let app = start_unit_app(false).await;
    let client = reqwest::Client::new();
    let send = |method: &str, path: &str| {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        client.request(method, app.url(path)).send()
    };
    // One request of each shape first, so every series the flood may touch exists.
    for path in ["/", "/nowhere"] {
        send("WARMUP", path).await.unwrap();
        send("GET", path).await.unwrap();
    }
    scrape(&client, &app).await;
    let before = series(&scrape(&client, &app).await).len();

    let long_method = "X".repeat(2000);
    for n in 0..300 {
        let response = send(&format!("FLOOD{n}"), "/").await.unwrap();
        assert_eq!(response.status(), 405);
        send(&format!("FLOOD{n}"), &format!("/made-up/{n}"))
            .await
            .unwrap();
        send("GET", &format!("/made-up/{n}")).await.unwrap();
    }
    let response = send(&long_method, "/").await.unwrap();
    assert_eq!(response.status(), 405);

    let after = scrape(&client, &app).await;
    println!(
        "series before the flood: {before}, after: {}, scrape {} bytes",
        series(&after).len(),
        after.len()
    );
    assert_eq!(series(&after).len(), before, "the flood added series");
    assert!(!after.contains("FLOOD") && !after.contains("XXXX") && !after.contains("made-up"));
    assert!(after.contains(r#"method="other""#));
    assert!(after.contains(r#"route="unmatched""#));
}

/// The scrape's problems Prometheus rejects it for: a family declared twice.
fn repeated_families(scrape: &str) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|declaration| declaration.split(' ').next())
        .filter(|family| !seen.insert(*family))
        .collect()
}

/// A service with two upstreams registers the upstream families once and both clients share
/// them: the scrape declares each family once and holds both upstreams' calls.
#[tokio::test]
async fn two_clients_on_one_registry_give_a_valid_scrape() {
    let upstream = MockServer::start().await;
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&upstream)
        .await;
    let url = Url::parse(&upstream.uri()).unwrap();

    let mut registry = Registry::default();
    let metrics = UpstreamMetrics::register(&mut registry);
    let settings = |name| UpstreamSettings::new(name, Duration::from_secs(2));
    let first = UpstreamClient::new(settings("first"), metrics.clone()).unwrap();
    let second = UpstreamClient::new(settings("second"), metrics).unwrap();
    for client in [&first, &second] {
        let answer = client
            .get_json::<serde_json::Value>(&url, HeaderMap::new())
            .await;
        assert!(answer.is_ok(), "{answer:?}");
    }

    let scrape = service_kit::metrics::render(&registry);
    assert_eq!(repeated_families(&scrape), Vec::<&str>::new(), "{scrape}");
    for name in ["first", "second"] {
        let sample = format!(r#"upstream_requests_total{{upstream="{name}",outcome="ok"}} 1"#);
        assert!(scrape.contains(&sample), "{sample} missing: {scrape}");
    }
    assert!(scrape.ends_with("# EOF\n"));
}
