//! `x-request-id`: kept from the caller when it is sane, generated otherwise, echoed on the
//! response, and passed to the next hop by handlers. tower-http's `SetRequestId` and
//! `PropagateRequestId` do the setting and echoing; [`drop_insane`] runs before them, as they
//! keep whatever id a request brings.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::MakeRequestId;

/// A `HeaderName` rather than a `&str`: a lookup by string parses the name each time.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied id we accept; anything longer is replaced rather than logged.
const MAX_LEN: usize = 128;

/// The id of the request being served, for handlers that call upstreams.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The caller's id when it is short printable ASCII, a fresh UUID otherwise.
    pub fn from_incoming(incoming: Option<&HeaderValue>) -> Self {
        match incoming {
            Some(value) if is_acceptable(value) => Self(value.clone()),
            _ => Self::generate(),
        }
    }

    /// A fresh UUID, written on the stack and copied once into the header value.
    pub fn generate() -> Self {
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
        Self(HeaderValue::from_str(id).expect("a UUID is a valid header value"))
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// tower-http's `SetRequestId` id maker: [`RequestId::generate`], which spares the `String`
/// that tower-http's own `MakeRequestUuid` formats first.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeUuid;

impl MakeRequestId for MakeUuid {
    fn make_request_id<B>(
        &mut self,
        _request: &Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        Some(tower_http::request_id::RequestId::new(
            RequestId::generate().0,
        ))
    }
}

fn is_acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Removes a caller's `x-request-id` that is not 1 to 128 printable ASCII bytes, so that it is
/// replaced by a fresh one rather than logged and passed on.
pub fn drop_insane<B>(mut request: Request<B>) -> Request<B> {
    let insane = request
        .headers()
        .get(&HEADER)
        .is_some_and(|value| !is_acceptable(value));
    if insane {
        request.headers_mut().remove(&HEADER);
    }
    request
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<tower_http::request_id::RequestId>()
            .map(|id| RequestId(id.header_value().clone()))
            .unwrap_or_else(|| RequestId::from_incoming(parts.headers.get(&HEADER))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sane_ids_and_replaces_the_rest() {
        let sane = HeaderValue::from_static("abc-123");
        assert_eq!(RequestId::from_incoming(Some(&sane)).as_str(), "abc-123");

        let long = HeaderValue::from_str(&"x".repeat(MAX_LEN + 1)).unwrap();
        assert_ne!(RequestId::from_incoming(Some(&long)).0, long);

        let spaced = HeaderValue::from_static("has space");
        assert_ne!(
            RequestId::from_incoming(Some(&spaced)).as_str(),
            "has space"
        );

        assert_eq!(RequestId::from_incoming(None).as_str().len(), 36);
    }

    #[test]
    fn only_insane_incoming_ids_are_dropped() {
        let with_id = |id: &str| {
            let request = Request::get("/").header(HEADER, id).body(()).unwrap();
            drop_insane(request).headers().get(&HEADER).cloned()
        };
        assert_eq!(with_id("abc-123").unwrap(), "abc-123");
        assert_eq!(with_id(&"x".repeat(MAX_LEN)).unwrap().len(), MAX_LEN);
        assert_eq!(with_id(&"x".repeat(MAX_LEN + 1)), None);
        assert_eq!(with_id("has space"), None);
        assert_eq!(with_id(""), None);
    }
}
