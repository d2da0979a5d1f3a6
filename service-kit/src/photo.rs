//! What the services pass on about a photo: whom to credit for it, and the image shown when
//! there is no photo to credit.

use serde::{Deserialize, Serialize};
use url::Url;

/// The image shown when no photo can be had: the original's.
pub const DEFAULT_IMAGE_URL: &str =
    "https://www.pokemonmillennium.net/wp-content/uploads/2015/11/missingno.png";

/// The attribution Unsplash's guidelines require: the photographer's name, with links to their
/// profile and to the photo. bird-image finds it, bird passes it on, the frontend shows it; its
/// JSON (`{"name", "profile_url", "photo_url"}`) is the same at every hop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub name: String,
    pub profile_url: Url,
    pub photo_url: Url,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credit_is_the_same_json_at_every_hop() {
        let json = serde_json::json!({
            "name": "Ada",
            "profile_url": "https://unsplash.com/@ada",
            "photo_url": "https://unsplash.com/photos/p",
        });
        let credit: Credit = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(credit.name, "Ada");
        assert_eq!(credit.profile_url.as_str(), "https://unsplash.com/@ada");
        assert_eq!(serde_json::to_value(&credit).unwrap(), json);
    }

    #[test]
    fn the_default_image_is_a_web_url() {
        let url = Url::parse(DEFAULT_IMAGE_URL).unwrap();
        assert!(crate::web_url::is_web_url(&url));
    }
}
