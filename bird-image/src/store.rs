//! The fleet's shared store (`CACHE_URL`: Valkey, or any server that speaks the Redis
//! protocol): the photos every pod answers, a lease per name so the fleet asks Unsplash about
//! it once, and the hourly allowance of the whole fleet, spent atomically by a script.
//!
//! The store is a cache: losing it costs Unsplash calls, never an answer. Each operation has
//! a deadline (`CACHE_TIMEOUT_MS`). The first one that fails marks the store down, with one
//! warning for the outage; while it is down no request waits on it, and a probe every
//! [`PROBE_EVERY`] brings it back as soon as it answers. The connection manager reconnects
//! by itself.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use secrecy::ExposeSecret;
use service_kit::metrics::{Registry, counter, registered};

use crate::budget::WINDOW;
use crate::clock::whole_millis;
use crate::config::CacheUrl;

mod entry;

pub use entry::StoredPhoto;

/// How often a store that is down is asked whether it is back.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// How long the fleet keeps a photo past its refresh time, to answer it while Unsplash fails.
pub const KEEP_AFTER_REFRESH: Duration = Duration::from_secs(7 * 24 * 3600);

// Every key starts with `bird-image:`, so the service's data is easy to find in a store that
// serves others too.

/// The calls of the last hour, for the whole fleet.
const CALLS_KEY: &str = "bird-image:unsplash-calls";
/// Set for an hour once Unsplash reports the key down to its reserve.
const PAUSE_KEY: &str = "bird-image:unsplash-paused";

/// The connection's states, in `Store::state`.
const CONNECTING: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

#[derive(Clone)]
pub struct Store(Arc<Inner>);

struct Inner {
    connection: ConnectionManager,
    timeout: Duration,
    state: AtomicU8,
    /// A refused claim was already logged since the last granted one: a flood warns once.
    warned_spent: AtomicBool,
    scripts: Scripts,
    metrics: StoreMetrics,
}

struct Scripts {
    read: Script,
    claim: Script,
    land: Script,
    fail: Script,
}

/// Why an operation did not reach the store, for the one warning of an outage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is down")]
    Down,
    #[error("no answer from the store within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Failed(RedisError),
}

/// A name's lease, as a read finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseState {
    Free,
    /// A pod is asking Unsplash about the name now.
    Held,
    /// A lookup of the name failed lately; the fleet tries again when the mark expires.
    Failed,
}

/// What the store holds for a name.
#[derive(Debug)]
pub struct Read {
    pub photo: Option<StoredPhoto>,
    pub lease: LeaseState,
    pub seen: Seen,
}

/// A name's entry as a read found it, byte for byte: a claim is granted only while the entry
/// is still the same, so no pod looks up a name another pod has refreshed since it read.
#[derive(Debug)]
pub struct Seen(Vec<u8>);

/// The answer to a claim on a name's Unsplash call.
#[derive(Debug)]
pub enum Claim {
    /// The call is this pod's to make; the lease ends with [`Store::land`] or [`Store::fail`].
    Granted(Lease),
    /// The name's entry changed since it was read: read it again.
    Changed,
    /// Another pod holds the name's lease, or a failure mark holds the name back.
    Busy(LeaseState),
    /// The fleet's hourly allowance is spent (`warn` for the first refusal of a flood).
    Spent { warn: bool },
    /// Unsplash reported the key down to its reserve: no calls until the hour turns.
    Paused,
}

/// A claim that was granted: the name and the token that proves whose it is.
#[derive(Debug)]
pub struct Lease {
    name: String,
    token: String,
}

