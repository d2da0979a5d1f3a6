//! Request bodies: no route reads one, so a huge body is refused when declared, and never
//! read into memory when streamed.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::start_unit_app;

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused() {
    let app = start_unit_app(false).await;
    let response = reqwest::Client::new()
        .get(app.url("/"))
        .body(vec![b'x'; service_kit::app::MAX_BODY_BYTES + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "body_too_large");
}

/// A chunked body has no length to refuse up front: the answer comes without waiting for it,
/// and the server stops taking bytes long before 256 MiB have been sent.
#[tokio::test]
async fn a_streamed_body_is_neither_waited_for_nor_buffered() {
    const ENDLESS: usize = 256 * 1024 * 1024;
    let app = start_unit_app(false).await;
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        let head = "GET / HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n";
        writer.write_all(head.as_bytes()).await?;
        let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
        let mut sent = 0;
        while sent < ENDLESS {
            writer.write_all(chunk.as_bytes()).await?;
            sent += 0x10000;
        }
        Ok::<usize, std::io::Error>(sent)
    });

    let mut answer = vec![0u8; 1024];
    let read = reader.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let sent = sender.await.unwrap();
    println!("body bytes accepted before the server stopped reading: {sent:?}");
    assert!(sent.is_err(), "the server read all {ENDLESS} bytes");
}
