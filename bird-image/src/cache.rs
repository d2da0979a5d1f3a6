//! Photos by bird name, cached. Unsplash allows a demo key 50 calls an hour, so each name is
//! looked up at most once per TTL: concurrent misses for one name share a single call, and when
//! Unsplash fails the last good photo for that name is served (and retried a minute later).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;
use service_kit::RequestId;
use service_kit::metrics::Registry;

use crate::unsplash::{Photo, Unsplash};

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
}

#[derive(Clone)]
pub struct ImageCache {
    unsplash: Option<Unsplash>,
    default_photo: Arc<Photo>,
    entries: Cache<String, Entry>,
    last_good: Cache<String, Arc<Photo>>,
    metrics: CacheMetrics,
}

impl ImageCache {
    pub fn new(
        unsplash: Option<Unsplash>,
        default_photo: Photo,
        ttl: Duration,
        max_entries: u64,
        registry: &mut Registry,
    ) -> Self {
        let metrics = CacheMetrics {
            hits: Counter::default(),
            misses: Counter::default(),
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
        Self {
            unsplash,
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
        match unsplash.search(bird, request_id).await {
            Ok(photo) => {
                let photo = Arc::new(photo);
                self.last_good.insert(key, photo.clone()).await;
                Entry { photo, fresh: true }
            }
            Err(err) => {
                let last_good = self.last_good.get(&key).await;
                tracing::warn!(
                    service = crate::SERVICE,
                    upstream = "unsplash",
                    bird,
                    reason = %err,
                    serving = if last_good.is_some() { "last good photo" } else { "default image" },
                    request_id = request_id.as_str(),
                    "no photo from Unsplash"
                );
                Entry {
                    photo: last_good.unwrap_or_else(|| self.default_photo()),
                    fresh: false,
                }
            }
        }
    }
}
