//! Prometheus text exposition of the gateway's counters.
//!
//! Rendered by hand from the same atomics the summary line reads: no metrics
//! registry, no per-message cost beyond the counters the stages already
//! bump. A scrape takes a few microseconds.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use telegate_influx::{HistogramSnapshot, WriteHealth};
use telegate_model::RejectReason;

use crate::stats::Stats;

/// Every metric family `/metrics` exposes (deploy files and dashboards are
/// checked against this list).
pub const NAMES: &[&str] = &[
    "telegate_up",
    "telegate_messages_received_total",
    "telegate_messages_acked_total",
    "telegate_acks_pending",
    "telegate_mqtt_held_messages",
    "telegate_mqtt_read_pauses_total",
    "telegate_messages_accepted_total",
    "telegate_points_accepted_total",
    "telegate_messages_rejected_total",
    "telegate_dead_letters_published_total",
    "telegate_dead_letter_errors_total",
    "telegate_dead_letter_connects_total",
    "telegate_feedback_published_total",
    "telegate_feedback_errors_total",
    "telegate_quarantined_total",
    "telegate_quarantine_dropped_total",
    "telegate_quarantine_errors_total",
    "telegate_quarantine_files",
    "telegate_quarantine_bytes",
    "telegate_points_written_total",
    "telegate_points_refused_total",
    "telegate_write_batches_total",
    "telegate_write_retries_total",
    "telegate_write_duration_seconds",
    "telegate_influx_reachable",
    "telegate_influx_writes_failing_seconds",
    "telegate_influx_databases_created_total",
    "telegate_wal_enabled",
    "telegate_wal_bytes",
    "telegate_wal_segments",
    "telegate_wal_oldest_age_seconds",
    "telegate_wal_full",
    "telegate_wal_write_failing",
    "telegate_wal_replayed_total",
    "telegate_wal_corrupt_frames_total",
    "telegate_mqtt_connected",
    "telegate_mqtt_connects_total",
    "telegate_mqtt_reconnects_total",
    "telegate_mqtt_connection_errors_total",
    "telegate_schema_generation",
    "telegate_schema_reload_failures_total",
    "telegate_alert_evaluated_total",
    "telegate_alert_transitions_total",
    "telegate_alert_queue_dropped_total",
    "telegate_alert_firing",
    "telegate_alert_output_errors_total",
    "telegate_alert_queue_depth",
    "telegate_alert_delivered_total",
    "telegate_alert_reload_failures_total",
];

