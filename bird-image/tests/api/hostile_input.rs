//! Generated hostile input, through the whole path: bird-image has a key and a local Unsplash,
//! so names go through the cache, the budget and the Unsplash call. Whatever the query, it
//! answers 2xx or 4xx and never panics; whatever the name, Unsplash gets exactly that name as
//! its query and nothing else; whatever the photo URL, the rewrite gives an https URL with
//! exactly one `w` and one `q`, or refuses it.

use std::sync::LazyLock;

use crate::support::{KEY, unsplash_with_a_photo};
use axum::body::Body;
use axum::http::Request;
use bird_image::Config;
use bird_image::unsplash::high_resolution;
use proptest::prelude::*;
use serde_json::Value;
use service_kit::Lifecycle;
use service_kit::photo::DEFAULT_IMAGE_URL;
use tower::ServiceExt;
use url::Url;
use wiremock::MockServer;

const PHOTO: &str = "https://images.unsplash.com/p?w=2000&q=100";

/// One runtime, one Unsplash and one app for all cases, so the cache fills across cases as it
/// would under a flood of names.
struct World {
    runtime: tokio::runtime::Runtime,
    unsplash: MockServer,
    app: axum::Router,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let unsplash = runtime.block_on(unsplash_with_a_photo());
    let mut config = Config::for_tests(Url::parse(&unsplash.uri()).unwrap(), Some(KEY));
    config.unsplash_max_calls_per_hour = 100_000;
    let app = runtime.block_on(async { bird_image::app(&config, Lifecycle::new()).unwrap() });
    World {
        runtime,
        unsplash,
        app,
    }
});

/// Status and body of `GET uri`.
fn get(uri: &str) -> (u16, Vec<u8>) {
    let world = &*WORLD;
    world.runtime.block_on(async {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = world.app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        (status, body.to_vec())
    })
}

/// The `query` of every search Unsplash received.
fn queries_received() -> Vec<String> {
    let world = &*WORLD;
    let received = world
        .runtime
        .block_on(world.unsplash.received_requests())
        .unwrap();
    received
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "query")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

/// The photo URL in a 200 answer of either route.
fn answered_url(body: &[u8], v1: bool) -> String {
    let body: Value = serde_json::from_slice(body).unwrap();
    let url = if v1 { &body["url"] } else { &body };
    url.as_str().unwrap().to_owned()
}

/// Query strings built from the characters that break parsers: escapes, separators, UTF-8.
fn hostile_query() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("birdName=".to_owned()),
        Just("&".to_owned()),
        Just("=".to_owned()),
        Just("%".to_owned()),
        Just("%00".to_owned()),
        Just("%ff%fe".to_owned()),
        Just("%E2%80%AE".to_owned()),
        Just("+".to_owned()),
        Just("%2e%2e%2f".to_owned()),
        Just("birdName[]=".to_owned()),
        "[a-zA-Z0-9]{0,20}",
        "%[0-9a-fA-F]{0,2}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Pieces of URL that a hostile Unsplash answer could carry.
fn hostile_part() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("w=200".to_owned()),
        Just("q=80".to_owned()),
        Just("w".to_owned()),
        Just("q".to_owned()),
        Just("&".to_owned()),
        Just("=".to_owned()),
        Just("%".to_owned()),
        Just("%26w%3D1".to_owned()),
        Just("#".to_owned()),
        Just("?".to_owned()),
        Just("/../".to_owned()),
        Just("\\".to_owned()),
        "\\PC{0,8}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// Absolute https URLs with a real host and hostile path, query and fragment.
fn https_url() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        Just("images.unsplash.com"),
        Just("IMAGES.Unsplash.COM:8443"),
        Just("xn--bcher-kva.example"),
        Just("203.0.113.7"),
        Just("[2001:db8::1]"),
        Just("user:pass@cdn.example"),
    ];
    (host, hostile_part(), hostile_part(), hostile_part()).prop_map(
        |(host, path, query, fragment)| format!("https://{host}/{path}?{query}#{fragment}"),
    )
}

