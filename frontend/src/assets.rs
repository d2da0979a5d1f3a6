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

/// An asset asked for under another release's hash must be asked again next time.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

const CSS: &[u8] = include_bytes!("../static/app.css");
const JS: &[u8] = include_bytes!("../static/app.js");
const PLACEHOLDER: &[u8] = include_bytes!("../static/placeholder.svg");

pub struct Asset {
    stem: &'static str,
    extension: &'static str,
    /// `app.<hash>.css`: the name under which this asset may be cached forever.
    file_name: String,
    /// `/static/app.<hash>.css`, for the page.
    pub url: String,
    content_type: &'static str,
    body: &'static [u8],
}

impl Asset {
    fn new(
        stem: &'static str,
        extension: &'static str,
        content_type: &'static str,
        body: &'static [u8],
    ) -> Self {
        let file_name = format!("{stem}.{:016x}.{extension}", fnv1a(body));
        Self {
            url: format!("/static/{file_name}"),
            stem,
            extension,
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

    /// The asset a name asks for, and how long it may be kept: forever under its own hash;
    /// not without asking again under another hash of the same file. During a rolling deploy
    /// that is a page of the other release asking this pod, and this release's stylesheet
    /// beats an unstyled page.
    fn find(&self, file_name: &str) -> Option<(&Asset, HeaderValue)> {
        let assets = [&self.css, &self.js, &self.placeholder];
        if let Some(asset) = assets.iter().find(|asset| asset.file_name == file_name) {
            return Some((asset, CACHE_FOREVER));
        }
        let (stem, rest) = file_name.split_once('.')?;
        let (hash, extension) = rest.split_once('.')?;
        let is_hash =
            hash.len() == 16 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !is_hash {
            return None;
        }
        assets
            .into_iter()
            .find(|asset| asset.stem == stem && asset.extension == extension)
            .map(|asset| (asset, REVALIDATE))
    }
}

/// `GET /static/{file}`: a name from the table above, or 404. The name is compared, never
/// joined to a path, so `..` and encoded slashes have nothing to reach.
pub async fn serve(State(state): State<Arc<AppState>>, Path(file_name): Path<String>) -> Response {
    match state.assets.find(&file_name) {
        Some((asset, cache)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (header::CACHE_CONTROL, cache),
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
        assert_eq!(
            assets.find(&assets.css.file_name).map(|(_, cache)| cache),
            Some(CACHE_FOREVER)
        );
        assert!(assets.find("app.css").is_none());
        assert!(assets.find("../Cargo.toml").is_none());
    }
}
