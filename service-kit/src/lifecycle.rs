//! Readiness state shared by the probes, the middleware and the server loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `Ready` until shutdown begins, then `Draining` for good.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    draining: Arc<AtomicBool>,
}

impl Lifecycle {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}
