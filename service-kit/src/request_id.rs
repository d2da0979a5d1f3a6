//! `x-request-id`: kept from the caller when it is sane, generated otherwise, echoed on the
//! response, and passed to the next hop by handlers. tower-http's `SetRequestId` and
//! `PropagateRequestId` do the setting and echoing, and put the id on the request as a
//! [`RequestId`] extension, which handlers take with `Extension<RequestId>`. [`drop_insane`]
//! runs before them, as they keep whatever id a request brings.

use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::MakeRequestId;
pub use tower_http::request_id::RequestId;

/// A `HeaderName` rather than a `&str`: a lookup by string parses the name each time.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied id we accept; anything longer is replaced rather than logged.
const MAX_LEN: usize = 128;

/// tower-http's `SetRequestId` id maker: a fresh UUID written on the stack and copied once into
/// the header value, sparing the `String` that tower-http's own `MakeRequestUuid` formats first.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeUuid;

impl MakeRequestId for MakeUuid {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
        Some(RequestId::new(
            HeaderValue::from_str(id).expect("a UUID is a valid header value"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_id_is_a_fresh_uuid() {
        let request = Request::get("/").body(()).unwrap();
        let made = |_| MakeUuid.make_request_id(&request).unwrap();
        let (first, second) = (made(1), made(2));
        let text = first.header_value().to_str().unwrap();
        assert!(uuid::Uuid::try_parse(text).is_ok(), "{text}");
        assert_eq!(text.len(), 36);
        assert_ne!(first.header_value(), second.header_value());
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
