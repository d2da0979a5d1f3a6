//! Logging: one JSON object per line on stdout, with the field names the CloudWatch Logs
//! Insights queries rely on (`timestamp`, `level`, `service`, `message`, then the event's fields).

use std::fmt;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global subscriber. `service` fills the `service` field of lines whose event
/// does not name one itself (the kit's own events always do, so one process can host several
/// services). `RUST_LOG` filters as usual; the default level is `info`.
pub fn init(service: &'static str, format: LogFormat) {
    // A second call (tests, an embedding binary) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => json_subscriber(service, std::io::stdout).try_init(),
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(env_filter())
            .with_writer(std::io::stdout)
            .finish()
            .try_init(),
    };
}

/// The JSON-lines subscriber writing to `writer`; tests capture log lines with it.
pub fn json_subscriber<W>(
    service: &'static str,
    writer: W,
) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(env_filter())
        .with_writer(writer)
        .event_format(JsonLines { service })
        .finish()
}

fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Formats each event as a single JSON object.
pub struct JsonLines {
    pub service: &'static str,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        let mut fields = fields.0;

        let timestamp = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .map_err(|_| fmt::Error)?;
        let mut line = Map::with_capacity(fields.len() + 4);
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert(
            "level".into(),
            Value::String(event.metadata().level().as_str().into()),
        );
        let service = fields
            .remove("service")
            .unwrap_or_else(|| Value::String(self.service.into()));
        line.insert("service".into(), service);
        let message = fields.remove("message").unwrap_or_default();
        line.insert("message".into(), message);
        line.extend(fields);
        writeln!(writer, "{}", Value::Object(line))
    }
}

#[derive(Default)]
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.0.insert(field.name().into(), value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
