//! The call to bird-image's `/v1/image`, with a short cache of good answers.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use moka::future::Cache;
use serde::{Deserialize, Serialize};
use service_kit::RequestId;
use service_kit::http_client::{UpstreamClient, UpstreamError};
use service_kit::photo::Credit;
use service_kit::web_url::{endpoint, is_web_url};
use tokio::time::Instant;
use url::Url;

/// A photo and its credit, as bird-image answers them.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Image {
    pub url: Url,
    pub credit: Option<Credit>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Upstream(UpstreamError),
    #[error("bird-image sent an image address that is not a web URL")]
    NotWebUrl,
}

#[derive(Clone)]
pub struct BirdImage {
    client: UpstreamClient,
    endpoint: Url,
    /// Good answers only, so a recovered bird-image is seen at once.
    cache: Option<Cache<&'static str, Cached>>,
    ttl: Duration,
}

/// A good answer and when it goes stale, by tokio's clock, which tests move forward
/// (`tokio::time::advance`) instead of sleeping past the TTL.
#[derive(Clone)]
struct Cached {
    image: Arc<Image>,
    stale_at: Instant,
}

impl BirdImage {
    pub fn new(client: UpstreamClient, base: &Url, cache_ttl: Duration) -> Self {
        let cache = (!cache_ttl.is_zero()).then(|| Cache::new(64));
        Self {
            client,
            endpoint: endpoint(base, "v1/image"),
            cache,
            ttl: cache_ttl,
        }
    }

    pub async fn image(
        &self,
        bird: &'static str,
        request_id: &RequestId,
    ) -> Result<Arc<Image>, ImageError> {
        let Some(cache) = &self.cache else {
            return self.fetch(bird, request_id).await;
        };
        if let Some(cached) = cache.get(bird).await {
            if Instant::now() < cached.stale_at {
                return Ok(cached.image);
            }
            cache.invalidate(bird).await;
        }
        // Concurrent misses for one bird share one call, and its error.
        let fetched = async {
            let image = self.fetch(bird, request_id).await?;
            let stale_at = Instant::now() + self.ttl;
            Ok::<_, ImageError>(Cached { image, stale_at })
        };
        cache
            .try_get_with(bird, fetched)
            .await
            .map(|cached| cached.image)
            .map_err(|err| (*err).clone())
    }

    async fn fetch(&self, bird: &str, request_id: &RequestId) -> Result<Arc<Image>, ImageError> {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut().append_pair("birdName", bird);
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(
            service_kit::request_id::HEADER,
            request_id.header_value().clone(),
        );
        let image: Image = self
            .client
            .get_json(&url, headers)
            .await
            .map_err(ImageError::Upstream)?;
        if !is_web_url(&image.url) {
            return Err(ImageError::NotWebUrl);
        }
        Ok(Arc::new(image))
    }
}
