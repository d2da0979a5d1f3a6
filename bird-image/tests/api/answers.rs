//! bird-image over HTTP: the real app on a random port, Unsplash played by wiremock.

use std::time::{Duration, Instant};

use crate::support::{KEY, photo, search};
use bird_image::Config;
use serde_json::{Value, json};
use service_kit::photo::DEFAULT_IMAGE_URL;
use service_kit::server::ShutdownSettings;
use service_kit_testing::{LogCapture, TestServer};
use url::Url;
use wiremock::matchers::{header, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Far above the 300 ms Unsplash budget these tests use, far below "hangs".
const BOUND: Duration = Duration::from_secs(3);

async fn start(unsplash: &str, key: Option<&str>, ttl_secs: u64) -> TestServer {
    let mut config = Config::for_tests(Url::parse(unsplash).unwrap(), key);
    config.unsplash_timeout = Duration::from_millis(300);
    config.cache_ttl_secs = ttl_secs;
    TestServer::start("bird-image", ShutdownSettings::IMMEDIATE, |lifecycle| {
        bird_image::app(&config, lifecycle)
    })
    .await
}

fn search_mock(template: ResponseTemplate) -> Mock {
    search().respond_with(template)
}

async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn finds_a_high_resolution_photo_with_credit() {
    let unsplash = MockServer::start().await;
    search()
        .and(query_param("query", "Blue Jay"))
        .and(query_param("page", "1"))
        .and(query_param("per_page", "1"))
        .and(header("authorization", format!("Client-ID {KEY}").as_str()))
        .and(header("accept-version", "v1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo(
            "https://images.unsplash.com/photo-1?ixid=x&w=200&q=80&fm=jpg",
        )))
        .expect(1)
        .mount(&unsplash)
        .await;
    let app = start(&unsplash.uri(), Some(KEY), 3600).await;

    let (status, body) = get_json(&app.url("/v1/image?birdName=Blue%20Jay")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["url"],
        "https://images.unsplash.com/photo-1?ixid=x&fm=jpg&w=2000&q=100"
    );
    assert_eq!(
        body["credit"],
        json!({
            "name": "Ada Lens",
            "profile_url": "https://unsplash.com/@adalens",
            "photo_url": "https://unsplash.com/photos/abc"
        })
    );

    // The original's answer: the same URL as a bare JSON string, from the cache.
    let (status, legacy) = get_json(&app.url("/?birdName=Blue%20Jay")).await;
    assert_eq!(status, 200);
    assert_eq!(legacy, body["url"]);
}

#[tokio::test]
async fn uses_the_regular_url_when_full_is_empty() {
    let unsplash = MockServer::start().await;
    let mut answer = photo("https://images.unsplash.com/regular?w=1080");
    answer["results"][0]["urls"]["full"] = json!("");
    search_mock(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&unsplash)
        .await;
    let app = start(&unsplash.uri(), Some(KEY), 3600).await;
    let (_, body) = get_json(&app.url("/v1/image?birdName=Mallard")).await;
    assert_eq!(
        body["url"],
        "https://images.unsplash.com/regular?w=2000&q=100"
    );
}