/// Text that is not an absolute https URL: other schemes, relative paths, noise.
fn not_https_url() -> impl Strategy<Value = String> {
    let candidate = prop_oneof![
        hostile_part().prop_map(|rest| format!("http://images.unsplash.com/{rest}")),
        hostile_part().prop_map(|rest| format!("javascript:{rest}")),
        hostile_part().prop_map(|rest| format!("data:text/html,{rest}")),
        hostile_part().prop_map(|rest| format!("//images.unsplash.com/{rest}")),
        hostile_part().prop_map(|rest| format!("/{rest}")),
        hostile_part().prop_map(|rest| format!("https:///{rest}")),
        "\\PC{0,80}",
    ];
    candidate.prop_filter("parses as https", |raw| {
        Url::parse(raw).map_or(true, |url| url.scheme() != "https")
    })
}

fn assert_one_width_and_quality(url: &Url) -> Result<(), TestCaseError> {
    prop_assert_eq!(url.scheme(), "https");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    prop_assert_eq!(
        pairs
            .iter()
            .filter(|(k, v)| k == "w" && v == "2000")
            .count(),
        1
    );
    prop_assert_eq!(pairs.iter().filter(|(k, _)| k == "w").count(), 1);
    prop_assert_eq!(
        pairs.iter().filter(|(k, v)| k == "q" && v == "100").count(),
        1
    );
    prop_assert_eq!(pairs.iter().filter(|(k, _)| k == "q").count(), 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_query_gets_a_2xx_or_4xx(query in hostile_query(), v1 in any::<bool>()) {
        let uri = format!("{}?{query}", if v1 { "/v1/image" } else { "/" });
        let Ok(uri) = uri.parse::<axum::http::Uri>() else { return Ok(()) };
        let (status, body) = get(&uri.to_string());
        prop_assert!((200..500).contains(&status), "{uri} answered {status}");
        if status == 200 {
            let url = answered_url(&body, v1);
            prop_assert!(url == PHOTO || url == DEFAULT_IMAGE_URL, "{uri} answered {url}");
        }
    }

    #[test]
    fn any_path_gets_a_2xx_or_4xx(path in "/[ -~]{0,64}") {
        let Ok(uri) = path.parse::<axum::http::Uri>() else { return Ok(()) };
        let (status, _) = get(&uri.to_string());
        prop_assert!((200..500).contains(&status), "{uri} answered {status}");
    }

    /// Any name, properly encoded, reaches Unsplash as exactly that (trimmed) name, or is
    /// refused when too long; the answer is the photo Unsplash gave.
    #[test]
    fn any_name_reaches_unsplash_as_the_query_and_gets_its_photo(name in "\\PC{1,60}", v1 in any::<bool>()) {
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let route = if v1 { "/v1/image" } else { "/" };
        let (status, body) = get(&format!("{route}?birdName={encoded}"));
        let trimmed = name.trim();
        if trimmed.len() > 100 {
            prop_assert_eq!(status, 400);
            return Ok(());
        }
        prop_assert_eq!(status, 200);
        let url = answered_url(&body, v1);
        if trimmed.is_empty() {
            prop_assert_eq!(url, DEFAULT_IMAGE_URL);
            return Ok(());
        }
        prop_assert_eq!(url, PHOTO);
        // Names that differ only in case share a cache entry: one of them was asked.
        let key = trimmed.to_lowercase();
        prop_assert!(
            queries_received().iter().any(|q| q.to_lowercase() == key),
            "Unsplash never got {trimmed:?}"
        );
    }

    #[test]
    fn an_https_photo_url_gets_exactly_one_width_and_quality(raw in https_url()) {
        let parsed = Url::parse(&raw);
        prop_assert!(parsed.is_ok(), "the generator made an invalid URL: {raw}");
        let url = high_resolution(&raw);
        prop_assert!(url.is_some(), "refused {raw}");
        assert_one_width_and_quality(&url.unwrap())?;
    }

    #[test]
    fn anything_but_an_https_url_is_refused(raw in not_https_url()) {
        prop_assert_eq!(high_resolution(&raw), None, "accepted {}", raw);
    }
}
