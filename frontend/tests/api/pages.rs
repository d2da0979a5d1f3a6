//! frontend over HTTP: the real app on a random port, with bird played by wiremock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use frontend::Config;
use reqwest::Response;
use serde_json::{Value, json};
use service_kit::photo::DEFAULT_IMAGE_URL;
use service_kit::server::ShutdownSettings;
use service_kit_testing::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BOUND: Duration = Duration::from_secs(3);

async fn start_frontend(bird: &str) -> TestServer {
    let mut config = Config::for_tests(Url::parse(bird).unwrap());
    config.bird_api_timeout = Duration::from_millis(400);
    TestServer::start("frontend", ShutdownSettings::IMMEDIATE, |lifecycle| {
        frontend::app(&config, lifecycle)
    })
    .await
}

fn robin() -> Value {
    json!({
        "name": "American Robin",
        "description": "A thrush with a brick-red breast, often seen pulling worms from lawns.",
        "image": "https://images.unsplash.com/photo-9?w=2000&q=100",
        "credit": {
            "name": "Ada Lens",
            "profile_url": "https://unsplash.com/@adalens",
            "photo_url": "https://unsplash.com/photos/abc"
        }
    })
}

/// A wiremock bird answering `template` to every `GET /`.
async fn bird_answering(template: ResponseTemplate) -> MockServer {
    let bird = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(template)
        .mount(&bird)
        .await;
    bird
}

async fn bird_with(answer: Value) -> MockServer {
    bird_answering(ResponseTemplate::new(200).set_body_json(answer)).await
}

/// A base URL where nothing listens.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

async fn get(url: String) -> Response {
    reqwest::get(url).await.unwrap()
}

