//! Log lines captured as the services write them (the kit's JSON lines), for tests that check
//! what was logged.

use std::sync::{Arc, Mutex};

use service_kit::logs;
use tracing_subscriber::layer::SubscriberExt;

/// Collects log lines; install it with [`LogCapture::install`] on a current-thread runtime.
#[derive(Clone, Default)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl LogCapture {
    /// Routes this thread's events to the capture as JSON lines (at `RUST_LOG`, else info and
    /// above), until the guard drops.
    pub fn install(&self, service: &'static str) -> tracing::subscriber::DefaultGuard {
        keep_call_sites_live();
        tracing::subscriber::set_default(logs::subscriber(service, self.clone(), None))
    }

    /// As [`LogCapture::install`], at `level` and above whatever `RUST_LOG` says.
    pub fn install_at(
        &self,
        service: &'static str,
        level: tracing::Level,
    ) -> tracing::subscriber::DefaultGuard {
        keep_call_sites_live();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::from_level(level))
            .with(logs::json_lines(service, self.clone()));
        tracing::subscriber::set_default(subscriber)
    }

    /// Every captured line, parsed.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer)
            .lines()
            .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
            .collect()
    }

    /// Everything captured, as text.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

/// tracing decides once per call site, process-wide, whether its events are wanted at all: a call
/// site first reached by a test thread without a subscriber would be switched off for every
/// thread, a capturing one included. A do-nothing process-wide subscriber gives every thread one,
/// so a capture never misses an event because of a test running beside it.
fn keep_call_sites_live() {
    static PROCESS_WIDE: std::sync::Once = std::sync::Once::new();
    PROCESS_WIDE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for LogCapture {
    type Writer = Self;

    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}
