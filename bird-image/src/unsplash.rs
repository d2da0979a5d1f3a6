//! The Unsplash search call and what is kept of its answer.

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use service_kit::http_client::{UpstreamClient, UpstreamError};
use service_kit::photo::Credit;
use service_kit::web_url::endpoint;
use service_kit::web_url::with_query_params;
use url::Url;

use crate::config::AccessKey;
use crate::key_quota;

/// Width and quality asked of Unsplash's image CDN (its search answers small previews).
const WIDTH: &str = "2000";
const QUALITY: &str = "100";

/// A photo to show, and whom to credit for it (`None` for the default image).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Photo {
    pub url: Url,
    pub credit: Option<Credit>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("Unsplash found no photo")]
    NoResults,
    #[error("Unsplash sent a photo address that is not an https URL")]
    NotHttps,
    #[error("the hourly Unsplash call budget is spent")]
    OverBudget,
    #[error("the Unsplash key's hourly quota is down to its reserve")]
    KeyQuotaReserve,
}

impl LookupError {
    /// A call that was not made because of a quota; those are warned about once by the quota,
    /// not once per name.
    pub fn is_quota(&self) -> bool {
        matches!(self, Self::OverBudget | Self::KeyQuotaReserve)
    }
}

/// What one search brought back.
#[derive(Debug)]
pub struct Answer {
    pub photo: Result<Photo, LookupError>,
    /// The calls left on the key, when Unsplash said (it does on every answer, errors included).
    pub remaining: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Unsplash {
    client: UpstreamClient,
    search_url: Url,
    authorization: HeaderValue,
}

impl Unsplash {
    /// `base` is `UNSPLASH_API_URL`; a path in it is kept as a prefix (a proxy's, say).
    pub fn new(client: UpstreamClient, base: &Url, key: &AccessKey) -> Result<Self, String> {
        let search_url = endpoint(base, "search/photos");
        let mut authorization =
            HeaderValue::from_str(&format!("Client-ID {}", key.expose_secret()))
                .map_err(|_| "UNSPLASH_ACCESS_KEY is not a valid header value".to_owned())?;
        authorization.set_sensitive(true);
        Ok(Self {
            client,
            search_url,
            authorization,
        })
    }

    /// The first photo Unsplash finds for `bird`, in high resolution. Unsplash is a third
    /// party: it gets the name and the key, and nothing else of the request that led here
    /// (no request id, trace context or client header).
    pub async fn search(&self, bird: &str) -> Answer {
        let mut url = self.search_url.clone();
        url.query_pairs_mut()
            .append_pair("query", bird)
            .append_pair("page", "1")
            .append_pair("per_page", "1");
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(AUTHORIZATION, self.authorization.clone());
        headers.insert("accept-version", HeaderValue::from_static("v1"));

        let (found, answered) = self
            .client
            .get_json_and_headers::<SearchAnswer>(&url, headers)
            .await;
        let photo = found.map_err(LookupError::from).and_then(|answer| {
            answer
                .results
                .into_iter()
                .next()
                .ok_or(LookupError::NoResults)?
                .into_photo()
        });
        let remaining = answered.as_ref().and_then(|headers| {
            headers
                .get(key_quota::HEADER)?
                .to_str()
                .ok()?
                .trim()
                .parse()
                .ok()
        });
        Answer { photo, remaining }
    }
}

#[derive(Debug, Deserialize)]
struct SearchAnswer {
    results: Vec<SearchResult>,
}

#[derive(Debug, Deserialize)]
struct SearchResult {
    urls: Urls,
    user: Option<User>,
    links: Option<Links>,
}

#[derive(Debug, Deserialize)]
struct Urls {
    #[serde(default)]
    full: Option<String>,
    #[serde(default)]
    regular: Option<String>,
}

#[derive(Debug, Deserialize)]
struct User {
    name: Option<String>,
    links: Option<Links>,
}

#[derive(Debug, Deserialize)]
struct Links {
    html: Option<String>,
}

impl SearchResult {
    fn into_photo(self) -> Result<Photo, LookupError> {
        let raw = [self.urls.full, self.urls.regular]
            .into_iter()
            .flatten()
            .find(|u| !u.trim().is_empty())
            .ok_or(LookupError::NoResults)?;
        let url = high_resolution(&raw).ok_or(LookupError::NotHttps)?;
        let credit = (|| {
            let user = self.user?;
            credit(&user.name?, &user.links?.html?, &self.links?.html?)
        })();
        Ok(Photo { url, credit })
    }
}

/// A photographer's credit, if it names someone and both links are https.
pub fn credit(name: &str, profile_url: &str, photo_url: &str) -> Option<Credit> {
    if name.trim().is_empty() {
        return None;
    }
    Some(Credit {
        name: name.to_owned(),
        profile_url: https_url(profile_url)?,
        photo_url: https_url(photo_url)?,
    })
}

fn https_url(raw: &str) -> Option<Url> {
    Url::parse(raw)
        .ok()
        .filter(|u| u.scheme() == "https" && u.host().is_some())
}

/// `raw` with its `w` and `q` parameters set to full width and quality, other parameters kept.
/// `None` unless it is an absolute https URL.
pub fn high_resolution(raw: &str) -> Option<Url> {
    let url = https_url(raw)?;
    Some(with_query_params(url, &[("w", WIDTH), ("q", QUALITY)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_width_and_quality_and_keeps_other_parameters() {
        let url = high_resolution(
            "https://images.unsplash.com/photo-1?crop=entropy&cs=tinysrgb&fit=max&fm=jpg&q=80&w=200",
        )
        .unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("w".into(), "2000".into())));
        assert!(pairs.contains(&("q".into(), "100".into())));
        assert!(pairs.contains(&("crop".into(), "entropy".into())));
        assert_eq!(pairs.iter().filter(|(k, _)| k == "w").count(), 1);
        assert_eq!(pairs.iter().filter(|(k, _)| k == "q").count(), 1);
    }

    #[test]
    fn does_not_touch_lookalike_parameters() {
        let url = high_resolution("https://images.unsplash.com/p?raw=w=200&qq=80").unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("raw".into(), "w=200".into())));
        assert!(pairs.contains(&("qq".into(), "80".into())));
    }

    #[test]
    fn adds_parameters_to_urls_without_a_query() {
        let url = high_resolution("https://images.unsplash.com/photo-1").unwrap();
        assert_eq!(url.query(), Some("w=2000&q=100"));
    }

    #[test]
    fn refuses_anything_but_https() {
        assert_eq!(high_resolution("http://images.unsplash.com/p?w=200"), None);
        assert_eq!(high_resolution("javascript:alert(1)"), None);
        assert_eq!(high_resolution("/relative/path"), None);
        assert_eq!(high_resolution(""), None);
    }
}
