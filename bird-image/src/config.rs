//! bird-image settings, from flags or environment variables.

use std::fmt;
use std::time::Duration;

use clap::Parser;
use service_kit::config::{DEFAULT_IMAGE_URL, ServerArgs, http_url, millis};
use url::Url;

pub const DEFAULT_PORT: u16 = 4200;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "bird-image",
    version,
    about = "Answers the URL of a photo of a bird, from Unsplash"
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Base URL of the Unsplash API.
    #[arg(long, env = "UNSPLASH_API_URL", default_value = "https://api.unsplash.com", value_parser = http_url)]
    pub unsplash_api_url: Url,

    /// Unsplash access key. Without one, Unsplash is never called and every answer is the default image.
    #[arg(long, env = "UNSPLASH_ACCESS_KEY", hide_env_values = true, value_parser = AccessKey::parse)]
    pub unsplash_access_key: Option<AccessKey>,

    /// Budget for one Unsplash call, in milliseconds.
    #[arg(long, env = "UNSPLASH_TIMEOUT_MS", default_value = "2000", value_parser = millis)]
    pub unsplash_timeout_ms: Duration,

    /// Seconds a photo found on Unsplash is reused before asking again.
    #[arg(long, env = "CACHE_TTL_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600))]
    pub cache_ttl_secs: u64,

    /// Bird names kept in the cache at most (a flood of made-up names cannot grow memory past it).
    #[arg(long, env = "CACHE_MAX_ENTRIES", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub cache_max_entries: u64,

    /// Unsplash calls allowed per hour (a demo key gets 50, a production key 5000).
    #[arg(long, env = "UNSPLASH_MAX_CALLS_PER_HOUR", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub unsplash_max_calls_per_hour: u32,

    /// Image answered when no photo can be had.
    #[arg(long, env = "DEFAULT_IMAGE_URL", default_value = DEFAULT_IMAGE_URL, value_parser = http_url)]
    pub default_image_url: Url,
}

impl Config {
    /// Defaults with an ephemeral loopback listener, for tests and embedding.
    pub fn for_tests(unsplash_api_url: Url, key: Option<&str>) -> Self {
        let mut config = Self::parse_from(["bird-image"]);
        config.server = ServerArgs::ephemeral();
        config.unsplash_api_url = unsplash_api_url;
        config.unsplash_access_key = key.map(|k| AccessKey::parse(k).expect("valid test key"));
        config
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs)
    }
}

/// The Unsplash access key. Its `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct AccessKey(String);

impl AccessKey {
    fn parse(value: &str) -> Result<Self, String> {
        if value.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(value.to_owned()))
        } else {
            Err("must be printable ASCII without spaces".to_owned())
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}
