//! bird-image settings, from flags or environment variables.

use std::time::Duration;

use clap::Parser;
use secrecy::{ExposeSecret, SecretString};
use service_kit::config::{ServerArgs, http_url, millis};
use service_kit::photo::DEFAULT_IMAGE_URL;
use url::{Host, Url};

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

    /// Base URL of the Unsplash API (https; http only to a loopback host). A path is kept as a prefix.
    #[arg(long, env = "UNSPLASH_API_URL", default_value = "https://api.unsplash.com", value_parser = unsplash_url)]
    pub unsplash_api_url: Url,

    /// Unsplash access key. Without one, Unsplash is never called and every answer is the default image.
    #[arg(long, env = "UNSPLASH_ACCESS_KEY", hide_env_values = true, value_parser = AccessKey::parse)]
    pub unsplash_access_key: Option<AccessKey>,

    /// Budget for one Unsplash call, in milliseconds.
    // The field holds a duration; the flag and the variable keep their names (a contract).
    #[arg(long = "unsplash-timeout-ms", env = "UNSPLASH_TIMEOUT_MS",
          value_name = "UNSPLASH_TIMEOUT_MS", default_value = "2000", value_parser = millis)]
    pub unsplash_timeout: Duration,

    /// Seconds a photo found on Unsplash is answered before it is refreshed (in the background).
    // A day: a bird's photo is the first search result, which stays the same for days, so a
    // long TTL changes nothing a user sees and keeps a fleet's calls low (see the budget).
    #[arg(long, env = "CACHE_TTL_SECS", default_value_t = 24 * 3600,
          value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600))]
    pub cache_ttl_secs: u64,

    /// Bird names kept in the cache at most (a flood of made-up names cannot grow memory past it).
    #[arg(long, env = "CACHE_MAX_ENTRIES", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub cache_max_entries: u64,

    /// Unsplash calls made in any 60 minutes at most: by the whole fleet sharing CACHE_URL, else by this process. Names outside bird's twelve birds get only the calls above 12.
    // A demo key's hourly quota. With a store the fleet spends it as one, so a cold fleet of
    // any size needs 12 calls for the twelve birds and a warm one 12 a CACHE_TTL_SECS;
    // Unsplash's own counter (see `key_quota`) is the second guard.
    #[arg(long, env = "UNSPLASH_MAX_CALLS_PER_HOUR", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub unsplash_max_calls_per_hour: u32,

    /// The fleet's shared store: redis:// or rediss:// (TLS), password in the URL (redis://:PASSWORD@host:6379). Unset, photos and the allowance are this process's own.
    #[arg(long, env = "CACHE_URL", hide_env_values = true, value_parser = CacheUrl::parse)]
    pub cache_url: Option<CacheUrl>,

    /// Budget for one operation on the store, in milliseconds; past it the store counts as down.
    #[arg(long = "cache-timeout-ms", env = "CACHE_TIMEOUT_MS",
          value_name = "CACHE_TIMEOUT_MS", default_value = "250", value_parser = millis)]
    pub cache_timeout: Duration,

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

