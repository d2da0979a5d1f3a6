//! The real `bird-image` binary under load gets SIGTERM: no request it took fails, requests
//! still running when the listener closes complete, and it exits 0 within the grace period.

use std::time::Duration;

use serde_json::json;
use service_kit_testing::sigterm_under_load;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_request() {
    let unsplash = MockServer::start().await;
    Mock::given(path("/search/photos"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    json!({"results": [{"urls": {"full": "https://images.unsplash.com/p"}}]}),
                )
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&unsplash)
        .await;
    let report = sigterm_under_load(
        env!("CARGO_BIN_EXE_bird-image"),
        &[
            ("UNSPLASH_API_URL", &unsplash.uri()),
            ("UNSPLASH_ACCESS_KEY", "shutdown-test-key"),
            ("UNSPLASH_MAX_CALLS_PER_HOUR", "100000"),
        ],
        // A new name each time, so every request waits for the slow Unsplash.
        "/?birdName=bird-{n}",
    )
    .await;
    report.assert_nothing_lost();
}
