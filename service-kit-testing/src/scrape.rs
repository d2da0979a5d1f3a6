//! Reading a service's `/metrics`, and what tests learn from it.

use std::time::{Duration, Instant};

use crate::TestServer;

/// The sum of the samples of `family` in the service's `/metrics`.
pub async fn metric_sum(base: &str, family: &str) -> f64 {
    let scrape = reqwest::get(format!("{base}/metrics"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("a scrape")
        .text()
        .await
        .expect("a scrape's text");
    scrape
        .lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |sum, sample| sum + sample)
}

/// Waits until at least `calls` upstream calls of the service are under way (its
/// `upstream_in_flight`), polling `/metrics`; panics after ten seconds.
pub async fn wait_for_upstream_calls(server: &TestServer, calls: u64) {
    let started = Instant::now();
    while metric_sum(&server.url(""), "upstream_in_flight").await < calls as f64 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "fewer than {calls} upstream calls ever got under way"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Panics unless `/health`, `/ready` and `/metrics` each answer 200 while the service's
/// upstream calls hang: it waits until a call is under way, asks the probes, and checks that no
/// upstream call ended in the meantime. A probe that waited behind the hang could only answer
/// once the calls had given up, so this needs no clock.
pub async fn assert_probes_answer_promptly(server: &TestServer) {
    let base = server.url("");
    wait_for_upstream_calls(server, 1).await;
    let ended_before = metric_sum(&base, "upstream_requests_total").await;
    let client = reqwest::Client::new();
    for probe in ["/health", "/ready", "/metrics"] {
        let response = client.get(server.url(probe)).send().await.expect(probe);
        assert_eq!(response.status(), 200, "{probe}");
    }
    assert_eq!(
        metric_sum(&base, "upstream_requests_total").await,
        ended_before,
        "the probes answered only after hanging upstream calls had ended"
    );
    assert!(metric_sum(&base, "upstream_in_flight").await > 0.0);
}
