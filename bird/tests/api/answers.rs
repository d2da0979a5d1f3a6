//! bird over HTTP: the real app on a random port; bird-image played by wiremock, or the real
//! bird-image in front of a wiremock Unsplash.

use std::time::{Duration, Instant};

use bird::Config;
use bird::catalogue::BIRDS;
use serde_json::{Value, json};
use service_kit::photo::DEFAULT_IMAGE_URL;
use service_kit::server::ShutdownSettings;
use service_kit_testing::{GatedUpstream, LogCapture, TestServer};
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BOUND: Duration = Duration::from_secs(3);

async fn start_bird(bird_image: &str, settings: ShutdownSettings) -> TestServer {
    let mut config = Config::for_tests(Url::parse(bird_image).unwrap());
    config.bird_image_timeout = Duration::from_millis(1000);
    config.bird_image_cache_ttl_secs = 0;
    TestServer::start("bird", settings, |lifecycle| bird::app(&config, lifecycle)).await
}

fn image_answer() -> Value {
    json!({
        "url": "https://images.unsplash.com/photo-9?w=2000&q=100",
        "credit": {
            "name": "Ada Lens",
            "profile_url": "https://unsplash.com/@adalens",
            "photo_url": "https://unsplash.com/photos/abc"
        }
    })
}

/// The `birdName` bird asked bird-image for.
fn bird_name_asked(request: &wiremock::Request) -> String {
    let (_, name) = request
        .url
        .query_pairs()
        .find(|(key, _)| key == "birdName")
        .expect("a birdName parameter");
    name.into_owned()
}

