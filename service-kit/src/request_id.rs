//! `x-request-id`: kept from the caller when it is sane, generated otherwise, passed to the
//! next hop by handlers and echoed on the response by the middleware.

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use std::convert::Infallible;

pub const HEADER: &str = "x-request-id";

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

    pub fn generate() -> Self {
        let id = uuid::Uuid::new_v4().to_string();
        Self(HeaderValue::from_str(&id).expect("a UUID is a valid header value"))
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

fn is_acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_incoming(parts.headers.get(HEADER))))
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
}
