//! The HTML pages, rendered with askama (which escapes every value it inserts).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use service_kit::RequestId;
use service_kit::photo::Credit;
use service_kit::web_url::with_query_params;
use url::Url;

use crate::assets::Assets;
use crate::bird_api::Bird;
use crate::routes::{AppState, NO_STORE};

/// The home page shows a random bird. CloudFront (which keeps pages up to 5 minutes) may
/// serve one rendering to everyone for 30 s: enough to absorb a burst, short enough that
/// visitors do not all start with the same bird for long. Browsers always ask again
/// (`max-age=0`), and every later bird comes from the uncached `/api/bird`.
pub const PAGE_CACHE: HeaderValue = HeaderValue::from_static("public, max-age=0, s-maxage=30");

const UNSPLASH_HOME: &str = "https://unsplash.com/";

/// The widths, in pixels, offered to the browser for an Unsplash photo: from a phone at 1x
/// to the 2000 px bird-image asks for (a wide screen, or a laptop at 2x).
pub const PHOTO_WIDTHS: [u32; 7] = [480, 640, 828, 1080, 1280, 1600, 2000];

/// The photo covers the viewport: as wide as it, or wider on a portrait screen, where
/// `object-fit: cover` shows the middle of a landscape photo. Choosing by the viewport's width
/// keeps a phone's download small, for a little sharpness there.
pub const PHOTO_SIZES: &str = "100vw";

/// What each rendition asks Unsplash's image service (imgix) for, besides its width: the best
/// format the browser accepts (the URL's own `fm` stays as the fallback), Unsplash's own quality
/// for its `regular` photos, and `dpr=1`, because the width descriptors already count device
/// pixels and a `dpr` carried by the URL would multiply them.
const PHOTO_PARAMS: [(&str, &str); 3] = [("auto", "format"), ("q", "80"), ("dpr", "1")];

/// [`PHOTO_WIDTHS`] and [`PHOTO_PARAMS`] as the page hands them to its script, written once.
static PHOTO_WIDTHS_ATTRIBUTE: LazyLock<String> =
    LazyLock::new(|| PHOTO_WIDTHS.map(|width| width.to_string()).join(" "));
static PHOTO_PARAMS_ATTRIBUTE: LazyLock<String> = LazyLock::new(|| {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(PHOTO_PARAMS)
        .finish()
});

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
    /// The recipe of [`srcset`], for the script, which builds the same for the next birds.
    photo_widths: &'static str,
    photo_params: &'static str,
    photo_sizes: &'static str,
}