async fn get_bird(url: &str) -> Value {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn answers_a_catalogue_bird_with_its_photo_and_credit() {
    let bird_image = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/image"))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer()))
        .mount(&bird_image)
        .await;
    let app = start_bird(&bird_image.uri(), ShutdownSettings::IMMEDIATE).await;

    let bird = get_bird(&app.url("/")).await;
    let species = BIRDS
        .iter()
        .find(|s| s.name == bird["name"])
        .expect("a bird of the catalogue");
    assert_eq!(bird["description"], species.description);
    assert_eq!(bird["image"], image_answer()["url"]);
    assert_eq!(bird["credit"], image_answer()["credit"]);

    let asked = &bird_image.received_requests().await.unwrap()[0];
    assert_eq!(bird_name_asked(asked), species.name);
}

/// The photo-quality SLI: `bird_answers_total{photo}` counts every answer by the photo it came
/// with, and each answer without a photo logs one line with the same `photo` field, which the
/// CloudWatch metric filter counts. A real photo logs nothing more than its access line.
#[tokio::test]
async fn answers_are_counted_and_logged_by_the_photo_they_came_with() {
    let logs = LogCapture::default();
    let _guard = logs.install("bird");
    let bird_image = MockServer::start().await;
    let app = start_bird(&bird_image.uri(), ShutdownSettings::IMMEDIATE).await;
    let answers = [
        (
            ResponseTemplate::new(200).set_body_json(image_answer()),
            2,
            false,
        ),
        // bird-image's default image: the one answer it gives without a credit.
        (
            ResponseTemplate::new(200)
                .set_body_json(json!({"url": DEFAULT_IMAGE_URL, "credit": null})),
            1,
            false,
        ),
        (ResponseTemplate::new(503), 3, true),
    ];
    for (template, times, disguised) in answers {
        let mounted = Mock::given(path("/v1/image"))
            .respond_with(template)
            .mount_as_scoped(&bird_image)
            .await;
        for _ in 0..times {
            let bird = get_bird(&app.url("/")).await;
            assert_eq!(bird["name"] == "Bird in disguise", disguised, "{bird}");
        }
        drop(mounted);
    }

    let scrape = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (photo, count) in [("real", 2), ("default", 1), ("disguised", 3)] {
        let line = format!("bird_answers_total{{photo=\"{photo}\"}} {count}\n");
        assert!(scrape.contains(&line), "no {line:?} in:\n{scrape}");
    }

    let logged = |photo: &str| {
        logs.lines()
            .into_iter()
            .filter(|line| line["photo"] == photo && line["service"] == "bird")
            .map(|line| line["level"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(logged("real"), Vec::<String>::new());
    assert_eq!(logged("default"), ["INFO"]);
    assert_eq!(logged("disguised"), ["WARN", "WARN", "WARN"]);
}

/// A bird-image behind a path prefix (a gateway's) is asked under that prefix, with or
/// without a trailing slash.
#[tokio::test]
async fn a_path_prefix_in_the_bird_image_url_is_kept() {
    let bird_image = MockServer::start().await;
    Mock::given(path("/images/v1/image"))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer()))
        .mount(&bird_image)
        .await;
    for base in ["/images", "/images/"] {
        let app = start_bird(
            &format!("{}{base}", bird_image.uri()),
            ShutdownSettings::IMMEDIATE,
        )
        .await;
        let bird = get_bird(&app.url("/")).await;
        assert_eq!(bird["image"], image_answer()["url"], "{base}");
    }
}

/// Each way bird-image can fail gives the bird in disguise, with a reason in plain words.
#[tokio::test]
async fn a_failing_bird_image_gives_the_bird_in_disguise() {
    let cases = [
        (
            "slow",
            ResponseTemplate::new(200)
                .set_body_json(image_answer())
                .set_delay(Duration::from_secs(5)),
            "bird-image did not answer in time",
        ),
        (
            "5xx",
            ResponseTemplate::new(500),
            "bird-image answered with status 500",
        ),
        (
            "garbage",
            ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
            "bird-image sent an answer that could not be understood",
        ),
        (
            "a bare string",
            ResponseTemplate::new(200).set_body_json(json!(DEFAULT_IMAGE_URL)),
            "bird-image sent an answer that could not be understood",
        ),
        (
            "not a URL",
            ResponseTemplate::new(200).set_body_json(json!({"url": "not a url", "credit": null})),
            "bird-image sent an answer that could not be understood",
        ),
        (
            "not a web URL",
            ResponseTemplate::new(200)
                .set_body_json(json!({"url": "ftp://files.example/bird.png", "credit": null})),
            "bird-image sent an image address that is not a web URL",
        ),
    ];
    for (case, template, reason) in cases {
        let bird_image = MockServer::start().await;
        Mock::given(path("/v1/image"))
            .respond_with(template)
            .mount(&bird_image)
            .await;
        let app = start_bird(&bird_image.uri(), ShutdownSettings::IMMEDIATE).await;

        let started = Instant::now();
        let bird = get_bird(&app.url("/")).await;
        assert!(
            started.elapsed() < BOUND,
            "{case} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            bird,
            json!({
                "name": "Bird in disguise",
                "description": format!("This bird is in disguise because: {reason}"),
                "image": DEFAULT_IMAGE_URL,
                "credit": null
            }),
            "{case}"
        );
    }
}

#[tokio::test]
async fn bird_image_down_gives_the_bird_in_disguise() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = start_bird(&url, ShutdownSettings::IMMEDIATE).await;
    let started = Instant::now();
    let bird = get_bird(&app.url("/")).await;
    assert!(started.elapsed() < BOUND);
    assert_eq!(bird["name"], "Bird in disguise");
    assert_eq!(
        bird["description"],
        "This bird is in disguise because: bird-image could not be reached"
    );
}

/// With the cache on (bird's default), bird asks bird-image once per bird per TTL however many
/// requests come; a failed answer is not kept, so a recovered bird-image is seen at once.
#[tokio::test]
async fn photos_are_reused_for_the_cache_ttl_and_failures_are_not_kept() {
    let bird_image = MockServer::start().await;
    let mut config = Config::for_tests(Url::parse(&bird_image.uri()).unwrap());
    config.bird_image_cache_ttl_secs = 60;
    let app = TestServer::start("bird", ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird::app(&config, lifecycle)
    })
    .await;
    let asked_names = || async {
        let requests = bird_image.received_requests().await.unwrap();
        requests.iter().map(bird_name_asked).collect::<Vec<_>>()
    };

    let failing = Mock::given(path("/v1/image"))
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&bird_image)
        .await;
    for _ in 0..3 {
        assert_eq!(get_bird(&app.url("/")).await["name"], "Bird in disguise");
    }
    assert_eq!(asked_names().await.len(), 3, "failures are asked again");
    drop(failing);
    bird_image.reset().await;

    Mock::given(path("/v1/image"))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer()))
        .mount(&bird_image)
        .await;
    let mut shown = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let bird = get_bird(&app.url("/")).await;
        assert_ne!(bird["name"], "Bird in disguise", "recovery is seen at once");
        shown.insert(bird["name"].as_str().unwrap().to_owned());
    }
    let mut asked = asked_names().await;
    asked.sort();
    assert_eq!(
        asked,
        shown.iter().cloned().collect::<Vec<_>>(),
        "one call per bird shown, not one per request"
    );

    // Past the TTL on the clock bird's cache goes by, with no wait.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(60)).await;
    tokio::time::resume();
    let again = get_bird(&app.url("/")).await;
    let asked = asked_names().await;
    assert_eq!(
        asked.len(),
        shown.len() + 1,
        "an expired photo is asked for again"
    );
    assert_eq!(asked.last().map(String::as_str), again["name"].as_str());
}

