//! `/metrics` stays bounded whatever clients send, and stays a scrape Prometheus accepts.

use axum::Router;
use axum::routing::get;
use reqwest::Method;
use service_kit::metrics::Registry;
use service_kit::server::ShutdownSettings;
use service_kit::testing::TestServer;
use service_kit::{AppParts, finish};

async fn start() -> TestServer {
    TestServer::start("unit", ShutdownSettings::IMMEDIATE, |lifecycle| {
        let routes = Router::new()
            .route("/", get(|| async { "hello" }))
            .fallback(service_kit::error::not_found)
            .method_not_allowed_fallback(service_kit::error::method_not_allowed);
        Ok(finish(
            routes,
            AppParts {
                service: "unit",
                registry: Registry::default(),
                lifecycle,
            },
        ))
    })
    .await
}

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
    let app = start().await;
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
