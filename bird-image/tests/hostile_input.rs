//! Generated hostile input: whatever the query, bird-image answers 2xx or 4xx and never panics;
//! whatever the photo URL, the rewrite gives an https URL with exactly one `w` and one `q`.

use axum::body::Body;
use axum::http::Request;
use bird_image::Config;
use bird_image::unsplash::high_resolution;
use proptest::prelude::*;
use service_kit::Lifecycle;
use tower::ServiceExt;
use url::Url;

fn app() -> axum::Router {
    // No key: nothing leaves the process, and every path through the query parsing is exercised.
    let config = Config::for_tests(Url::parse("http://127.0.0.1:9").unwrap(), None);
    bird_image::app(&config, Lifecycle::new()).unwrap()
}

fn status_of(runtime: &tokio::runtime::Runtime, router: &axum::Router, uri: &str) -> u16 {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = runtime.block_on(router.clone().oneshot(request)).unwrap();
    response.status().as_u16()
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_query_gets_a_2xx_or_4xx(query in hostile_query(), v1 in any::<bool>()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let router = app();
        let uri = format!("{}?{query}", if v1 { "/v1/image" } else { "/" });
        let Ok(uri) = uri.parse::<axum::http::Uri>() else { return Ok(()) };
        let status = status_of(&runtime, &router, &uri.to_string());
        prop_assert!((200..500).contains(&status), "{uri} answered {status}");
    }

    #[test]
    fn any_path_gets_a_2xx_or_4xx(path in "/[ -~]{0,64}") {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let Ok(uri) = path.parse::<axum::http::Uri>() else { return Ok(()) };
        let status = status_of(&runtime, &app(), &uri.to_string());
        prop_assert!((200..500).contains(&status), "{uri} answered {status}");
    }

    #[test]
    fn the_rewrite_never_panics_and_keeps_one_width_and_quality(raw in "\\PC{0,80}", query in "[a-z=&%0-9wq]{0,40}") {
        for candidate in [raw.clone(), format!("https://images.unsplash.com/p?{query}")] {
            if let Some(url) = high_resolution(&candidate) {
                prop_assert_eq!(url.scheme(), "https");
                let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
                prop_assert_eq!(pairs.iter().filter(|(k, v)| k == "w" && v == "2000").count(), 1);
                prop_assert_eq!(pairs.iter().filter(|(k, _)| k == "w").count(), 1);
                prop_assert_eq!(pairs.iter().filter(|(k, v)| k == "q" && v == "100").count(), 1);
                prop_assert_eq!(pairs.iter().filter(|(k, _)| k == "q").count(), 1);
            }
        }
    }
}