struct BirdView {
    name: String,
    description: String,
    image: String,
    /// Only for Unsplash's photos: other hosts do not resize by URL. Escaped already.
    srcset: Option<Arc<str>>,
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
pub async fn index(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
) -> Response {
    let (status, cache, bird) = match state.birds.random(&request_id).await {
        Ok(bird) => (StatusCode::OK, PAGE_CACHE, Some(bird)),
        Err(_) => (StatusCode::BAD_GATEWAY, NO_STORE, None),
    };
    let page = IndexPage::new(
        &state.assets,
        &state.utm_source,
        &state.unsplash_href,
        &state.srcsets,
        bird,
    );
    html(status, cache, page.render())
}

impl<'a> IndexPage<'a> {
    fn new(
        assets: &'a Assets,
        utm_source: &'a str,
        unsplash_href: &str,
        srcsets: &Srcsets,
        bird: Option<Bird>,
    ) -> Self {
        Self {
            assets,
            utm_source,
            next_href: format!("/?next={:08x}", rand::random::<u32>()),
            bird: bird.map(|bird| BirdView::new(bird, utm_source, unsplash_href, srcsets)),
            photo_widths: &PHOTO_WIDTHS_ATTRIBUTE,
            photo_params: &PHOTO_PARAMS_ATTRIBUTE,
            photo_sizes: PHOTO_SIZES,
        }
    }
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
            tracing::error!(reason = %err, "page rendering failed");
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
    fn new(bird: Bird, utm_source: &str, unsplash_href: &str, srcsets: &Srcsets) -> Self {
        Self {
            alt: photo_alt(&bird.name),
            srcset: is_unsplash_photo(&bird).then(|| srcsets.attribute(&bird.image)),
            credit: bird
                .credit
                .map(|credit| CreditView::new(credit, utm_source, unsplash_href)),
            image: bird.image.into(),
            name: bird.name,
            description: bird.description,
        }
    }
}

impl CreditView {
    fn new(credit: Credit, utm_source: &str, unsplash_href: &str) -> Self {
        Self {
            profile_href: with_utm(credit.profile_url, utm_source).into(),
            unsplash_href: unsplash_href.to_owned(),
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

/// A photo that came with a credit came from Unsplash's search (bird-image gives the default
/// image none), so it is served by Unsplash's image service, which resizes by URL.
fn is_unsplash_photo(bird: &Bird) -> bool {
    bird.credit.is_some()
}

/// The `srcset` of an Unsplash photo: one rendition per width of [`PHOTO_WIDTHS`], each the
/// photo's URL with the parameters of [`PHOTO_PARAMS`] and its `w` set. A serialized URL holds
/// no whitespace, and without its fragment it ends with the width, never with a comma, so each
/// candidate parses as one URL. The page's script builds the same from the recipe the page
/// carries.
pub fn srcset(image: &Url) -> String {
    let mut base = image.clone();
    base.set_fragment(None);
    // `w` is set last, and empty: each rendition is this URL with its width appended, so one
    // query rewrite serves all of them (this runs for every page).
    let [auto, quality, dpr] = PHOTO_PARAMS;
    let base = with_query_params(base, &[auto, quality, dpr, ("w", "")]);
    let base = base.as_str();
    debug_assert!(base.ends_with("&w="));
    PHOTO_WIDTHS
        .map(|width| format!("{base}{width} {width}w"))
        .join(", ")
}

/// Each photo's `srcset` attribute, written and HTML-escaped once: bird answers with a dozen
/// photos, and writing one costs about a tenth of a page's CPU. A full memo starts over, so
/// it stays small whatever bird answers.
#[derive(Default)]
pub struct Srcsets(Mutex<HashMap<String, Arc<str>>>);

const SRCSETS_KEPT: usize = 64;

impl Srcsets {
    fn attribute(&self, image: &Url) -> Arc<str> {
        let mut memo = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(attribute) = memo.get(image.as_str()) {
            return attribute.clone();
        }
        let Ok(escaped) = askama::filters::escape(srcset(image), askama::filters::Html);
        let attribute: Arc<str> = escaped.to_string().into();
        if memo.len() >= SRCSETS_KEPT {
            memo.clear();
        }
        memo.insert(image.as_str().to_owned(), attribute.clone());
        attribute
    }
}

/// `url` with the referral parameters Unsplash's guidelines ask for (replacing any present).
pub fn with_utm(url: Url, utm_source: &str) -> Url {
    with_query_params(
        url,
        &[("utm_source", utm_source), ("utm_medium", "referral")],
    )
}

#[cfg(test)]
mod tests {
    use service_kit::photo::DEFAULT_IMAGE_URL;

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

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    /// `(url, width)` of each candidate of a srcset.
    fn candidates(srcset: &str) -> Vec<(Url, u32)> {
        srcset
            .split(", ")
            .map(|candidate| {
                let (image, descriptor) = candidate.split_once(' ').expect("url and width");
                let width = descriptor.strip_suffix('w').expect("a width descriptor");
                (url(image), width.parse().expect("a whole width"))
            })
            .collect()
    }

    fn values<'u>(image: &'u Url, key: &str) -> Vec<std::borrow::Cow<'u, str>> {
        image
            .query_pairs()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect()
    }

    #[test]
    fn srcset_offers_every_width_with_its_parameters_set_once() {
        let image = url(
            "https://images.unsplash.com/photo-1?ixid=abc&fm=jpg&auto=compress&dpr=2&q=100&w=2000#top",
        );
        let offered = candidates(&srcset(&image));
        let widths: Vec<u32> = offered.iter().map(|(_, width)| *width).collect();
        assert_eq!(widths, PHOTO_WIDTHS);
        for (rendition, width) in &offered {
            assert_eq!(values(rendition, "w"), [width.to_string()]);
            assert_eq!(values(rendition, "q"), ["80"]);
            assert_eq!(values(rendition, "auto"), ["format"]);
            assert_eq!(values(rendition, "dpr"), ["1"]);
            // The rest of the photo's URL is kept as it was.
            assert_eq!(values(rendition, "ixid"), ["abc"]);
            assert_eq!(values(rendition, "fm"), ["jpg"]);
            assert_eq!(rendition.host_str(), Some("images.unsplash.com"));
            assert_eq!(rendition.path(), "/photo-1");
            assert_eq!(rendition.fragment(), None);
        }
        assert_eq!(
            offered[0].0.as_str(),
            "https://images.unsplash.com/photo-1?ixid=abc&fm=jpg&auto=format&q=80&dpr=1&w=480"
        );
    }

    #[test]
    fn srcset_candidates_stay_one_url_each() {
        // Spaces and a trailing comma would split a candidate; a serialized URL escapes the
        // spaces, and the width comes last (the fragment is dropped).
        let image = url("https://images.unsplash.com/a,b c?x=1,2#a,");
        for (rendition, _) in candidates(&srcset(&image)) {
            assert_eq!(rendition.path(), "/a,b%20c");
            assert_eq!(values(&rendition, "x"), ["1,2"]);
        }
    }

    fn bird(image: &str, credit: bool) -> Bird {
        Bird {
            name: "Blue <b>Jay</b>".to_owned(),
            description: "Loud & \"crested\".".to_owned(),
            image: url(image),
            credit: credit.then(|| Credit {
                name: "Ada".to_owned(),
                profile_url: url("https://unsplash.com/@ada"),
                photo_url: url("https://unsplash.com/photos/p"),
            }),
        }
    }

    fn render(bird: Bird) -> String {
        let assets = Assets::embedded();
        IndexPage::new(
            &assets,
            "app",
            "https://unsplash.com/",
            &Srcsets::default(),
            Some(bird),
        )
        .render()
        .unwrap()
    }

    /// The value of the first `name="..."` in `html`, entities left as they are.
    fn attribute<'h>(html: &'h str, name: &str) -> Option<&'h str> {
        let start = html.find(&format!(" {name}=\""))? + name.len() + 3;
        html[start..].split('"').next()
    }