fn header_of<'r>(response: &'r Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The `src`/`href` of the page's own assets, as the page names them.
fn asset_urls(html: &str) -> Vec<String> {
    html.match_indices("/static/")
        .map(|(at, _)| {
            let rest = &html[at..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// The attribute names of every tag of `html` (good enough for the pages served here).
fn attribute_names(html: &str) -> Vec<String> {
    html.split('<')
        .filter_map(|tag| tag.split_once('>').map(|(inside, _)| inside))
        .flat_map(|inside| {
            // Drop the quoted values (every other piece between quotes), keep the names.
            let unquoted: String = inside.split('"').step_by(2).collect::<Vec<_>>().join(" ");
            unquoted
                .split_whitespace()
                .skip(1)
                .filter_map(|attribute| attribute.split('=').next().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn renders_the_bird_with_its_photo_and_credit() {
    let bird = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .and(header("x-request-id", "page-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(robin()))
        .expect(1)
        .mount(&bird)
        .await;
    let app = start_frontend(&bird.uri()).await;

    let response = reqwest::Client::new()
        .get(app.url("/"))
        .header("x-request-id", "page-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header_of(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(
        header_of(&response, "cache-control"),
        "public, max-age=0, s-maxage=30"
    );
    assert_eq!(header_of(&response, "x-request-id"), "page-1");
    let html = response.text().await.unwrap();

    assert!(html.contains("<title>American Robin · Bird Explorer</title>"));
    assert!(html.contains(r#"<a class="brand" href="/">Bird Explorer</a>"#));
    assert!(html.contains(r#"<h1 class="card__name" id="bird-name">American Robin</h1>"#));
    assert!(
        html.contains("A thrush with a brick-red breast, often seen pulling worms from lawns.")
    );
    // The srcset itself is checked by the unit tests of `page` and by the browser test.
    assert!(html.contains(
        r#"<img class="stage__photo" id="photo" src="https://images.unsplash.com/photo-9?w=2000&#38;q=100" srcset="https://images.unsplash.com/photo-9?auto=format&#38;q=80&#38;dpr=1&#38;w=480 480w, "#
    ));
    assert!(html.contains(
        r#" 2000w" sizes="100vw" alt="Photo of an American Robin" fetchpriority="high">"#
    ));
    assert!(html.contains(
        r#"Photo by <a href="https://unsplash.com/@adalens?utm_source=bird_explorer&#38;utm_medium=referral">Ada Lens</a> on <a href="https://unsplash.com/?utm_source=bird_explorer&#38;utm_medium=referral">Unsplash</a>"#
    ));
    // Without a script, "next" is a link to a fresh rendering.
    assert!(html.contains(r#"<a class="button" id="next" href="/?next="#));
    assert!(html.contains(r#"<section class="card__error" id="error" hidden>"#));

    // Scripts and styles come only from files (the CSP forbids inline ones).
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(r#"<script src="/static/app."#));
    assert!(!html.contains("<style"));
    let attributes = attribute_names(&html);
    assert!(
        !attributes
            .iter()
            .any(|name| *name == "style" || name.starts_with("on"))
    );
    bird.verify().await;
}

#[tokio::test]
async fn the_default_image_gets_no_credit_line() {
    let mut disguised = robin();
    disguised["name"] = json!("Bird in disguise");
    disguised["description"] =
        json!("This bird is in disguise because: bird-image could not be reached");
    disguised["image"] = json!(DEFAULT_IMAGE_URL);
    disguised["credit"] = Value::Null;
    let bird = bird_with(disguised).await;
    let app = start_frontend(&bird.uri()).await;

    let response = get(app.url("/")).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Bird in disguise"));
    assert!(html.contains("bird-image could not be reached"));
    assert!(html.contains(r#"alt="Photo of a Bird in disguise""#));
    assert!(html.contains(r#"<p class="card__credit" id="bird-credit" hidden></p>"#));
    assert!(!html.contains("Photo by"));
    assert!(!html.contains("utm_source"));
}

#[tokio::test]
async fn hostile_text_is_escaped() {
    let hostile = json!({
        "name": "<script>alert('name')</script>",
        "description": "\"><img src=x onerror=alert(1)> & more",
        "image": "https://images.example/p.jpg?a=\"><script>alert(2)</script>",
        "credit": {
            "name": "<b onmouseover=alert(3)>Eve</b>",
            "profile_url": "https://unsplash.com/@eve",
            "photo_url": "https://unsplash.com/photos/eve"
        }
    });
    let bird = bird_with(hostile.clone()).await;
    let app = start_frontend(&bird.uri()).await;

    let response = get(app.url("/")).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for raw in [
        "<script>alert",
        "<img src=x",
        "<b onmouseover",
        "\"><script",
    ] {
        assert!(!html.contains(raw), "{raw} reached the page unescaped");
    }
    assert!(html.contains("&#60;script&#62;alert(&#39;name&#39;)&#60;/script&#62;"));
    assert!(html.contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62; &#38; more"));
    assert!(html.contains("&#60;b onmouseover=alert(3)&#62;Eve&#60;/b&#62;"));

    // The JSON keeps the text as data; the script inserts it with textContent.
    let response = get(app.url("/api/bird")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header_of(&response, "x-content-type-options"), "nosniff");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], hostile["name"]);
    assert_eq!(body["credit"]["name"], hostile["credit"]["name"]);
}

/// A `javascript:` or `data:` address anywhere in the answer refuses the whole answer.
#[tokio::test]
async fn addresses_that_are_not_web_urls_are_refused() {
    let cases = [
        ("image", json!("javascript:alert(1)")),
        ("image", json!("data:text/html,<script>alert(1)</script>")),
        ("image", json!("ftp://files.example/bird.jpg")),
        ("profile_url", json!("javascript:alert(1)")),
        ("photo_url", json!("data:text/html,hi")),
    ];
    for (field, value) in cases {
        let mut answer = robin();
        if field == "image" {
            answer["image"] = value.clone();
        } else {
            answer["credit"][field] = value.clone();
        }
        let bird = bird_with(answer).await;
        let app = start_frontend(&bird.uri()).await;

        let response = get(app.url("/")).await;
        assert_eq!(response.status(), 502, "{field} = {value}");
        let html = response.text().await.unwrap();
        assert!(html.contains("No bird right now"), "{field} = {value}");
        assert!(!html.contains("javascript:") && !html.contains("data:"));

        let response = get(app.url("/api/bird")).await;
        assert_eq!(response.status(), 502, "{field} = {value}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"error": "bad_gateway", "message": "bird sent an address that is not a web URL"})
        );
    }
}

#[tokio::test]
async fn bird_down_renders_the_error_state_with_a_retry() {
    let app = start_frontend(&closed_port()).await;
    let started = Instant::now();
    let response = get(app.url("/")).await;
    assert!(started.elapsed() < BOUND);
    assert_eq!(response.status(), 502);
    assert_eq!(
        header_of(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(header_of(&response, "cache-control"), "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<section class="card__error" id="error">"#));
    assert!(html.contains("No bird right now"));
    assert!(html.contains(r#"<section class="card__bird" id="bird" hidden>"#));
    assert!(html.contains(r#"id="next" href="/?next="#) && html.contains(">Try again</a>"));
    assert!(!html.contains(r#"id="photo""#));
    // Still the whole page: the script takes over the retry.
    assert!(html.contains(r#"<script src="/static/app."#));
}

#[tokio::test]
async fn api_bird_passes_the_bird_through() {
    let bird = bird_with(robin()).await;
    let app = start_frontend(&bird.uri()).await;
    let response = get(app.url("/api/bird")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header_of(&response, "content-type"), "application/json");
    assert_eq!(header_of(&response, "cache-control"), "no-store");
    assert_eq!(response.json::<Value>().await.unwrap(), robin());

    let metrics = get(app.url("/metrics")).await.text().await.unwrap();
    assert!(metrics.contains(r#"upstream_requests_total{upstream="bird",outcome="ok"} 1"#));
}

/// Each way bird can fail gives `502` with a JSON error saying what went wrong, quickly.
#[tokio::test]
async fn api_bird_answers_502_when_bird_fails() {
    let cases = [
        (
            "5xx",
            ResponseTemplate::new(503),
            "bird answered with status 503",
        ),
        (
            "garbage",
            ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
            "bird sent an answer that could not be understood",
        ),
        (
            "wrong shape",
            ResponseTemplate::new(200).set_body_json(json!({"name": "Robin"})),
            "bird sent an answer that could not be understood",
        ),
        (
            "slow",
            ResponseTemplate::new(200)
                .set_body_json(robin())
                .set_delay(Duration::from_secs(5)),
            "bird did not answer in time",
        ),
    ];
    for (case, template, message) in cases {
        let bird = bird_answering(template).await;
        let app = start_frontend(&bird.uri()).await;
        let started = Instant::now();
        let response = get(app.url("/api/bird")).await;
        assert!(started.elapsed() < BOUND, "{case}");
        assert_eq!(response.status(), 502, "{case}");
        assert_eq!(header_of(&response, "cache-control"), "no-store");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"error": "bad_gateway", "message": message}),
            "{case}"
        );
    }

    let app = start_frontend(&closed_port()).await;
    let response = get(app.url("/api/bird")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "bird could not be reached"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let bird = bird_with(robin()).await;
    let app = start_frontend(&bird.uri()).await;
    let html = get(app.url("/")).await.text().await.unwrap();
    let client = reqwest::Client::new();

    let mut requests = vec![
        client.get(app.url("/")),
        client.get(app.url("/api/bird")),
        client.get(app.url("/health")),
        client.get(app.url("/ready")),
        client.get(app.url("/metrics")),
        client.get(app.url("/no/such/page")),
        client.get(app.url("/api/nothing")),
        client.get(app.url("/static/nothing.js")),
        client.post(app.url("/")),
        client.get(app.url(&format!("/?q={}", "x".repeat(3000)))),
        client.get(app.url("/")).body(too_large()),
        client.get(app.url("/api/bird")).body(too_large()),
    ];
    for asset in asset_urls(&html) {
        requests.push(client.get(app.url(&asset)));
    }
    for request in requests {
        let response = request.send().await.unwrap();
        let what = format!("{} {}", response.status(), response.url().path());
        assert_eq!(
            csp_directives(header_of(&response, "content-security-policy")),
            expected_csp(),
            "{what}"
        );
        assert_eq!(
            header_of(&response, "x-content-type-options"),
            "nosniff",
            "{what}"
        );
        assert_eq!(
            header_of(&response, "referrer-policy"),
            "no-referrer",
            "{what}"
        );
        assert_eq!(header_of(&response, "x-frame-options"), "DENY", "{what}");
        assert!(response.headers().contains_key("cache-control"), "{what}");
    }
}

/// A request body over the kit's limit.
fn too_large() -> Vec<u8> {
    vec![b'x'; service_kit::app::MAX_BODY_BYTES + 1]
}

/// The kit's `413` is answered like the frontend's other errors: a page for people, JSON under
/// `/api/`.
#[tokio::test]
async fn an_oversized_body_is_refused_with_a_page_or_json() {
    let bird = bird_with(robin()).await;
    let app = start_frontend(&bird.uri()).await;
    let client = reqwest::Client::new();
    let page = client
        .get(app.url("/"))
        .body(too_large())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 413);
    assert_eq!(header_of(&page, "content-type"), "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains("Request refused"));

    let api = client
        .get(app.url("/api/bird"))
        .body(too_large())
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 413);
    assert_eq!(
        api.json::<Value>().await.unwrap()["error"],
        "body_too_large"
    );
}

type Csp = BTreeMap<String, BTreeSet<String>>;

/// A Content-Security-Policy as directive -> sources, so order and spacing do not matter.
fn csp_directives(policy: &str) -> Csp {
    policy
        .split(';')
        .filter(|directive| !directive.trim().is_empty())
        .map(|directive| {
            let mut words = directive.split_whitespace().map(str::to_owned);
            let name = words.next().unwrap();
            (name, words.collect())
        })
        .collect()
}

/// What the page needs and nothing more, worked out from what it loads: its own script,
/// stylesheet and placeholder, photos from any https host, `/api/bird` from its script; no
/// inline code, no framing, no posting elsewhere.
fn expected_csp() -> Csp {
    [
        ("default-src", &["'none'"][..]),
        ("script-src", &["'self'"]),
        ("style-src", &["'self'"]),
        ("img-src", &["'self'", "https:"]),
        ("connect-src", &["'self'"]),
        ("base-uri", &["'none'"]),
        ("form-action", &["'self'"]),
        ("frame-ancestors", &["'none'"]),
    ]
    .into_iter()
    .map(|(name, sources)| {
        let sources = sources.iter().map(|s| (*s).to_owned()).collect();
        (name.to_owned(), sources)
    })
    .collect()
}

#[tokio::test]
async fn assets_are_embedded_hashed_and_cached_for_a_year() {
    let bird = bird_with(robin()).await;
    let app = start_frontend(&bird.uri()).await;
    let html = get(app.url("/")).await.text().await.unwrap();
    let urls = asset_urls(&html);

    let files = [
        ("app.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("placeholder.svg", "image/svg+xml"),
    ];
    for (file, content_type) in files {
        let (stem, extension) = file.split_once('.').unwrap();
        let url = urls
            .iter()
            .find(|url| url.starts_with(&format!("/static/{stem}.")) && url.ends_with(extension))
            .unwrap_or_else(|| panic!("the page names {file}"));
        let hash = &url[format!("/static/{stem}.").len()..url.len() - extension.len() - 1];
        assert_eq!(hash.len(), 16, "{url}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{url}");

        let response = get(app.url(url)).await;
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(header_of(&response, "content-type"), content_type);
        assert_eq!(
            header_of(&response, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let on_disk =
            std::fs::read(format!("{}/static/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(response.bytes().await.unwrap(), on_disk, "{url}");

        // Another release's hash (a rolling deploy mixes pages and pods) gets this file, to
        // be asked for again; a name without a hash, or with something else there, gets 404.
        let other_release = format!("/static/{stem}.0123456789abcdef.{extension}");
        let response = get(app.url(&other_release)).await;
        assert_eq!(response.status(), 200, "{other_release}");
        assert_eq!(header_of(&response, "content-type"), content_type);
        assert_eq!(header_of(&response, "cache-control"), "no-cache");
        assert_eq!(response.bytes().await.unwrap(), on_disk, "{other_release}");
        for wrong in [
            format!("/static/{file}"),
            format!("/static/{stem}.0123456789ABCDEF.{extension}"),
            format!("/static/{stem}.0123.{extension}"),
            format!("/static/other.0123456789abcdef.{extension}"),
            format!("/static/{stem}.0123456789abcdef.txt"),
        ] {
            let response = get(app.url(&wrong)).await;
            assert_eq!(response.status(), 404, "{wrong}");
            assert_eq!(header_of(&response, "cache-control"), "no-store");
        }
    }
}

/// Sends `target` byte for byte (an HTTP client would normalise the dots away).
async fn raw_get(app: &TestServer, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

#[tokio::test]
async fn static_paths_cannot_reach_the_filesystem() {
    let app = start_frontend(&closed_port()).await;
    let targets = [
        "/static/../Cargo.toml",
        "/static/../../Cargo.toml",
        "/static/..%2fCargo.toml",
        "/static/..%2FCargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/%2e%2e%2fCargo.toml",
        "/static/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/static/..%5cCargo.toml",
        "/static/%2fetc%2fpasswd",
        "/static//etc/passwd",
        "/static/.%2e/src/lib.rs",
        "/static/app.css%00.js",
        "/static/",
        "/static",
    ];
    for target in targets {
        let (status, answer) = raw_get(&app, target).await;
        assert!(matches!(status, 400 | 404), "{target} answered {status}");
        assert!(
            !answer.contains("[package]")
                && !answer.contains("root:")
                && !answer.contains("pub mod"),
            "{target} leaked a file"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_html_except_under_api() {
    let app = start_frontend(&closed_port()).await;
    let client = reqwest::Client::new();

    let response = client.get(app.url("/birds")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        header_of(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found") && html.contains(r#"href="/""#));

    let response = client.delete(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        header_of(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Method not allowed")
    );

    let response = client.get(app.url("/api/birds")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "not_found"
    );

    let response = client.post(app.url("/api/bird")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "method_not_allowed"
    );
}

/// The kit's own refusals follow the fallbacks' rule: a page for people, JSON under `/api/`.
#[tokio::test]
async fn refusals_answer_html_except_under_api() {
    let app = start_frontend(&closed_port()).await;
    let long_query = format!("?q={}", "x".repeat(3000));

    let response = get(app.url(&format!("/{long_query}"))).await;
    assert_eq!(response.status(), 414);
    assert_eq!(
        header_of(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Address too long") && html.contains(r#"href="/""#));

    let response = get(app.url(&format!("/api/bird{long_query}"))).await;
    assert_eq!(response.status(), 414);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "uri_too_long"
    );
}
