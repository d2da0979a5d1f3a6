//! frontend settings, from flags or environment variables.

use std::time::Duration;

use clap::Parser;
use service_kit::config::{ServerArgs, http_url, millis};
use url::Url;

pub const DEFAULT_PORT: u16 = 3000;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "frontend",
    version,
    about = "Serves Bird Explorer, the full-screen bird page"
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Base URL of the bird service.
    #[arg(long, env = "BIRD_API_URL", default_value = "http://localhost:4201", value_parser = http_url)]
    pub bird_api_url: Url,

    /// Budget for one call to bird, in milliseconds (above bird's own 3000 ms budget for bird-image).
    // The field holds a duration; the flag and the variable keep their names (a contract).
    #[arg(long = "bird-api-timeout-ms", env = "BIRD_API_TIMEOUT_MS",
          value_name = "BIRD_API_TIMEOUT_MS", default_value = "4000", value_parser = millis)]
    pub bird_api_timeout: Duration,

    /// This app's name on Unsplash, sent as `utm_source` in the photo credit links.
    #[arg(long, env = "UNSPLASH_APP_NAME", default_value = "bird_explorer", value_parser = app_name)]
    pub unsplash_app_name: String,
}

impl Config {
    /// Defaults with an ephemeral loopback listener, for tests and embedding.
    pub fn for_tests(bird_api_url: Url) -> Self {
        let mut config = Self::parse_from(["frontend"]);
        config.server = ServerArgs::ephemeral();
        config.bird_api_url = bird_api_url;
        config
    }
}

/// Unsplash app names are slugs; anything else would be a mistake in the deployment.
fn app_name(value: &str) -> Result<String, String> {
    let valid = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must be 1 to 64 letters, digits, '_' or '-'".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_keeps_its_flag_and_variable() {
        let parse =
            |value: &str| Config::try_parse_from(["frontend", "--bird-api-timeout-ms", value]);
        assert_eq!(
            parse("250").unwrap().bird_api_timeout,
            Duration::from_millis(250)
        );
        let refused = parse("soon").unwrap_err().to_string();
        assert!(
            refused.contains("'--bird-api-timeout-ms <BIRD_API_TIMEOUT_MS>'"),
            "{refused}"
        );
    }

    #[test]
    fn app_name_is_a_safe_token() {
        assert_eq!(app_name("bird_explorer").as_deref(), Ok("bird_explorer"));
        assert!(app_name("bird-explorer-2").is_ok());
        assert!(app_name("").is_err());
        assert!(app_name("a b").is_err());
        assert!(app_name("x&utm_medium=evil").is_err());
        assert!(app_name(&"a".repeat(65)).is_err());
    }
}
