//! `build_info` and the process metrics of Prometheus' client libraries, under their standard
//! names (`process_resident_memory_bytes`, `process_cpu_seconds_total`, ...), so the usual
//! dashboards and alerts work on every service's `/metrics`.
//!
//! The process figures are read from `/proc/self` at each scrape. Only Linux has it: elsewhere
//! none are reported, as a zero would pass for a real figure.
//!
//! kubert-prometheus-process 0.2.3 needs prometheus-client 0.23 (the kit's is 0.24), and a
//! bird `/metrics` scrape with it costs 430,500 instructions against 242,600.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

/// Registers `build_info{version, commit} 1` and the process figures in `registry`.
pub fn register(registry: &mut Registry) {
    let build_info = Family::<BuildLabels, Gauge>::default();
    build_info
        .get_or_create(&BuildLabels {
            // One version for the whole workspace, so the kit's is the service's.
            version: env!("CARGO_PKG_VERSION"),
            // From build.rs: the build's GIT_COMMIT, the checkout's HEAD, or `unknown`.
            commit: env!("GIT_COMMIT"),
        })
        .set(1);
    registry.register(
        "build_info",
        "The version and git commit this binary was built from (always 1)",
        build_info,
    );
    registry.register_collector(Box::new(ProcessCollector));
}

/// Reads the process figures when scraped.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        for figure in read_figures() {
            let metric_type = match figure.value {
                Value::Counter(_) => MetricType::Counter,
                Value::Gauge(_) => MetricType::Gauge,
            };
            let metric = encoder.encode_descriptor(
                figure.name,
                figure.help,
                figure.unit.as_ref(),
                metric_type,
            )?;
            match figure.value {
                Value::Counter(value) => ConstCounter::new(value).encode(metric)?,
                Value::Gauge(value) => ConstGauge::new(value).encode(metric)?,
            }
        }
        Ok(())
    }
}

/// One figure as read at a scrape. The exposed name is `name` followed by the unit; `help`
/// ends with a full stop, as the registry adds one to the help of what it holds.
struct Figure {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    value: Value,
}

enum Value {
    Counter(f64),
    Gauge(f64),
}

/// What `/proc/self` tells now; a part that cannot be read (a hardened `/proc`) is left out.
#[cfg(target_os = "linux")]
fn read_figures() -> Vec<Figure> {
    use procfs::process::{LimitValue, Process};

    let mut figures = Vec::with_capacity(6);
    let process = match Process::myself() {
        Ok(process) => process,
        Err(err) => {
            tracing::debug!(error = %err, "no process metrics: /proc/self cannot be read");
            return figures;
        }
    };
    match process.stat() {
        Ok(stat) => {
            let ticks_per_second = procfs::ticks_per_second() as f64;
            figures.push(Figure {
                name: "process_cpu",
                help: "User and system CPU time spent.",
                unit: Some(Unit::Seconds),
                value: Value::Counter((stat.utime + stat.stime) as f64 / ticks_per_second),
            });
            figures.push(Figure {
                name: "process_resident_memory",
                help: "Resident memory size.",
                unit: Some(Unit::Bytes),
                value: Value::Gauge((stat.rss * procfs::page_size()) as f64),
            });
            figures.push(Figure {
                name: "process_virtual_memory",
                help: "Virtual memory size.",
                unit: Some(Unit::Bytes),
                value: Value::Gauge(stat.vsize as f64),
            });
            // The kernel counts the start in ticks since boot.
            match procfs::boot_time_secs() {
                Ok(boot) => figures.push(Figure {
                    name: "process_start_time",
                    help: "Start time of the process since the Unix epoch.",
                    unit: Some(Unit::Seconds),
                    value: Value::Gauge(boot as f64 + stat.starttime as f64 / ticks_per_second),
                }),
                Err(err) => tracing::debug!(error = %err, "no process start time"),
            }
        }
        Err(err) => tracing::debug!(error = %err, "no CPU or memory figures"),
    }
    match process.fd_count() {
        Ok(open) => figures.push(Figure {
            name: "process_open_fds",
            help: "Number of open file descriptors.",
            unit: None,
            value: Value::Gauge(open as f64),
        }),
        Err(err) => tracing::debug!(error = %err, "no open file descriptor count"),
    }
    match process.limits() {
        // An unlimited soft limit has no number to report.
        Ok(limits) => {
            if let LimitValue::Value(max) = limits.max_open_files.soft_limit {
                figures.push(Figure {
                    name: "process_max_fds",
                    help: "Maximum number of open file descriptors.",
                    unit: None,
                    value: Value::Gauge(max as f64),
                });
            }
        }
        Err(err) => tracing::debug!(error = %err, "no file descriptor limit"),
    }
    figures
}

#[cfg(not(target_os = "linux"))]
fn read_figures() -> Vec<Figure> {
    Vec::new()
}
