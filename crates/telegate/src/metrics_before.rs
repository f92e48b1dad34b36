//! The `/metrics` page as it was rendered by hand before `families!`
//! (issue 19): the test in `metrics.rs` checks the declared families still
//! render it byte for byte. Test-only; delete once the declared page is
//! trusted.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use telegate_influx::{HistogramSnapshot, WriteHealth};
use telegate_model::RejectReason;

use crate::alerting::stats::{AlertStats, OutputKind, OutputStats};
use crate::stats::Stats;

/// Write one family: `# HELP`, `# TYPE` and unlabelled sample.
fn family(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
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
pub(super) fn label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The whole `/metrics` page.
pub(super) fn render(
    stats: &Stats,
    health: &WriteHealth,
    wal_oldest: Option<Duration>,
    alerts: Option<&AlertStats>,
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
    if let Some(a) = alerts {
        render_alerts(a, o);
    }
    out
}

/// For [`ExtraMetrics`] implementors: write `# HELP`/`# TYPE` of a family.
pub(super) fn write_header(out: &mut String, name: &str, kind: &str, help: &str) {
    header(out, name, kind, help);
}

fn alert_family(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    write_header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn by_output(out: &mut String, stats: &AlertStats, name: &str, help: &str, get: impl Fn(&OutputStats) -> u64) {
    write_header(out, name, "counter", help);
    for kind in OutputKind::ALL {
        let _ = writeln!(out, "{name}{{output=\"{}\"}} {}", kind.label(), get(stats.output(kind)));
    }
}

fn render_alerts(this: &AlertStats, out: &mut String) {
    {
        alert_family(
            out,
            "telegate_alert_evaluated_total",
            "counter",
            "Points evaluated by the alert rules.",
            this.evaluated.load(Relaxed),
        );
        write_header(
            out,
            "telegate_alert_transitions_total",
            "counter",
            "Alert transitions, by rule and the state entered.",
        );
        for ((rule, to), n) in this.transitions() {
            out.push_str("telegate_alert_transitions_total{rule=\"");
            label_value(out, &rule);
            let _ = writeln!(out, "\",to=\"{to}\"}} {n}");
        }
        write_header(
            out,
            "telegate_alert_queue_dropped_total",
            "counter",
            "Skipped because a queue was full: messages not evaluated (queue=\"evaluator\") or transitions not sent (queue=output).",
        );
        let _ = writeln!(
            out,
            "telegate_alert_queue_dropped_total{{queue=\"evaluator\"}} {}",
            this.queue_dropped.load(Relaxed)
        );
        for kind in OutputKind::ALL {
            let _ = writeln!(
                out,
                "telegate_alert_queue_dropped_total{{queue=\"{}\"}} {}",
                kind.label(),
                this.output(kind).dropped.load(Relaxed)
            );
        }
        write_header(
            out,
            "telegate_alert_queue_depth",
            "gauge",
            "Waiting in an alert queue: messages for the evaluator, transitions for an output.",
        );
        let _ = writeln!(
            out,
            "telegate_alert_queue_depth{{queue=\"evaluator\"}} {}",
            this.queue_depth.load(Relaxed)
        );
        for kind in OutputKind::ALL {
            let _ = writeln!(
                out,
                "telegate_alert_queue_depth{{queue=\"{}\"}} {}",
                kind.label(),
                this.output(kind).depth.load(Relaxed)
            );
        }
        alert_family(
            out,
            "telegate_alert_firing",
            "gauge",
            "Alerts firing now.",
            this.firing.load(Relaxed),
        );
        by_output(
            out,
            this,
            "telegate_alert_output_errors_total",
            "Failed delivery attempts of alert transitions, by output (each retry counts).",
            |o| o.errors.load(Relaxed),
        );
        by_output(
            out,
            this,
            "telegate_alert_delivered_total",
            "Alert transitions delivered, by output.",
            |o| o.delivered.load(Relaxed),
        );
        alert_family(
            out,
            "telegate_alert_reload_failures_total",
            "counter",
            "Alert rules or [alerts] reloads refused (the rules in service stay in service).",
            this.reload_failures.load(Relaxed),
        );
    }
}
