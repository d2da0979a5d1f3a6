//! Photos by bird name, cached. Unsplash allows a demo key 50 calls an hour, so each name is
//! looked up at most once per TTL: concurrent misses for one name share a single call, and when
//! Unsplash fails the last good photo for that name is served (and retried a minute later).
//! The cache holds a bounded number of names and calls are drawn from an hourly budget, so a
//! flood of made-up names can neither grow memory nor spend the quota of the real birds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;
use service_kit::RequestId;
use service_kit::metrics::Registry;

use crate::budget::{CallBudget, Spend};
use crate::unsplash::{LookupError, Photo, Unsplash};

/// How soon a name whose lookup failed is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// How long a last good photo is kept for a name that Unsplash stops answering.
const LAST_GOOD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone, Debug)]
struct Entry {
    photo: Arc<Photo>,
    /// Found on Unsplash just now, rather than a fallback after a failure.
    fresh: bool,
}

struct EntryExpiry {
    ttl: Duration,
}

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(if entry.fresh {
            self.ttl
        } else {
            self.ttl.min(RETRY_AFTER)
        })
    }
}

#[derive(Clone, Debug)]
struct CacheMetrics {
    hits: Counter,
    misses: Counter,
    over_budget: Counter,
}

/// Bounds of the cache and of the calls it makes.
#[derive(Clone, Copy, Debug)]
pub struct CacheLimits {
    /// How long a photo found on Unsplash is reused.
    pub ttl: Duration,
    /// Bird names held at most.
    pub max_entries: u64,
    /// Unsplash calls allowed per hour, in bursts of up to that many.
    pub calls_per_hour: u32,
}

#[derive(Clone)]
pub struct ImageCache {
    unsplash: Option<Unsplash>,
    budget: Arc<CallBudget>,
    default_photo: Arc<Photo>,
    entries: Cache<String, Entry>,
    last_good: Cache<String, Arc<Photo>>,
    metrics: CacheMetrics,
}

impl ImageCache {
    pub fn new(
        unsplash: Option<Unsplash>,
        default_photo: Photo,
        limits: CacheLimits,
        registry: &mut Registry,
    ) -> Self {
        let metrics = CacheMetrics {
            hits: Counter::default(),
            misses: Counter::default(),
            over_budget: Counter::default(),
        };
        registry.register(
            "image_cache_hits",
            "Photo lookups answered from the cache",
            metrics.hits.clone(),
        );
        registry.register(
            "image_cache_misses",
            "Photo lookups that needed Unsplash",
            metrics.misses.clone(),
        );
        registry.register(
            "unsplash_calls_over_budget",
            "Unsplash lookups not made because the hourly call budget was spent",
            metrics.over_budget.clone(),
        );
        let CacheLimits {
            ttl,
            max_entries,
            calls_per_hour,
        } = limits;
        Self {
            unsplash,
            budget: Arc::new(CallBudget::per_hour(calls_per_hour)),
            default_photo: Arc::new(default_photo),
            entries: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(EntryExpiry { ttl })
                .build(),
            last_good: Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(LAST_GOOD_TTL)
                .build(),
            metrics,
        }
    }

    pub fn default_photo(&self) -> Arc<Photo> {
        self.default_photo.clone()
    }

    /// The photo for `bird` (already trimmed and non-empty).
    pub async fn photo(&self, bird: &str, request_id: &RequestId) -> Arc<Photo> {
        let Some(unsplash) = &self.unsplash else {
            return self.default_photo();
        };
        let key = bird.to_lowercase();
        let entry = self
            .entries
            .entry(key.clone())
            .or_insert_with(self.lookup(unsplash, bird, key, request_id))
            .await;
        if entry.is_fresh() {
            self.metrics.misses.inc();
        } else {
            self.metrics.hits.inc();
        }
        entry.into_value().photo
    }

    async fn lookup(
        &self,
        unsplash: &Unsplash,
        bird: &str,
        key: String,
        request_id: &RequestId,
    ) -> Entry {
        let found = match self.budget.try_spend() {
            Spend::Granted => unsplash.search(bird, request_id).await,
            Spend::Refused { warn } => {
                self.metrics.over_budget.inc();
                if warn {
                    tracing::warn!(
                        service = crate::SERVICE,
                        upstream = "unsplash",
                        "the hourly Unsplash call budget is spent: answering cached or default images"
                    );
                }
                Err(LookupError::OverBudget)
            }
        };
        match found {
            Ok(photo) => {
                let photo = Arc::new(photo);
                self.last_good.insert(key, photo.clone()).await;
                Entry { photo, fresh: true }
            }
            Err(err) => {
                let last_good = self.last_good.get(&key).await;
                // Over budget is logged once a minute by the budget, not once per name.
                if err != LookupError::OverBudget {
                    tracing::warn!(
                        service = crate::SERVICE,
                        upstream = "unsplash",
                        bird,
                        reason = %err,
                        serving = if last_good.is_some() { "last good photo" } else { "default image" },
                        request_id = request_id.as_str(),
                        "no photo from Unsplash"
                    );
                }
                Entry {
                    photo: last_good.unwrap_or_else(|| self.default_photo()),
                    fresh: false,
                }
            }
        }
    }
}
