//! How many Unsplash calls this process may still make: a log of the calls of the last hour,
//! so that no 60-minute window, wherever it starts, holds more than the hourly allowance (a
//! token bucket that starts full and refills continuously lets one window see twice as many).
//!
//! Part of the allowance is kept for bird's catalogue: names outside it may spend only what
//! is left above one call per catalogue bird, so a flood of made-up names cannot take the
//! calls the real birds need. With an allowance of twelve or fewer (the default, see
//! [`crate::config`]) made-up names get no calls at all.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The span of the allowance.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// An hourly allowance of calls, part of which only catalogue names may spend. The same rule
/// holds for one process ([`CallBudget`]) and for a fleet sharing a store ([`crate::store`]).
#[derive(Clone, Copy, Debug)]
pub struct Allowance {
    per_hour: u32,
    /// Calls that only catalogue names may spend in a window.
    reserved: u32,
}

impl Allowance {
    pub fn per_hour(per_hour: u32) -> Self {
        let catalogue = u32::try_from(bird_catalogue::BIRDS.len()).unwrap_or(u32::MAX);
        Self {
            per_hour,
            reserved: per_hour.min(catalogue),
        }
    }

    /// The calls a window allows a name: all of them for one of bird's birds, only those
    /// above the reserve for any other.
    pub fn for_name(self, catalogue: bool) -> u32 {
        if catalogue {
            self.per_hour
        } else {
            self.per_hour - self.reserved
        }
    }
}

#[derive(Debug)]
pub struct CallBudget {
    allowance: Allowance,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When each call of the last hour was granted, oldest first.
    granted: VecDeque<Instant>,
    /// A refusal was already logged since the last grant: a flood warns once, not per request.
    warned: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Spend {
    Granted,
    /// Refused; `warn` is true for the first refusal since a call was last granted.
    Refused {
        warn: bool,
    },
}

impl CallBudget {
    pub fn per_hour(per_hour: u32) -> Self {
        Self {
            allowance: Allowance::per_hour(per_hour),
            state: Mutex::default(),
        }
    }

    /// Takes one call at `now` if the last hour leaves room for it; `catalogue` says whether the
    /// call is for one of bird's birds, which may spend the reserved part too.
    pub fn try_spend(&self, now: Instant, catalogue: bool) -> Spend {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while state
            .granted
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) >= WINDOW)
        {
            state.granted.pop_front();
        }
        let allowed = usize::try_from(self.allowance.for_name(catalogue)).unwrap_or(usize::MAX);
        if state.granted.len() < allowed {
            // Callers read the clock before taking the lock, so keep the log in order.
            let at = state.granted.back().map_or(now, |&last| last.max(now));
            state.granted.push_back(at);
            state.warned = false;
            return Spend::Granted;
        }
        let warn = !state.warned;
        state.warned = true;
        Spend::Refused { warn }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn granted(budget: &CallBudget, at: Instant, catalogue: bool) -> bool {
        budget.try_spend(at, catalogue) == Spend::Granted
    }

    #[test]
    fn the_allowance_comes_back_only_when_the_calls_are_an_hour_old() {
        let start = Instant::now();
        let budget = CallBudget::per_hour(3);
        assert!(granted(&budget, start, true));
        assert!(granted(&budget, start + 30 * MINUTE, true));
        assert!(granted(&budget, start + 59 * MINUTE, true));
        assert!(!granted(&budget, start + 59 * MINUTE, true));
        // Just before the first call is an hour old, the window still holds three.
        assert!(!granted(
            &budget,
            start + WINDOW - Duration::from_millis(1),
            true
        ));
        assert!(granted(&budget, start + WINDOW, true));
        assert!(!granted(&budget, start + WINDOW, true));
        // A token bucket would have refilled by now; the window still holds the calls of 30
        // and 59 minutes and the one just made.
        assert!(!granted(&budget, start + 89 * MINUTE, true));
        assert!(granted(&budget, start + 90 * MINUTE, true));
    }

    #[test]
    fn a_long_quiet_spell_does_not_save_up_calls() {
        let start = Instant::now();
        let budget = CallBudget::per_hour(2);
        let much_later = start + 10 * WINDOW;
        let granted = (0..10)
            .filter(|_| granted(&budget, much_later, true))
            .count();
        assert_eq!(granted, 2);
    }

    #[test]
    fn made_up_names_cannot_spend_the_catalogues_reserve() {
        let now = Instant::now();
        let budget = CallBudget::per_hour(15);
        let made_up = (0..10).filter(|_| granted(&budget, now, false)).count();
        assert_eq!(made_up, 3, "15 an hour, 12 kept for the catalogue");
        let real = (0..20).filter(|_| granted(&budget, now, true)).count();
        assert_eq!(real, 12, "the twelve catalogue birds still get a call each");
    }

    #[test]
    fn with_an_allowance_below_the_catalogue_made_up_names_get_nothing() {
        let now = Instant::now();
        let budget = CallBudget::per_hour(5);
        assert!(!granted(&budget, now, false));
        assert_eq!((0..9).filter(|_| granted(&budget, now, true)).count(), 5);
    }

    #[test]
    fn a_flood_of_refusals_warns_once_until_a_call_is_granted_again() {
        let start = Instant::now();
        let budget = CallBudget::per_hour(1);
        assert_eq!(budget.try_spend(start, true), Spend::Granted);
        assert_eq!(budget.try_spend(start, true), Spend::Refused { warn: true });
        for _ in 0..100 {
            assert_eq!(
                budget.try_spend(start, true),
                Spend::Refused { warn: false }
            );
        }
        assert_eq!(budget.try_spend(start + WINDOW, true), Spend::Granted);
        assert_eq!(
            budget.try_spend(start + WINDOW, true),
            Spend::Refused { warn: true }
        );
    }

    proptest! {
        /// Whatever the pattern of attempts, no 60-minute window holds more grants than the
        /// allowance, and an attempt is refused only when its own last hour is full.
        #[test]
        fn the_hourly_bound_is_exact(
            per_hour in 1u32..30,
            attempts in proptest::collection::vec(
                (prop_oneof![Just(0u64), 0u64..40 * 60], any::<bool>()),
                1..300,
            ),
        ) {
            let start = Instant::now();
            let budget = CallBudget::per_hour(per_hour);
            let limit = per_hour as usize;
            let reserved = limit.min(bird_catalogue::BIRDS.len());
            let mut at = start;
            let mut grants: Vec<Instant> = Vec::new();
            for (gap_secs, catalogue) in attempts {
                at += Duration::from_secs(gap_secs);
                let in_last_hour = grants.iter().filter(|&&g| at - g < WINDOW).count();
                let allowed = if catalogue { limit } else { limit - reserved };
                let expected = in_last_hour < allowed;
                prop_assert_eq!(granted(&budget, at, catalogue), expected);
                if expected {
                    grants.push(at);
                }
            }
            for &from in &grants {
                let in_window = grants.iter().filter(|&&g| g >= from && g - from < WINDOW).count();
                prop_assert!(in_window <= limit, "{} calls in the hour from a grant", in_window);
            }
        }
    }
}
