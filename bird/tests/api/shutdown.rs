//! The real `bird` binary under load gets SIGTERM: no request it took fails, requests still
//! running when the listener closes complete, and it exits 0 within the grace period.

use std::time::Duration;

use serde_json::json;
use service_kit_testing::sigterm_under_load;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_request() {
    let bird_image = MockServer::start().await;
    Mock::given(path("/v1/image"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    json!({"url": "https://images.unsplash.com/p?w=2000&q=100", "credit": null}),
                )
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&bird_image)
        .await;
    let report = sigterm_under_load(
        env!("CARGO_BIN_EXE_bird"),
        &[
            ("BIRD_IMAGE_URL", &bird_image.uri()),
            ("BIRD_IMAGE_CACHE_TTL_SECS", "0"),
        ],
        "/",
    )
    .await;
    report.assert_nothing_lost();
}
