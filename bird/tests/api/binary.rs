//! The real `bird` binary: a bad setting, the probes' access log, and a request that never
//! ends when the shutdown timeout runs out.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use service_kit_testing::{GatedUpstream, ServiceProcess, free_port};

const BIRD: &str = env!("CARGO_BIN_EXE_bird");

/// Each bad value stops bird before it listens, with exit status 2 and one line on stderr that
/// names the variable.
#[tokio::test]
async fn a_bad_setting_stops_bird_with_one_line_naming_it() {
    let cases = [
        ("BIRD_IMAGE_TIMEOUT_MS", "soon"),
        ("BIRD_IMAGE_URL", "ftp://files.example"),
        ("BIRD_IMAGE_URL", "http://localhost:4200/?lang=en"),
        ("BIRD_IMAGE_CACHE_TTL_SECS", "-1"),
        ("ACCESS_LOG_PROBES", "maybe"),
        ("PORT", "99999"),
        ("SHUTDOWN_TIMEOUT_SECS", "0"),
    ];
    for (variable, value) in cases {
        // Loopback and a free port, should a case ever be accepted and bird start.
        let port = free_port().to_string();
        let run = tokio::process::Command::new(BIRD)
            .env_clear()
            .envs([("HOST", "127.0.0.1"), ("PORT", &port), (variable, value)])
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .unwrap_or_else(|_| panic!("{variable}={value}: bird started"))
            .unwrap();
        let case = format!("{variable}={value}");
        assert_eq!(output.status.code(), Some(2), "{case}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{case}: {stderr}");
        assert!(stderr.starts_with("bird: "), "{case}: {stderr}");
        assert!(stderr.contains(variable), "{case}: {stderr}");
        assert!(output.stdout.is_empty(), "{case}: it started");
    }
}

/// The paths of bird's access-log lines while `/ready` (waiting for it to start), `/health`,
/// `/metrics` and `/` are asked, with `env` added.
async fn access_logged_paths(env: &[(&str, &str)]) -> Vec<String> {
    let mut env = env.to_vec();
    env.push(("BIRD_IMAGE_URL", "http://127.0.0.1:9"));
    let (mut bird, base) = ServiceProcess::start_service(BIRD, &env).await;
    for path in ["/health", "/metrics", "/"] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    bird.terminate().await;
    assert!(bird.exit_within(Duration::from_secs(15)).await.success());
    bird.stdout()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON log lines"))
        .filter(|line| line["message"] == "request")
        .map(|line| line["path"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn probes_are_access_logged_only_with_access_log_probes() {
    let quiet = [("SHUTDOWN_DRAIN_SECS", "0")];
    assert_eq!(access_logged_paths(&quiet).await, ["/"]);

    let logged = access_logged_paths(&[quiet[0], ("ACCESS_LOG_PROBES", "true")]).await;
    for path in ["/ready", "/health", "/metrics", "/"] {
        assert!(logged.iter().any(|p| p == path), "{path} not in {logged:?}");
    }
}

/// A request stuck at bird-image (which never answers, and bird's budget is a minute) does not
/// keep bird alive past SHUTDOWN_TIMEOUT_SECS: bird waits that long for it, then exits 0.
#[tokio::test]
async fn the_shutdown_timeout_ends_a_request_that_never_finishes() {
    let mut bird_image = GatedUpstream::start(json!({})).await;
    let (mut bird, base) = ServiceProcess::start_service(
        BIRD,
        &[
            ("BIRD_IMAGE_URL", &bird_image.url),
            ("BIRD_IMAGE_TIMEOUT_MS", "60000"),
            ("BIRD_IMAGE_CACHE_TTL_SECS", "0"),
            ("SHUTDOWN_DRAIN_SECS", "0"),
            ("SHUTDOWN_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let stuck = tokio::spawn(reqwest::get(format!("{base}/")));
    bird_image.arrived().await;

    let sigterm_at = Instant::now();
    bird.terminate().await;
    let status = bird.exit_within(Duration::from_secs(20)).await;
    let took = sigterm_at.elapsed();
    println!("exited {took:?} after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(took >= Duration::from_secs(1), "it did not wait: {took:?}");
    assert!(took < Duration::from_secs(5), "it waited {took:?}");
    assert!(
        stuck.await.unwrap().is_err(),
        "the stuck request got an answer"
    );
    assert!(
        bird.stdout()
            .contains("in-flight requests still running at the deadline")
    );
}
