//! Settings every service shares, the value parsers of the services' own settings, and the
//! start-up parsing that turns a bad value into one clear line naming the variable.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::error::{ContextKind, ContextValue};
use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand, ValueEnum};
use url::Url;

use crate::traces::TraceArgs;
use crate::web_url::is_web_url;

/// Where to listen, how to log and how to shut down. Flattened into each service's config.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub host: IpAddr,

    /// Port to listen on [default: the service's own port].
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,

    /// Log line format: one JSON object per line, or human-readable text.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// Seconds between SIGTERM and closing the listener, while /ready answers 503.
    #[arg(long, env = "SHUTDOWN_DRAIN_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub shutdown_drain_secs: u64,

    /// Seconds to wait for in-flight requests after the listener closes.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub shutdown_timeout_secs: u64,

    /// Access-log `/health`, `/ready` and `/metrics` too (off: probes and scrapes are not traffic).
    #[arg(long, env = "ACCESS_LOG_PROBES", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub access_log_probes: bool,

    #[command(flatten)]
    pub trace: TraceArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl ServerArgs {
    /// Settings for tests and embedding: loopback, an OS-chosen port, no drain.
    pub fn ephemeral() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: Some(0),
            log_format: LogFormat::Json,
            shutdown_drain_secs: 0,
            shutdown_timeout_secs: 5,
            access_log_probes: false,
            trace: TraceArgs::default(),
            command: None,
        }
    }

    pub fn addr(&self, default_port: u16) -> SocketAddr {
        SocketAddr::new(self.host, self.port.unwrap_or(default_port))
    }

    pub fn shutdown(&self) -> crate::server::ShutdownSettings {
        crate::server::ShutdownSettings {
            drain: Duration::from_secs(self.shutdown_drain_secs),
            timeout: Duration::from_secs(self.shutdown_timeout_secs),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Ask the running service's /health and exit 0 when it answers 200 (for container health checks).
    Healthcheck,
}

/// Parses the command line and environment. On a bad value prints one line naming the
/// variable (clap shows it as `--flag <VARIABLE>`) and exits with status 2.
pub fn parse<C: Parser>(service: &str) -> C {
    C::try_parse().unwrap_or_else(|err| {
        use clap::error::ErrorKind;
        if matches!(
            err.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        ) {
            err.exit();
        }
        eprintln!("{}", one_line::<C>(service, &err));
        std::process::exit(2);
    })
}

/// Parses `C` from the environment alone (no arguments), for binaries that host a service;
/// a bad value is the same one line [`parse`] prints.
pub fn from_env<C: Parser>(service: &str) -> Result<C, String> {
    C::try_parse_from([service]).map_err(|err| one_line::<C>(service, &err))
}

/// `<service>: <clap's first line>`, which names the flag and its variable. clap repeats the
/// refused value; for a secret (an argument with `hide_env_values`) it is left out.
fn one_line<C: CommandFactory>(service: &str, err: &clap::Error) -> String {
    let mut rendered = err.to_string();
    if let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) = (
        err.get(ContextKind::InvalidArg),
        err.get(ContextKind::InvalidValue),
    ) {
        let secret = C::command().get_arguments().any(|known| {
            known.is_hide_env_values_set()
                && known
                    .get_long()
                    .is_some_and(|long| arg.starts_with(&format!("--{long} ")))
        });
        if secret && !value.is_empty() {
            rendered = rendered.replace(value.as_str(), "(hidden)");
        }
    }
    let first = rendered.lines().next().unwrap_or("invalid configuration");
    format!("{service}: {}", first.trim_start_matches("error: "))
}

/// A clap value parser for upstream base URLs: absolute `http` or `https` URLs, which may
/// have a path prefix (see [`endpoint`](crate::web_url::endpoint)) but no query or fragment, which no call could keep.
pub fn http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|err| format!("not an absolute URL ({err})"))?;
    if !is_web_url(&url) {
        Err("must be an http:// or https:// URL with a host".to_owned())
    } else if url.query().is_some() || url.fragment().is_some() {
        Err("a base URL takes no query or fragment".to_owned())
    } else {
        Ok(url)
    }
}

/// A clap value parser for timeouts in milliseconds: 1 ms to 60 s.
pub fn millis(value: &str) -> Result<Duration, String> {
    let ms: u64 = value
        .parse()
        .map_err(|_| "must be a whole number of milliseconds".to_owned())?;
    if !(1..=60_000).contains(&ms) {
        return Err("must be between 1 and 60000 milliseconds".to_owned());
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_url_accepts_only_absolute_http_urls() {
        assert!(http_url("http://localhost:4200").is_ok());
        assert!(http_url("https://api.unsplash.com").is_ok());
        assert!(http_url("ftp://example.com").is_err());
        assert!(http_url("localhost:4200").is_err());
        assert!(http_url("not a url").is_err());
        assert!(http_url("http://localhost:4200/prefix").is_ok());
        assert!(http_url("http://localhost:4200/?lang=en").is_err());
        assert!(http_url("http://localhost:4200/#top").is_err());
    }

    #[derive(Debug, Parser)]
    struct Server {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn probes_are_access_logged_only_when_asked() {
        let probes = |args: &[&str]| {
            Server::try_parse_from(std::iter::once("unit").chain(args.iter().copied()))
                .map(|parsed| parsed.server.access_log_probes)
                .map_err(|err| err.to_string())
        };
        assert_eq!(probes(&[]), Ok(false));
        assert_eq!(probes(&["--access-log-probes"]), Ok(true));
        assert_eq!(probes(&["--access-log-probes", "true"]), Ok(true));
        assert_eq!(probes(&["--access-log-probes=off"]), Ok(false));
        let refused = probes(&["--access-log-probes=maybe"]).unwrap_err();
        assert!(refused.contains("ACCESS_LOG_PROBES"), "{refused}");
    }

    #[derive(Debug, Parser)]
    struct WithSecret {
        #[arg(long, env = "UNIT_PASSWORD", hide_env_values = true, value_parser = refuse)]
        password: Option<String>,
        #[arg(long, env = "UNIT_TIMEOUT_MS", value_parser = millis)]
        timeout: Option<Duration>,
    }

    fn refuse(_: &str) -> Result<String, String> {
        Err("must be something else".to_owned())
    }

    #[test]
    fn a_refused_secret_is_named_but_not_repeated() {
        let line = |args: &[&str]| {
            let err = WithSecret::try_parse_from(args).unwrap_err();
            one_line::<WithSecret>("unit", &err)
        };
        let refused = line(&["unit", "--password", "hunter2-s3cret"]);
        assert!(!refused.contains("hunter2-s3cret"), "{refused}");
        assert!(refused.contains("--password <PASSWORD>"), "{refused}");
        assert!(refused.contains("must be something else"), "{refused}");
        let plain = line(&["unit", "--timeout", "soon"]);
        assert!(plain.contains("'soon'"), "other values are shown: {plain}");
    }

    #[test]
    fn millis_is_bounded() {
        assert_eq!(millis("250"), Ok(Duration::from_millis(250)));
        assert!(millis("0").is_err());
        assert!(millis("60001").is_err());
        assert!(millis("-5").is_err());
        assert!(millis("2s").is_err());
    }
}