/// The id a client sends reaches bird-image and comes back to the client. (bird-image keeps it
/// from Unsplash, a third party: its own tests check what Unsplash receives.)
#[tokio::test]
async fn the_request_id_travels_to_bird_image_and_comes_back() {
    let bird_image = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/image"))
        .and(header("x-request-id", "trip-77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "url": "https://images.unsplash.com/p?w=2000&q=100",
            "credit": {
                "name": "Ada",
                "profile_url": "https://unsplash.com/@ada",
                "photo_url": "https://unsplash.com/photos/p"
            }
        })))
        .expect(1)
        .mount(&bird_image)
        .await;
    let app = start_bird(&bird_image.uri(), ShutdownSettings::IMMEDIATE).await;

    let response = reqwest::Client::new()
        .get(app.url("/"))
        .header("x-request-id", "trip-77")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trip-77");
    let bird: Value = response.json().await.unwrap();
    assert_eq!(bird["image"], "https://images.unsplash.com/p?w=2000&q=100");
    assert_eq!(bird["credit"]["name"], "Ada");

    // Without an incoming id, one is made up and still echoed.
    let response = reqwest::get(app.url("/health")).await.unwrap();
    assert_eq!(response.headers()["x-request-id"].len(), 36);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = start_bird("http://127.0.0.1:9", ShutdownSettings::IMMEDIATE).await;
    let client = reqwest::Client::new();
    let response = client.get(app.url("/birds")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "not_found"
    );
    let response = client.delete(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "method_not_allowed"
    );
    let response = client
        .post(app.url("/health"))
        .body(vec![b'x'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

/// SIGTERM semantics: /ready turns 503 at once, new requests are still served during the
/// drain, the listener then closes, and a request taken before still gets its answer: the
/// server does not finish while it is in flight. bird-image holds that request until after the
/// listener has closed, so the order of events is fixed, not timed.
#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut bird_image = GatedUpstream::start(image_answer()).await;
    let mut app = start_bird(
        &bird_image.url,
        ShutdownSettings {
            drain: Duration::from_millis(200),
            timeout: Duration::from_secs(30),
        },
    )
    .await;
    let addr = app.addr;
    let client = reqwest::Client::new();
    assert_eq!(
        client.get(app.url("/ready")).send().await.unwrap().status(),
        200
    );

    let in_flight = tokio::spawn(client.get(app.url("/")).send());
    bird_image.arrived().await;
    app.begin_shutdown();

    let ready = client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["connection"], "close");
    assert_eq!(
        client
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let mut stopped = tokio::spawn(app.stop());
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The listener is closed and the request still held: the server must wait for it.
    let early = tokio::time::timeout(Duration::from_millis(300), &mut stopped).await;
    assert!(
        early.is_err(),
        "the server finished with a request in flight"
    );
    assert!(
        !in_flight.is_finished(),
        "the in-flight request was dropped"
    );

    bird_image.open();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let bird: Value = response.json().await.unwrap();
    assert_eq!(bird["image"], image_answer()["url"]);
    stopped.await.unwrap().expect("a clean stop");
}
