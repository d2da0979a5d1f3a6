//! The Unsplash key's own hourly quota, the one counter every pod using the key shares.
//! Unsplash reports it on each answer (`X-Ratelimit-Remaining`); at or under [`RESERVE`], this
//! process stops calling until Unsplash's hour has turned.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use service_kit::metrics::{Registry, registered};

/// Calls left on the key at which calls stop: one per pod of the chart's largest fleet (its HPA
/// allows 10), so each other pod can still make the one call that tells it so without the key
/// going over.
pub const RESERVE: u64 = 10;

/// How long calls stop once the reserve is reached. Unsplash counts per hour without saying
/// when its hour began; whether it counts by clock hours or over the last 60 minutes, every
/// call in the count that reached the reserve has left it an hour later. The first call after
/// the pause reads the counter again, and pauses again if others have spent it meanwhile.
pub const PAUSE: Duration = Duration::from_secs(3600);

/// The header Unsplash reports the calls left in.
pub const HEADER: &str = "x-ratelimit-remaining";

#[derive(Debug)]
pub struct KeyQuota {
    paused_until: Mutex<Option<Instant>>,
    remaining: Reported,
}

impl KeyQuota {
    pub fn new(registry: &mut Registry) -> Self {
        Self {
            paused_until: Mutex::new(None),
            remaining: registered(
                registry,
                "unsplash_ratelimit_remaining",
                "Calls left this hour on the Unsplash key, shared by every pod using it, as Unsplash last reported (absent until it has answered)",
                Reported::new(),
            ),
        }
    }

    /// Whether a call may be made at `now`.
    pub fn allows(&self, now: Instant) -> bool {
        let paused_until = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        paused_until.is_none_or(|until| now >= until)
    }

    /// Records the calls left that an answer received at `now` reported; true when that
    /// starts a pause.
    pub fn observe(&self, remaining: u64, now: Instant) -> bool {
        self.remaining.set(remaining);
        if remaining > RESERVE {
            return false;
        }
        let mut paused_until = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        // Answers to calls made before the pause began do not extend it, nor warn again.
        if paused_until.is_some_and(|until| now < until) {
            return false;
        }
        *paused_until = Some(now + PAUSE);
        tracing::warn!(
            upstream = "unsplash",
            remaining,
            reserve = RESERVE,
            pause_secs = PAUSE.as_secs(),
            "the Unsplash key's hourly quota is down to its reserve: no calls for an hour, answering cached or default images"
        );
        true
    }
}

/// A gauge that is not exported until it has a value: before Unsplash has answered, no figure
/// is better than a made-up one that an alert on "few calls left" would fire on.
#[derive(Clone, Debug)]
struct Reported(Arc<AtomicI64>);

impl Reported {
    /// Stored until Unsplash has reported.
    const UNKNOWN: i64 = -1;

    fn new() -> Self {
        Self(Arc::new(AtomicI64::new(Self::UNKNOWN)))
    }

    fn set(&self, remaining: u64) {
        let value = i64::try_from(remaining).unwrap_or(i64::MAX);
        self.0.store(value, Ordering::Relaxed);
    }
}

impl EncodeMetric for Reported {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        encoder.encode_gauge(&self.0.load(Ordering::Relaxed))
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }

    fn is_empty(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::UNKNOWN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_stop_at_the_reserve_for_an_hour_from_the_answer() {
        let start = Instant::now();
        let quota = KeyQuota::new(&mut Registry::default());
        assert!(quota.allows(start));
        quota.observe(RESERVE + 1, start);
        assert!(quota.allows(start), "above the reserve, calls go on");
        quota.observe(RESERVE, start);
        assert!(!quota.allows(start));
        assert!(!quota.allows(start + PAUSE - Duration::from_millis(1)));
        assert!(quota.allows(start + PAUSE));
    }

    #[test]
    fn late_answers_neither_lift_nor_extend_the_pause() {
        let start = Instant::now();
        let quota = KeyQuota::new(&mut Registry::default());
        quota.observe(0, start);
        // An answer to a call made before the pause, reporting more left: still paused.
        quota.observe(40, start + Duration::from_secs(1));
        assert!(!quota.allows(start + Duration::from_secs(2)));
        quota.observe(0, start + Duration::from_secs(30 * 60));
        assert!(
            quota.allows(start + PAUSE),
            "the pause ends an hour after it began"
        );
    }

    #[test]
    fn the_gauge_is_absent_until_unsplash_reports_then_shows_the_figure() {
        let mut registry = Registry::default();
        let quota = KeyQuota::new(&mut registry);
        let rendered = service_kit::metrics::render(&registry);
        assert!(
            !rendered.contains("unsplash_ratelimit_remaining"),
            "{rendered}"
        );
        quota.observe(0, Instant::now());
        let rendered = service_kit::metrics::render(&registry);
        assert!(
            rendered.contains("\nunsplash_ratelimit_remaining 0\n"),
            "{rendered}"
        );
        quota.observe(37, Instant::now());
        let rendered = service_kit::metrics::render(&registry);
        assert!(
            rendered.contains("\nunsplash_ratelimit_remaining 37\n"),
            "{rendered}"
        );
    }
}
