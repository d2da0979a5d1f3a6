//! The HTML pages, rendered with askama (which escapes every value it inserts).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use service_kit::RequestId;
use url::Url;

use crate::assets::Assets;
use crate::bird_api::{Bird, Credit};
use crate::routes::{AppState, NO_STORE};

/// The home page shows a random bird. CloudFront (which keeps pages up to 5 minutes) may
/// serve one rendering to everyone for 30 s: enough to absorb a burst, short enough that
/// visitors do not all start with the same bird for long. Browsers always ask again
/// (`max-age=0`), and every later bird comes from the uncached `/api/bird`.
pub const PAGE_CACHE: HeaderValue = HeaderValue::from_static("public, max-age=0, s-maxage=30");

const UNSPLASH_HOME: &str = "https://unsplash.com/";

/// The credit's link to Unsplash's home page, with the referral parameters.
pub fn unsplash_href(utm_source: &str) -> String {
    let home = Url::parse(UNSPLASH_HOME).expect("a valid constant URL");
    with_utm(home, utm_source).into()
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    assets: &'a Assets,
    utm_source: &'a str,
    /// The no-script "next bird" link. The random query gives it a cache key of its own, so a
    /// click never lands on the cached copy of the page it came from.
    next_href: String,
    bird: Option<BirdView>,
}

struct BirdView {
    name: String,
    description: String,
    image: String,
    alt: String,
    credit: Option<CreditView>,
}

struct CreditView {
    name: String,
    profile_href: String,
    unsplash_href: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    assets: &'a Assets,
    title: &'a str,
    message: &'a str,
}

/// `GET /`: the bird, or (when bird is down or answers nonsense) the page in its error state
/// with `502`. The error page is still a full, working page: its "Try again" is a link and,
/// with the script, a fetch. `502` keeps the failure visible to monitoring and out of caches.
pub async fn index(State(state): State<Arc<AppState>>, request_id: RequestId) -> Response {
    let (status, cache, bird) = match state.birds.random(&request_id).await {
        Ok(bird) => (
            StatusCode::OK,
            PAGE_CACHE,
            Some(BirdView::new(bird, &state)),
        ),
        Err(_) => (StatusCode::BAD_GATEWAY, NO_STORE, None),
    };
    let page = IndexPage {
        assets: &state.assets,
        utm_source: &state.utm_source,
        next_href: format!("/?next={:08x}", rand::random::<u32>()),
        bird,
    };
    html(status, cache, page.render())
}

/// A short page for 404, 405 and the like.
pub fn message(state: &AppState, status: StatusCode, title: &str, message: &str) -> Response {
    let page = MessagePage {
        assets: &state.assets,
        title,
        message,
    };
    html(status, NO_STORE, page.render())
}

fn html(status: StatusCode, cache: HeaderValue, rendered: askama::Result<String>) -> Response {
    match rendered {
        Ok(body) => (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, cache),
            ],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(service = crate::SERVICE, reason = %err, "page rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CACHE_CONTROL, NO_STORE)],
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

impl BirdView {
    fn new(bird: Bird, state: &AppState) -> Self {
        Self {
            alt: photo_alt(&bird.name),
            credit: bird.credit.map(|credit| CreditView::new(credit, state)),
            image: bird.image.into(),
            name: bird.name,
            description: bird.description,
        }
    }
}

impl CreditView {
    fn new(credit: Credit, state: &AppState) -> Self {
        Self {
            profile_href: with_utm(credit.profile_url, &state.utm_source).into(),
            unsplash_href: state.unsplash_href.clone(),
            name: credit.name,
        }
    }
}

/// "Photo of an American Robin", "Photo of a Blue Jay".
pub fn photo_alt(name: &str) -> String {
    let article = match name.chars().next() {
        Some(c) if "AEIOUaeiou".contains(c) => "an",
        _ => "a",
    };
    format!("Photo of {article} {name}")
}

/// `url` with the referral parameters Unsplash's guidelines ask for (replacing any present).
pub fn with_utm(mut url: Url, utm_source: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "utm_source" && key != "utm_medium")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("utm_source", utm_source)
        .append_pair("utm_medium", "referral");
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_text_reads_naturally() {
        assert_eq!(photo_alt("American Robin"), "Photo of an American Robin");
        assert_eq!(photo_alt("Blue Jay"), "Photo of a Blue Jay");
    }

    #[test]
    fn utm_parameters_are_set_not_appended_to_text() {
        let profile = Url::parse("https://unsplash.com/@ada?utm_source=old&x=1").unwrap();
        assert_eq!(
            with_utm(profile, "bird_explorer").as_str(),
            "https://unsplash.com/@ada?x=1&utm_source=bird_explorer&utm_medium=referral"
        );
        assert_eq!(
            unsplash_href("app"),
            "https://unsplash.com/?utm_source=app&utm_medium=referral"
        );
    }
}
