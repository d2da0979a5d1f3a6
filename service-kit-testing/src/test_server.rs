//! The real app on an ephemeral loopback port, served by the kit's own server with the real
//! shutdown sequence.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use service_kit::Lifecycle;
use service_kit::server::{ShutdownSettings, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A service's app served on `127.0.0.1:<ephemeral port>` until stopped.
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