impl Store {
    /// A store at `url`, connected in the background: a service starts and answers whether
    /// or not its store is there.
    pub fn connect(
        url: &CacheUrl,
        timeout: Duration,
        registry: &mut Registry,
    ) -> Result<Self, String> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|_| "CACHE_URL is not a store URL the client accepts".to_owned())?;
        // One attempt per use: while the store is down, the probe is what retries.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|err| format!("cannot set up the store's connection: {err}"))?;
        let store = Self(Arc::new(Inner {
            connection,
            timeout,
            state: AtomicU8::new(CONNECTING),
            warned_spent: AtomicBool::new(false),
            scripts: Scripts {
                read: Script::new(include_str!("store/read.lua")),
                claim: Script::new(include_str!("store/claim.lua")),
                land: Script::new(include_str!("store/land.lua")),
                fail: Script::new(include_str!("store/fail.lua")),
            },
            metrics: StoreMetrics::register(registry),
        }));
        let first = store.clone();
        tokio::spawn(async move {
            let _ = first.ping().await;
        });
        Ok(store)
    }

    /// What the store holds for `name` (a lower-cased bird name); `now` in ms since the epoch.
    pub async fn read(&self, name: &str, now: u64) -> Result<Read, StoreError> {
        let mut read = self.0.scripts.read.prepare_invoke();
        read.key(photo_key(name))
            .key(lease_key(name))
            .arg(entry::MAX_BYTES);
        let (entry, lease): (Vec<u8>, String) = self
            .run("read", |mut connection| {
                let read = &read;
                async move { read.invoke_async(&mut connection).await }
            })
            .await?;
        let metrics = &self.0.metrics;
        let photo = (!entry.is_empty())
            .then(|| {
                let stored = StoredPhoto::decode(&entry, now);
                if stored.is_none() {
                    metrics.rejected.inc();
                }
                stored
            })
            .flatten();
        if photo.is_some() {
            metrics.hits.inc();
        } else {
            metrics.misses.inc();
        }
        let lease = match lease.as_str() {
            "" => LeaseState::Free,
            "failed" => LeaseState::Failed,
            _ => LeaseState::Held,
        };
        Ok(Read {
            photo,
            lease,
            seen: Seen(entry),
        })
    }

    /// Claims the Unsplash call for `name`, with a lease that lasts `lease_for`: granted to
    /// one pod at a time, only if the name's entry is still what `seen` says, and only while
    /// the fleet's calls of the last hour (by `now`, ms since the epoch) are fewer than
    /// `allowed`.
    pub async fn claim(
        &self,
        name: &str,
        seen: &Seen,
        allowed: u32,
        lease_for: Duration,
        now: u64,
    ) -> Result<Claim, StoreError> {
        let token = format!("{:016x}", rand::random::<u64>());
        let mut claim = self.0.scripts.claim.prepare_invoke();
        claim
            .key(lease_key(name))
            .key(CALLS_KEY)
            .key(PAUSE_KEY)
            .key(photo_key(name))
            .arg(&token)
            .arg(whole_millis(lease_for))
            .arg(now)
            .arg(whole_millis(WINDOW))
            .arg(allowed)
            .arg(format!("{now}-{token}"))
            .arg(&seen.0)
            .arg(entry::MAX_BYTES);
        let (verdict, spent): (String, u64) = self
            .run("claim", |mut connection| {
                let claim = &claim;
                async move { claim.invoke_async(&mut connection).await }
            })
            .await?;
        let metrics = &self.0.metrics;
        Ok(match verdict.as_str() {
            "granted" => {
                metrics.spent.set(i64::try_from(spent).unwrap_or(i64::MAX));
                self.0.warned_spent.store(false, Ordering::Relaxed);
                Claim::Granted(Lease {
                    name: name.to_owned(),
                    token,
                })
            }
            "spent" => {
                metrics.spent.set(i64::try_from(spent).unwrap_or(i64::MAX));
                Claim::Spent {
                    warn: !self.0.warned_spent.swap(true, Ordering::Relaxed),
                }
            }
            "changed" => Claim::Changed,
            "paused" => Claim::Paused,
            "failed" => Claim::Busy(LeaseState::Failed),
            _ => Claim::Busy(LeaseState::Held),
        })
    }

    /// Stores the photo `lease` found, kept [`KEEP_AFTER_REFRESH`] past its refresh, and ends
    /// the lease.
    pub async fn land(
        &self,
        lease: Lease,
        photo: &StoredPhoto,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut land = self.0.scripts.land.prepare_invoke();
        land.key(photo_key(&lease.name))
            .key(lease_key(&lease.name))
            .arg(photo.encode())
            .arg(keep_for(photo, now))
            .arg(lease.token);
        self.run("land", |mut connection| {
            let land = &land;
            async move { land.invoke_async::<i64>(&mut connection).await }
        })
        .await
        .map(drop)
    }

    /// Ends `lease` with no photo found: the fleet leaves the name alone for `retry_after`.
    pub async fn fail(&self, lease: Lease, retry_after: Duration) -> Result<(), StoreError> {
        let mut fail = self.0.scripts.fail.prepare_invoke();
        fail.key(lease_key(&lease.name))
            .arg(lease.token)
            .arg(whole_millis(retry_after));
        self.run("fail", |mut connection| {
            let fail = &fail;
            async move { fail.invoke_async::<i64>(&mut connection).await }
        })
        .await
        .map(drop)
    }

    /// Gives the store back a photo this pod holds, unless the store has one for the name
    /// already: after the store lost its data, the fleet's memory refills it with no call.
    pub async fn restore(
        &self,
        name: &str,
        photo: &StoredPhoto,
        now: u64,
    ) -> Result<(), StoreError> {
        let (key, entry) = (photo_key(name), photo.encode());
        self.set_unless_present("restore", &key, &entry, keep_for(photo, now))
            .await
    }

    /// Stops the fleet's calls for `pause`: Unsplash reported the key down to its reserve. A
    /// pause under way is not extended.
    pub async fn pause_calls(&self, pause: Duration) -> Result<(), StoreError> {
        self.set_unless_present("pause", PAUSE_KEY, b"1", whole_millis(pause))
            .await
    }

    /// `SET key value PX expire_ms NX`.
    async fn set_unless_present(
        &self,
        op: &'static str,
        key: &str,
        value: &[u8],
        expire_ms: u64,
    ) -> Result<(), StoreError> {
        let mut set = redis::cmd("SET");
        set.arg(key).arg(value).arg("PX").arg(expire_ms).arg("NX");
        self.run(op, |mut connection| {
            let set = &set;
            async move { set.query_async::<Option<String>>(&mut connection).await }
        })
        .await
        .map(drop)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run_even_if_down("ping", |mut connection| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        })
        .await
        .map(drop)
    }

    /// Runs one operation within the deadline, unless the store is down.
    async fn run<T, F, Fut>(&self, op: &'static str, operation: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if self.0.state.load(Ordering::Acquire) == DOWN {
            return Err(StoreError::Down);
        }
        self.run_even_if_down(op, operation).await
    }

    /// Runs one operation within the deadline. A connection found dropped (the store
    /// restarted since it was last used) is replaced and the operation tried once more.
    async fn run_even_if_down<T, F, Fut>(
        &self,
        op: &'static str,
        operation: F,
    ) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let started = Instant::now();
        let attempts = async {
            match operation(self.0.connection.clone()).await {
                Err(err) if err.is_connection_dropped() => {
                    operation(self.0.connection.clone()).await
                }
                outcome => outcome,
            }
        };
        let outcome = tokio::time::timeout(self.0.timeout, attempts).await;
        let metrics = &self.0.metrics;
        metrics
            .duration
            .get_or_create(&OpLabel { op })
            .observe(started.elapsed().as_secs_f64());
        let error = match outcome {
            Ok(Ok(value)) => {
                self.came_up();
                return Ok(value);
            }
            Ok(Err(err)) => StoreError::Failed(err),
            Err(_) => StoreError::Timeout(self.0.timeout),
        };
        let reason = match &error {
            StoreError::Timeout(_) => "timeout",
            StoreError::Failed(err) if err.is_io_error() => "connection",
            _ => "response",
        };
        metrics.errors.get_or_create(&ReasonLabel { reason }).inc();
        self.went_down(op, &error);
        Err(error)
    }

    fn came_up(&self) {
        let was = self.0.state.swap(UP, Ordering::AcqRel);
        self.0.metrics.up.set(1);
        if was == DOWN {
            tracing::info!(
                store = "cache",
                "the store answers again: photos and the Unsplash allowance are the fleet's again"
            );
        }
    }

    /// Marks the store down, warns once for the outage and starts the probe that ends it.
    fn went_down(&self, op: &'static str, error: &StoreError) {
        if self.0.state.swap(DOWN, Ordering::AcqRel) == DOWN {
            return;
        }
        self.0.metrics.up.set(0);
        tracing::warn!(
            store = "cache",
            op,
            reason = %error,
            "the store is unreachable: answering from this pod's memory, with its own conservative Unsplash allowance, until it is back"
        );
        tokio::spawn(probe(Arc::downgrade(&self.0)));
    }
}

