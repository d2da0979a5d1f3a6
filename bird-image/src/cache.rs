//! Photos by bird name, cached, so Unsplash is asked about a name at most once per TTL.
//! Concurrent first lookups of a name share one call. Once a name has an answer, its callers
//! never wait for Unsplash again: past the TTL they get that answer at once while one
//! background call per name refreshes it. A failed call keeps the photo found before (or the
//! default image) and is tried again a minute later.
//!
//! With a store (`CACHE_URL`, see [`crate::store`]) those rules hold for the fleet: a pod
//! answers from its own memory and reads the store again [`STORE_RECHECK`] later, in the
//! background, to see what other pods found; a name nobody has looked up is claimed in the
//! store, so one pod asks Unsplash while the others wait for its answer there. While the
//! store is down, each pod carries on alone with a share of the allowance
//! ([`OUTAGE_SHARE`]).
//!
//! Every call needs room in the hourly allowance (part of which only bird's catalogue may
//! spend, see [`crate::budget`]) and in the key's quota that Unsplash reports
//! ([`crate::key_quota`]). The cache holds a bounded number of names, so a flood of made-up
//! names can grow neither memory nor the calls made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;
use service_kit::metrics::{Registry, counter};
use tracing::Instrument;

use crate::budget::{Allowance, CallBudget, Spend};
use crate::clock::{Clock, whole_millis};
use crate::key_quota::{self, KeyQuota};
use crate::store::{Claim, LeaseState, Read, Store, StoredPhoto};
use crate::unsplash::{LookupError, Photo, Unsplash};

/// How soon a name whose lookup failed is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long a pod answers what it holds for a name before reading the store again, so that a
/// photo another pod found reaches it this soon. The read happens in the background.
pub const STORE_RECHECK: Duration = Duration::from_secs(30);

/// While the store is down, each process may spend 1/`OUTAGE_SHARE` of the fleet's hourly
/// allowance (at least one call): the chart's largest fleet, 10 pods, then stays within it.
pub const OUTAGE_SHARE: u32 = 10;

/// A lease outlives the Unsplash call it covers by this much: time to store the answer.
const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// A request waiting on another pod's lookup gives up this long after that lookup's own
/// deadline, well inside bird's budget for bird-image.
const WAIT_MARGIN: Duration = Duration::from_millis(250);

/// After waiting in vain for another pod's lookup, the store is read again this soon.
const RECHECK_AFTER_WAIT: Duration = Duration::from_secs(1);

/// Bounds of the cache and of the calls it makes.
#[derive(Clone, Copy, Debug)]
pub struct CacheLimits {
    /// How long a photo found on Unsplash is answered before it is refreshed.
    pub ttl: Duration,
    /// Bird names held at most.
    pub max_entries: u64,
    /// Unsplash calls allowed in any 60 minutes: by the fleet with a store, else by this process.
    pub calls_per_hour: u32,
    /// The budget of one Unsplash call.
    pub unsplash_timeout: Duration,
}

#[derive(Clone, Debug)]
struct CacheMetrics {
    hits: Counter,
    misses: Counter,
    refreshes: Counter,
    failed_refreshes: Counter,
    over_budget: Counter,
}

impl CacheMetrics {
    fn register(registry: &mut Registry) -> Self {
        Self {
            hits: counter(
                registry,
                "image_cache_hits",
                "Photo lookups answered from this process's memory",
            ),
            misses: counter(
                registry,
                "image_cache_misses",
                "Photo lookups of a name this process did not hold (answered from the store or Unsplash)",
            ),
            refreshes: counter(
                registry,
                "image_cache_refreshes",
                "Background lookups on Unsplash of a name answered past its TTL",
            ),
            failed_refreshes: counter(
                registry,
                "image_cache_failed_refreshes",
                "Background lookups that found no photo and kept the answer held before",
            ),
            over_budget: counter(
                registry,
                "unsplash_calls_over_budget",
                "Unsplash lookups not made because the hourly call budget or the key's quota was spent",
            ),
        }
    }
}

#[derive(Clone)]
pub struct ImageCache {
    default_photo: Arc<Photo>,
    /// `None` without an access key: every answer is the default image.
    lookups: Option<Lookups>,
}

