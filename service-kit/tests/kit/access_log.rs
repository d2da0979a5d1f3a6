//! One access-log line per request, except for probes and scrapes unless asked for.

use service_kit_testing::LogCapture;

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

/// The fields the CloudWatch queries read, no more, in the order they have always had.
#[tokio::test]
async fn an_access_line_has_exactly_the_documented_fields_in_order() {
    const FIELDS: [&str; 9] = [
        "timestamp",
        "level",
        "service",
        "message",
        "method",
        "path",
        "status_code",
        "response_time",
        "request_id",
    ];
    let logs = LogCapture::default();
    let _guard = logs.install("unit");
    let app = start_unit_app(false).await;
    let response = reqwest::Client::new()
        .get(app.url("/nowhere?q=1"))
        .header("x-request-id", "line-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    app.stop().await.unwrap();

    let text = logs.text();
    let raw = text
        .lines()
        .find(|line| line.contains(r#""message":"request""#))
        .expect("an access-log line");
    let line: serde_json::Value = serde_json::from_str(raw).unwrap();
    let keys: std::collections::BTreeSet<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, FIELDS.into_iter().collect(), "{raw}");
    let positions: Vec<usize> = FIELDS
        .iter()
        .map(|field| raw.find(&format!("\"{field}\":")).unwrap())
        .collect();
    assert!(positions.is_sorted(), "fields out of order: {raw}");

    assert_eq!(line["level"], "INFO");
    assert_eq!(line["service"], "unit");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/nowhere");
    assert_eq!(line["status_code"], 404);
    assert_eq!(line["request_id"], "line-1");
    let response_time = line["response_time"].as_f64().unwrap();
    assert!((0.0..1000.0).contains(&response_time), "{raw}");
}