/// Asks a store that is down whether it is back, every [`PROBE_EVERY`], until it is (or the
/// service that owned it is gone).
async fn probe(store: Weak<Inner>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(inner) = store.upgrade() else {
            return;
        };
        if Store(inner).ping().await.is_ok() {
            return;
        }
    }
}

fn photo_key(name: &str) -> String {
    format!("bird-image:photo:{name}")
}

fn lease_key(name: &str) -> String {
    format!("bird-image:lease:{name}")
}

/// How long the store keeps `photo`'s entry from `now`: until its refresh, and a week more.
fn keep_for(photo: &StoredPhoto, now: u64) -> u64 {
    photo
        .refresh_at
        .saturating_sub(now)
        .saturating_add(whole_millis(KEEP_AFTER_REFRESH))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Store operations answer in well under a millisecond on a healthy network: buckets from
/// 100 µs to about 400 ms, past any `CACHE_TIMEOUT_MS` worth setting.
fn store_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 13))
}

#[derive(Clone)]
struct StoreMetrics {
    up: Gauge,
    hits: Counter,
    misses: Counter,
    rejected: Counter,
    errors: Family<ReasonLabel, Counter>,
    duration: Family<OpLabel, Histogram, fn() -> Histogram>,
    spent: Gauge,
}

impl StoreMetrics {
    fn register(registry: &mut Registry) -> Self {
        Self {
            up: registered(
                registry,
                "image_store_up",
                "1 while the fleet's store answers, 0 during an outage (answers then come from this pod's memory)",
                Gauge::default(),
            ),
            hits: counter(
                registry,
                "image_store_hits",
                "Photo reads that found a photo in the fleet's store",
            ),
            misses: counter(
                registry,
                "image_store_misses",
                "Photo reads that found no usable photo in the fleet's store",
            ),
            rejected: counter(
                registry,
                "image_store_rejected_entries",
                "Entries read from the store that were not a checked photo, ignored and replaced",
            ),
            errors: registered(
                registry,
                "image_store_errors",
                "Store operations that failed, by reason (timeout, connection, response)",
                Family::default(),
            ),
            duration: registered(
                registry,
                "image_store_duration_seconds",
                "Time a store operation took, by operation",
                Family::new_with_constructor(store_histogram),
            ),
            spent: registered(
                registry,
                "unsplash_calls_spent",
                "Unsplash calls the fleet made in the last 60 minutes, as the store last counted them",
                Gauge::default(),
            ),
        }
    }
}
