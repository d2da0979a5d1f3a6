//! One access-log line per request, except for probes and scrapes unless asked for.

use service_kit::testing::LogCapture;

use crate::start_unit_app;

/// The paths of the access-log lines written while `/`, the probes and `/metrics` are asked.
async fn logged_paths(log_probes: bool) -> Vec<String> {
    let logs = LogCapture::default();
    let _guard = logs.install("unit");
    let app = start_unit_app(log_probes).await;
    let client = reqwest::Client::new();
    for path in ["/", "/health", "/ready", "/metrics", "/"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    app.stop().await.unwrap();
    logs.lines()
        .into_iter()
        .filter(|line| line["message"] == "request")
        .map(|line| line["path"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn probes_and_scrapes_are_not_logged_by_default() {
    assert_eq!(logged_paths(false).await, ["/", "/"]);
}

#[tokio::test]
async fn the_setting_logs_probes_and_scrapes_again() {
    assert_eq!(
        logged_paths(true).await,
        ["/", "/health", "/ready", "/metrics", "/"]
    );
}
