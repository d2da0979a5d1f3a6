//! The page's stylesheet, script and placeholder illustration, compiled into the binary and
//! served under names that carry a hash of their content. A changed file gets a new URL, so
//! every URL can be cached for a year; nothing is ever read from the filesystem.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::routes::{AppState, html_not_found};

/// Browsers and CloudFront may keep an asset forever: its URL changes with its content.
const CACHE_FOREVER: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

const CSS: &[u8] = include_bytes!("../static/app.css");
const JS: &[u8] = include_bytes!("../static/app.js");
const PLACEHOLDER: &[u8] = include_bytes!("../static/placeholder.svg");

pub struct Asset {
    /// `app.<hash>.css`: the only name this asset answers to.
    file_name: String,
    /// `/static/app.<hash>.css`, for the page.
    pub url: String,
    content_type: &'static str,
    body: &'static [u8],
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static [u8]) -> Self {
        let file_name = format!("{stem}.{:016x}.{extension}", fnv1a(body));
        Self {
            url: format!("/static/{file_name}"),
            file_name,
            content_type,
            body,
        }
    }
}

pub struct Assets {
    pub css: Asset,
    pub js: Asset,
    pub placeholder: Asset,
}

impl Assets {
    pub fn embedded() -> Self {
        Self {
            css: Asset::new("app", "css", "text/css; charset=utf-8", CSS),
            js: Asset::new("app", "js", "text/javascript; charset=utf-8", JS),
            placeholder: Asset::new("placeholder", "svg", "image/svg+xml", PLACEHOLDER),
        }
    }

    fn find(&self, file_name: &str) -> Option<&Asset> {
        [&self.css, &self.js, &self.placeholder]
            .into_iter()
            .find(|asset| asset.file_name == file_name)
    }
}

/// `GET /static/{file}`: an exact name from the table above, or 404. The name is compared,
/// never joined to a path, so `..` and encoded slashes have nothing to reach.
pub async fn serve(State(state): State<Arc<AppState>>, Path(file_name): Path<String>) -> Response {
    match state.assets.find(&file_name) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (header::CACHE_CONTROL, CACHE_FOREVER),
            ],
            asset.body,
        )
            .into_response(),
        None => html_not_found(&state),
    }
}

/// 64-bit FNV-1a: tiny, stable across builds and plenty to tell versions of a file apart.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn asset_names_carry_the_content_hash() {
        let assets = Assets::embedded();
        assert_eq!(assets.js.url, format!("/static/app.{:016x}.js", fnv1a(JS)));
        assert!(assets.find(&assets.css.file_name).is_some());
        assert!(assets.find("app.css").is_none());
        assert!(assets.find("../Cargo.toml").is_none());
    }
}
