//! Logging: one JSON object per line on stdout, with the field names the CloudWatch Logs
//! Insights queries rely on (`timestamp`, `level`, `service`, `message`, then the event's fields).

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;
use crate::trace::Traces;

/// Installs the global subscriber. `service` fills the `service` field of lines whose event
/// does not name one itself (the kit's own events always do, so one process can host several
/// services). `RUST_LOG` filters logs and spans as usual; the default level is `info`. With
/// `traces`, spans are exported too.
pub fn init(service: &'static str, format: LogFormat, traces: Option<&Traces>) {
    // A second call (tests, an embedding binary) keeps the first subscriber.
    let _ = dispatch(service, format, traces).try_init();
}

/// The subscriber [`init`] installs, for a binary that hosts several services and makes each
/// one's the default of the thread that runs it.
pub fn dispatch(service: &'static str, format: LogFormat, traces: Option<&Traces>) -> Dispatch {
    match format {
        LogFormat::Json => Dispatch::new(traced_json_subscriber(service, std::io::stdout, traces)),
        LogFormat::Text => Dispatch::new(
            tracing_subscriber::registry()
                .with(env_filter())
                .with(traces.map(|traces| traces.layer(service)))
                .with(tracing_subscriber::fmt::layer().with_writer(std::io::stdout)),
        ),
    }
}

/// The JSON-lines subscriber writing to `writer`; tests capture log lines with it.
pub fn json_subscriber<W>(
    service: &'static str,
    writer: W,
) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    traced_json_subscriber(service, writer, None)
}

/// [`json_subscriber`], exporting spans too when `traces` is given. Without it there is no
/// OpenTelemetry layer at all, so export off costs nothing per span.
pub fn traced_json_subscriber<W>(
    service: &'static str,
    writer: W,
    traces: Option<&Traces>,
) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(env_filter())
        .with(traces.map(|traces| traces.layer(service)))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .event_format(JsonLines { service }),
        )
}

fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Formats each event as a single JSON object.
///
/// The line is serialised straight into one buffer (no map of owned keys and values per
/// event): one access-log line per request makes this the hottest code of a cached answer.
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
        let mut fields = JsonFields::default();
        event.record(&mut fields);

        let mut line = Vec::with_capacity(160 + fields.rest.len());
        line.extend_from_slice(b"{\"timestamp\":\"");
        OffsetDateTime::now_utc()
            .format_into(&mut line, &Rfc3339)
            .map_err(|_| fmt::Error)?;
        line.extend_from_slice(b"\",\"level\":");
        push_json(&mut line, event.metadata().level().as_str());
        line.extend_from_slice(b",\"service\":");
        push_json(&mut line, fields.service.as_deref().unwrap_or(self.service));
        line.extend_from_slice(b",\"message\":");
        push_json(&mut line, &fields.message);
        line.extend_from_slice(&fields.rest);
        line.extend_from_slice(b"}\n");
        writer.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)
    }
}

/// Appends `value` as JSON. Serialising strings and numbers into a `Vec` cannot fail.
fn push_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    let _ = serde_json::to_writer(out, value);
}

/// An event's fields: `service` and `message`, which lead the line, and the others already
/// serialised as `,"name":value` in the order the event gives them.
#[derive(Default)]
struct JsonFields {
    service: Option<String>,
    /// `null` when the event has no message.
    message: Option<String>,
    rest: Vec<u8>,
}

impl JsonFields {
    fn push(&mut self, field: &Field, value: &(impl serde::Serialize + ?Sized)) {
        match field.name() {
            // Written first from the event's metadata; a field of the same name would repeat the key.
            "timestamp" | "level" => {}
            name => {
                self.rest.push(b',');
                push_json(&mut self.rest, name);
                self.rest.push(b':');
                push_json(&mut self.rest, value);
            }
        }
    }

    fn push_text(&mut self, field: &Field, value: String) {
        match field.name() {
            "service" => self.service = Some(value),
            "message" => self.message = Some(value),
            _ => self.push(field, &value),
        }
    }
}

impl Visit for JsonFields {
    /// Non-finite numbers have no JSON form and are written as `null`.
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, &value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, &value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, &value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, &value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "service" | "message" => self.push_text(field, value.to_owned()),
            _ => self.push(field, value),
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push_text(field, value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push_text(field, format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::LogCapture;
    use serde_json::Value;

    fn capture(emit: impl FnOnce()) -> (String, Vec<Value>) {
        let logs = LogCapture::default();
        {
            let _guard = logs.install("unit");
            emit();
        }
        (logs.text(), logs.lines())
    }

    #[test]
    fn lines_lead_with_timestamp_level_service_message_then_the_fields_in_order() {
        let (text, lines) = capture(|| {
            tracing::info!(
                method = "GET",
                status_code = 200u16,
                response_time = 0.25,
                ok = true,
                delta = -3i64,
                "request"
            );
        });
        let keys: Vec<&str> = text
            .trim_end()
            .trim_start_matches('{')
            .split(',')
            .map(|pair| pair.split(':').next().unwrap().trim_matches('"'))
            .collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "level",
                "service",
                "message",
                "method",
                "status_code",
                "response_time",
                "ok",
                "delta"
            ]
        );
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["service"], "unit");
        assert_eq!(line["message"], "request");
        assert_eq!(line["status_code"], 200);
        assert_eq!(line["response_time"], 0.25);
        assert_eq!(line["ok"], true);
        assert_eq!(line["delta"], -3);
        let timestamp = line["timestamp"].as_str().unwrap();
        // RFC 3339 in UTC: 2026-01-02T03:04:05.123456789Z
        assert_eq!(&timestamp[4..5], "-", "{timestamp}");
        assert_eq!(&timestamp[10..11], "T", "{timestamp}");
        assert!(timestamp.ends_with('Z'), "{timestamp}");
    }

    #[test]
    fn an_event_naming_its_service_overrides_the_default() {
        let (_, lines) = capture(|| tracing::warn!(service = "bird", "named"));
        assert_eq!(lines[0]["service"], "bird");
        assert_eq!(lines[0]["level"], "WARN");
        assert!(lines[0].as_object().unwrap().len() == 4);
    }

    #[test]
    fn text_is_escaped_and_odd_values_stay_valid_json() {
        let reason = std::io::Error::other("bad \"quote\"");
        let (text, lines) = capture(|| {
            tracing::error!(
                path = "/a\"b\\c\n\u{1}é",
                timestamp = "spoofed",
                not_a_number = f64::NAN,
                reason = &reason as &(dyn std::error::Error + 'static),
                shown = ?Some(1),
                "multi\nline {}",
                "message"
            );
        });
        assert_eq!(text.lines().count(), 1, "one event, one line: {text}");
        let line = &lines[0];
        assert_eq!(line["path"], "/a\"b\\c\n\u{1}é");
        assert_eq!(line["message"], "multi\nline message");
        assert_ne!(line["timestamp"], "spoofed");
        assert_eq!(line["not_a_number"], Value::Null);
        assert_eq!(line["reason"], "bad \"quote\"");
        assert_eq!(line["shown"], "Some(1)");
    }
}
