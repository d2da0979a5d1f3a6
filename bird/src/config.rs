//! bird settings, from flags or environment variables.

use std::time::Duration;

use clap::Parser;
use service_kit::config::{ServerArgs, http_url, millis};
use service_kit::photo::DEFAULT_IMAGE_URL;
use url::Url;

pub const DEFAULT_PORT: u16 = 4201;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "bird",
    version,
    about = "Answers a random North American bird as JSON"
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Base URL of the bird-image service; a path prefix (a gateway's) is kept.
    #[arg(long, env = "BIRD_IMAGE_URL", default_value = "http://localhost:4200", value_parser = http_url)]
    pub bird_image_url: Url,

    /// Budget for one call to bird-image, in milliseconds (above bird-image's own Unsplash budget).
    // The field holds a duration; the flag and the variable keep their names (a contract).
    #[arg(long = "bird-image-timeout-ms", env = "BIRD_IMAGE_TIMEOUT_MS",
          value_name = "BIRD_IMAGE_TIMEOUT_MS", default_value = "3000", value_parser = millis)]
    pub bird_image_timeout: Duration,

    /// Seconds a photo answered by bird-image is reused; 0 asks bird-image every time.
    #[arg(long, env = "BIRD_IMAGE_CACHE_TTL_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub bird_image_cache_ttl_secs: u64,

    /// Image of the fallback bird.
    #[arg(long, env = "DEFAULT_IMAGE_URL", default_value = DEFAULT_IMAGE_URL, value_parser = http_url)]
    pub default_image_url: Url,
}

impl Config {
    /// Defaults with an ephemeral loopback listener, for tests and embedding.
    pub fn for_tests(bird_image_url: Url) -> Self {
        let mut config = Self::parse_from(["bird"]);
        config.server = ServerArgs::ephemeral();
        config.bird_image_url = bird_image_url;
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_keeps_its_flag_and_variable() {
        let parse =
            |value: &str| Config::try_parse_from(["bird", "--bird-image-timeout-ms", value]);
        assert_eq!(
            parse("250").unwrap().bird_image_timeout,
            Duration::from_millis(250)
        );
        let refused = parse("soon").unwrap_err().to_string();
        assert!(
            refused.contains("'--bird-image-timeout-ms <BIRD_IMAGE_TIMEOUT_MS>'"),
            "{refused}"
        );
    }
}
