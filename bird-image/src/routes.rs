//! HTTP routes: the original's bare-string answer and the richer `/v1/image`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use service_kit::error::{self, json_error};

use crate::cache::ImageCache;
use crate::unsplash::Photo;

/// Longest bird name looked up; longer input is refused, never forwarded to Unsplash.
pub const MAX_BIRD_NAME_BYTES: usize = 100;

pub fn router(cache: ImageCache) -> Router {
    Router::new()
        .route("/", get(legacy_image))
        .route("/v1/image", get(image))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(cache)
}

#[derive(Debug, Deserialize)]
struct ImageQuery {
    #[serde(rename = "birdName")]
    bird_name: Option<String>,
}

/// `GET /?birdName=`: the photo URL as a JSON string, as the original answered.
async fn legacy_image(
    State(cache): State<ImageCache>,
    query: Result<Query<ImageQuery>, QueryRejection>,
) -> Response {
    match find(&cache, query).await {
        Ok(photo) => Json(photo.url.as_str()).into_response(),
        Err(refusal) => refusal,
    }
}

/// `GET /v1/image?birdName=`: `{"url", "credit"}`.
async fn image(
    State(cache): State<ImageCache>,
    query: Result<Query<ImageQuery>, QueryRejection>,
) -> Response {
    match find(&cache, query).await {
        Ok(photo) => Json(&*photo).into_response(),
        Err(refusal) => refusal,
    }
}

async fn find(
    cache: &ImageCache,
    query: Result<Query<ImageQuery>, QueryRejection>,
) -> Result<Arc<Photo>, Response> {
    let Query(query) = query.map_err(|rejection| {
        json_error(StatusCode::BAD_REQUEST, "bad_query", rejection.body_text())
    })?;
    let name = query
        .bird_name
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if name.len() > MAX_BIRD_NAME_BYTES {
        return Err(json_error(
            StatusCode::BAD_REQUEST,
            "bird_name_too_long",
            format!("birdName must be at most {MAX_BIRD_NAME_BYTES} bytes"),
        ));
    }
    if name.is_empty() {
        return Ok(cache.default_photo());
    }
    Ok(cache.photo(name).await)
}
