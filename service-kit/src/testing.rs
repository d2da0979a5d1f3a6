//! Support for integration tests (and embedding binaries): the real app on an ephemeral
//! loopback port with the real shutdown sequence, and a capture of the JSON log lines.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::lifecycle::Lifecycle;
use crate::server::{ShutdownSettings, serve};

pub struct TestServer {
    pub addr: SocketAddr,
    pub lifecycle: Lifecycle,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl TestServer {
    /// Builds the app with a fresh [`Lifecycle`] and serves it on `127.0.0.1:0`.
    pub async fn start(
        service: &'static str,
        settings: ShutdownSettings,
        build: impl FnOnce(Lifecycle) -> Result<Router, String>,
    ) -> Self {
        let lifecycle = Lifecycle::new();
        let app = build(lifecycle.clone()).expect("the app builds");
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            service,
            listener,
            app,
            lifecycle.clone(),
            settings,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            lifecycle,
            stop: Some(stop),
            task,
        }
    }

    /// `http://127.0.0.1:<port><path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts the shutdown sequence, as SIGTERM would.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down (if not begun) and waits for the server to finish.
    pub async fn stop(mut self) -> io::Result<()> {
        self.begin_shutdown();
        self.task.await.map_err(io::Error::other)?
    }
}

/// Collects log lines; install it with [`LogCapture::install`] on a current-thread runtime.
#[derive(Clone, Default)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl LogCapture {
    /// Routes this thread's events to the capture as JSON lines, until the guard drops.
    pub fn install(&self, service: &'static str) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(crate::telemetry::json_subscriber(service, self.clone()))
    }

    /// Every captured line, parsed.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer)
            .lines()
            .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
            .collect()
    }

    /// Everything captured, as text.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for LogCapture {
    type Writer = Self;

    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

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
