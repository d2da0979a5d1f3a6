//! The real `bird-stack` binary, as `make run` starts it: three services that answer, one
//! clear line for a bad setting, and exit 0 on SIGTERM.

use std::time::Duration;

use serde_json::Value;
use service_kit::photo::DEFAULT_IMAGE_URL;
use service_kit_testing::{ServiceProcess, free_port};

const STACK: &str = env!("CARGO_BIN_EXE_bird-stack");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_serves_the_three_services_and_stops_on_sigterm() {
    let [image_port, bird_port, frontend_port] = [(); 3].map(|()| free_port().to_string());
    let base = |port: &str| format!("http://127.0.0.1:{port}");
    let (bird_image, bird, frontend) = (base(&image_port), base(&bird_port), base(&frontend_port));
    // No UNSPLASH_ACCESS_KEY: nothing leaves the machine. The ports as flags, as --help
    // shows them (the bad-setting test below gives one as a variable).
    let mut stack = ServiceProcess::spawn_with_args(
        STACK,
        &[
            "--bird-image-port",
            &image_port,
            "--bird-port",
            &bird_port,
            &format!("--frontend-port={frontend_port}"),
        ],
        &[
            ("HOST", "127.0.0.1"),
            ("BIRD_IMAGE_URL", &bird_image),
            ("BIRD_API_URL", &bird),
            ("SHUTDOWN_DRAIN_SECS", "0"),
        ],
    );
    for service in [&bird_image, &bird, &frontend] {
        stack.wait_ready(service).await;
    }

    let photo: Value = reqwest::get(format!("{bird_image}/?birdName=Mallard"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(photo, DEFAULT_IMAGE_URL);
    let from_bird: Value = reqwest::get(&bird).await.unwrap().json().await.unwrap();
    assert!(
        bird::catalogue::BIRDS
            .iter()
            .any(|b| b.name == from_bird["name"]),
        "{from_bird}"
    );
    assert_eq!(from_bird["image"], DEFAULT_IMAGE_URL);
    let through_frontend = reqwest::get(format!("{frontend}/api/bird")).await.unwrap();
    assert_eq!(through_frontend.status(), 200);
    let through_frontend: Value = through_frontend.json().await.unwrap();
    assert_eq!(through_frontend["image"], DEFAULT_IMAGE_URL);
    let page = reqwest::get(&frontend).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Bird Explorer"));

    stack.terminate().await;
    let status = stack.exit_within(Duration::from_secs(15)).await;
    assert_eq!(status.code(), Some(0));
    assert!(
        stack
            .stdout()
            .contains(&format!("Bird Explorer http://localhost:{frontend_port}"))
    );
}

#[tokio::test]
async fn a_bad_setting_stops_the_stack_with_one_line_naming_it() {
    for (variable, value) in [
        ("BIRD_API_TIMEOUT_MS", "soon"),
        ("UNSPLASH_API_URL", "not a url"),
        ("BIRD_PORT", "http"),
    ] {
        // Loopback and free ports, should a case ever be accepted and the stack start.
        let mut env = vec![("HOST", "127.0.0.1".to_owned())];
        for port in ["BIRD_IMAGE_PORT", "BIRD_PORT", "FRONTEND_PORT"] {
            env.push((port, free_port().to_string()));
        }
        env.push((variable, value.to_owned()));
        let run = tokio::process::Command::new(STACK)
            .env_clear()
            .envs(env)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .unwrap_or_else(|_| panic!("{variable}={value}: the stack started"))
            .unwrap();
        let case = format!("{variable}={value}");
        assert!(!output.status.success(), "{case}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{case}: {stderr}");
        assert!(stderr.starts_with("bird-stack: "), "{case}: {stderr}");
        assert!(stderr.contains(variable), "{case}: {stderr}");
    }
}

/// `--help` prints the flags and exits 0 without starting anything: the three ports it would
/// use are held by the test, so a stack that went on to listen would fail instead.
#[tokio::test]
async fn help_prints_the_flags_and_starts_nothing() {
    let held: Vec<_> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<String> = held
        .iter()
        .map(|listener| listener.local_addr().unwrap().port().to_string())
        .collect();
    let run = tokio::process::Command::new(STACK)
        .arg("--help")
        .env_clear()
        .envs([
            ("HOST", "127.0.0.1"),
            ("BIRD_IMAGE_PORT", &ports[0]),
            ("BIRD_PORT", &ports[1]),
            ("FRONTEND_PORT", &ports[2]),
        ])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("--help returns at once")
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{help}");
    for flag in [
        "--bird-image-port",
        "--bird-port",
        "--frontend-port",
        "--help",
        "--version",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    for variable in [
        "BIRD_IMAGE_PORT",
        "BIRD_PORT",
        "FRONTEND_PORT",
        "UNSPLASH_ACCESS_KEY",
    ] {
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
    assert!(!help.contains("listening"), "a service started:\n{help}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
