//! The JSON lines: their fields, their order, escaping, and the context spans give them.

use serde_json::Value;
use service_kit_testing::LogCapture;

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
            "odd \"key\"" = 1,
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
    assert_eq!(line["odd \"key\""], 1);
}

#[test]
fn lines_inside_a_span_take_its_service_and_request_id() {
    let (text, lines) = capture(|| {
        let request = tracing::error_span!("request", service = "bird", request_id = "r-1");
        let _entered = request.enter();
        let inner = tracing::info_span!("upstream", otel.kind = "client");
        let _inner = inner.enter();
        tracing::warn!(upstream = "bird-image", "deep inside");
        tracing::warn!(service = "frontend", request_id = "mine", "own fields win");
    });
    assert_eq!(lines[0]["service"], "bird");
    assert_eq!(lines[0]["request_id"], "r-1");
    assert_eq!(lines[0]["upstream"], "bird-image");
    assert!(lines[0].get("otel.kind").is_none(), "{text}");
    assert_eq!(lines[1]["service"], "frontend");
    assert_eq!(lines[1]["request_id"], "mine");
    assert_eq!(
        text.matches("request_id").count(),
        2,
        "one key per line: {text}"
    );
}

#[test]
fn a_span_following_a_request_logs_as_that_request() {
    let (_, lines) = capture(|| {
        let request = tracing::error_span!("request", service = "bird-image", request_id = "r-2");
        let later = tracing::error_span!(parent: None, "refresh");
        later.follows_from(&request);
        drop(request);
        later.in_scope(|| tracing::warn!("in the background"));
        tracing::warn!("outside");
    });
    assert_eq!(lines[0]["service"], "bird-image");
    assert_eq!(lines[0]["request_id"], "r-2");
    assert_eq!(lines[1]["service"], "unit");
    assert!(lines[1].get("request_id").is_none());
}

#[test]
fn a_request_id_recorded_after_the_span_began_is_used() {
    let (_, lines) = capture(|| {
        let span = tracing::error_span!("request", request_id = tracing::field::Empty);
        span.record("request_id", "late");
        span.in_scope(|| tracing::info!("recorded"));
    });
    assert_eq!(lines[0]["request_id"], "late");
    assert_eq!(lines[0]["service"], "unit");
}