/// Every way Unsplash can fail answers the default image, quickly, with a warning.
#[tokio::test]
async fn every_unsplash_failure_answers_the_default_image_in_bounded_time() {
    let huge = "x".repeat(512 * 1024);
    let cases: Vec<(&str, ResponseTemplate)> = vec![
        (
            "timeout",
            ResponseTemplate::new(200)
                .set_body_json(photo("https://i.example/a"))
                .set_delay(Duration::from_secs(5)),
        ),
        ("5xx", ResponseTemplate::new(503)),
        (
            "403 rate limit",
            ResponseTemplate::new(403).set_body_string("Rate Limit Exceeded"),
        ),
        ("429", ResponseTemplate::new(429)),
        (
            "malformed JSON",
            ResponseTemplate::new(200).set_body_string("{\"results\": ["),
        ),
        (
            "zero results",
            ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})),
        ),
        (
            "non-https URL",
            ResponseTemplate::new(200).set_body_json(photo("http://images.unsplash.com/p?w=200")),
        ),
        (
            "oversized body",
            ResponseTemplate::new(200).set_body_string(huge),
        ),
    ];
    for (case, template) in cases {
        let unsplash = MockServer::start().await;
        search_mock(template).expect(1).mount(&unsplash).await;
        let app = start(&unsplash.uri(), Some(KEY), 3600).await;

        let started = Instant::now();
        let (status, body) = get_json(&app.url("/v1/image?birdName=Cardinal")).await;
        assert_eq!(status, 200, "{case}");
        assert_eq!(
            body,
            json!({"url": DEFAULT_IMAGE_URL, "credit": null}),
            "{case}"
        );
        assert!(
            started.elapsed() < BOUND,
            "{case} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn unreachable_unsplash_answers_the_default_image() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = start(&url, Some(KEY), 3600).await;
    let started = Instant::now();
    let (status, body) = get_json(&app.url("/?birdName=Mallard")).await;
    assert_eq!((status, body), (200, json!(DEFAULT_IMAGE_URL)));
    assert!(started.elapsed() < BOUND);
}

#[tokio::test]
async fn concurrent_misses_for_one_bird_make_one_call_and_cached_birds_none() {
    let unsplash = MockServer::start().await;
    search_mock(
        ResponseTemplate::new(200)
            .set_body_json(photo("https://images.unsplash.com/heron"))
            .set_delay(Duration::from_millis(150)),
    )
    .expect(1)
    .mount(&unsplash)
    .await;
    let app = start(&unsplash.uri(), Some(KEY), 3600).await;
    let client = reqwest::Client::new();

    let requests = (0..50).map(|_| {
        client
            .get(app.url("/?birdName=Great%20Blue%20Heron"))
            .send()
    });
    for response in futures_util::future::join_all(requests).await {
        let body: Value = response.unwrap().json().await.unwrap();
        assert_eq!(
            body,
            json!("https://images.unsplash.com/heron?w=2000&q=100")
        );
    }
    // Case and surrounding spaces do not make a new name.
    let (_, again) = get_json(&app.url("/?birdName=%20great%20blue%20HERON")).await;
    assert_eq!(
        again,
        json!("https://images.unsplash.com/heron?w=2000&q=100")
    );

    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("image_cache_misses_total 1"), "{metrics}");
    assert!(metrics.contains("image_cache_hits_total 50"), "{metrics}");
    assert!(
        metrics.contains(r#"upstream_requests_total{upstream="unsplash",outcome="ok"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_a_key_unsplash_is_never_called() {
    let unsplash = MockServer::start().await;
    search_mock(ResponseTemplate::new(200).set_body_json(photo("https://i.example/x")))
        .expect(0)
        .mount(&unsplash)
        .await;
    let app = start(&unsplash.uri(), None, 3600).await;
    let (status, body) = get_json(&app.url("/v1/image?birdName=Bald%20Eagle")).await;
    assert_eq!(
        (status, body),
        (200, json!({"url": DEFAULT_IMAGE_URL, "credit": null}))
    );
}

#[tokio::test]
async fn missing_or_empty_bird_name_answers_the_default_image() {
    let unsplash = MockServer::start().await;
    search_mock(ResponseTemplate::new(200))
        .expect(0)
        .mount(&unsplash)
        .await;
    let app = start(&unsplash.uri(), Some(KEY), 3600).await;
    for query in ["/", "/?birdName=", "/?birdName=%20%20", "/?other=1"] {
        let (status, body) = get_json(&app.url(query)).await;
        assert_eq!((status, body), (200, json!(DEFAULT_IMAGE_URL)), "{query}");
    }
}

#[tokio::test]
async fn refuses_bad_input_with_short_json_errors() {
    let unsplash = MockServer::start().await;
    search_mock(ResponseTemplate::new(200))
        .expect(0)
        .mount(&unsplash)
        .await;
    let app = start(&unsplash.uri(), Some(KEY), 3600).await;
    let client = reqwest::Client::new();

    let long_name = "a".repeat(10_000);
    let (status, body) = get_json(&app.url(&format!("/?birdName={}", &long_name[..101]))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bird_name_too_long");
    let response = client
        .get(app.url(&format!("/v1/image?birdName={long_name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 414);

    let (status, body) = get_json(&app.url("/v1/image?birdName=a&birdName=b")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_query");

    let (status, body) = get_json(&app.url("/no/such/route")).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    let response = client.post(app.url("/v1/image")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
}

#[tokio::test]
async fn the_key_travels_only_in_the_authorization_header_and_is_never_logged() {
    let logs = LogCapture::default();
    // Every level: a key logged at debug or trace is a leak too.
    let _guard = crate::support::capture_logs(&logs, tracing::Level::TRACE);
    let unsplash = MockServer::start().await;
    search_mock(ResponseTemplate::new(429))
        .mount(&unsplash)
        .await;
    let app = start(&unsplash.uri(), Some(KEY), 3600).await;

    let response = reqwest::get(app.url("/v1/image?birdName=Steller%27s%20Jay"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let metrics = crate::support::metrics(&app).await;

    let received = unsplash.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let call = &received[0];
    assert_eq!(
        call.headers["authorization"],
        format!("Client-ID {KEY}").as_str()
    );
    assert!(!call.url.as_str().contains(KEY));
    assert_eq!(
        call.url
            .query_pairs()
            .find(|(k, _)| k == "query")
            .unwrap()
            .1,
        "Steller's Jay"
    );

    let text = logs.text();
    assert!(
        text.contains("no photo from Unsplash"),
        "the failure is logged: {text}"
    );
    assert!(
        text.contains(r#""level":"DEBUG""#),
        "debug lines are captured too: {text}"
    );
    assert!(!text.contains(KEY), "the key leaked into a log line");
    assert!(!metrics.contains(KEY));
}

/// Unsplash is a third party: of a client's request it gets the bird name, nothing else.
#[tokio::test]
async fn unsplash_gets_the_name_the_key_and_the_api_version_and_nothing_a_client_sent() {
    let unsplash = MockServer::start().await;
    search_mock(ResponseTemplate::new(200).set_body_json(photo("https://images.unsplash.com/p")))
        .expect(1)
        .mount(&unsplash)
        .await;
    let app = start(&unsplash.uri(), Some(KEY), 3600).await;
    let response = reqwest::Client::new()
        .get(app.url("/v1/image?birdName=Blue%20Jay&utm_source=evil"))
        .header("x-request-id", "client-chosen-id")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("tracestate", "vendor=secret")
        .header("cookie", "session=abc123")
        .header("authorization", "Bearer client-token")
        .header("x-forwarded-for", "203.0.113.9")
        .header("user-agent", "hostile-client/1.0")
        .header("accept-version", "v2")
        .header("x-custom", "anything")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let received = unsplash.received_requests().await.unwrap();
    let call = &received[0];
    // What the API needs, plus what any HTTP/1.1 client sends (`host`, `accept`) and the
    // fixed `user-agent` naming this software, never the client's.
    let allowed = [
        "accept",
        "authorization",
        "accept-version",
        "host",
        "user-agent",
    ];
    let mut names: Vec<&str> = call.headers.keys().map(|name| name.as_str()).collect();
    names.sort_unstable();
    assert!(
        names.iter().all(|name| allowed.contains(name)),
        "Unsplash received {names:?}"
    );
    assert_eq!(
        call.headers["authorization"],
        format!("Client-ID {KEY}").as_str()
    );
    assert_eq!(call.headers["accept-version"], "v1");
    let agent = call.headers["user-agent"].to_str().unwrap();
    assert!(agent.starts_with("bird-stack/"), "{agent}");
    let pairs: Vec<(String, String)> = call.url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        [("query", "Blue Jay"), ("page", "1"), ("per_page", "1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

/// A path in UNSPLASH_API_URL (a proxy's prefix, say) is kept, with or without a final slash.
#[tokio::test]
async fn a_path_in_the_unsplash_url_is_kept_as_a_prefix() {
    for base in ["/proxy/unsplash", "/proxy/unsplash/"] {
        let unsplash = MockServer::start().await;
        Mock::given(path("/proxy/unsplash/search/photos"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(photo("https://images.unsplash.com/p")),
            )
            .expect(1)
            .mount(&unsplash)
            .await;
        let app = start(&format!("{}{base}", unsplash.uri()), Some(KEY), 3600).await;
        let (_, body) = get_json(&app.url("/?birdName=Mallard")).await;
        assert_eq!(
            body,
            json!("https://images.unsplash.com/p?w=2000&q=100"),
            "{base}"
        );
    }
}

#[tokio::test]
async fn access_log_lines_carry_the_spec_field_names() {
    let logs = LogCapture::default();
    let _guard = crate::support::capture_logs(&logs, tracing::Level::INFO);
    // Unsplash takes 150 ms, so the response time has a known floor.
    let unsplash = MockServer::start().await;
    search_mock(
        ResponseTemplate::new(200)
            .set_body_json(photo("https://images.unsplash.com/p"))
            .set_delay(Duration::from_millis(150)),
    )
    .mount(&unsplash)
    .await;
    let app = start(&unsplash.uri(), Some(KEY), 3600).await;
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(app.url("/?birdName=Mallard"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    let waited_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");

    let line = logs
        .lines()
        .into_iter()
        .find(|l| l["message"] == "request")
        .expect("an access-log line");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["service"], "bird-image");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/");
    assert_eq!(line["status_code"], 200);
    assert_eq!(line["request_id"], "trace-me-42");
    // In milliseconds: at least Unsplash's 150, at most what the client waited.
    let response_time = line["response_time"].as_f64().unwrap();
    assert!(
        (150.0..=waited_ms).contains(&response_time),
        "response_time {response_time} for a request the client waited {waited_ms} ms for"
    );
    assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
}
