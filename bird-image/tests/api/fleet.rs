//! Several bird-image instances sharing one store (`CACHE_URL`, a real `redis-server`) behave
//! as one: Unsplash, played by wiremock, is asked about a bird once whichever instance asks,
//! an instance started later answers every known bird with no call, and the hourly allowance
//! is the fleet's. The instances share one manual clock, as a fleet shares the time.

use std::time::{Duration, Instant};

use bird_image::Config;
use bird_image::cache::STORE_RECHECK;
use bird_image::clock::ManualClock;
use bird_image::key_quota;
use redis::AsyncCommands;
use service_kit::photo::DEFAULT_IMAGE_URL;
use service_kit_testing::TestServer;
use wiremock::{MockServer, ResponseTemplate};

use crate::store_server::StoreServer;
use crate::support::{
    PHOTO, calls, metric, photo, photo_for, search, start, unsplash_with_a_photo, wait_for_requests,
};

fn found() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(photo("https://images.unsplash.com/p"))
}

/// bird's twelve birds, as they go in a query.
fn catalogue() -> impl Iterator<Item = String> {
    bird_catalogue::BIRDS
        .iter()
        .map(|species| species.name.replace(' ', "%20"))
}

/// A store, a clock, an Unsplash that finds a photo for every name, and `size` instances
/// sharing them.
async fn cold_fleet(
    size: usize,
    configure: impl Fn(&mut Config),
) -> (MockServer, StoreServer, ManualClock, Vec<TestServer>) {
    let unsplash = unsplash_with_a_photo().await;
    let store = StoreServer::start().await;
    let clock = ManualClock::default();
    let fleet = fleet(size, &store, &unsplash, &clock, configure).await;
    (unsplash, store, clock, fleet)
}

/// `size` instances sharing `store`, Unsplash at `unsplash` and `clock`.
async fn fleet(
    size: usize,
    store: &StoreServer,
    unsplash: &MockServer,
    clock: &ManualClock,
    configure: impl Fn(&mut Config),
) -> Vec<TestServer> {
    let mut fleet = Vec::with_capacity(size);
    for _ in 0..size {
        fleet.push(
            start(&unsplash.uri(), clock, |config| {
                config.cache_url = Some(store.cache_url());
                configure(config);
            })
            .await,
        );
    }
    fleet
}

#[tokio::test]
async fn a_cold_fleet_asks_unsplash_once_per_bird() {
    let (unsplash, _store, _clock, fleet) = cold_fleet(3, |_| {}).await;
    for _ in 0..2 {
        for app in &fleet {
            for bird in catalogue() {
                assert_eq!(photo_for(app, &bird).await, PHOTO, "{bird}");
            }
        }
    }
    assert_eq!(
        calls(&unsplash).await,
        12,
        "one call per bird for the fleet"
    );
}

/// Forty requests for a name nobody has looked up, through four instances at once: one
/// instance asks Unsplash, the others wait for its photo in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_name_asked_through_every_instance_at_once_is_one_call() {
    let unsplash = MockServer::start().await;
    search()
        .respond_with(found().set_delay(Duration::from_millis(200)))
        .mount(&unsplash)
        .await;
    let store = StoreServer::start().await;
    let clock = ManualClock::default();
    let fleet = fleet(4, &store, &unsplash, &clock, |_| {}).await;
    let client = reqwest::Client::new();
    let requests = (0..40).map(|n| {
        let request = client
            .get(fleet[n % fleet.len()].url("/?birdName=Mallard"))
            .send();
        async move { request.await.unwrap().json::<String>().await.unwrap() }
    });
    let answers = futures_util::future::join_all(requests).await;
    assert!(answers.iter().all(|url| url == PHOTO), "{answers:?}");
    assert_eq!(calls(&unsplash).await, 1);
}

#[tokio::test]
async fn an_instance_started_late_answers_every_known_bird_with_no_call() {
    let (unsplash, store, clock, fleet) = cold_fleet(2, |_| {}).await;
    for (n, bird) in catalogue().enumerate() {
        photo_for(&fleet[n % 2], &bird).await;
    }
    assert_eq!(calls(&unsplash).await, 12);

    let late = start(&unsplash.uri(), &clock, |config| {
        config.cache_url = Some(store.cache_url());
    })
    .await;
    for bird in catalogue() {
        assert_eq!(photo_for(&late, &bird).await, PHOTO, "{bird}");
    }
    assert_eq!(calls(&unsplash).await, 12, "the late instance made no call");
    assert_eq!(metric(&late, "image_store_hits_total").await, 12.0);
}