impl ImageCache {
    pub fn new(
        unsplash: Option<Unsplash>,
        store: Option<Store>,
        default_photo: Photo,
        limits: CacheLimits,
        clock: Arc<dyn Clock>,
        registry: &mut Registry,
    ) -> Self {
        let default_photo = Arc::new(default_photo);
        let metrics = CacheMetrics::register(registry);
        let allowance = Allowance::per_hour(limits.calls_per_hour);
        let own_allowance = match store {
            Some(_) => (limits.calls_per_hour / OUTAGE_SHARE).max(1),
            None => limits.calls_per_hour,
        };
        let lookups = unsplash.map(|unsplash| Lookups {
            unsplash,
            store,
            allowance,
            budget: Arc::new(CallBudget::per_hour(own_allowance)),
            key_quota: Arc::new(KeyQuota::new(registry)),
            clock,
            ttl: limits.ttl,
            lease_for: limits.unsplash_timeout + LEASE_MARGIN,
            wait_for: limits.unsplash_timeout + WAIT_MARGIN,
            default_photo: default_photo.clone(),
            slots: Cache::builder().max_capacity(limits.max_entries).build(),
            metrics,
        });
        Self {
            default_photo,
            lookups,
        }
    }

    pub fn default_photo(&self) -> Arc<Photo> {
        self.default_photo.clone()
    }

    /// The photo for `bird` (already trimmed and non-empty).
    pub async fn photo(&self, bird: &str) -> Arc<Photo> {
        match &self.lookups {
            Some(lookups) => lookups.photo(bird).await,
            None => self.default_photo(),
        }
    }
}

/// Everything needed to look photos up; cheap to clone into a background task.
#[derive(Clone)]
struct Lookups {
    unsplash: Unsplash,
    store: Option<Store>,
    /// The fleet's allowance, spent in the store.
    allowance: Allowance,
    /// This process's own allowance: all of it without a store, its share while the store is down.
    budget: Arc<CallBudget>,
    key_quota: Arc<KeyQuota>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    /// How long a claim on a name in the store lasts.
    lease_for: Duration,
    /// How long a first lookup waits on another pod's claim.
    wait_for: Duration,
    default_photo: Arc<Photo>,
    slots: Cache<String, Arc<Slot>>,
    metrics: CacheMetrics,
}

/// What the cache holds for one name.
struct Slot {
    answer: Mutex<Answer>,
    /// A background revalidation is under way: one per name at a time.
    revalidating: AtomicBool,
}

#[derive(Clone)]
struct Answer {
    photo: Arc<Photo>,
    /// `photo` came from Unsplash (rather than being the default image): a last good photo
    /// to keep serving when a later lookup fails.
    from_unsplash: bool,
    /// When Unsplash is asked again (by whichever pod of the fleet, with a store).
    due: Instant,
    /// When this process looks again: at `due`, or sooner to read the store.
    recheck: Instant,
}

impl Slot {
    fn new(answer: Answer) -> Self {
        Self {
            answer: Mutex::new(answer),
            revalidating: AtomicBool::new(false),
        }
    }

    fn answer(&self) -> Answer {
        self.answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn replace(&self, answer: Answer) {
        *self.answer.lock().unwrap_or_else(|p| p.into_inner()) = answer;
    }
}

/// Marks a slot's revalidation as finished when dropped, however it ends.
struct Revalidating(Arc<Slot>);

impl Drop for Revalidating {
    fn drop(&mut self) {
        self.0.revalidating.store(false, Ordering::Release);
    }
}

/// Whether a lookup found no photo (a failed call, or no allowance left): a background refresh
/// that did is counted as failed. Any other outcome (a photo found, the name left to another
/// pod, nothing due) is `Fine`.
#[derive(PartialEq, Eq)]
enum Asked {
    Failed,
    Fine,
}

impl Lookups {
    async fn photo(&self, bird: &str) -> Arc<Photo> {
        let key = bird.to_lowercase();
        // The first lookup is boxed: moka moves the future it is given on every call, hit or
        // miss, and unboxed the lookup's state made that a memcpy of tens of kilobytes per
        // request (callgrind: half of a cached answer's instructions).
        let first_answer =
            async { Arc::new(Slot::new(Box::pin(self.first_answer(bird, &key)).await)) };
        let entry = self
            .slots
            .entry(key.clone())
            .or_insert_with(first_answer)
            .await;
        // moka's "fresh": this call ran the lookup that inserted the entry (concurrent callers
        // that waited for it are not fresh, and count as hits).
        if entry.is_fresh() {
            self.metrics.misses.inc();
        } else {
            self.metrics.hits.inc();
        }
        let slot = entry.into_value();
        let answer = slot.answer();
        if self.clock.now() >= answer.recheck {
            self.revalidate(slot, bird, key);
        }
        answer.photo
    }

