//! Upstreams that misbehave below the level of HTTP status codes.

use std::net::Ipv4Addr;

use tokio::net::TcpListener;

/// Ways an upstream can misbehave below the level of HTTP status codes, played by a raw TCP
/// server: the faults wiremock cannot produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing listens on the port.
    Refused,
    /// Accepts the connection, reads the request, never answers.
    NoHeaders,
    /// Sends the head and part of the body, then resets the connection.
    ResetMidBody,
    /// Sends a small body one byte every 200 ms.
    Trickle,
    /// Sends a chunked body that never ends.
    Endless,
    /// Answers bytes that are not HTTP at all.
    NotHttp,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::Refused,
        Fault::NoHeaders,
        Fault::ResetMidBody,
        Fault::Trickle,
        Fault::Endless,
        Fault::NotHttp,
    ];

    /// Starts a server with this fault and returns its base URL (`http://127.0.0.1:<port>`).
    /// The server lives as long as the test's runtime.
    pub async fn serve(self) -> String {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind an ephemeral port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        if self == Fault::Refused {
            return url;
        }
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(misbehave(self, stream));
            }
        });
        url
    }
}

async fn misbehave(fault: Fault, mut stream: tokio::net::TcpStream) {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request).await;
    const JSON_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n";
    match fault {
        Fault::Refused => {}
        Fault::NoHeaders => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Fault::ResetMidBody => {
            let _ = stream.write_all(JSON_HEAD).await;
            let _ = stream
                .write_all(b"content-length: 1000\r\n\r\n{\"url\": \"https://exa")
                .await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            // A zero linger turns the close into a reset.
            let _ = stream.set_zero_linger();
        }
        Fault::Trickle => {
            let body = b"{\"results\": [], \"url\": \"https://example.com/slow.png\"}";
            let _ = stream.write_all(JSON_HEAD).await;
            let head = format!("content-length: {}\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes()).await;
            for byte in body {
                if stream.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Fault::Endless => {
            let _ = stream.write_all(JSON_HEAD).await;
            let _ = stream
                .write_all(b"transfer-encoding: chunked\r\n\r\n")
                .await;
            let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
            while stream.write_all(chunk.as_bytes()).await.is_ok() {}
        }
        Fault::NotHttp => {
            let _ = stream
                .write_all(b"SSH-2.0-OpenSSH_9.6\r\nthis is not http\r\n\r\n")
                .await;
        }
    }
}
