//! Past the TTL, a name seen before is answered at once from what the cache holds while one
//! background call refreshes it; a failed call keeps the old answer and is retried a minute
//! later. Time is a manual clock: expiry happens when the test says so.

use std::time::{Duration, Instant};

use crate::support::{
    metric, photo, photo_for, search, start, wait_for_metric, wait_for_photo, wait_for_requests,
};
use bird_image::clock::ManualClock;
use service_kit::photo::DEFAULT_IMAGE_URL;
use wiremock::{MockServer, ResponseTemplate};

const TTL: Duration = Duration::from_secs(3600);
const RETRY_AFTER: Duration = Duration::from_secs(60);
const OLD: &str = "https://images.unsplash.com/old?w=2000&q=100";
const NEW: &str = "https://images.unsplash.com/new?w=2000&q=100";
const REFRESHES: &str = "image_cache_refreshes_total";
const FAILED_REFRESHES: &str = "image_cache_failed_refreshes_total";

fn answer(url: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(photo(url))
}

/// An Unsplash whose first search finds the old photo; each test mounts what comes after.
async fn unsplash_with_the_old_photo_once() -> MockServer {
    let unsplash = MockServer::start().await;
    search()
        .respond_with(answer("https://images.unsplash.com/old"))
        .up_to_n_times(1)
        .mount(&unsplash)
        .await;
    unsplash
}

/// Unsplash hangs; a cached photo past its TTL is still answered at once to every caller,
/// and all of them together start a single refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_photo_is_answered_at_once_while_one_call_refreshes_it() {
    let unsplash = unsplash_with_the_old_photo_once().await;
    // Then Unsplash hangs for longer than the test lasts.
    search()
        .respond_with(answer("https://images.unsplash.com/new").set_delay(Duration::from_secs(600)))
        .mount(&unsplash)
        .await;
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.cache_ttl_secs = TTL.as_secs();
        config.unsplash_timeout = Duration::from_secs(60);
    })
    .await;
    assert_eq!(photo_for(&app, "Bald%20Eagle").await, OLD);

    clock.advance(TTL);
    let client = reqwest::Client::new();
    let callers = (0..40).map(|_| {
        let request = client.get(app.url("/?birdName=Bald%20Eagle")).send();
        async move {
            let started = Instant::now();
            let url: String = request.await.unwrap().json().await.unwrap();
            (url, started.elapsed())
        }
    });
    let answers = futures_util::future::join_all(callers).await;
    let slowest = answers.iter().map(|(_, took)| *took).max().unwrap();
    println!("stale answers with Unsplash hanging: slowest of 40 took {slowest:?}");
    assert!(answers.iter().all(|(url, _)| url == OLD));
    // Waiting on Unsplash would take its whole 60 s budget.
    assert!(slowest < Duration::from_secs(5), "took {slowest:?}");

    assert_eq!(
        metric(&app, REFRESHES).await,
        1.0,
        "one refresh for 40 callers"
    );
    wait_for_requests(&unsplash, 2).await;
    assert_eq!(
        metric(&app, r#"upstream_in_flight{upstream="unsplash"}"#).await,
        1.0,
        "the one refresh hangs"
    );
    // More callers while the refresh hangs start no other.
    assert_eq!(photo_for(&app, "bald%20eagle").await, OLD);
    assert_eq!(metric(&app, REFRESHES).await, 1.0);
}

/// A refresh that fails keeps the photo found before and is tried again a minute later, not
/// sooner; once Unsplash answers again, the new photo is served.
#[tokio::test]
async fn a_failed_refresh_keeps_the_old_photo_and_is_retried_a_minute_later() {
    let unsplash = unsplash_with_the_old_photo_once().await;
    let failing = search()
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&unsplash)
        .await;
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.cache_ttl_secs = TTL.as_secs();
    })
    .await;
    assert_eq!(photo_for(&app, "Mallard").await, OLD);

    clock.advance(TTL);
    assert_eq!(photo_for(&app, "Mallard").await, OLD);
    wait_for_metric(&app, FAILED_REFRESHES, 1.0).await;
    assert_eq!(photo_for(&app, "Mallard").await, OLD, "the failure kept it");

    clock.advance(RETRY_AFTER - Duration::from_secs(1));
    assert_eq!(photo_for(&app, "Mallard").await, OLD);
    assert_eq!(
        metric(&app, REFRESHES).await,
        1.0,
        "not retried before a minute"
    );

    drop(failing);
    search()
        .respond_with(answer("https://images.unsplash.com/new"))
        .mount(&unsplash)
        .await;
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        photo_for(&app, "Mallard").await,
        OLD,
        "answered before the retry ends"
    );
    wait_for_photo(&app, "Mallard", NEW).await;
    assert_eq!(metric(&app, REFRESHES).await, 2.0);
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 3);
}

/// A name whose first lookup failed has the default image; it is asked for again a minute
/// later (in the background, like any refresh), and the photo found then replaces it.
#[tokio::test]
async fn a_name_never_found_is_retried_a_minute_later() {
    let unsplash = MockServer::start().await;
    let failing = search()
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&unsplash)
        .await;
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |_| {}).await;
    assert_eq!(photo_for(&app, "Cardinal").await, DEFAULT_IMAGE_URL);
    clock.advance(RETRY_AFTER - Duration::from_secs(1));
    assert_eq!(photo_for(&app, "Cardinal").await, DEFAULT_IMAGE_URL);
    assert_eq!(metric(&app, REFRESHES).await, 0.0);
    assert_eq!(unsplash.received_requests().await.unwrap().len(), 1);

    drop(failing);
    search()
        .respond_with(answer("https://images.unsplash.com/new"))
        .mount(&unsplash)
        .await;
    clock.advance(Duration::from_secs(1));
    assert_eq!(photo_for(&app, "Cardinal").await, DEFAULT_IMAGE_URL);
    wait_for_photo(&app, "Cardinal", NEW).await;
    assert_eq!(metric(&app, REFRESHES).await, 1.0);
}

/// The cache's warnings carry the id of the request they happened for, with nothing passed to
/// the cache: a failed first lookup that request's, a failed background refresh that of the
/// request that started it.
#[tokio::test]
async fn cache_warnings_carry_the_request_id_of_their_request() {
    let logs = service_kit_testing::LogCapture::default();
    let _guard = crate::support::capture_logs(&logs, tracing::Level::WARN);
    let unsplash = unsplash_with_the_old_photo_once().await;
    search()
        .respond_with(ResponseTemplate::new(500))
        .mount(&unsplash)
        .await;
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.cache_ttl_secs = TTL.as_secs();
    })
    .await;
    let client = reqwest::Client::new();
    let ask = |bird: &str, id: &str| {
        client
            .get(app.url(&format!("/?birdName={bird}")))
            .header("x-request-id", id)
            .send()
    };
    assert_eq!(ask("Mallard", "fills-cache").await.unwrap().status(), 200);
    assert_eq!(
        ask("Blue%20Jay", "first-lookup").await.unwrap().status(),
        200
    );
    clock.advance(TTL);
    assert_eq!(
        ask("Mallard", "starts-refresh").await.unwrap().status(),
        200
    );
    wait_for_metric(&app, FAILED_REFRESHES, 1.0).await;

    let warnings: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|line| line["message"] == "no photo from Unsplash")
        .map(|line| {
            assert_eq!(line["service"], "bird-image", "{line}");
            (line["bird"].clone(), line["request_id"].clone())
        })
        .collect();
    assert_eq!(
        warnings,
        [
            ("Blue Jay".into(), "first-lookup".into()),
            ("Mallard".into(), "starts-refresh".into())
        ]
    );
}