/// A value parser for `UNSPLASH_API_URL` (`http_url` refuses a query or fragment already). The
/// access key travels with every call, so the URL must be https; plain http only reaches a
/// loopback host (tests, a local stand-in).
pub fn unsplash_url(value: &str) -> Result<Url, String> {
    let url = http_url(value)?;
    if url.scheme() != "https" && !is_loopback(&url) {
        return Err(
            "must be an https:// URL (http:// only to localhost, 127.0.0.0/8 or ::1)".to_owned(),
        );
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `CACHE_URL`, which carries the store's password: its `Debug` is redacted, it has no
/// `Display`, and a value that is refused is not repeated in the error.
#[derive(Clone, Debug)]
pub struct CacheUrl(SecretString);

impl CacheUrl {
    pub fn parse(value: &str) -> Result<Self, String> {
        let url = Url::parse(value).map_err(|_| "not an absolute URL".to_owned())?;
        if !matches!(url.scheme(), "redis" | "rediss") {
            return Err("must be a redis:// or rediss:// URL".to_owned());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name the store's host".to_owned());
        }
        let database = url.path().trim_start_matches('/');
        if !(database.is_empty() || database.parse::<u16>().is_ok()) {
            return Err("the path may only be a database number, as in /0".to_owned());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("takes no query or fragment".to_owned());
        }
        Ok(Self(value.into()))
    }
}

impl ExposeSecret<str> for CacheUrl {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The Unsplash access key: its `Debug` is redacted, it has no `Display`, and the value is
/// reached only through [`ExposeSecret::expose_secret`].
#[derive(Clone, Debug)]
pub struct AccessKey(SecretString);

impl AccessKey {
    fn parse(value: &str) -> Result<Self, String> {
        if value.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(value.into()))
        } else {
            Err("must be printable ASCII without spaces".to_owned())
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }
}

impl ExposeSecret<str> for AccessKey {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_keeps_its_flag_and_variable() {
        let parse =
            |value: &str| Config::try_parse_from(["bird-image", "--unsplash-timeout-ms", value]);
        assert_eq!(
            parse("250").unwrap().unsplash_timeout,
            Duration::from_millis(250)
        );
        let refused = parse("soon").unwrap_err().to_string();
        assert!(
            refused.contains("'--unsplash-timeout-ms <UNSPLASH_TIMEOUT_MS>'"),
            "{refused}"
        );
    }
    use crate::cache::OUTAGE_SHARE;
    use crate::key_quota;

    /// The arithmetic of the defaults' comments: one process alone fetches the twelve birds in
    /// its first hour, a fleet sharing a store spends a demo key's quota at most, and so does
    /// the chart's largest fleet (10 pods) carrying on alone while its store is down.
    #[test]
    fn the_defaults_keep_a_fleet_inside_a_demo_keys_quota() {
        const DEMO_KEY_PER_HOUR: u32 = 50;
        const MOST_PODS: u32 = 10;
        let config = Config::parse_from(["bird-image"]);
        let allowance = config.unsplash_max_calls_per_hour;
        assert!(allowance as usize >= bird_catalogue::BIRDS.len());
        assert!(allowance <= DEMO_KEY_PER_HOUR);
        let alone = (allowance / OUTAGE_SHARE).max(1);
        assert!(
            MOST_PODS * alone <= DEMO_KEY_PER_HOUR,
            "store down: {alone} a pod"
        );
        assert!(
            key_quota::RESERVE >= u64::from(MOST_PODS),
            "each pod can learn of the reserve"
        );
    }

    #[test]
    fn the_store_url_is_a_redis_url() {
        let parse = |value: &str| {
            Config::try_parse_from(["bird-image", "--cache-url", value])
                .map(|config| config.cache_url.expect("a store URL"))
        };
        for accepted in [
            "redis://localhost:6379",
            "redis://:s3cret@bird-valkey-service:6379",
            "rediss://bird:s3cret@master.example.cache.amazonaws.com:6379/0",
            "redis://10.0.0.5",
        ] {
            assert_eq!(parse(accepted).unwrap().expose_secret(), accepted);
        }
        for refused in [
            "http://:s3cret@localhost:6379",
            "redis://:s3cret@/",
            "redis://:s3cret@localhost:6379/cache",
            "redis://:s3cret@localhost:6379?protocol=resp3",
            ":s3cret@localhost:6379",
        ] {
            assert!(parse(refused).is_err(), "{refused}");
        }
        let config = parse("redis://:s3cret@h").unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
    }

    /// `Config` is `Debug` (a start-up line or a panic message may print it): the key's value
    /// stays out of it, and stays reachable for the one header that needs it.
    #[test]
    fn debug_output_never_shows_the_access_key() {
        const KEY: &str = "test-key-7f3a9c";
        let config = Config::for_tests(Url::parse("http://127.0.0.1:9").unwrap(), Some(KEY));
        let printed = format!("{config:?}\n{config:#?}");
        assert!(!printed.contains(KEY), "the key is printed: {printed}");
        assert!(printed.contains("unsplash_access_key: Some(AccessKey("));
        let key = config.unsplash_access_key.expect("a key");
        assert_eq!(key.expose_secret(), KEY);
    }

    #[test]
    fn the_unsplash_url_is_https_unless_the_host_is_loopback() {
        for accepted in [
            "https://api.unsplash.com",
            "https://proxy.example/unsplash/",
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://localhost:9",
            "http://LOCALHOST",
            "http://[::1]:9",
        ] {
            assert!(unsplash_url(accepted).is_ok(), "{accepted}");
        }
        for refused in [
            "http://api.unsplash.com",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "http://[::2]",
            "http://localhost.example",
            "http://127.0.0.1.nip.io",
            "ftp://localhost",
            "https://api.unsplash.com/?lang=en",
            "https://api.unsplash.com/#x",
        ] {
            assert!(unsplash_url(refused).is_err(), "{refused}");
        }
    }
}