    #[test]
    fn each_photos_srcset_is_written_once_and_the_memo_stays_bounded() {
        let srcsets = Srcsets::default();
        let image = Url::parse("https://images.unsplash.com/photo-1?ixid=a&w=2000&q=100").unwrap();
        let first = srcsets.attribute(&image);
        assert!(Arc::ptr_eq(&first, &srcsets.attribute(&image)));
        assert_eq!(first.replace("&#38;", "&"), srcset(&image));
        for n in 0..200 {
            let other = Url::parse(&format!("https://images.unsplash.com/photo-{n}")).unwrap();
            srcsets.attribute(&other);
        }
        let kept = srcsets.0.lock().unwrap().len();
        assert!((1..=SRCSETS_KEPT).contains(&kept), "{kept} srcsets kept");
    }

    #[test]
    fn only_a_credited_photo_gets_a_srcset() {
        let html = render(bird(DEFAULT_IMAGE_URL, false));
        assert!(html.contains(&format!(r#"id="photo" src="{DEFAULT_IMAGE_URL}" alt="#)));
        assert_eq!(attribute(&html, "srcset"), None);
        assert_eq!(attribute(&html, "sizes"), None);

        // Even on Unsplash's host: without a credit, bird did not get it from Unsplash's API.
        let html = render(bird("https://images.unsplash.com/p?w=2000&q=100", false));
        assert_eq!(attribute(&html, "srcset"), None);

        let html = render(bird("https://images.unsplash.com/p?w=2000&q=100", true));
        assert!(attribute(&html, "srcset").is_some());
        assert_eq!(attribute(&html, "sizes"), Some("100vw"));
    }

    #[test]
    fn the_srcset_is_escaped_and_the_page_carries_its_recipe() {
        let image = url("https://images.unsplash.com/p?w=2000&q=100&x=%22%3E%3Cscript%3E");
        let html = render(bird(image.as_str(), true));
        let rendered = attribute(&html, "srcset").expect("a srcset");
        assert!(!rendered.contains(['<', '>']) && !rendered.contains("&q"));
        assert_eq!(rendered.replace("&#38;", "&"), srcset(&image));
        assert!(html.contains("Blue &#60;b&#62;Jay&#60;/b&#62;"));
        assert!(html.contains(r#"fetchpriority="high""#));

        assert_eq!(
            attribute(&html, "data-photo-widths"),
            Some("480 640 828 1080 1280 1600 2000")
        );
        assert_eq!(
            attribute(&html, "data-photo-params"),
            Some("auto=format&#38;q=80&#38;dpr=1")
        );
        assert_eq!(attribute(&html, "data-photo-sizes"), Some("100vw"));
    }
}
