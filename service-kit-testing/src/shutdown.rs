//! SIGTERM under load, as Kubernetes stops a pod: did every request the service took get its
//! answer?

use std::sync::{Arc, Mutex};

use crate::ServiceProcess;

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
