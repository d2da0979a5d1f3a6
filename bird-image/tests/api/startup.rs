//! The real binary checks `UNSPLASH_API_URL` and `CACHE_URL` before doing anything: a URL
//! that would send the key in clear text (or lose its parameters), or that is no store URL,
//! stops it with one line on stderr that names the variable and says why, and exit status 2;
//! plain http to a loopback host starts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The binary with only `unsplash_url` and a key set (and `more`), listening (should it
/// start) on an ephemeral loopback port.
fn spawn_with(unsplash_url: &str, more: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bird-image"))
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("UNSPLASH_API_URL", unsplash_url)
        .env("UNSPLASH_ACCESS_KEY", "startup-test-key")
        .envs(more.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn spawn(unsplash_url: &str) -> Child {
    spawn_with(unsplash_url, &[])
}

/// What the binary printed on stderr when it refused to start (panics if it started).
fn refusal(mut child: Child, what: &str) -> String {
    let started = first_log_line(&mut child);
    if started.is_some() {
        child.kill().unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(started, None, "{what} was accepted");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    assert!(stderr.starts_with("bird-image: "), "{stderr}");
    stderr
}

/// The first line on stdout (a started service's log), or `None` when it exits first.
fn first_log_line(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout).lines().next().map(Result::unwrap)
}

#[test]
fn an_unsplash_url_that_would_expose_the_key_or_lose_parameters_stops_the_binary() {
    for (url, why) in [
        ("http://api.unsplash.com", "https"),
        ("http://10.1.2.3:8080", "https"),
        ("https://api.unsplash.com/?lang=en", "query"),
    ] {
        let stderr = refusal(spawn(url), url);
        assert!(stderr.contains("UNSPLASH_API_URL"), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(!stderr.contains("startup-test-key"), "{stderr}");
    }
}

#[test]
fn plain_http_to_a_loopback_host_starts() {
    let mut child = spawn("http://127.0.0.1:9");
    let line = first_log_line(&mut child);
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let line = line.unwrap_or_else(|| {
        panic!(
            "it did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(line.contains("listening"), "{line}");
}

/// A store URL that is refused names `CACHE_URL` and why, and does not repeat the value,
/// which holds the store's password.
#[test]
fn a_bad_store_url_stops_the_binary_without_printing_its_password() {
    for (url, why) in [
        ("http://:store-s3cret@localhost:6379", "redis://"),
        (
            "redis://:store-s3cret@localhost:6379/cache",
            "database number",
        ),
    ] {
        let stderr = refusal(spawn_with("http://127.0.0.1:9", &[("CACHE_URL", url)]), url);
        assert!(stderr.contains("CACHE_URL"), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(!stderr.contains("store-s3cret"), "{stderr}");
    }
}
