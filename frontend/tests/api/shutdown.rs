//! The real `frontend` binary under load gets SIGTERM: no request it took fails, requests
//! still running when the listener closes complete, and it exits 0 within the grace period.

use std::time::Duration;

use serde_json::json;
use service_kit_testing::sigterm_under_load;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_request() {
    let bird = MockServer::start().await;
    Mock::given(path("/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "name": "Mallard",
                    "description": "A dabbling duck.",
                    "image": "https://images.unsplash.com/p?w=2000&q=100",
                    "credit": null
                }))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&bird)
        .await;
    let report = sigterm_under_load(
        env!("CARGO_BIN_EXE_frontend"),
        &[("BIRD_API_URL", &bird.uri())],
        "/",
    )
    .await;
    report.assert_nothing_lost();
}
