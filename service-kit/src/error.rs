//! Error answers: the short JSON bodies every API route and fallback shares, and the kit's own
//! refusals, which a service whose errors are pages answers with its pages.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub message: String,
}

/// `{"error": code, "message": message}` with `status`.
pub fn json_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: code,
        message: message.into(),
    };
    (status, Json(body)).into_response()
}

pub async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub async fn method_not_allowed() -> Response {
    json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}

/// A request the kit answers itself instead of a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    /// Short and stable, for programs: the `error` of the JSON body.
    pub code: &'static str,
    /// One sentence for people.
    pub message: &'static str,
}

impl Refusal {
    pub const URI_TOO_LONG: Self = Self {
        status: StatusCode::URI_TOO_LONG,
        code: "uri_too_long",
        message: "the request URI is too long",
    };
    pub const BODY_TOO_LARGE: Self = Self {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "body_too_large",
        message: "the request body is too large",
    };
    pub const TIMEOUT: Self = Self {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "timeout",
        message: "the request took too long to answer",
    };

    pub fn json(&self) -> Response {
        json_error(self.status, self.code, self.message)
    }
}

/// How a service whose fallbacks answer HTML pages answers a [`Refusal`] of a request for a
/// path, so that these answer pages too.
pub type ErrorPage = Arc<dyn Fn(&str, &Refusal) -> Response + Send + Sync>;
