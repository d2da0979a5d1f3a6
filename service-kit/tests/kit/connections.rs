//! What the server does on a connection before the app sees a request: the limit on the size
//! of a request head (`431` past it) and the time a client gets to send one. Raw sockets, as
//! no HTTP client sends a head slowly or over any size it is asked to.

use std::time::Duration;

use service_kit::server::{HEADER_READ_TIMEOUT, MAX_REQUEST_HEAD_BYTES};
use service_kit_testing::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::start_unit_app;

/// `GET /` whose head (request line, headers and the blank line) is `size` bytes long.
fn request_of_size(size: usize) -> Vec<u8> {
    let start = "GET / HTTP/1.1\r\nhost: localhost\r\nx-padding: ";
    let end = "\r\n\r\n";
    let padding = size - start.len() - end.len();
    format!("{start}{}{end}", "p".repeat(padding)).into_bytes()
}

/// A fresh connection to `app` on which `bytes` have been sent.
async fn connect_and_send(app: &TestServer, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// The status line the server answers `request` with on a fresh connection.
async fn status_line(app: &TestServer, request: &[u8]) -> String {
    let mut stream = connect_and_send(app, request).await;
    let mut answer = vec![0u8; 256];
    let read = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_head_over_the_limit_is_answered_431() {
    let app = start_unit_app(false).await;
    for size in [MAX_REQUEST_HEAD_BYTES + 1, 4 * MAX_REQUEST_HEAD_BYTES] {
        let status = status_line(&app, &request_of_size(size)).await;
        assert_eq!(
            status, "HTTP/1.1 431 Request Header Fields Too Large",
            "{size} bytes"
        );
    }
}

#[tokio::test]
async fn a_head_within_the_limit_is_served() {
    let app = start_unit_app(false).await;
    // A little under: hyper's read buffer holds the head with room to spare.
    let size = MAX_REQUEST_HEAD_BYTES - 1024;
    let status = status_line(&app, &request_of_size(size)).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{size} bytes");
}

/// How long the server kept `stream` open without answering: the time until it closed it,
/// or `None` if it still had not after twice the header-read timeout. The clock is paused and
/// jumps to the next timer whenever nothing else can run, so no test waits 30 real seconds.
async fn held_open_for(mut stream: TcpStream) -> Option<Duration> {
    let started = Instant::now();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(2 * HEADER_READ_TIMEOUT, stream.read_to_end(&mut answer))
        .await
        .ok()?;
    // Closed without a word, or reset: either way nothing was answered.
    assert!(
        closed.is_err() || answer.is_empty(),
        "answered: {}",
        String::from_utf8_lossy(&answer)
    );
    Some(started.elapsed())
}

fn assert_closed_at_the_timeout(held: Option<Duration>) {
    let held = held.expect("the connection was still open after twice the header-read timeout");
    assert!(
        (HEADER_READ_TIMEOUT..HEADER_READ_TIMEOUT + Duration::from_secs(1)).contains(&held),
        "closed after {held:?}, not {HEADER_READ_TIMEOUT:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_head_sent_too_slowly_is_cut_off_at_the_header_read_timeout() {
    let app = start_unit_app(false).await;
    let stream = connect_and_send(&app, b"GET / HTTP/1.1\r\nhost: localhost\r\n").await;
    assert_closed_at_the_timeout(held_open_for(stream).await);
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_at_the_header_read_timeout() {
    let app = start_unit_app(false).await;
    let mut stream = connect_and_send(&app, b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n").await;
    let mut answer = vec![0u8; 1024];
    let read = stream.read(&mut answer).await.unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200 OK"));
    assert_closed_at_the_timeout(held_open_for(stream).await);
}
