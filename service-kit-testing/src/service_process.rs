//! A service binary run as a child process, the way Kubernetes runs it: an environment, a
//! port, SIGTERM, an exit status. Its stdout (the log lines) is collected for the test.

use std::net::Ipv4Addr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

pub struct ServiceProcess {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    /// Reads stdout until the process closes it.
    reader: Option<JoinHandle<()>>,
}

impl ServiceProcess {
    /// Starts `binary` with `env` and nothing else of the test's environment.
    pub fn spawn(binary: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_with_args(binary, &[], env)
    }

    /// [`Self::spawn`] with command-line arguments.
    pub fn spawn_with_args(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary)
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("start {binary}: {err}"));
        let stdout: Arc<Mutex<Vec<u8>>> = Arc::default();
        let mut pipe = child.stdout.take().expect("a piped stdout");
        let collected = stdout.clone();
        // Read all along, so a chatty child never blocks on a full pipe.
        let reader = tokio::spawn(async move {
            let mut chunk = [0u8; 8192];
            while let Ok(read @ 1..) = pipe.read(&mut chunk).await {
                lock(&collected).extend_from_slice(&chunk[..read]);
            }
        });
        Self {
            child,
            stdout,
            reader: Some(reader),
        }
    }

    /// Starts a service binary on a free loopback port and waits until it is ready; returns
    /// it with its base URL.
    pub async fn start_service(binary: &str, env: &[(&str, &str)]) -> (Self, String) {
        let port = free_port().to_string();
        let mut env = env.to_vec();
        env.extend([("HOST", "127.0.0.1"), ("PORT", port.as_str())]);
        let mut process = Self::spawn(binary, &env);
        let base = format!("http://127.0.0.1:{port}");
        process.wait_ready(&base).await;
        (process, base)
    }

    /// Waits until `{base}/ready` answers 200; panics if the process exits first or takes
    /// more than ten seconds.
    pub async fn wait_ready(&mut self, base: &str) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = client.get(format!("{base}/ready")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the service exited with {status} before it was ready");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{base} never became ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod.
    pub async fn terminate(&self) {
        let pid = self.child.id().expect("the service is running").to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().await;
        assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    }

    /// The exit status, or a panic if the process is still running after `limit`. Once it
    /// returns, [`Self::stdout`] holds everything the process wrote.
    pub async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the service still ran after {limit:?}"))
            .expect("wait for the service");
        if let Some(reader) = self.reader.take() {
            let _ = reader.await;
        }
        status
    }

    /// Everything the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stdout)).into_owned()
    }
}

fn lock(buffer: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    buffer.lock().unwrap_or_else(|p| p.into_inner())
}