    /// The answer for a name this process does not hold: the store's, else a lookup.
    async fn first_answer(&self, bird: &str, key: &str) -> Answer {
        let Some(store) = &self.store else {
            return self.lookup_alone(bird, key, None).await.0;
        };
        match store.read(key, self.clock.unix_millis()).await {
            Ok(Read {
                photo: Some(stored),
                ..
            }) => self.stored_answer(stored),
            Ok(read) => self.lookup_for_fleet(store, bird, key, None, read).await.0,
            Err(_) => self.lookup_alone(bird, key, None).await.0,
        }
    }

    /// Starts a background revalidation of `slot`, unless one is already under way. It runs in
    /// a span of its own that follows from the request's (whose lines it logs as that
    /// request's), so the request's span ends when the request does.
    fn revalidate(&self, slot: Arc<Slot>, bird: &str, key: String) {
        if slot.revalidating.swap(true, Ordering::AcqRel) {
            return;
        }
        let revalidating = Revalidating(slot);
        let lookups = self.clone();
        let bird = bird.to_owned();
        let span = tracing::error_span!(parent: None, "refresh");
        span.follows_from(tracing::Span::current());
        let revalidation = async move {
            let slot = &revalidating.0;
            let current = slot.answer();
            let (answer, asked) = match &lookups.store {
                Some(store) => lookups.revalidate_with(store, &bird, &key, current).await,
                None => lookups.lookup_alone(&bird, &key, Some(&current)).await,
            };
            slot.replace(answer);
            drop(revalidating);
            // Counted once the refresh is over, so the count says its effect is in place.
            if asked == Asked::Failed {
                lookups.metrics.failed_refreshes.inc();
            }
        };
        tokio::spawn(revalidation.instrument(span));
    }

    /// A name held past its recheck, with a store: what the fleet has, refreshed on Unsplash
    /// by this pod if it is due and no other pod is on it.
    async fn revalidate_with(
        &self,
        store: &Store,
        bird: &str,
        key: &str,
        current: Answer,
    ) -> (Answer, Asked) {
        let now = self.clock.now();
        let mut read = match store.read(key, self.clock.unix_millis()).await {
            Ok(read) => read,
            Err(_) if now >= current.due => {
                return self.lookup_alone(bird, key, Some(&current)).await;
            }
            Err(_) => return (self.keep(current), Asked::Fine),
        };
        let previous = match read.photo.take() {
            Some(stored) => {
                let answer = self.stored_answer(stored);
                if now < answer.due {
                    return (answer, Asked::Fine);
                }
                answer
            }
            None if current.from_unsplash && now < current.due => {
                // The store lost the photo (a restart, an eviction): give it back this pod's,
                // with no call. Another pod's newer photo wins.
                let stored = StoredPhoto {
                    photo: (*current.photo).clone(),
                    refresh_at: self.unix_millis_at(current.due),
                };
                let _ = store.restore(key, &stored, self.clock.unix_millis()).await;
                return (self.keep(current), Asked::Fine);
            }
            None => current,
        };
        self.lookup_for_fleet(store, bird, key, Some(previous), read)
            .await
    }

