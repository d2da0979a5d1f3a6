//! `GET /`: a random bird with its photo, or the bird in disguise when no photo can be had.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use service_kit::RequestId;
use service_kit::error;
use url::Url;

use crate::catalogue;
use crate::images::{BirdImage, Credit};

pub const DISGUISED_NAME: &str = "Bird in disguise";

#[derive(Clone)]
pub struct AppState {
    pub images: BirdImage,
    pub default_image: Url,
}

/// The answer. `name`, `description` and `image` keep the original's meaning; `credit` is new.
#[derive(Debug, Serialize)]
pub struct Bird {
    pub name: &'static str,
    pub description: String,
    pub image: String,
    pub credit: Option<Credit>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(random_bird))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}

async fn random_bird(State(state): State<AppState>, request_id: RequestId) -> Json<Bird> {
    let species = catalogue::random();
    let bird = match state.images.image(species.name, &request_id).await {
        Ok(image) => Bird {
            name: species.name,
            description: species.description.to_owned(),
            image: image.url.to_string(),
            credit: image.credit.clone(),
        },
        Err(reason) => {
            tracing::warn!(
                service = crate::SERVICE,
                upstream = "bird-image",
                bird = species.name,
                %reason,
                request_id = request_id.as_str(),
                "answering the bird in disguise"
            );
            Bird {
                name: DISGUISED_NAME,
                description: format!("This bird is in disguise because: {reason}"),
                image: state.default_image.to_string(),
                credit: None,
            }
        }
    };
    Json(bird)
}
