//! The frontend's routes: the page, the JSON the page's script reads, the assets, and the
//! answers for unknown paths and wrong methods (HTML for people, JSON under `/api/`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use service_kit::RequestId;
use service_kit::error::{self, Refusal};

use crate::assets::{self, Assets};
use crate::bird_api::BirdApi;
use crate::page;

/// Every answer of `/api/bird` is a new random bird; no cache may replay one.
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

pub struct AppState {
    pub birds: BirdApi,
    pub assets: Assets,
    /// `utm_source` of the Unsplash credit links.
    pub utm_source: String,
    /// The credit's link to Unsplash itself, the same on every page.
    pub unsplash_href: String,
    pub srcsets: page::Srcsets,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/api/bird", get(api_bird))
        .route("/static/{file}", get(assets::serve))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// `GET /api/bird`: bird's answer, checked and passed on; `502` with a JSON error otherwise.
async fn api_bird(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
) -> Response {
    let mut response = match state.birds.random(&request_id).await {
        Ok(bird) => Json(bird).into_response(),
        Err(reason) => {
            error::json_error(StatusCode::BAD_GATEWAY, "bad_gateway", reason.to_string())
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, NO_STORE);
    response
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

async fn not_found(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    if is_api(uri.path()) {
        error::not_found().await
    } else {
        html_not_found(&state)
    }
}

async fn method_not_allowed(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    if is_api(uri.path()) {
        error::method_not_allowed().await
    } else {
        page::message(
            &state,
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "This address only answers GET requests.",
        )
    }
}

pub fn html_not_found(state: &AppState) -> Response {
    page::message(
        state,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address, but there is a bird on the home page.",
    )
}

/// The kit's own refusals (too long, too large, too slow), answered like the fallbacks: JSON
/// under `/api/`, a page for people elsewhere.
pub fn refusal(state: &AppState, path: &str, refusal: &Refusal) -> Response {
    if is_api(path) {
        return refusal.json();
    }
    let (title, text) = match *refusal {
        Refusal::TIMEOUT => (
            "Taking too long",
            "This page took too long to answer. Try again in a moment.",
        ),
        Refusal::URI_TOO_LONG => ("Address too long", "This address is too long to answer."),
        _ => ("Request refused", "This request cannot be answered."),
    };
    page::message(state, refusal.status, title, text)
}
