//! The call to bird's `GET /`, and the checks its answer must pass before it reaches a page.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use service_kit::RequestId;
use service_kit::http_client::{UpstreamClient, UpstreamError};
use service_kit::photo::Credit;
use service_kit::web_url::is_web_url;
use url::Url;

/// A bird as bird answers it. Every URL is an absolute http(s) URL once [`BirdApi::random`]
/// returns it, so it is safe in `src` and `href`; text is still untrusted and must be escaped.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Bird {
    pub name: String,
    pub description: String,
    pub image: Url,
    pub credit: Option<Credit>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirdError {
    #[error(transparent)]
    Upstream(UpstreamError),
    /// bird guarantees web URLs; anything else (`javascript:`, `data:`) is refused, not shown.
    #[error("bird sent an address that is not a web URL")]
    NotWebUrl,
}

#[derive(Clone)]
pub struct BirdApi {
    client: UpstreamClient,
    endpoint: Url,
}

impl BirdApi {
    pub fn new(client: UpstreamClient, endpoint: Url) -> Self {
        Self { client, endpoint }
    }

    /// A random bird, passing the request id on so one id follows the request to bird-image.
    pub async fn random(&self, request_id: &RequestId) -> Result<Bird, BirdError> {
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(
            service_kit::request_id::HEADER,
            request_id.header_value().clone(),
        );
        let result = self
            .client
            .get_json::<Bird>(&self.endpoint, headers)
            .await
            .map_err(BirdError::Upstream)
            .and_then(|bird| {
                let credit_ok = bird
                    .credit
                    .as_ref()
                    .is_none_or(|c| is_web_url(&c.profile_url) && is_web_url(&c.photo_url));
                if is_web_url(&bird.image) && credit_ok {
                    Ok(bird)
                } else {
                    Err(BirdError::NotWebUrl)
                }
            });
        if let Err(reason) = &result {
            tracing::warn!(upstream = "bird", %reason, "no bird to show");
        }
        result
    }
}