/// Write one family: `# HELP`, `# TYPE` and unlabelled sample.
fn family(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    debug_assert!(NAMES.contains(&name), "{name} missing from metrics::NAMES");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &HistogramSnapshot) {
    header(out, name, "histogram", help);
    for (le, n) in &h.buckets {
        if le.is_infinite() {
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        } else {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
    }
    let _ = writeln!(out, "{name}_sum {}", h.sum_seconds);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

/// Escape a label value (backslash, quote, newline), per the text format.
pub fn label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Counters from other subsystems (the alert engine) appended to the page.
pub trait ExtraMetrics: Send + Sync + std::fmt::Debug {
    fn render(&self, out: &mut String);
}

/// The whole `/metrics` page.
pub fn render(
    stats: &Stats,
    health: &WriteHealth,
    wal_oldest: Option<Duration>,
    extra: Option<&dyn ExtraMetrics>,
) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let o = &mut out;
    let s = &stats.source;
    let p = &stats.pipeline;
    let w = &stats.writer;
    family(o, "telegate_up", "gauge", "1 while the gateway runs.", 1);
    family(
        o,
        "telegate_messages_received_total",
        "counter",
        "MQTT messages delivered by the broker.",
        s.received.load(Relaxed),
    );
    family(
        o,
        "telegate_messages_acked_total",
        "counter",
        "Messages acknowledged to the broker (stored or dead-lettered).",
        s.acked.load(Relaxed),
    );
    family(
        o,
        "telegate_acks_pending",
        "gauge",
        "Messages received and not yet acknowledged.",
        s.unacked.load(Relaxed),
    );
    family(
        o,
        "telegate_mqtt_held_messages",
        "gauge",
        "Received messages waiting for room in the decoder's channel (at most mqtt.receive_maximum).",
        s.held.load(Relaxed),
    );
    family(
        o,
        "telegate_mqtt_read_pauses_total",
        "counter",
        "Times the holding queue was full and the broker connection was left unread until the decoder caught up.",
        s.read_pauses.load(Relaxed),
    );
    family(
        o,
        "telegate_messages_accepted_total",
        "counter",
        "Messages decoded and validated.",
        p.accepted_messages.load(Relaxed),
    );
    family(
        o,
        "telegate_points_accepted_total",
        "counter",
        "Points (samples) produced by accepted messages.",
        p.accepted_points.load(Relaxed),
    );
    header(
        o,
        "telegate_messages_rejected_total",
        "counter",
        "Messages rejected and sent to the dead-letter topic, by reason.",
    );
    for r in RejectReason::ALL {
        let _ = writeln!(
            o,
            "telegate_messages_rejected_total{{reason=\"{}\"}} {}",
            r.label(),
            p.rejected[r.index()].load(Relaxed)
        );
    }
    family(
        o,
        "telegate_dead_letters_published_total",
        "counter",
        "Dead letters the broker acknowledged (PUBACK).",
        p.dead_letters_published.load(Relaxed),
    );
    family(
        o,
        "telegate_dead_letter_errors_total",
        "counter",
        "Dead letters that could not be published (each one quarantined).",
        p.dead_letter_errors.load(Relaxed),
    );
    family(
        o,
        "telegate_dead_letter_connects_total",
        "counter",
        "Connections made by the dead-letter publisher (its own MQTT connection).",
        p.dead_letter_connects.load(Relaxed),
    );
    family(
        o,
        "telegate_feedback_published_total",
        "counter",
        "Feedback messages (dead-letter envelopes, device statuses) the broker acknowledged.",
        p.feedback_published.load(Relaxed),
    );
    family(
        o,
        "telegate_feedback_errors_total",
        "counter",
        "Feedback messages the broker refused or that were too large (not retried).",
        p.feedback_errors.load(Relaxed),
    );
    let q = &p.quarantine;
    family(
        o,
        "telegate_quarantined_total",
        "counter",
        "Messages that could not be dead-lettered, written to the quarantine directory and acknowledged.",
        q.quarantined.load(Relaxed),
    );
    family(
        o,
        "telegate_quarantine_dropped_total",
        "counter",
        "Quarantine files deleted (oldest first) to stay within quarantine.max_bytes.",
        q.dropped.load(Relaxed),
    );
    family(
        o,
        "telegate_quarantine_errors_total",
        "counter",
        "Messages that could be neither dead-lettered nor written to the quarantine (acknowledged, lost).",
        q.errors.load(Relaxed),
    );
    family(
        o,
        "telegate_quarantine_files",
        "gauge",
        "Files in the quarantine directory.",
        q.files.load(Relaxed),
    );
    family(
        o,
        "telegate_quarantine_bytes",
        "gauge",
        "Bytes in the quarantine directory.",
        q.bytes.load(Relaxed),
    );
    family(
        o,
        "telegate_points_written_total",
        "counter",
        "Points the database confirmed (2xx).",
        w.points_written.load(Relaxed),
    );
    family(
        o,
        "telegate_points_refused_total",
        "counter",
        "Points the database refused for good (dead-lettered with its message).",
        w.points_refused.load(Relaxed),
    );
    family(
        o,
        "telegate_write_batches_total",
        "counter",
        "Batches written.",
        w.batches_written.load(Relaxed),
    );
    family(
        o,
        "telegate_write_retries_total",
        "counter",
        "Write attempts that failed and were retried.",
        w.retries.load(Relaxed),
    );
    histogram(
        o,
        "telegate_write_duration_seconds",
        "Duration of each write request to the database.",
        &w.write_seconds.snapshot(),
    );
    family(
        o,
        "telegate_influx_reachable",
        "gauge",
        "1 when the last write got an answer that was not a network error or 5xx.",
        u8::from(w.reachable.load(Relaxed)),
    );
    family(
        o,
        "telegate_influx_writes_failing_seconds",
        "gauge",
        "How long writes to the database have kept failing (0 while they succeed); /readyz is 503 past admin.ready_grace.",
        health.failing().map_or(0.0, |f| f.for_.as_secs_f64()),
    );
    family(
        o,
        "telegate_influx_databases_created_total",
        "counter",
        "Times a missing database was re-created while running (influx.create_database = true).",
        health.databases_created(),
    );
    family(
        o,
        "telegate_wal_enabled",
        "gauge",
        "1 when the write-ahead log is on.",
        u8::from(stats.wal.is_some()),
    );
    if let Some(wal) = &stats.wal {
        family(
            o,
            "telegate_wal_bytes",
            "gauge",
            "Bytes in the WAL.",
            wal.bytes.load(Relaxed),
        );
        family(
            o,
            "telegate_wal_segments",
            "gauge",
            "WAL segment files.",
            wal.segments.load(Relaxed),
        );
        family(
            o,
            "telegate_wal_oldest_age_seconds",
            "gauge",
            "Age of the oldest WAL segment still holding readings not yet stored (0: none).",
            wal_oldest.map_or(0.0, |d| d.as_secs_f64()),
        );
        family(
            o,
            "telegate_wal_full",
            "gauge",
            "1 while the WAL budget is exhausted (acknowledgements paused).",
            u8::from(wal.full.load(Relaxed)),
        );
        family(
            o,
            "telegate_wal_write_failing",
            "gauge",
            "1 while writes to the WAL fail.",
            u8::from(wal.write_failing.load(Relaxed)),
        );
        family(
            o,
            "telegate_wal_replayed_total",
            "counter",
            "Records replayed from a previous run's WAL.",
            wal.replayed.load(Relaxed),
        );
        family(
            o,
            "telegate_wal_corrupt_frames_total",
            "counter",
            "Corrupt WAL frames quarantined.",
            wal.corrupt_frames.load(Relaxed),
        );
    }
    family(
        o,
        "telegate_mqtt_connected",
        "gauge",
        "1 while connected to the broker.",
        u8::from(s.connected.load(Relaxed)),
    );
    let connects = s.connects.load(Relaxed);
    family(
        o,
        "telegate_mqtt_connects_total",
        "counter",
        "Successful connections (CONNACK).",
        connects,
    );
    family(
        o,
        "telegate_mqtt_reconnects_total",
        "counter",
        "Connections after the first.",
        connects.saturating_sub(1),
    );
    family(
        o,
        "telegate_mqtt_connection_errors_total",
        "counter",
        "Connection attempts or connections that failed.",
        s.connection_errors.load(Relaxed),
    );
    family(
        o,
        "telegate_schema_generation",
        "gauge",
        "Generation of the schemas in service (1 = as started).",
        stats.reload.generation(),
    );
    family(
        o,
        "telegate_schema_reload_failures_total",
        "counter",
        "Schema or config reloads refused.",
        stats.reload.failures(),
    );
    if let Some(extra) = extra {
        extra.render(o);
    }
    out
}

/// For [`ExtraMetrics`] implementors: write `# HELP`/`# TYPE` of a family.
pub fn write_header(out: &mut String, name: &str, kind: &str, help: &str) {
    header(out, name, kind, help);
}
