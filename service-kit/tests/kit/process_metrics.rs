//! Every app on the kit reports `build_info` and the standard process figures on `/metrics`,
//! read when scraped.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::start_unit_app;

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the one sample whose series (name and labels, as written) is `series`.
fn value(scrape: &str, series: &str) -> f64 {
    let values: Vec<f64> = scrape
        .lines()
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(name, _)| *name == series)
        .map(|(_, value)| value.parse().expect("a number"))
        .collect();
    assert_eq!(values.len(), 1, "{series} once in:\n{scrape}");
    values[0]
}

/// The commit build.rs should have found, worked out here on its own: the checkout's HEAD, or
/// `unknown` outside a checkout. (A build given `GIT_COMMIT` reports that instead; cargo hands
/// the test the same value, so the variable cannot be the check.)
fn checkout_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map_or("unknown".to_owned(), |output| {
            String::from_utf8(output.stdout).unwrap().trim().to_owned()
        })
}

fn cpu_seconds(scrape: &str) -> f64 {
    value(scrape, "process_cpu_seconds_total")
}

#[tokio::test]
async fn the_scrape_has_build_info_and_the_process_figures() {
    let app = start_unit_app(false).await;
    let metrics = app.url("/metrics");
    let first = scrape(&metrics).await;

    let build_info = format!(
        r#"build_info{{version="{}",commit="{}"}}"#,
        env!("CARGO_PKG_VERSION"),
        checkout_commit()
    );
    assert_eq!(value(&first, &build_info), 1.0);
    assert!(first.contains("# TYPE build_info gauge\n"), "{first}");

    if !cfg!(target_os = "linux") {
        // No /proc to read: no figures at all rather than zeros.
        assert!(!first.contains("process_"), "{first}");
        return;
    }
    let resident = value(&first, "process_resident_memory_bytes");
    assert!(resident > 1024.0 * 1024.0, "resident memory {resident}");
    assert!(value(&first, "process_virtual_memory_bytes") >= resident);
    let open = value(&first, "process_open_fds");
    assert!(open >= 3.0, "open fds {open}");
    assert!(value(&first, "process_max_fds") >= open);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let started = value(&first, "process_start_time_seconds");
    assert!(
        started <= now.as_secs_f64() + 1.0 && started > now.as_secs_f64() - 3600.0,
        "started at {started}, now is {now:?}"
    );
    assert!(first.contains("# TYPE process_cpu_seconds counter\n"));
    assert!(first.contains("# UNIT process_resident_memory_bytes bytes\n"));

    // Read at the scrape, not at start-up: CPU spent now shows in the next scrape. The counter
    // only grows (other tests add to it too), so spin until it moves, within a bound.
    let before = cpu_seconds(&first);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut spins = 0u64;
    loop {
        let spun = Instant::now();
        while spun.elapsed() < Duration::from_millis(20) {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
        if cpu_seconds(&scrape(&metrics).await) > before {
            break;
        }
        assert!(Instant::now() < deadline, "CPU seconds stuck at {before}");
    }
}
