//! `GET /`: a random bird with its photo, or the bird in disguise when no photo can be had.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use service_kit::RequestId;
use service_kit::error;
use service_kit::photo::Credit;
use url::Url;

use crate::catalogue;
use crate::images::BirdImage;

pub const DISGUISED_NAME: &str = "Bird in disguise";

#[derive(Clone)]
pub struct AppState {
    pub images: BirdImage,
    pub default_image: Url,
}

/// The answer. `name`, `description` and `image` keep the original's meaning; `credit` is new.
#[derive(Debug, Serialize)]
pub struct Bird<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub image: &'a str,
    pub credit: Option<&'a Credit>,
}

pub fn router(state: AppState) -> Router {
    // Behind one `Arc`, so the per-request cost of the state is one reference count.
    Router::new()
        .route("/", get(random_bird))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(Arc::new(state))
}

async fn random_bird(State(state): State<Arc<AppState>>, request_id: RequestId) -> Response {
    let species = catalogue::random();
    match state.images.image(species.name, &request_id).await {
        Ok(image) => Json(Bird {
            name: species.name,
            description: species.description,
            image: image.url.as_str(),
            credit: image.credit.as_ref(),
        })
        .into_response(),
        Err(reason) => {
            tracing::warn!(
                upstream = "bird-image",
                bird = species.name,
                %reason,
                "answering the bird in disguise"
            );
            Json(Bird {
                name: DISGUISED_NAME,
                description: &format!("This bird is in disguise because: {reason}"),
                image: state.default_image.as_str(),
                credit: None,
            })
            .into_response()
        }
    }
}
