//! URLs: which ones are put into a page or followed, an upstream's endpoints under its base
//! URL, and setting query parameters without touching the rest.

use url::Url;

/// An absolute `http` or `https` URL with a host: the only kind put into a page or followed.
pub fn is_web_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host().is_some()
}

/// `url` with each of `params` set: earlier values of those keys removed, every other
/// parameter kept in its place, the new ones appended in order. Keys are compared decoded, so
/// a look-alike (`qq`, or `w=200` inside another parameter's value) is left alone.
pub fn with_query_params(mut url: Url, params: &[(&str, &str)]) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| params.iter().all(|(set, _)| key != set))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(params);
    url
}

/// The URL of `path` under an upstream's base URL, keeping the base's path prefix with or
/// without a trailing slash: `http://h/prefix` and `http://h/prefix/` both give
/// `http://h/prefix/v1/image` for `v1/image`, where `Url::join` would drop a prefix that has
/// no trailing slash.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    // Every http(s) URL has path segments; no other kind passes `config::http_url`.
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(path.split('/'));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    #[test]
    fn only_http_and_https_urls_are_web_urls() {
        assert!(is_web_url(&url("http://localhost:4200/x")));
        assert!(is_web_url(&url("https://images.unsplash.com/p?w=1")));
        assert!(!is_web_url(&url("javascript:alert(1)")));
        assert!(!is_web_url(&url("data:image/png;base64,AAAA")));
        assert!(!is_web_url(&url("file:///etc/passwd")));
        assert!(!is_web_url(&url("ftp://files.example/p")));
    }

    #[test]
    fn params_are_set_once_and_the_rest_is_kept_in_place() {
        let set = with_query_params(
            url("https://h/p?w=200&crop=entropy&q=80&w=300#top"),
            &[("w", "2000"), ("q", "100")],
        );
        assert_eq!(set.as_str(), "https://h/p?crop=entropy&w=2000&q=100#top");
    }

    #[test]
    fn look_alike_keys_and_values_are_left_alone() {
        let set = with_query_params(url("https://h/p?raw=w%3D200&qq=80"), &[("w", "1")]);
        let pairs: Vec<(String, String)> = set.query_pairs().into_owned().collect();
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            pairs,
            [pair("raw", "w=200"), pair("qq", "80"), pair("w", "1")]
        );
    }

    #[test]
    fn a_url_without_a_query_gets_one() {
        let set = with_query_params(url("https://h/p"), &[("a", "1 2"), ("b", "&")]);
        assert_eq!(set.query(), Some("a=1+2&b=%26"));
    }

    #[test]
    fn endpoint_keeps_the_path_prefix() {
        let under = |base: &str, path: &str| endpoint(&url(base), path).to_string();
        assert_eq!(under("http://h:1", "v1/image"), "http://h:1/v1/image");
        assert_eq!(under("http://h:1/", "v1/image"), "http://h:1/v1/image");
        assert_eq!(
            under("http://h/images", "v1/image"),
            "http://h/images/v1/image"
        );
        assert_eq!(
            under("http://h/images/", "v1/image"),
            "http://h/images/v1/image"
        );
        assert_eq!(
            under("https://h/a/b", "search/photos"),
            "https://h/a/b/search/photos"
        );
    }
}
