//! `x-request-id`: a sane caller's id is kept, echoed and logged; any other is replaced by a
//! fresh UUID, never echoed nor logged.

use service_kit_testing::LogCapture;

use crate::start_unit_app;

/// The id the answer carries and the id of its access-log line, for a request sent with `id`.
async fn ids_for(id: Option<&[u8]>) -> (String, String) {
    let logs = LogCapture::default();
    let _guard = logs.install("unit");
    let app = start_unit_app(false).await;
    let mut request = reqwest::Client::new().get(app.url("/"));
    if let Some(id) = id {
        request = request.header(
            "x-request-id",
            reqwest::header::HeaderValue::from_bytes(id).unwrap(),
        );
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    app.stop().await.unwrap();
    let access = logs
        .lines()
        .into_iter()
        .find(|line| line["message"] == "request")
        .expect("an access-log line");
    (echoed, access["request_id"].as_str().unwrap().to_owned())
}

fn is_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

#[tokio::test]
async fn a_sane_id_is_kept_echoed_and_logged() {
    let longest = "x".repeat(128);
    for id in ["abc-123", "~!@#$%^&*()", longest.as_str()] {
        assert_eq!(
            ids_for(Some(id.as_bytes())).await,
            (id.to_owned(), id.to_owned())
        );
    }
}

#[tokio::test]
async fn an_insane_or_missing_id_is_replaced_by_a_fresh_uuid() {
    let too_long = "x".repeat(129);
    let insane: [&[u8]; 5] = [
        b"",
        b"has space",
        too_long.as_bytes(),
        b"tab\there",
        "caf\u{e9}".as_bytes(),
    ];
    for id in insane.into_iter().map(Some).chain([None]) {
        let (echoed, logged) = ids_for(id).await;
        assert!(is_uuid(&echoed), "{id:?} answered with id {echoed:?}");
        assert_eq!(logged, echoed, "{id:?}");
    }
}
