//! How the upstream client classifies what an upstream does: each fault below HTTP gets its
//! outcome, the body cap is exact for declared and streamed bodies, and redirects are answers.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde_json::Value;
use service_kit::http_client::{UpstreamClient, UpstreamError, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics};
use service_kit_testing::Fault;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const NAME: &str = "upstream";

fn client(timeout: Duration, max_body_bytes: usize) -> UpstreamClient {
    let mut settings = UpstreamSettings::new(NAME, timeout);
    settings.max_body_bytes = max_body_bytes;
    UpstreamClient::new(
        settings,
        UpstreamMetrics::register(&mut Registry::default()),
    )
    .unwrap()
}

async fn get(client: &UpstreamClient, url: &str) -> Result<Value, UpstreamError> {
    client
        .get_json::<Value>(&Url::parse(url).unwrap(), HeaderMap::new())
        .await
}

/// A server that answers every request with `answer`, byte for byte, and then holds the
/// connection open (so a client still reading waits, rather than seeing the end).
async fn answering(answer: String) -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.read(&mut request).await;
            });
        }
    });
    url
}

fn declared(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// `body` in chunks of at most 8 bytes, so the client sees it arrive in pieces.
fn chunked(body: &str) -> String {
    let mut answer = String::from("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    for piece in body.as_bytes().chunks(8) {
        let piece = std::str::from_utf8(piece).unwrap();
        answer.push_str(&format!("{:x}\r\n{piece}\r\n", piece.len()));
    }
    answer.push_str("0\r\n\r\n");
    answer
}

#[tokio::test]
async fn each_fault_below_http_has_its_outcome() {
    let client = client(Duration::from_millis(500), 256 * 1024);
    let expected = [
        (Fault::Refused, UpstreamError::Unreachable(NAME)),
        (Fault::NoHeaders, UpstreamError::Timeout(NAME)),
        (Fault::ResetMidBody, UpstreamError::Malformed(NAME)),
        (Fault::Trickle, UpstreamError::Timeout(NAME)),
        (Fault::Endless, UpstreamError::TooLarge(NAME)),
        (Fault::NotHttp, UpstreamError::Malformed(NAME)),
    ];
    for (fault, outcome) in expected {
        let url = fault.serve().await;
        assert_eq!(get(&client, &url).await, Err(outcome), "{fault:?}");
    }
}

/// A JSON string of exactly `len` bytes, quotes included.
fn json_of_len(len: usize) -> String {
    format!("\"{}\"", "x".repeat(len - 2))
}

#[tokio::test]
async fn the_body_cap_is_exact_for_declared_and_streamed_bodies() {
    const CAP: usize = 32;
    let client = client(Duration::from_secs(2), CAP);
    for (shape, frame) in [
        ("declared", declared as fn(&str) -> String),
        ("chunked", chunked),
    ] {
        let at_cap = answering(frame(&json_of_len(CAP))).await;
        let answer = get(&client, &at_cap).await;
        assert_eq!(answer, Ok(Value::String("x".repeat(CAP - 2))), "{shape}");

        let over = answering(frame(&json_of_len(CAP + 1))).await;
        let answer = get(&client, &over).await;
        assert_eq!(answer, Err(UpstreamError::TooLarge(NAME)), "{shape}");
    }
}

/// The head alone declares too much: the answer comes at once, without waiting for a body
/// that never arrives.
#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let budget = Duration::from_secs(5);
    let client = client(budget, 1024);
    let url = answering("HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n".to_owned()).await;
    let started = Instant::now();
    assert_eq!(get(&client, &url).await, Err(UpstreamError::TooLarge(NAME)));
    assert!(started.elapsed() < budget / 2, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_redirect_is_an_answer_not_followed() {
    let upstream = MockServer::start().await;
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/elsewhere"))
        .mount(&upstream)
        .await;
    let client = client(Duration::from_secs(2), 1024);
    let answer = get(&client, &upstream.uri()).await;
    assert_eq!(answer, Err(UpstreamError::Status(NAME, 302)));
    let received = upstream.received_requests().await.unwrap();
    let paths: Vec<&str> = received.iter().map(|request| request.url.path()).collect();
    assert_eq!(paths, ["/"]);
}
