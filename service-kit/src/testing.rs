//! Support for integration tests (and embedding binaries): the real app on an ephemeral
//! loopback port with the real shutdown sequence, and a capture of the JSON log lines.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing_subscriber::layer::SubscriberExt;

use crate::lifecycle::Lifecycle;
use crate::server::{ShutdownSettings, serve};

mod gate;
mod process;
pub use gate::GatedUpstream;
pub use process::{ServiceProcess, free_port};

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
    /// Routes this thread's events to the capture as JSON lines (at `RUST_LOG`, else info and
    /// above), until the guard drops.
    pub fn install(&self, service: &'static str) -> tracing::subscriber::DefaultGuard {
        keep_call_sites_live();
        tracing::subscriber::set_default(crate::telemetry::json_subscriber(service, self.clone()))
    }

    /// As [`LogCapture::install`], at `level` and above whatever `RUST_LOG` says.
    pub fn install_at(
        &self,
        service: &'static str,
        level: tracing::Level,
    ) -> tracing::subscriber::DefaultGuard {
        keep_call_sites_live();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::from_level(level))
            .with(crate::telemetry::json_lines(service, self.clone()));
        tracing::subscriber::set_default(subscriber)
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

/// tracing decides once per call site, process-wide, whether its events are wanted at all: a call
/// site first reached by a test thread without a subscriber would be switched off for every
/// thread, a capturing one included. A do-nothing process-wide subscriber gives every thread one,
/// so a capture never misses an event because of a test running beside it.
fn keep_call_sites_live() {
    static PROCESS_WIDE: std::sync::Once = std::sync::Once::new();
    PROCESS_WIDE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
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

/// What [`sigterm_under_load`] saw.
#[derive(Debug)]
pub struct ShutdownReport {
    /// Requests answered with a 2xx status.
    pub answered: usize,
    /// Requests that failed after the server had taken them (the thing that must not happen).
    pub failed: Vec<String>,
    /// Of the answered requests, those that were still running when the listener closed.
    pub finished_after_close: usize,
    pub exit_code: Option<i32>,
    /// From SIGTERM to the process exiting.
    pub exit_after: std::time::Duration,
}

impl ShutdownReport {
    /// Panics unless every request the server took was answered, some of them were still
    /// running when the listener closed, and the process exited 0 well inside the grace period.
    pub fn assert_nothing_lost(&self) {
        println!("{self:?}");
        assert!(self.failed.is_empty(), "failed requests: {:?}", self.failed);
        assert!(self.answered >= 16, "too little load to judge: {self:?}");
        assert!(
            self.finished_after_close > 0,
            "no request was in flight at the close: {self:?}"
        );
        assert_eq!(self.exit_code, Some(0), "{self:?}");
        assert!(
            self.exit_after < std::time::Duration::from_secs(7),
            "{self:?}"
        );
    }
}

/// The sum of the samples of `family` in the service's `/metrics`.
pub async fn metric_sum(base: &str, family: &str) -> f64 {
    let scrape = reqwest::get(format!("{base}/metrics"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("a scrape")
        .text()
        .await
        .expect("a scrape's text");
    scrape
        .lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |sum, sample| sum + sample)
}

/// Waits until at least `calls` upstream calls of the service are under way (its
/// `upstream_in_flight`), polling `/metrics`; panics after ten seconds.
pub async fn wait_for_upstream_calls(server: &TestServer, calls: u64) {
    let started = std::time::Instant::now();
    while metric_sum(&server.url(""), "upstream_in_flight").await < calls as f64 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "fewer than {calls} upstream calls ever got under way"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Panics unless `/health`, `/ready` and `/metrics` each answer 200 while the service's
/// upstream calls hang: it waits until a call is under way, asks the probes, and checks that no
/// upstream call ended in the meantime. A probe that waited behind the hang could only answer
/// once the calls had given up, so this needs no clock.
pub async fn assert_probes_answer_promptly(server: &TestServer) {
    let base = server.url("");
    wait_for_upstream_calls(server, 1).await;
    let ended_before = metric_sum(&base, "upstream_requests_total").await;
    let client = reqwest::Client::new();
    for probe in ["/health", "/ready", "/metrics"] {
        let response = client.get(server.url(probe)).send().await.expect(probe);
        assert_eq!(response.status(), 200, "{probe}");
    }
    assert_eq!(
        metric_sum(&base, "upstream_requests_total").await,
        ended_before,
        "the probes answered only after hanging upstream calls had ended"
    );
    assert!(metric_sum(&base, "upstream_in_flight").await > 0.0);
}

/// Starts `binary` on a free loopback port with `env`, drives `path` from 16 keep-alive clients,
/// sends SIGTERM, and reports how every request ended. The clients behave like a load balancer
/// with fast probes: they stop starting requests half-way through the drain, after `/ready`
/// turned 503, so every request they make was accepted by the server.
pub async fn sigterm_under_load(binary: &str, env: &[(&str, &str)], path: &str) -> ShutdownReport {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    const DRAIN: Duration = Duration::from_secs(1);
    let drain = DRAIN.as_secs().to_string();
    let mut env = env.to_vec();
    env.extend([
        ("SHUTDOWN_DRAIN_SECS", drain.as_str()),
        ("SHUTDOWN_TIMEOUT_SECS", "5"),
    ]);
    let (mut service, base) = ServiceProcess::start_service(binary, &env).await;
    let probe = reqwest::Client::new();

    let stop_sending = Arc::new(AtomicBool::new(false));
    let listener_closed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let clients: Vec<_> = (0..16)
        .map(|client| {
            let stop_sending = stop_sending.clone();
            let listener_closed_at = listener_closed_at.clone();
            let url = format!("{base}{path}");
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let (mut answered, mut failed, mut after_close) = (0, Vec::new(), 0);
                let mut n = 0;
                while !stop_sending.load(Ordering::Acquire) {
                    n += 1;
                    let url = url.replace("{n}", &format!("{client}-{n}"));
                    match http.get(&url).send().await {
                        Ok(response) if response.status().is_success() => {
                            let closed =
                                *listener_closed_at.lock().unwrap_or_else(|p| p.into_inner());
                            if closed.is_some() {
                                after_close += 1;
                            }
                            answered += 1;
                        }
                        Ok(response) => failed.push(format!("status {}", response.status())),
                        Err(err) => failed.push(format!("{err:?}")),
                    }
                }
                (answered, failed, after_close)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let sigterm_at = Instant::now();
    service.terminate().await;

    // The load balancer notices /ready and stops sending half-way through the drain.
    loop {
        let ready = probe.get(format!("{base}/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 503) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(DRAIN / 2).await;
    stop_sending.store(true, Ordering::Release);
    tokio::time::sleep(sigterm_at + DRAIN - Instant::now()).await;
    *listener_closed_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());

    let status = service.exit_within(Duration::from_secs(15)).await;
    let exit_after = sigterm_at.elapsed();
    let mut report = ShutdownReport {
        answered: 0,
        failed: Vec::new(),
        finished_after_close: 0,
        exit_code: status.code(),
        exit_after,
    };
    for client in clients {
        let (answered, failed, after_close) = client.await.expect("client task");
        report.answered += answered;
        report.failed.extend(failed);
        report.finished_after_close += after_close;
    }
    report
}

/// A TLS acceptor with a fresh self-signed certificate for 127.0.0.1, for test servers that
/// must speak https on loopback. No client trusts it unless told to.
pub fn self_signed_tls() -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("a self-signed certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("a TLS server configuration");
    tokio_rustls::TlsAcceptor::from(Arc::new(tls))
}
