//! The time the cache and the quota go by. Tests drive a [`ManualClock`], so expiry, the
//! 60 s retry and the hourly window are exercised by moving time, not by sleeping.
//!
//! Two readings: the monotonic one for what a process keeps in its own memory, and the wall
//! clock for what the fleet keeps in the shared store, where the pods' readings must agree.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub trait Clock: Debug + Send + Sync {
    fn now(&self) -> Instant;

    /// Milliseconds since the Unix epoch.
    fn unix_millis(&self) -> u64;
}

/// The system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_millis(&self) -> u64 {
        millis_since_epoch(SystemTime::now())
    }
}

fn millis_since_epoch(time: SystemTime) -> u64 {
    whole_millis(time.duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// `duration` in whole milliseconds, as the store counts time.
pub fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A clock that stands still until told to move; both of its readings move together, so
/// several instances sharing one clock and one store agree on the time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<(Instant, SystemTime)>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            now: Arc::new(Mutex::new((Instant::now(), SystemTime::now()))),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        now.0 += by;
        now.1 += by;
    }

    fn read(&self) -> (Instant, SystemTime) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.read().0
    }

    fn unix_millis(&self) -> u64 {
        millis_since_epoch(self.read().1)
    }
}
