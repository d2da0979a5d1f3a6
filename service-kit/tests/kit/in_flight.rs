//! The cap on upstream calls in flight: past it a call waits for a slot, checked by events
//! (calls held at the upstream, one poll of the next call) rather than by sleeping.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{Value, json};
use service_kit::http_client::{UpstreamClient, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics, render};
use service_kit_testing::GatedUpstream;
use url::Url;

const CAP: usize = 8;

#[tokio::test]
async fn past_the_cap_a_call_waits_for_a_slot() {
    let mut upstream = GatedUpstream::start(json!({"ok": true})).await;
    let url = Url::parse(&upstream.url).unwrap();
    let mut registry = Registry::default();
    let mut settings = UpstreamSettings::new("capped", Duration::from_secs(30));
    settings.max_in_flight = CAP;
    let client = UpstreamClient::new(settings, UpstreamMetrics::register(&mut registry)).unwrap();

    let held: Vec<_> = (0..CAP)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { client.get_json::<Value>(&url, HeaderMap::new()).await })
        })
        .collect();
    for _ in 0..CAP {
        upstream.arrived().await;
    }
    let in_flight = |registry: &Registry| {
        render(registry)
            .lines()
            .find_map(|line| line.strip_prefix(r#"upstream_in_flight{upstream="capped"} "#))
            .map(str::to_owned)
    };
    assert_eq!(in_flight(&registry).as_deref(), Some("8"));

    // One poll runs the next call as far as it can go without waiting: past the cap, that is
    // up to the wait for a slot, before it counts as in flight or opens a connection.
    let mut next = std::pin::pin!(client.get_json::<Value>(&url, HeaderMap::new()));
    let first_poll = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await;
    assert!(first_poll.is_pending());
    assert_eq!(
        in_flight(&registry).as_deref(),
        Some("8"),
        "a call past the cap got under way"
    );

    upstream.open();
    for call in held {
        assert_eq!(call.await.unwrap(), Ok(json!({"ok": true})));
    }
    assert_eq!(next.await, Ok(json!({"ok": true})));
    upstream.arrived().await;
    assert_eq!(in_flight(&registry).as_deref(), Some("0"));
}
