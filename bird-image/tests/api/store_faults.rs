//! The store is a cache: losing it costs Unsplash calls, never an answer. Killed, hanging or
//! answering garbage, bird-image answers from its own memory and its own small allowance,
//! warns once per outage, keeps `/ready` at 200 and finds the store again by itself. What it
//! reads back is checked like an Unsplash answer, and the store's password shows nowhere.

use std::time::{Duration, Instant};

use bird_image::cache::STORE_RECHECK;
use bird_image::clock::ManualClock;
use bird_image::config::CacheUrl;
use redis::AsyncCommands;
use service_kit_testing::{Fault, LogCapture, ServiceProcess, TestServer};

use crate::store_server::{PASSWORD, StoreServer};
use crate::support::{
    PHOTO, calls, capture_logs, metric, photo_for, start, unsplash_with_a_photo, wait_for_metric,
};

const UNREACHABLE: &str = "store is unreachable";

fn warnings(logs: &LogCapture, about: &str) -> usize {
    logs.lines()
        .iter()
        .filter(|line| line["level"] == "WARN" && line["message"].as_str().unwrap().contains(about))
        .count()
}

async fn ready(app: &TestServer) -> u16 {
    reqwest::get(app.url("/ready"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until the store holds a photo entry for `name` (a background write seen by its effect).
async fn wait_for_entry(store: &StoreServer, name: &str) {
    let mut connection = store.connection().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let entry: Option<String> = connection
            .get(format!("bird-image:photo:{name}"))
            .await
            .unwrap();
        if entry.is_some() {
            return;
        }
        assert!(Instant::now() < deadline, "the store never got {name} back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The store dies and comes back empty: every request is still answered with a photo, each
/// instance warns once, finds the store again by itself, and gives it back the photos it
/// holds, so an instance started afterwards needs no call.
#[tokio::test]
async fn the_store_killed_and_restarted_costs_no_answer() {
    let logs = LogCapture::default();
    let _guard = capture_logs(&logs, tracing::Level::INFO);
    let unsplash = unsplash_with_a_photo().await;
    let mut store = StoreServer::start().await;
    let clock = ManualClock::default();
    let cache_url = store.cache_url();
    let with_store = |config: &mut bird_image::Config| config.cache_url = Some(cache_url.clone());
    let a = start(&unsplash.uri(), &clock, with_store).await;
    let b = start(&unsplash.uri(), &clock, with_store).await;
    assert_eq!(photo_for(&a, "Blue%20Jay").await, PHOTO);
    assert_eq!(calls(&unsplash).await, 1);

    store.kill();
    for _ in 0..3 {
        assert_eq!(photo_for(&a, "Blue%20Jay").await, PHOTO, "from memory");
        assert_eq!(
            photo_for(&b, "Blue%20Jay").await,
            PHOTO,
            "on b's own allowance"
        );
        assert_eq!(photo_for(&b, "Mallard").await, PHOTO);
    }
    assert_eq!(calls(&unsplash).await, 3);
    for app in [&a, &b] {
        assert_eq!(ready(app).await, 200);
    }
    // a answered from memory and never needed the store; b found it gone.
    assert_eq!(metric(&a, "image_store_up").await, 1.0);
    assert_eq!(metric(&b, "image_store_up").await, 0.0);
    assert_eq!(
        warnings(&logs, UNREACHABLE),
        1,
        "one warning for b's outage"
    );

    store.restart().await;
    wait_for_metric(&b, "image_store_up", 1.0).await;
    clock.advance(STORE_RECHECK);
    photo_for(&a, "Blue%20Jay").await;
    photo_for(&b, "Mallard").await;
    wait_for_entry(&store, "blue jay").await;
    wait_for_entry(&store, "mallard").await;

    let late = start(&unsplash.uri(), &clock, with_store).await;
    assert_eq!(photo_for(&late, "Blue%20Jay").await, PHOTO);
    assert_eq!(photo_for(&late, "Mallard").await, PHOTO);
    assert_eq!(
        calls(&unsplash).await,
        3,
        "the fleet's memory refilled the store"
    );
    assert_eq!(
        warnings(&logs, UNREACHABLE),
        1,
        "no warning per request, none for a"
    );
}

/// While the store is down each instance spends only its share of the allowance.
#[tokio::test]
async fn without_its_store_an_instance_spends_only_its_share_of_the_allowance() {
    let unsplash = unsplash_with_a_photo().await;
    let nothing_listens = Fault::Refused.serve().await.replace("http://", "redis://");
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.cache_url = Some(CacheUrl::parse(&nothing_listens).unwrap());
        config.unsplash_max_calls_per_hour = 50;
    })
    .await;
    let answers: Vec<String> = {
        let mut answers = Vec::new();
        for bird in bird_catalogue::BIRDS.map(|species| species.name) {
            answers.push(photo_for(&app, &bird.replace(' ', "%20")).await);
        }
        answers
    };
    assert_eq!(calls(&unsplash).await, 5, "50 / OUTAGE_SHARE");
    assert_eq!(answers.iter().filter(|url| *url == PHOTO).count(), 5);
}

/// A store that never answers, or answers bytes that are not its protocol: answers come from
/// Unsplash within bird's budget for a call (3 s), never a 5xx, and the outage is warned
/// about once.
#[tokio::test]
async fn a_store_that_hangs_or_answers_garbage_costs_no_answer() {
    for fault in [Fault::NoHeaders, Fault::NotHttp] {
        let logs = LogCapture::default();
        let _guard = capture_logs(&logs, tracing::Level::INFO);
        let unsplash = unsplash_with_a_photo().await;
        let url = fault.serve().await.replace("http://", "redis://");
        let clock = ManualClock::default();
        let app = start(&unsplash.uri(), &clock, |config| {
            config.cache_url = Some(CacheUrl::parse(&url).unwrap());
        })
        .await;
        let mut slowest = Duration::ZERO;
        for bird in ["Blue%20Jay", "Mallard", "Cardinal", "Blue%20Jay"] {
            let started = Instant::now();
            let response = reqwest::get(app.url(&format!("/?birdName={bird}")))
                .await
                .unwrap();
            slowest = slowest.max(started.elapsed());
            assert_eq!(response.status(), 200, "{fault:?}");
            assert_eq!(response.json::<String>().await.unwrap(), PHOTO, "{fault:?}");
        }
        println!("{fault:?}: slowest answer {slowest:?}");
        assert!(slowest < Duration::from_secs(3), "{fault:?}: {slowest:?}");
        assert_eq!(ready(&app).await, 200);
        assert_eq!(metric(&app, "image_store_up").await, 0.0);
        assert_eq!(warnings(&logs, UNREACHABLE), 1, "{fault:?}");
        // Once it is known to be down, no request waits on the store: at most the first read
        // (if it ran before the start-up ping failed) was tried.
        let reads = r#"image_store_duration_seconds_count{op="read"}"#;
        assert!(metric(&app, reads).await <= 1.0, "{fault:?}");
    }
}

/// What is not a checked photo entry (not JSON, not https, a script URL, oversized, another
/// type of value, a refresh years ahead) is never served: the photo comes from Unsplash and
/// replaces it.
#[tokio::test]
async fn malformed_or_foreign_entries_are_never_served_and_are_replaced() {
    let unsplash = unsplash_with_a_photo().await;
    let store = StoreServer::start().await;
    let mut connection = store.connection().await;
    let strings = [
        ("blue jay", "not json at all".to_owned()),
        (
            "mallard",
            r#"{"url":"http://evil.example/p.png","credit":null,"refresh_at":1}"#.to_owned(),
        ),
        (
            "cardinal",
            r#"{"url":"javascript:alert(1)","credit":null,"refresh_at":1}"#.to_owned(),
        ),
        // A well-formed entry padded past the size any entry of ours has.
        (
            "bald eagle",
            format!(
                r#"{{"url":"https://evil.example/p.png","credit":null,"refresh_at":1}}{}"#,
                " ".repeat(5000)
            ),
        ),
        (
            "great blue heron",
            r#"{"url":"https://evil.example/p.png","credit":null,"refresh_at":99999999999999999}"#
                .to_owned(),
        ),
    ];
    for (name, value) in &strings {
        let () = connection
            .set(format!("bird-image:photo:{name}"), value)
            .await
            .unwrap();
    }
    let () = connection
        .rpush(
            "bird-image:photo:mourning dove",
            "https://evil.example/p.png",
        )
        .await
        .unwrap();
    let clock = ManualClock::default();
    let app = start(&unsplash.uri(), &clock, |config| {
        config.cache_url = Some(store.cache_url());
    })
    .await;
    let names = [
        "Blue Jay",
        "Mallard",
        "Cardinal",
        "Bald Eagle",
        "Great Blue Heron",
        "Mourning Dove",
    ];
    for name in names {
        assert_eq!(
            photo_for(&app, &name.replace(' ', "%20")).await,
            PHOTO,
            "{name}"
        );
    }
    assert_eq!(calls(&unsplash).await, names.len());
    assert_eq!(
        metric(&app, "image_store_rejected_entries_total").await,
        strings.len() as f64
    );
    for name in names {
        let entry: String = connection
            .get(format!("bird-image:photo:{}", name.to_lowercase()))
            .await
            .unwrap();
        assert!(
            entry.contains(r#""url":"https://images.unsplash.com/p?w=2000&q=100""#),
            "{entry}"
        );
    }
}

/// The real binary, logging everything (`RUST_LOG=trace`), with a store that answers and then
/// dies: the password is in no line it writes and not on `/metrics`.
#[tokio::test]
async fn the_store_password_is_in_no_log_line_and_no_metric() {
    let unsplash = unsplash_with_a_photo().await;
    let mut store = StoreServer::start().await;
    let url = store.url();
    let (service, base) = ServiceProcess::start_service(
        env!("CARGO_BIN_EXE_bird-image"),
        &[
            ("RUST_LOG", "trace"),
            ("ACCESS_LOG_PROBES", "true"),
            ("UNSPLASH_API_URL", &unsplash.uri()),
            ("UNSPLASH_ACCESS_KEY", "binary-test-key"),
            ("CACHE_URL", &url),
        ],
    )
    .await;
    let ask = |bird: &str| reqwest::get(format!("{base}/?birdName={bird}"));
    assert_eq!(ask("Blue%20Jay").await.unwrap().status(), 200);
    store.kill();
    assert_eq!(ask("Mallard").await.unwrap().status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !service.stdout().contains(UNREACHABLE) {
        assert!(
            Instant::now() < deadline,
            "no outage warning: {}",
            service.stdout()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let logs = service.stdout();
    assert!(logs.contains("image_store") || logs.contains(UNREACHABLE));
    assert!(!logs.contains(PASSWORD), "the password is logged");
    assert!(!metrics.contains(PASSWORD), "the password is on /metrics");
    assert!(metrics.contains("image_store_up 0"), "{metrics}");
}