/// An allowance of 15 an hour for three instances: names outside the catalogue get the three
/// calls above the twelve kept for bird's birds, whichever instance asks, and each bird still
/// gets its call; an hour later there is room again.
#[tokio::test]
async fn the_fleet_spends_one_allowance_whichever_instance_asks() {
    let (unsplash, _store, clock, fleet) = cold_fleet(3, |config| {
        config.unsplash_max_calls_per_hour = 15;
    })
    .await;
    for (n, app) in fleet.iter().cycle().take(30).enumerate() {
        photo_for(app, &format!("made-up-bird-{n}")).await;
    }
    assert_eq!(calls(&unsplash).await, 3);
    for (bird, app) in catalogue().zip(fleet.iter().cycle()) {
        assert_eq!(photo_for(app, &bird).await, PHOTO, "{bird}");
    }
    assert_eq!(calls(&unsplash).await, 15);
    assert_eq!(
        photo_for(&fleet[0], "one-more-made-up-bird").await,
        DEFAULT_IMAGE_URL
    );
    assert_eq!(calls(&unsplash).await, 15);
    let spent = metric(&fleet[2], "unsplash_calls_spent").await;
    assert_eq!(spent, 15.0, "the fleet's count, as the last claim saw it");

    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        photo_for(&fleet[1], "made-up-bird-after-an-hour").await,
        PHOTO
    );
    assert_eq!(calls(&unsplash).await, 16);
}

/// Past the TTL every instance answers the old photo at once, one of them refreshes it for
/// the fleet, and the others serve the new photo once they read the store again.
#[tokio::test]
async fn a_photo_past_its_ttl_is_refreshed_once_for_the_whole_fleet() {
    const OLD: &str = "https://images.unsplash.com/old?w=2000&q=100";
    const NEW: &str = "https://images.unsplash.com/new?w=2000&q=100";
    let unsplash = MockServer::start().await;
    search()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(photo("https://images.unsplash.com/old")),
        )
        .up_to_n_times(1)
        .mount(&unsplash)
        .await;
    search()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(photo("https://images.unsplash.com/new")),
        )
        .mount(&unsplash)
        .await;
    let store = StoreServer::start().await;
    let clock = ManualClock::default();
    let ttl = Duration::from_secs(3600);
    let fleet = fleet(3, &store, &unsplash, &clock, |config| {
        config.cache_ttl_secs = ttl.as_secs();
    })
    .await;
    for app in &fleet {
        assert_eq!(photo_for(app, "Bald%20Eagle").await, OLD);
    }

    clock.advance(ttl);
    for app in &fleet {
        assert_eq!(
            photo_for(app, "Bald%20Eagle").await,
            OLD,
            "answered at once"
        );
    }
    wait_for_requests(&unsplash, 2).await;
    for app in &fleet {
        wait_for_photo_reread(app, &clock, "Bald%20Eagle", NEW).await;
    }
    assert_eq!(calls(&unsplash).await, 2, "one refresh for the fleet");
}

/// Waits until `app` answers `url` for `bird`, moving `clock` on by [`STORE_RECHECK`] between
/// looks: an instance reads the store again only once its recheck is due, and a background
/// revalidation still under way may set that time after any one move.
async fn wait_for_photo_reread(app: &TestServer, clock: &ManualClock, bird: &str, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while photo_for(app, bird).await != url {
        assert!(Instant::now() < deadline, "{bird} never became {url}");
        clock.advance(STORE_RECHECK);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Unsplash tells one instance the key is down to its reserve: the whole fleet stops calling.
#[tokio::test]
async fn the_keys_reserve_reported_to_one_instance_stops_the_fleet() {
    let unsplash = MockServer::start().await;
    search()
        .respond_with(
            found().insert_header(key_quota::HEADER, key_quota::RESERVE.to_string().as_str()),
        )
        .mount(&unsplash)
        .await;
    let store = StoreServer::start().await;
    let clock = ManualClock::default();
    let fleet = fleet(2, &store, &unsplash, &clock, |_| {}).await;
    assert_eq!(photo_for(&fleet[0], "Blue%20Jay").await, PHOTO);
    for bird in ["Mallard", "Cardinal"] {
        assert_eq!(
            photo_for(&fleet[1], bird).await,
            DEFAULT_IMAGE_URL,
            "{bird}"
        );
    }
    assert_eq!(calls(&unsplash).await, 1);
    assert_eq!(
        metric(&fleet[1], "unsplash_calls_over_budget_total").await,
        2.0
    );
}

/// A pod that died holding a name's claim delays the others only until the claim expires.
#[tokio::test]
async fn a_claim_left_by_a_pod_that_died_holds_the_name_back_only_until_it_expires() {
    let unsplash = unsplash_with_a_photo().await;
    let store = StoreServer::start().await;
    let () = store
        .connection()
        .await
        .set_options(
            "bird-image:lease:mallard",
            "token-of-a-dead-pod",
            redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(300)),
        )
        .await
        .unwrap();
    let clock = ManualClock::default();
    let app = &fleet(1, &store, &unsplash, &clock, |_| {}).await[0];
    assert_eq!(photo_for(app, "Mallard").await, PHOTO);
    assert_eq!(calls(&unsplash).await, 1);
}

/// A lookup that failed holds the fleet's next try of the name back for a minute: other
/// instances answer the default image at once rather than each calling again.
#[tokio::test]
async fn a_failed_lookup_is_not_repeated_by_every_instance() {
    let unsplash = MockServer::start().await;
    search()
        .respond_with(ResponseTemplate::new(500))
        .mount(&unsplash)
        .await;
    let store = StoreServer::start().await;
    let clock = ManualClock::default();
    let fleet = fleet(3, &store, &unsplash, &clock, |_| {}).await;
    for app in &fleet {
        assert_eq!(photo_for(app, "Mallard").await, DEFAULT_IMAGE_URL);
    }
    assert_eq!(calls(&unsplash).await, 1);
}
