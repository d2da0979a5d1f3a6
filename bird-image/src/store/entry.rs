//! A photo as the fleet keeps it in the store: the answer and when the fleet asks Unsplash
//! again. What is read back is checked as an Unsplash answer is; anything else in its place
//! (an older format, another program's value, a corrupted one) is not served.

use serde::{Deserialize, Serialize};

use crate::unsplash::{self, Photo};

/// Larger values are not ours: a photo entry is a few hundred bytes.
pub const MAX_BYTES: usize = 4 * 1024;

/// The longest a stored entry may be from its refresh: the longest `CACHE_TTL_SECS`.
const MAX_REFRESH_AHEAD_MS: u64 = 7 * 24 * 3600 * 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPhoto {
    pub photo: Photo,
    /// When the fleet asks Unsplash again, in milliseconds since the epoch.
    pub refresh_at: u64,
}

#[derive(Serialize, Deserialize)]
struct Entry<'a> {
    url: &'a str,
    credit: Option<EntryCredit<'a>>,
    refresh_at: u64,
}

#[derive(Serialize, Deserialize)]
struct EntryCredit<'a> {
    name: &'a str,
    profile_url: &'a str,
    photo_url: &'a str,
}

impl StoredPhoto {
    pub fn encode(&self) -> Vec<u8> {
        let credit = self.photo.credit.as_ref();
        let entry = Entry {
            url: self.photo.url.as_str(),
            credit: credit.map(|credit| EntryCredit {
                name: &credit.name,
                profile_url: credit.profile_url.as_str(),
                photo_url: credit.photo_url.as_str(),
            }),
            refresh_at: self.refresh_at,
        };
        // A struct of strings and a number always serialises.
        serde_json::to_vec(&entry).unwrap_or_default()
    }

    /// The entry in `bytes`, if it is one this service wrote: a photo URL Unsplash could have
    /// given (https, the high-resolution parameters set again), a credit with https links,
    /// and a refresh no further ahead of `now` than the longest TTL.
    pub fn decode(bytes: &[u8], now: u64) -> Option<Self> {
        if bytes.len() > MAX_BYTES {
            return None;
        }
        let entry: Entry = serde_json::from_slice(bytes).ok()?;
        if entry.refresh_at > now.saturating_add(MAX_REFRESH_AHEAD_MS) {
            return None;
        }
        let credit = match entry.credit {
            Some(credit) => Some(unsplash::credit(
                credit.name,
                credit.profile_url,
                credit.photo_url,
            )?),
            None => None,
        };
        Some(Self {
            photo: Photo {
                url: unsplash::high_resolution(entry.url)?,
                credit,
            },
            refresh_at: entry.refresh_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::photo::Credit;
    use url::Url;

    const NOW: u64 = 1_800_000_000_000;

    fn stored() -> StoredPhoto {
        StoredPhoto {
            photo: Photo {
                url: Url::parse("https://images.unsplash.com/photo-1?w=2000&q=100").unwrap(),
                credit: Some(Credit {
                    name: "Ada Lens".into(),
                    profile_url: Url::parse("https://unsplash.com/@adalens").unwrap(),
                    photo_url: Url::parse("https://unsplash.com/photos/abc").unwrap(),
                }),
            },
            refresh_at: NOW + 3_600_000,
        }
    }

    #[test]
    fn an_entry_reads_back_as_written() {
        let entry = stored();
        assert_eq!(StoredPhoto::decode(&entry.encode(), NOW), Some(entry));
        let uncredited = StoredPhoto {
            photo: Photo {
                credit: None,
                ..stored().photo
            },
            ..stored()
        };
        assert_eq!(
            StoredPhoto::decode(&uncredited.encode(), NOW),
            Some(uncredited)
        );
    }

    #[test]
    fn anything_but_a_checked_entry_is_refused() {
        let refused = |json: &str| StoredPhoto::decode(json.as_bytes(), NOW).is_none();
        let photo = "https://images.unsplash.com/p";
        let credit = r#"{"name":"A","profile_url":"https://unsplash.com/@a","photo_url":"https://unsplash.com/photos/p"}"#;
        assert!(!refused(&format!(
            r#"{{"url":"{photo}","credit":{credit},"refresh_at":{NOW}}}"#
        )));
        for bad in [
            String::new(),
            "garbage".to_owned(),
            "\"https://images.unsplash.com/p\"".to_owned(),
            r#"{"url":"http://images.unsplash.com/p","credit":null,"refresh_at":1}"#.to_owned(),
            r#"{"url":"javascript:alert(1)","credit":null,"refresh_at":1}"#.to_owned(),
            r#"{"url":"https://images.unsplash.com/p","credit":null}"#.to_owned(),
            r#"{"url":"https://images.unsplash.com/p","credit":null,"refresh_at":-1}"#.to_owned(),
            format!(
                r#"{{"url":"{photo}","credit":{{"name":"","profile_url":"https://u/@a","photo_url":"https://u/p"}},"refresh_at":1}}"#
            ),
            format!(
                r#"{{"url":"{photo}","credit":{{"name":"A","profile_url":"http://u/@a","photo_url":"https://u/p"}},"refresh_at":1}}"#
            ),
            // A refresh far past the longest TTL would pin a photo for good.
            format!(
                r#"{{"url":"{photo}","credit":null,"refresh_at":{}}}"#,
                u64::MAX
            ),
            format!(
                r#"{{"url":"{photo}?pad={}","credit":null,"refresh_at":1}}"#,
                "x".repeat(MAX_BYTES)
            ),
        ] {
            assert!(refused(&bad), "{bad}");
        }
    }

    #[test]
    fn a_served_url_has_the_high_resolution_parameters() {
        let json =
            r#"{"url":"https://images.unsplash.com/p?w=20&q=1","credit":null,"refresh_at":1}"#;
        let entry = StoredPhoto::decode(json.as_bytes(), NOW).unwrap();
        assert_eq!(
            entry.photo.url.as_str(),
            "https://images.unsplash.com/p?w=2000&q=100"
        );
    }
}
