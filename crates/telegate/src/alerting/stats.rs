//! Counters of the alert path, and their `/metrics` families.
//!
//! Everything an operator needs to see that alerting keeps up: what was
//! evaluated, what changed, what was skipped because a queue was full (the
//! evaluator's or an output's), and what each output delivered or failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::metrics::{ExtraMetrics, label_value, write_header};

/// The outputs, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    Mqtt,
    Influx,
    Webhook,
    /// `[alerts.oncall]`: a second webhook that receives escalations only.
    Oncall,
    /// `[alerts.email]`: SMTP.
    Email,
}

impl OutputKind {
    pub const ALL: [OutputKind; 5] = [
        OutputKind::Mqtt,
        OutputKind::Influx,
        OutputKind::Webhook,
        OutputKind::Oncall,
        OutputKind::Email,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OutputKind::Mqtt => "mqtt",
            OutputKind::Influx => "influx",
            OutputKind::Webhook => "webhook",
            OutputKind::Oncall => "oncall",
            OutputKind::Email => "email",
        }
    }

    /// Records every transition (silenced ones too) rather than notifying
    /// anyone: see [`super::outputs::delivers`].
    pub fn records(self) -> bool {
        matches!(self, OutputKind::Influx)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-output counters.
#[derive(Debug, Default)]
pub struct OutputStats {
    /// Transitions the destination confirmed.
    pub delivered: AtomicU64,
    /// Failed attempts (each retry counts).
    pub errors: AtomicU64,
    /// Transitions given up on: queue full, refused for good, or too many attempts.
    pub dropped: AtomicU64,
    /// Transitions waiting in the output's queue (or being retried).
    pub depth: AtomicU64,
}

#[derive(Debug, Default)]
pub struct AlertStats {
    /// Points the engine evaluated.
    pub evaluated: AtomicU64,
    /// Messages the evaluator's queue had no room for (skipped by alerting only).
    pub queue_dropped: AtomicU64,
    /// Messages waiting for the evaluator.
    pub queue_depth: AtomicU64,
    /// Alerts firing now (the engine's list).
    pub firing: AtomicU64,
    /// Rules-file or `[alerts]` reloads refused.
    pub reload_failures: AtomicU64,
    /// Lines the evaluator could not parse back (a bug if ever non-zero).
    pub parse_errors: AtomicU64,
    /// (rule, state the transition went to) → count.
    transitions: Mutex<BTreeMap<(String, &'static str), u64>>,
    outputs: [OutputStats; OutputKind::ALL.len()],
}

impl AlertStats {
    pub fn output(&self, kind: OutputKind) -> &OutputStats {
        &self.outputs[kind.index()]
    }

    pub fn transition(&self, rule: &str, to: &'static str) {
        let mut t = self.transitions.lock().unwrap_or_else(|e| e.into_inner());
        match t.get_mut(&(rule.to_owned(), to)) {
            Some(n) => *n += 1,
            None => {
                t.insert((rule.to_owned(), to), 1);
            }
        }
    }

    /// Transitions counted so far, by (rule, to).
    pub fn transitions(&self) -> BTreeMap<(String, &'static str), u64> {
        self.transitions.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    write_header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn by_output(out: &mut String, stats: &AlertStats, name: &str, help: &str, get: impl Fn(&OutputStats) -> u64) {
    write_header(out, name, "counter", help);
    for kind in OutputKind::ALL {
        let _ = writeln!(out, "{name}{{output=\"{}\"}} {}", kind.label(), get(stats.output(kind)));
    }
}

impl ExtraMetrics for AlertStats {
    fn render(&self, out: &mut String) {
        family(
            out,
            "telegate_alert_evaluated_total",
            "counter",
            "Points evaluated by the alert rules.",
            self.evaluated.load(Relaxed),
        );
        write_header(
            out,
            "telegate_alert_transitions_total",
            "counter",
            "Alert transitions, by rule and the state entered.",
        );
        for ((rule, to), n) in self.transitions() {
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
            self.queue_dropped.load(Relaxed)
        );
        for kind in OutputKind::ALL {
            let _ = writeln!(
                out,
                "telegate_alert_queue_dropped_total{{queue=\"{}\"}} {}",
                kind.label(),
                self.output(kind).dropped.load(Relaxed)
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
            self.queue_depth.load(Relaxed)
        );
        for kind in OutputKind::ALL {
            let _ = writeln!(
                out,
                "telegate_alert_queue_depth{{queue=\"{}\"}} {}",
                kind.label(),
                self.output(kind).depth.load(Relaxed)
            );
        }
        family(
            out,
            "telegate_alert_firing",
            "gauge",
            "Alerts firing now.",
            self.firing.load(Relaxed),
        );
        by_output(
            out,
            self,
            "telegate_alert_output_errors_total",
            "Failed delivery attempts of alert transitions, by output (each retry counts).",
            |o| o.errors.load(Relaxed),
        );
        by_output(
            out,
            self,
            "telegate_alert_delivered_total",
            "Alert transitions delivered, by output.",
            |o| o.delivered.load(Relaxed),
        );
        family(
            out,
            "telegate_alert_reload_failures_total",
            "counter",
            "Alert rules or [alerts] reloads refused (the rules in service stay in service).",
            self.reload_failures.load(Relaxed),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_labels() {
        let s = AlertStats::default();
        s.evaluated.fetch_add(3, Relaxed);
        s.transition("flood \"x\"", "firing");
        s.transition("flood \"x\"", "firing");
        s.output(OutputKind::Webhook).errors.fetch_add(2, Relaxed);
        let mut page = String::new();
        s.render(&mut page);
        assert!(page.contains("telegate_alert_evaluated_total 3\n"), "{page}");
        assert!(
            page.contains("telegate_alert_transitions_total{rule=\"flood \\\"x\\\"\",to=\"firing\"} 2\n"),
            "{page}"
        );
        assert!(
            page.contains("telegate_alert_output_errors_total{output=\"webhook\"} 2\n"),
            "{page}"
        );
        assert!(
            page.contains("telegate_alert_queue_dropped_total{queue=\"evaluator\"} 0\n"),
            "{page}"
        );
    }
}
