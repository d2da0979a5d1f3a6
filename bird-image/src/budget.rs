//! How many Unsplash calls may still be made: a token bucket refilled at the hourly allowance.
//! A flood of made-up bird names would otherwise spend the whole quota (50 calls an hour for a
//! demo key) and leave the real birds without photos.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct CallBudget {
    capacity: f64,
    per_second: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    updated: Instant,
    /// When the last "budget spent" warning was logged, so a flood logs once a minute, not per request.
    last_warning: Option<Instant>,
}

/// Minimum time between two "budget spent" warnings.
const WARNING_INTERVAL: Duration = Duration::from_secs(60);

pub enum Spend {
    Granted,
    /// Refused; `warn` is true when this refusal should be logged.
    Refused {
        warn: bool,
    },
}

impl CallBudget {
    /// A full bucket of `per_hour` calls, refilled continuously.
    pub fn per_hour(per_hour: u32) -> Self {
        Self::with_clock(per_hour, Instant::now())
    }

    fn with_clock(per_hour: u32, now: Instant) -> Self {
        let capacity = f64::from(per_hour);
        Self {
            capacity,
            per_second: capacity / 3600.0,
            state: Mutex::new(State {
                tokens: capacity,
                updated: now,
                last_warning: None,
            }),
        }
    }

    pub fn try_spend(&self) -> Spend {
        self.try_spend_at(Instant::now())
    }

    fn try_spend_at(&self, now: Instant) -> Spend {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.per_second).min(self.capacity);
        state.updated = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            return Spend::Granted;
        }
        let warn = state
            .last_warning
            .is_none_or(|at| now.saturating_duration_since(at) >= WARNING_INTERVAL);
        if warn {
            state.last_warning = Some(now);
        }
        Spend::Refused { warn }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_the_hourly_allowance_then_refills_over_time() {
        let start = Instant::now();
        let budget = CallBudget::with_clock(3, start);
        for _ in 0..3 {
            assert!(matches!(budget.try_spend_at(start), Spend::Granted));
        }
        assert!(matches!(
            budget.try_spend_at(start),
            Spend::Refused { warn: true }
        ));
        assert!(matches!(
            budget.try_spend_at(start),
            Spend::Refused { warn: false }
        ));
        // 3 an hour is one every 20 minutes.
        let later = start + Duration::from_secs(20 * 60);
        assert!(matches!(budget.try_spend_at(later), Spend::Granted));
        assert!(matches!(
            budget.try_spend_at(later),
            Spend::Refused { warn: true }
        ));
    }

    #[test]
    fn never_holds_more_than_one_hour_of_calls() {
        let start = Instant::now();
        let budget = CallBudget::with_clock(2, start);
        let much_later = start + Duration::from_secs(10 * 3600);
        let granted = (0..10)
            .filter(|_| matches!(budget.try_spend_at(much_later), Spend::Granted))
            .count();
        assert_eq!(granted, 2);
    }
}
