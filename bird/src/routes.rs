//! `GET /`: a random bird with its photo, or the bird in disguise when no photo can be had.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use service_kit::RequestId;
use service_kit::error;
use service_kit::photo::Credit;
use url::Url;

use crate::catalogue::{self, BIRDS, Species};
use crate::images::{BirdImage, Image};
use crate::photos::{Photo, PhotoMetrics};

pub const DISGUISED_NAME: &str = "Bird in disguise";

#[derive(Clone)]
pub struct AppState {
    pub images: BirdImage,
    pub default_image: Url,
    pub photos: PhotoMetrics,
}

/// The answer. `name`, `description` and `image` keep the original's meaning; `credit` is new.
#[derive(Debug, Serialize)]
pub struct Bird<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub image: &'a str,
    pub credit: Option<&'a Credit>,
}

/// Shared by every request, so the per-request cost of the state is one reference count.
struct Shared {
    state: AppState,
    answers: RenderedAnswers,
}

pub fn router(state: AppState) -> Router {
    let shared = Arc::new(Shared {
        state,
        answers: RenderedAnswers::new(),
    });
    Router::new()
        .route("/", get(random_bird))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(shared)
}

async fn random_bird(
    State(shared): State<Arc<Shared>>,
    Extension(request_id): Extension<RequestId>,
) -> Response {
    let species = catalogue::random();
    match shared.state.images.image(species.name, &request_id).await {
        Ok(image) => {
            let photo = Photo::of(&image);
            shared.state.photos.record(photo);
            // One line per answer without a photo (none while all is well): the CloudWatch
            // metric filter of the photo-quality SLO counts them.
            if photo == Photo::Default {
                tracing::info!(
                    photo = photo.as_str(),
                    bird = species.name,
                    "answering the default image: bird-image has no photo of this bird"
                );
            }
            let body = shared.answers.body(species, image);
            ([(header::CONTENT_TYPE, JSON)], body).into_response()
        }
        Err(reason) => {
            shared.state.photos.record(Photo::Disguised);
            tracing::warn!(
                photo = Photo::Disguised.as_str(),
                upstream = "bird-image",
                bird = species.name,
                %reason,
                "answering the bird in disguise"
            );
            Json(Bird {
                name: DISGUISED_NAME,
                description: &format!("This bird is in disguise because: {reason}"),
                image: shared.state.default_image.as_str(),
                credit: None,
            })
            .into_response()
        }
    }
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Each catalogue bird's answer, serialised once per photo. bird-image's answers are cached
/// (the same `Arc` for the cache's TTL), so a request copies a reference to ready bytes
/// instead of serialising the same description and URLs again.
struct RenderedAnswers {
    by_bird: HashMap<&'static str, Mutex<Option<Rendered>>>,
}

struct Rendered {
    image: Arc<Image>,
    body: Bytes,
}

impl RenderedAnswers {
    fn new() -> Self {
        Self {
            by_bird: BIRDS.iter().map(|b| (b.name, Mutex::new(None))).collect(),
        }
    }

    fn body(&self, species: Species, image: Arc<Image>) -> Bytes {
        let Some(slot) = self.by_bird.get(species.name) else {
            return render(species, &image);
        };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(rendered) if Arc::ptr_eq(&rendered.image, &image) => rendered.body.clone(),
            _ => {
                let body = render(species, &image);
                *slot = Some(Rendered {
                    image,
                    body: body.clone(),
                });
                body
            }
        }
    }
}

fn render(species: Species, image: &Image) -> Bytes {
    let bird = Bird {
        name: species.name,
        description: species.description,
        image: image.url.as_str(),
        credit: image.credit.as_ref(),
    };
    // Strings and URLs always serialise.
    Bytes::from(serde_json::to_vec(&bird).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(url: &str) -> Arc<Image> {
        Arc::new(Image {
            url: Url::parse(url).unwrap(),
            credit: Some(Credit {
                name: "A \"quoted\" <name>".into(),
                profile_url: Url::parse("https://unsplash.com/@a").unwrap(),
                photo_url: Url::parse("https://unsplash.com/photos/b").unwrap(),
            }),
        })
    }

    #[test]
    fn rendered_answer_is_the_birds_json() {
        let answers = RenderedAnswers::new();
        let species = BIRDS[3];
        let body = answers.body(species, image("https://images.example/c.jpg?w=2000"));
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": species.name,
                "description": species.description,
                "image": "https://images.example/c.jpg?w=2000",
                "credit": {
                    "name": "A \"quoted\" <name>",
                    "profile_url": "https://unsplash.com/@a",
                    "photo_url": "https://unsplash.com/photos/b",
                },
            })
        );
    }

    #[test]
    fn a_new_photo_renders_a_new_answer_and_the_same_photo_reuses_it() {
        let answers = RenderedAnswers::new();
        let species = BIRDS[0];
        let first = image("https://images.example/1.jpg");
        let body = answers.body(species, first.clone());
        let again = answers.body(species, first);
        assert_eq!(body.as_ptr(), again.as_ptr(), "same photo, same bytes");

        let changed = answers.body(species, image("https://images.example/2.jpg"));
        let json: serde_json::Value = serde_json::from_slice(&changed).unwrap();
        assert_eq!(json["image"], "https://images.example/2.jpg");
        assert_eq!(json["name"], species.name);
    }
}
