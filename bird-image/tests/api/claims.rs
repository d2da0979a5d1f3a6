//! The store's protocol, one step at a time, against a real `redis-server`: a claim on a
//! name's Unsplash call goes to one pod, ends with its photo or a failure mark, and is refused
//! to a pod whose read is out of date, so no pod looks up a name another has just refreshed.

use std::time::Duration;

use bird_image::store::{Claim, Lease, LeaseState, Store, StoredPhoto};
use bird_image::unsplash::Photo;
use service_kit::metrics::Registry;
use url::Url;

use crate::store_server::StoreServer;

const NOW: u64 = 1_800_000_000_000;
const LEASE: Duration = Duration::from_secs(3);
const ALLOWED: u32 = 50;

fn store(server: &StoreServer) -> Store {
    Store::connect(
        &server.cache_url(),
        Duration::from_millis(500),
        &mut Registry::default(),
    )
    .unwrap()
}

/// Reads `name` and claims its call, which must be granted.
async fn granted(store: &Store, name: &str) -> Lease {
    let read = store.read(name, NOW).await.unwrap();
    match store.claim(name, &read.seen, ALLOWED, LEASE, NOW).await {
        Ok(Claim::Granted(lease)) => lease,
        refused => panic!("the claim on {name} was refused: {refused:?}"),
    }
}

fn photo(refresh_at: u64) -> StoredPhoto {
    StoredPhoto {
        photo: Photo {
            url: Url::parse("https://images.unsplash.com/p?w=2000&q=100").unwrap(),
            credit: None,
        },
        refresh_at,
    }
}

#[tokio::test]
async fn one_pod_at_a_time_holds_a_names_claim_until_it_lands() {
    let server = StoreServer::start().await;
    let (a, b) = (store(&server), store(&server));
    let read = a.read("mallard", NOW).await.unwrap();
    assert!(read.photo.is_none());
    assert_eq!(read.lease, LeaseState::Free);
    let Claim::Granted(lease) = a
        .claim("mallard", &read.seen, ALLOWED, LEASE, NOW)
        .await
        .unwrap()
    else {
        panic!("the first claim is granted");
    };
    let read_by_b = b.read("mallard", NOW).await.unwrap();
    assert_eq!(read_by_b.lease, LeaseState::Held);
    let refused = b
        .claim("mallard", &read_by_b.seen, ALLOWED, LEASE, NOW)
        .await;
    assert!(
        matches!(refused, Ok(Claim::Busy(LeaseState::Held))),
        "{refused:?}"
    );

    a.land(lease, &photo(NOW + 3_600_000), NOW).await.unwrap();
    let landed = b.read("mallard", NOW).await.unwrap();
    assert_eq!(landed.photo, Some(photo(NOW + 3_600_000)));
    assert_eq!(landed.lease, LeaseState::Free, "landing ends the claim");
}

/// b read the name, then a refreshed it: b's claim is refused, so b reads the new photo
/// rather than asking Unsplash a second time.
#[tokio::test]
async fn a_claim_on_an_entry_that_changed_since_the_read_is_refused() {
    let server = StoreServer::start().await;
    let (a, b) = (store(&server), store(&server));
    let stale = photo(NOW - 1);
    let lease = granted(&a, "mallard").await;
    a.land(lease, &stale, NOW).await.unwrap();

    let read_by_b = b.read("mallard", NOW).await.unwrap();
    assert_eq!(read_by_b.photo, Some(stale.clone()));
    let refresh = granted(&a, "mallard").await;
    a.land(refresh, &photo(NOW + 3_600_000), NOW).await.unwrap();

    let late = b
        .claim("mallard", &read_by_b.seen, ALLOWED, LEASE, NOW)
        .await;
    assert!(matches!(late, Ok(Claim::Changed)), "{late:?}");
}

#[tokio::test]
async fn a_failed_lookup_leaves_a_mark_that_holds_the_fleet_back() {
    let server = StoreServer::start().await;
    let (a, b) = (store(&server), store(&server));
    let lease = granted(&a, "mallard").await;
    a.fail(lease, Duration::from_secs(60)).await.unwrap();
    let read = b.read("mallard", NOW).await.unwrap();
    assert_eq!(read.lease, LeaseState::Failed);
    let refused = b.claim("mallard", &read.seen, ALLOWED, LEASE, NOW).await;
    assert!(
        matches!(refused, Ok(Claim::Busy(LeaseState::Failed))),
        "{refused:?}"
    );
}

/// The allowance is a window of 60 minutes over the fleet's calls, whoever made them: full,
/// it refuses until the oldest call is an hour old.
#[tokio::test]
async fn the_fleets_calls_are_counted_over_any_sixty_minutes() {
    let server = StoreServer::start().await;
    let (a, b) = (store(&server), store(&server));
    let claim = |store: Store, name: &'static str, at: u64| async move {
        let read = store.read(name, at).await.unwrap();
        store.claim(name, &read.seen, 2, LEASE, at).await.unwrap()
    };
    assert!(matches!(
        claim(a.clone(), "one", NOW).await,
        Claim::Granted(_)
    ));
    assert!(matches!(
        claim(b.clone(), "two", NOW + 1_800_000).await,
        Claim::Granted(_)
    ));
    assert!(matches!(
        claim(a.clone(), "three", NOW + 3_599_999).await,
        Claim::Spent { warn: true }
    ));
    assert!(matches!(
        claim(a.clone(), "four", NOW + 3_599_999).await,
        Claim::Spent { warn: false }
    ));
    assert!(matches!(
        claim(b.clone(), "five", NOW + 3_600_000).await,
        Claim::Granted(_)
    ));
    assert!(matches!(
        claim(b, "six", NOW + 3_600_000).await,
        Claim::Spent { .. }
    ));
}
