//! Photos by bird name, cached, so Unsplash is asked about a name at most once per TTL.
//! Concurrent first lookups of a name share one call. Once a name has an answer, its callers
//! never wait for Unsplash again: past the TTL they get that answer at once while one
//! background call per name refreshes it. A failed call keeps the photo found before (or the
//! default image) and is tried again a minute later.
//!
//! Every call needs room in this process's hourly budget (part of which only bird's catalogue
//! may spend, see [`crate::budget`]) and in the key's quota that Unsplash reports
//! ([`crate::key_quota`]). The cache holds a bounded number of names, so a flood of made-up
//! names can grow neither memory nor the calls made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;
use service_kit::metrics::{Registry, counter};
use tracing::Instrument;

use crate::budget::{CallBudget, Spend};
use crate::catalogue;
use crate::clock::Clock;
use crate::key_quota::KeyQuota;
use crate::unsplash::{LookupError, Photo, Unsplash};

/// How soon a name whose lookup failed is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Bounds of the cache and of the calls it makes.
#[derive(Clone, Copy, Debug)]
pub struct CacheLimits {
    /// How long a photo found on Unsplash is answered before it is refreshed.
    pub ttl: Duration,
    /// Bird names held at most.
    pub max_entries: u64,
    /// Unsplash calls allowed in any 60 minutes.
    pub calls_per_hour: u32,
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
                "Photo lookups answered from the cache",
            ),
            misses: counter(
                registry,
                "image_cache_misses",
                "Photo lookups that waited for Unsplash (a name not seen before)",
            ),
            refreshes: counter(
                registry,
                "image_cache_refreshes",
                "Background refreshes of a name answered past its TTL",
            ),
            failed_refreshes: counter(
                registry,
                "image_cache_failed_refreshes",
                "Background refreshes that found no photo and kept the answer held before",
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
        default_photo: Photo,
        limits: CacheLimits,
        clock: Arc<dyn Clock>,
        registry: &mut Registry,
    ) -> Self {
        let default_photo = Arc::new(default_photo);
        let metrics = CacheMetrics::register(registry);
        let lookups = unsplash.map(|unsplash| Lookups {
            unsplash,
            budget: Arc::new(CallBudget::per_hour(limits.calls_per_hour)),
            key_quota: Arc::new(KeyQuota::new(registry)),
            clock,
            ttl: limits.ttl,
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

/// Everything needed to look photos up on Unsplash; cheap to clone into a background refresh.
#[derive(Clone)]
struct Lookups {
    unsplash: Unsplash,
    budget: Arc<CallBudget>,
    key_quota: Arc<KeyQuota>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    default_photo: Arc<Photo>,
    slots: Cache<String, Arc<Slot>>,
    metrics: CacheMetrics,
}

/// What the cache holds for one name.
struct Slot {
    answer: Mutex<Answer>,
    /// A background refresh is under way: one per name at a time.
    refreshing: AtomicBool,
}

#[derive(Clone)]
struct Answer {
    photo: Arc<Photo>,
    /// `photo` came from Unsplash (rather than being the default image): a last good photo
    /// to keep serving when a later lookup fails.
    from_unsplash: bool,
    /// When to ask Unsplash again.
    due: Instant,
}

impl Slot {
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

/// Marks a slot's refresh as finished when dropped, however the refresh ends.
struct Refreshing(Arc<Slot>);

impl Drop for Refreshing {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
    }
}

impl Lookups {
    async fn photo(&self, bird: &str) -> Arc<Photo> {
        let key = bird.to_lowercase();
        let entry = self
            .slots
            .entry(key.clone())
            .or_insert_with(async {
                let found = self.fetch(bird, &key).await;
                let answer = self.settle(bird, None, found);
                Arc::new(Slot {
                    answer: Mutex::new(answer),
                    refreshing: AtomicBool::new(false),
                })
            })
            .await;
        // moka's "fresh": this call ran the lookup that inserted the entry (concurrent callers
        // that waited for it are not fresh, and count as hits).
        if entry.is_fresh() {
            self.metrics.misses.inc();
            return entry.into_value().answer().photo;
        }
        self.metrics.hits.inc();
        let slot = entry.into_value();
        let answer = slot.answer();
        if self.clock.now() >= answer.due {
            self.refresh(slot, bird, key);
        }
        answer.photo
    }

    /// Starts a background refresh of `slot`, unless one is already under way. It runs in a
    /// span of its own that follows from the request's (whose lines it logs as that request's),
    /// so the request's span ends when the request does.
    fn refresh(&self, slot: Arc<Slot>, bird: &str, key: String) {
        if slot.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.metrics.refreshes.inc();
        let refreshing = Refreshing(slot);
        let lookups = self.clone();
        let bird = bird.to_owned();
        let span = tracing::error_span!(parent: None, "refresh");
        span.follows_from(tracing::Span::current());
        let refresh = async move {
            let found = lookups.fetch(&bird, &key).await;
            let failed = found.is_err();
            let slot = &refreshing.0;
            slot.replace(lookups.settle(&bird, Some(&slot.answer()), found));
            drop(refreshing);
            // Counted once the refresh is over, so the count says its effect is in place.
            if failed {
                lookups.metrics.failed_refreshes.inc();
            }
        };
        tokio::spawn(refresh.instrument(span));
    }

    /// One call to Unsplash for `bird`, if the budget and the key's quota allow it.
    async fn fetch(&self, bird: &str, key: &str) -> Result<Photo, LookupError> {
        let now = self.clock.now();
        if !self.key_quota.allows(now) {
            self.metrics.over_budget.inc();
            return Err(LookupError::KeyQuotaReserve);
        }
        let for_catalogue = catalogue::contains(key);
        if let Spend::Refused { warn } = self.budget.try_spend(now, for_catalogue) {
            self.metrics.over_budget.inc();
            if warn {
                tracing::warn!(
                    upstream = "unsplash",
                    names = if for_catalogue {
                        "catalogue"
                    } else {
                        "outside the catalogue"
                    },
                    "the hourly Unsplash call budget is spent: answering cached or default images"
                );
            }
            return Err(LookupError::OverBudget);
        }
        let answer = self.unsplash.search(bird).await;
        if let Some(remaining) = answer.remaining {
            self.key_quota.observe(remaining, self.clock.now());
        }
        answer.photo
    }

    /// The answer to keep after a lookup: a photo found, else what was there before.
    fn settle(
        &self,
        bird: &str,
        previous: Option<&Answer>,
        found: Result<Photo, LookupError>,
    ) -> Answer {
        let now = self.clock.now();
        match found {
            Ok(photo) => Answer {
                photo: Arc::new(photo),
                from_unsplash: true,
                due: now + self.ttl,
            },
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
                Answer {
                    photo: last_good
                        .map_or_else(|| self.default_photo.clone(), |a| a.photo.clone()),
                    from_unsplash: last_good.is_some(),
                    due: now + self.ttl.min(RETRY_AFTER),
                }
            }
        }
    }
}