    /// Looks `bird` up for the whole fleet, from what `read` found: claims the name's call in
    /// the store, asks Unsplash and stores what it found. When another pod holds the claim, a
    /// first lookup (no `previous` answer) waits for that pod's photo; a refresh leaves it to
    /// that pod. When another pod refreshed the name since `read`, its photo is the answer.
    async fn lookup_for_fleet(
        &self,
        store: &Store,
        bird: &str,
        key: &str,
        previous: Option<Answer>,
        mut read: Read,
    ) -> (Answer, Asked) {
        let waiting_until = tokio::time::Instant::now() + self.wait_for;
        let gave_up = |previous: Option<Answer>| match previous {
            Some(previous) => self.keep(previous),
            None => self.gave_up_waiting(),
        };
        loop {
            let claim = if self.key_quota.allows(self.clock.now()) {
                let allowed = self.allowance.for_name(bird_catalogue::contains(key));
                let now = self.clock.unix_millis();
                store
                    .claim(key, &read.seen, allowed, self.lease_for, now)
                    .await
            } else {
                Ok(Claim::Paused)
            };
            let lease = match claim {
                Ok(Claim::Granted(lease)) => lease,
                Ok(Claim::Changed) => {
                    match store.read(key, self.clock.unix_millis()).await {
                        Ok(Read {
                            photo: Some(stored),
                            ..
                        }) if stored.refresh_at > self.clock.unix_millis() => {
                            return (self.stored_answer(stored), Asked::Fine);
                        }
                        Ok(again) if tokio::time::Instant::now() < waiting_until => read = again,
                        Ok(_) => return (gave_up(previous), Asked::Fine),
                        Err(_) => return self.lookup_alone(bird, key, previous.as_ref()).await,
                    }
                    continue;
                }
                Ok(Claim::Busy(LeaseState::Held)) if previous.is_none() => {
                    match self.wait_for_landing(store, key, waiting_until).await {
                        Ok(Read {
                            photo: Some(stored),
                            ..
                        }) => return (self.stored_answer(stored), Asked::Fine),
                        // The holder is gone without an answer: claim the name again.
                        Ok(again) if tokio::time::Instant::now() < waiting_until => {
                            read = again;
                            continue;
                        }
                        Ok(_) => return (gave_up(previous), Asked::Fine),
                        Err(()) => return self.lookup_alone(bird, key, None).await,
                    }
                }
                Ok(Claim::Busy(_)) => return (gave_up(previous), Asked::Fine),
                Ok(Claim::Spent { warn }) => {
                    self.refused(key, "fleet", warn);
                    return self.settled(bird, previous.as_ref(), Err(LookupError::OverBudget));
                }
                Ok(Claim::Paused) => {
                    self.metrics.over_budget.inc();
                    return self.settled(
                        bird,
                        previous.as_ref(),
                        Err(LookupError::KeyQuotaReserve),
                    );
                }
                Err(_) => return self.lookup_alone(bird, key, previous.as_ref()).await,
            };
            if previous.is_some() {
                self.metrics.refreshes.inc();
            }
            let found = self.search(bird).await;
            let now = self.clock.unix_millis();
            return match found {
                Ok(photo) => {
                    let stored = StoredPhoto {
                        photo,
                        refresh_at: now.saturating_add(whole_millis(self.ttl)),
                    };
                    let _ = store.land(lease, &stored, now).await;
                    (self.stored_answer(stored), Asked::Fine)
                }
                Err(err) => {
                    let _ = store.fail(lease, RETRY_AFTER).await;
                    self.settled(bird, previous.as_ref(), Err(err))
                }
            };
        }
    }

    /// Reads the store until another pod's photo for `key` lands, its claim ends without one,
    /// or `until` passes, and answers the last read; `Err` when the store fails.
    async fn wait_for_landing(
        &self,
        store: &Store,
        key: &str,
        until: tokio::time::Instant,
    ) -> Result<Read, ()> {
        let mut pause = Duration::from_millis(10);
        loop {
            let now = tokio::time::Instant::now();
            tokio::time::sleep_until(until.min(now + pause)).await;
            pause = (pause * 2).min(Duration::from_millis(200));
            let read = store
                .read(key, self.clock.unix_millis())
                .await
                .map_err(drop)?;
            if read.photo.is_some()
                || read.lease != LeaseState::Held
                || tokio::time::Instant::now() >= until
            {
                return Ok(read);
            }
        }
    }

    /// Looks `bird` up on this process's own allowance: without a store, or while it is down.
    async fn lookup_alone(
        &self,
        bird: &str,
        key: &str,
        previous: Option<&Answer>,
    ) -> (Answer, Asked) {
        if previous.is_some() {
            self.metrics.refreshes.inc();
        }
        let now = self.clock.now();
        let found = if !self.key_quota.allows(now) {
            self.metrics.over_budget.inc();
            Err(LookupError::KeyQuotaReserve)
        } else {
            match self.budget.try_spend(now, bird_catalogue::contains(key)) {
                Spend::Granted => self.search(bird).await,
                Spend::Refused { warn } => {
                    self.refused(key, "process", warn);
                    Err(LookupError::OverBudget)
                }
            }
        };
        self.settled(bird, previous, found)
    }

