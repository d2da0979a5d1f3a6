//! A real store for the fleet tests: Debian's `redis-server` (the protocol Valkey and
//! ElastiCache speak) on a free loopback port, with a password, started by the test and
//! killed with it. It can be killed and started again on the same port mid-test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bird_image::config::CacheUrl;
use redis::aio::MultiplexedConnection;
use service_kit_testing::free_port;

/// The store's password: it must never show up in what bird-image writes or serves.
pub const PASSWORD: &str = "store-password-5b1e07";

pub struct StoreServer {
    port: u16,
    child: Option<Child>,
}

impl StoreServer {
    pub async fn start() -> Self {
        let mut store = Self {
            port: free_port(),
            child: None,
        };
        store.run().await;
        store
    }

    /// `redis://:<password>@127.0.0.1:<port>`, as `CACHE_URL`.
    pub fn url(&self) -> String {
        format!("redis://:{PASSWORD}@127.0.0.1:{}", self.port)
    }

    pub fn cache_url(&self) -> CacheUrl {
        CacheUrl::parse(&self.url()).expect("a store URL")
    }

    /// A connection of the test's own, to look at or tamper with what the fleet stored.
    pub async fn connection(&self) -> MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("the test store answers")
    }

    /// Kills the server (its data goes with it: no persistence, as in the chart).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again, empty, on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.run().await;
    }

    async fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--requirepass",
                PASSWORD,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian package redis-server, installed by .ci/run)");
        self.child = Some(child);
        self.wait_until_it_answers().await;
    }

    async fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = redis::Client::open(self.url()).unwrap();
        loop {
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, _> = redis::cmd("PING").query_async(&mut connection).await;
                if pong.is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server never answered");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for StoreServer {
    fn drop(&mut self) {
        self.kill();
    }
}
