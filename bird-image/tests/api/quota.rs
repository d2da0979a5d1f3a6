//! The calls bird-image makes are bounded twice: by its own hourly budget, part of which only
//! bird's catalogue may spend, and by the key's quota that Unsplash reports in
//! `X-Ratelimit-Remaining`. Past either, answers come from the cache, else the default image.

use std::time::Duration;

use crate::support::{metric, photo, photo_for, search, start, wait_for_metric};
use bird_image::clock::ManualClock;
use service_kit::photo::DEFAULT_IMAGE_URL;
use service_kit_testing::LogCapture;
use wiremock::{MockServer, ResponseTemplate};

const OVER_BUDGET: &str = "unsplash_calls_over_budget_total";
const REMAINING: &str = "unsplash_ratelimit_remaining";
const PHOTO: &str = "https://images.unsplash.com/p?w=2000&q=100";

fn found(remaining: u64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(photo("https://images.unsplash.com/p"))
        .insert_header("X-Ratelimit-Limit", "50")
        .insert_header("X-Ratelimit-Remaining", remaining.to_string().as_str())
}

fn warnings(logs: &LogCapture, about: &str) -> usize {
    logs.lines()
        .iter()
        .filter(|line| line["level"] == "WARN" && line["message"].as_str().unwrap().contains(about))
        .count()
}

/// With the budget spent, a name seen before keeps its photo past the TTL and a new name gets
/// the default image; neither reaches Unsplash, and the flood is warned about once.
#[tokio::test]
async fn a_spent_budget_answers_the_last_good_photo_or_else_the_default_image() {
    let logs = LogCapture::default();
    let _guard = crate::support::capture_logs(&logs, tracing::Level::INFO);
    let unsplash = MockServer::start().await;
    search().respond_with(found(40)).mount(&unsplash).await;
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.unsplash_max_calls_per_hour = 1;
        config.cache_ttl_secs = 60;
    })
    .await;
    assert_eq!(photo_for(&app, "Blue%20Jay").await, PHOTO);

    clock.advance(Duration::from_secs(61));
    assert_eq!(photo_for(&app, "Blue%20Jay").await, PHOTO);
    wait_for_metric(&app, "image_cache_failed_refreshes_total", 1.0).await;
    assert_eq!(photo_for(&app, "Blue%20Jay").await, PHOTO, "kept");
    for _ in 0..3 {
        assert_eq!(photo_for(&app, "Mallard").await, DEFAULT_IMAGE_URL);
    }
    assert_eq!(metric(&app, OVER_BUDGET).await, 2.0);
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 1);
    assert_eq!(warnings(&logs, "budget is spent"), 1);

    // An hour after the one call, the budget has room again.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(photo_for(&app, "Cardinal").await, PHOTO);
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 2);
}

/// Unsplash says the key is down to the reserve: no calls for an hour from that answer, one
/// warning, and the figure on /metrics.
#[tokio::test]
async fn the_keys_quota_at_the_reserve_stops_calls_for_an_hour() {
    let logs = LogCapture::default();
    let _guard = crate::support::capture_logs(&logs, tracing::Level::INFO);
    let unsplash = MockServer::start().await;
    let reserve = bird_image::key_quota::RESERVE;
    search()
        .respond_with(found(reserve + 1))
        .up_to_n_times(1)
        .mount(&unsplash)
        .await;
    search()
        .respond_with(found(reserve))
        .up_to_n_times(1)
        .mount(&unsplash)
        .await;
    search().respond_with(found(49)).mount(&unsplash).await;
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.unsplash_max_calls_per_hour = 1000;
    })
    .await;
    assert_eq!(metric(&app, REMAINING).await, 0.0, "absent before any call");

    assert_eq!(photo_for(&app, "Blue%20Jay").await, PHOTO);
    assert_eq!(metric(&app, REMAINING).await, (reserve + 1) as f64);
    assert_eq!(photo_for(&app, "Mallard").await, PHOTO);
    assert_eq!(metric(&app, REMAINING).await, reserve as f64);
    for name in ["Cardinal", "Bald%20Eagle", "made-up", "Cardinal"] {
        assert_eq!(photo_for(&app, name).await, DEFAULT_IMAGE_URL, "{name}");
    }
    assert_eq!(photo_for(&app, "Blue%20Jay").await, PHOTO, "from the cache");
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 2);
    assert_eq!(warnings(&logs, "down to its reserve"), 1);

    clock.advance(Duration::from_secs(3599));
    assert_eq!(
        photo_for(&app, "Great%20Blue%20Heron").await,
        DEFAULT_IMAGE_URL
    );
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 2);

    clock.advance(Duration::from_secs(1));
    assert_eq!(photo_for(&app, "Mourning%20Dove").await, PHOTO);
    assert_eq!(metric(&app, REMAINING).await, 49.0);
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 3);
}

/// Unsplash's rate-limit refusal carries the counter too: it stops calls like any answer.
#[tokio::test]
async fn a_rate_limit_refusal_with_no_calls_left_stops_calls() {
    let unsplash = MockServer::start().await;
    search()
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_string("Rate Limit Exceeded")
                .insert_header("X-Ratelimit-Remaining", "0"),
        )
        .mount(&unsplash)
        .await;
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.unsplash_max_calls_per_hour = 1000;
    })
    .await;
    assert_eq!(photo_for(&app, "Blue%20Jay").await, DEFAULT_IMAGE_URL);
    assert_eq!(photo_for(&app, "Mallard").await, DEFAULT_IMAGE_URL);
    assert_eq!(metric(&app, REMAINING).await, 0.0);
    assert_eq!(metric(&app, OVER_BUDGET).await, 1.0);
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 1);
}

/// A flood of made-up names spends only the part of the budget above the catalogue's reserve,
/// is counted and warned about once; afterwards each of bird's twelve birds still gets its call.
#[tokio::test]
async fn made_up_names_cannot_spend_the_catalogues_calls() {
    let logs = LogCapture::default();
    let _guard = crate::support::capture_logs(&logs, tracing::Level::INFO);
    let unsplash = MockServer::start().await;
    search().respond_with(found(4000)).mount(&unsplash).await;
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.unsplash_max_calls_per_hour = 17;
    })
    .await;
    for n in 0..60 {
        photo_for(&app, &format!("made-up-bird-{n}")).await;
    }
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 5);
    assert_eq!(warnings(&logs, "budget is spent"), 1);
    for bird in bird_catalogue::BIRDS.map(|species| species.name) {
        let url = photo_for(&app, &bird.replace(' ', "%20")).await;
        assert_eq!(url, PHOTO, "{bird}");
    }
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 17);
    assert_eq!(metric(&app, OVER_BUDGET).await, 55.0);
}