    /// One call to Unsplash, whose count of calls left on the key is taken into account.
    async fn search(&self, bird: &str) -> Result<Photo, LookupError> {
        let answer = self.unsplash.search(bird).await;
        if let Some(remaining) = answer.remaining {
            let paused = self.key_quota.observe(remaining, self.clock.now());
            if let (true, Some(store)) = (paused, &self.store) {
                let _ = store.pause_calls(key_quota::PAUSE).await;
            }
        }
        answer.photo
    }

    /// Counts a lookup the allowance refused, and warns about the first of a flood.
    fn refused(&self, key: &str, allowance: &'static str, warn: bool) {
        self.metrics.over_budget.inc();
        if warn {
            tracing::warn!(
                upstream = "unsplash",
                allowance,
                names = if bird_catalogue::contains(key) {
                    "catalogue"
                } else {
                    "outside the catalogue"
                },
                "the hourly Unsplash call budget is spent: answering cached or default images"
            );
        }
    }

    /// The answer to keep after a lookup: a photo found, else what was there before.
    fn settled(
        &self,
        bird: &str,
        previous: Option<&Answer>,
        found: Result<Photo, LookupError>,
    ) -> (Answer, Asked) {
        let now = self.clock.now();
        match found {
            Ok(photo) => (
                self.answer(Arc::new(photo), true, now + self.ttl),
                Asked::Fine,
            ),
            Err(err) => {
                let last_good = previous.filter(|answer| answer.from_unsplash);
                if !err.is_quota() {
                    tracing::warn!(
                        upstream = "unsplash",
                        bird,
                        reason = %err,
                        serving = if last_good.is_some() { "last good photo" } else { "default image" },
                        "no photo from Unsplash"
                    );
                }
                let answer = self.answer(
                    last_good.map_or_else(|| self.default_photo.clone(), |a| a.photo.clone()),
                    last_good.is_some(),
                    now + self.ttl.min(RETRY_AFTER),
                );
                (answer, Asked::Failed)
            }
        }
    }

    /// An answer due at `due`, looked at again then or, with a store, when it is read again.
    fn answer(&self, photo: Arc<Photo>, from_unsplash: bool, due: Instant) -> Answer {
        let recheck = match self.store {
            Some(_) => due.min(self.clock.now() + STORE_RECHECK),
            None => due,
        };
        Answer {
            photo,
            from_unsplash,
            due,
            recheck,
        }
    }

    /// What the fleet stored, due when the fleet's entry says.
    fn stored_answer(&self, stored: StoredPhoto) -> Answer {
        let now = self.clock.now();
        let ahead = stored.refresh_at.saturating_sub(self.clock.unix_millis());
        self.answer(
            Arc::new(stored.photo),
            true,
            now + Duration::from_millis(ahead),
        )
    }

    /// `current`, read again from the store after the usual pause, even when it is due: the
    /// pod refreshing it, or the allowance, decides when it changes.
    fn keep(&self, current: Answer) -> Answer {
        let now = self.clock.now();
        let recheck = if current.due > now {
            current.due.min(now + STORE_RECHECK)
        } else {
            now + STORE_RECHECK
        };
        Answer { recheck, ..current }
    }

    /// The default image for a first lookup that waited in vain for another pod's photo; the
    /// store is read again soon, when that photo has likely landed.
    fn gave_up_waiting(&self) -> Answer {
        let now = self.clock.now();
        Answer {
            photo: self.default_photo.clone(),
            from_unsplash: false,
            due: now + RETRY_AFTER,
            recheck: now + RECHECK_AFTER_WAIT,
        }
    }

    /// `instant` on the wall clock the fleet shares, in milliseconds since the epoch.
    fn unix_millis_at(&self, instant: Instant) -> u64 {
        let ahead = instant.saturating_duration_since(self.clock.now());
        self.clock.unix_millis().saturating_add(whole_millis(ahead))
    }
}
